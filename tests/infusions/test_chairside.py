"""Chairside services: every entry checked against the label and the ladder, and what
a reaction or a completion changes (infusions/chairside/)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from infusions.chairside import (
    EntryRefused,
    lot_record,
    premedication_record,
    rate_change_record,
    reaction_record,
    session_complete,
    tolerated_cap_clear,
    vitals_record,
)
from infusions.models import InfusionSession, Product, Reaction, VitalSigns
from infusions.scheduling.booking import session_book, session_transition
from patients.models import Patient
from tests.chairside_support import (
    DAY,
    FULL_DOSE_MINUTES,
    START,
    at,
    follow_the_ladder,
    log_rate,
    make_center,
    running_session,
)
from tests.factories import PatientFactory, PatientWeightFactory, PlanFactory, SessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def session(clock, patient_a):
    return running_session(clock, patient_a)


def refused(field: str, match: str):
    """pytest.raises for an EntryRefused on `field` whose message contains `match`."""
    return pytest.raises(EntryRefused, match=match)


# -- the effective maximum -----------------------------------------------------------------


def test_it_refuses_a_rate_above_the_dm_maximum_for_octagam(clock, session, nurse):
    follow_the_ladder(clock, session)

    with pytest.raises(EntryRefused) as error:
        log_rate(clock, session, 61, "168.1", by=nurse)

    assert error.value.field == "rate_ml_per_hour"
    assert "168.0 mL/h (4 mg/kg/min)" in str(error.value)
    assert "Octagam 10% maximum for Dermatomyositis" in str(error.value)
    assert session.rate_changes.count() == 3


def test_the_dm_maximum_itself_is_accepted_and_stored_in_both_units(clock, session, nurse):
    follow_the_ladder(clock, session, until=30)

    entry = log_rate(clock, session, 60, "168.0", by=nurse)

    assert (entry.rate_ml_per_hour, entry.rate_mg_kg_min, entry.dosing_weight_kg) == (
        Decimal("168.0"),
        Decimal("4.0000"),
        Decimal("70.0"),
    )
    assert entry.recorded_by == nurse


@pytest.mark.parametrize("flag", ["thrombosis_risk", "renal_risk"])
def test_a_thrombosis_or_renal_flag_caps_the_rate_at_the_products_risk_cap(clock, patient_a, flag):
    Patient.objects.filter(pk=patient_a.pk).update(**{flag: True})
    session = running_session(clock, patient_a)
    follow_the_ladder(clock, session, until=30)

    with refused("rate_ml_per_hour", r"126\.0 mL/h \(3 mg/kg/min\).*risk of thrombosis or renal"):
        log_rate(clock, session, 60, "126.1")
    assert log_rate(clock, session, 60, "126.0").rate_mg_kg_min == Decimal("3.0000")


def test_the_patients_tolerated_cap_limits_the_rate(clock, patient_a):
    Patient.objects.filter(pk=patient_a.pk).update(tolerated_max_rate_mg_kg_min=Decimal("2.5"))
    session = running_session(clock, patient_a)
    follow_the_ladder(clock, session, until=30)

    with refused("rate_ml_per_hour", r"105\.0 mL/h \(2\.5 mg/kg/min\).*tolerated cap"):
        log_rate(clock, session, 60, "168.0")
    assert log_rate(clock, session, 60, "105.0").rate_ml_per_hour == Decimal("105.0")


def test_rates_are_checked_at_the_plans_dosing_weight(clock, patient_a):
    # Ideal body weight (Devine) of a 165 cm woman: 56.9 kg, so 4 mg/kg/min is 136.6 mL/h.
    session = running_session(clock, patient_a, dosing_weight_method="ideal")

    first = log_rate(clock, session, 0, "34.1")
    log_rate(clock, session, 30, "68.3")

    assert (first.dosing_weight_kg, first.rate_mg_kg_min) == (Decimal("56.9"), Decimal("0.9988"))
    with refused("rate_ml_per_hour", r"136\.6 mL/h \(4 mg/kg/min\) at a dosing weight of 56\.9 kg"):
        log_rate(clock, session, 60, "136.7")


def test_a_session_without_a_plan_takes_no_rate(clock, patient_a):
    center = make_center()
    session = session_book(patient=patient_a, center=center, start=START, chair_minutes=120)
    session_transition(session=session, action="check_in")
    session_transition(session=session, action="start")

    with refused("session", "no plan"):
        rate_change_record(session=session, rate_ml_per_hour=Decimal("42.0"))


# -- the ladder clock -------------------------------------------------------------------------


def test_it_refuses_a_step_up_earlier_than_the_ladder_allows(clock, session):
    log_rate(clock, session, 0, "42.0")

    with pytest.raises(EntryRefused) as error:
        log_rate(clock, session, 29, "84.0")

    message = str(error.value)
    assert "84.0 mL/h (2 mg/kg/min) is a step up earlier than the ladder allows" in message
    assert "the planned rate is 42.0 mL/h (1 mg/kg/min)" in message
    assert "allowed from 09:45" in message  # 30 min after the 09:15 start
    assert log_rate(clock, session, 30, "84.0").rate_mg_kg_min == Decimal("2.0000")


def test_the_first_rate_may_not_skip_the_first_step(clock, session):
    with refused("rate_ml_per_hour", "earlier than the ladder allows"):
        log_rate(clock, session, 0, "42.1")


def test_slowing_down_and_stepping_back_up_follows_the_original_clock(clock, session):
    follow_the_ladder(clock, session)
    log_rate(clock, session, 70, "84.0")  # slowed for a headache

    assert log_rate(clock, session, 80, "168.0").rate_ml_per_hour == Decimal("168.0")


def test_a_rate_of_zero_is_a_pause_and_the_next_rate_restarts_the_ladder(clock, session):
    follow_the_ladder(clock, session)
    log_rate(clock, session, 90, "0.0")

    with refused("rate_ml_per_hour", r"after the restart after a pause"):
        log_rate(clock, session, 100, "84.0")
    log_rate(clock, session, 100, "42.0")
    with refused("rate_ml_per_hour", "allowed from"):
        log_rate(clock, session, 120, "84.0")
    assert log_rate(clock, session, 130, "84.0").rate_ml_per_hour == Decimal("84.0")


# -- the time window ----------------------------------------------------------------------------


def test_entries_before_the_infusion_started_are_refused(clock, session):
    clock.move_to(at(10))
    with refused("at", "before the start of the infusion at 09:15"):
        rate_change_record(session=session, rate_ml_per_hour=Decimal("42.0"), at=at(-1))


def test_vitals_and_premedication_may_come_from_check_in_but_not_before(clock, patient_a):
    center = make_center()
    plan = PlanFactory(patient=patient_a, center=center)
    session = session_book(patient=patient_a, center=center, start=START, plan=plan)
    clock.move_to(START + dt.timedelta(minutes=5))
    session_transition(session=session, action="check_in")
    session.refresh_from_db()

    clock.move_to(START + dt.timedelta(minutes=10))
    assert vitals_record(session=session, systolic=120, diastolic=80).pk
    assert premedication_record(session=session, drug="Acetaminophen", dose="650 mg", route="oral").pk
    with refused("at", "before the check-in at 09:05"):
        vitals_record(session=session, heart_rate=70, at=START)
    with refused("session", "checked in session takes no rate change"):
        rate_change_record(session=session, rate_ml_per_hour=Decimal("42.0"))
    with refused("session", "takes no product lot"):
        lot_record(
            session=session,
            product=Product.objects.get(code="octagam-10"),
            lot_number="A1",
            expiry=DAY,
            vial_grams=Decimal("10"),
            count=7,
        )


def test_entries_more_than_five_minutes_ahead_are_refused(clock, session):
    clock.move_to(at(20))  # now
    with refused("at", "more than 5 minutes in the future"):
        vitals_record(session=session, heart_rate=80, at=at(25) + dt.timedelta(seconds=1))
    assert vitals_record(session=session, heart_rate=80, at=at(25)).pk


def test_a_scheduled_or_completed_session_takes_no_new_entries(clock, patient_a):
    center = make_center()
    session = session_book(patient=patient_a, center=center, start=START, plan=PlanFactory(patient=patient_a))
    with refused("session", "scheduled session takes no vital signs"):
        vitals_record(session=session, heart_rate=80)

    session_transition(session=session, action="check_in")
    session_transition(session=session, action="start")
    session_complete(session=session)
    with refused("session", "completed session takes no vital signs"):
        vitals_record(session=session, heart_rate=80)


def test_a_correction_after_completion_stays_inside_the_session(clock, session):
    clock.move_to(at(30))
    first = vitals_record(session=session, heart_rate=80)
    clock.move_to(at(40))
    session = session_complete(session=session)
    clock.move_to(at(90))

    with refused("at", "after the session was completed at"):
        vitals_record(session=session, heart_rate=82, at=at(60), amends=first.pk, reason="typo")
    fixed = vitals_record(session=session, heart_rate=82, at=at(30), amends=first.pk, reason="typo")
    assert fixed.amends == first
    with refused("session", "completed session takes no rate change"):
        rate_change_record(session=session, rate_ml_per_hour=Decimal("0"), at=at(35), amends=None)


# -- vitals -----------------------------------------------------------------------------------

RANGES = {
    "systolic": (50, 260),
    "diastolic": (20, 160),
    "heart_rate": (20, 250),
    "temperature_c": (Decimal("30"), Decimal("44")),
    "spo2": (50, 100),
    "respiratory_rate": (4, 60),
}


@pytest.mark.parametrize("field", sorted(RANGES))
def test_vitals_outside_the_plausible_range_are_refused_and_the_bounds_accepted(clock, session, field):
    clock.move_to(at(10))
    low, high = RANGES[field]
    step = Decimal("0.1") if field == "temperature_c" else 1
    for value in (low - step, high + step):
        with pytest.raises(EntryRefused) as error:
            vitals_record(session=session, **{field: value})
        assert error.value.field == field
        assert f"{low}–{high}" in str(error.value)
    for value in (low, high):
        assert vitals_record(session=session, **{field: value}).pk
    assert VitalSigns.objects.filter(session=session).count() == 2


def test_vitals_need_at_least_one_value_and_a_diastolic_below_the_systolic(clock, session):
    clock.move_to(at(10))
    with refused("non_field_errors", "at least one vital sign"):
        vitals_record(session=session)
    with refused("diastolic", "below the systolic"):
        vitals_record(session=session, systolic=90, diastolic=95)


# -- lots -------------------------------------------------------------------------------------------


@pytest.fixture
def octagam(db) -> Product:
    return Product.objects.get(code="octagam-10")


def record_lot(session, product, **fields):
    values = {"lot_number": "k123-45", "expiry": DAY, "vial_grams": Decimal("10"), "count": 7, **fields}
    return lot_record(session=session, product=product, **values)


def test_a_lot_expiring_on_the_session_day_is_accepted_and_kept_in_capitals(clock, session, octagam):
    clock.move_to(at(5))
    lot = record_lot(session, octagam)
    assert (lot.lot_number, lot.expiry, lot.count) == ("K123-45", DAY, 7)


def test_an_expired_lot_is_refused(clock, session, octagam):
    clock.move_to(at(5))
    with refused("expiry", "expired on 2027-01-03, before the session day 2027-01-04"):
        record_lot(session, octagam, expiry=DAY - dt.timedelta(days=1))


def test_a_lot_of_another_product_needs_a_reason(clock, session):
    panzyga = Product.objects.get(code="panzyga")
    clock.move_to(at(5))
    with refused("reason", "lot of Panzyga, but the plan is for Octagam 10%"):
        record_lot(session, panzyga)
    lot = record_lot(session, panzyga, reason="Octagam out of stock; switch approved by Dr Lee")
    assert lot.product == panzyga


def test_a_vial_size_the_product_does_not_come_in_is_refused(clock, session, octagam):
    clock.move_to(at(5))
    with refused("vial_grams", "comes in 2, 5, 10, 20 g vials, not 7 g"):
        record_lot(session, octagam, vial_grams=Decimal("7"))


# -- corrections and audit ---------------------------------------------------------------------------


def test_a_correction_is_a_new_entry_and_the_original_stays(clock, session, nurse):
    clock.move_to(at(10))
    wrong = vitals_record(session=session, systolic=210, diastolic=80, by=nurse)
    fixed = vitals_record(
        session=session,
        systolic=120,
        diastolic=80,
        at=wrong.at,
        amends=wrong.pk,
        reason="Typed 210",
        by=nurse,
    )

    wrong.refresh_from_db()
    assert wrong.systolic == 210 and wrong.amended_by == fixed
    assert (fixed.amends, fixed.reason) == (wrong, "Typed 210")


def test_a_correction_needs_a_reason_and_an_entry_of_the_same_kind_and_session(clock, session, patient_b):
    other = running_session(clock, patient_b, start=START + dt.timedelta(hours=1))
    clock.move_to(at(90))
    mine = vitals_record(session=session, heart_rate=70)
    theirs = vitals_record(session=other, heart_rate=70)

    with refused("reason", "needs a reason"):
        vitals_record(session=session, heart_rate=72, amends=mine.pk)
    with refused("amends", "no vital signs entry"):
        vitals_record(session=session, heart_rate=72, amends=theirs.pk, reason="x")
    with refused("amends", "no vital signs entry"):
        vitals_record(session=session, heart_rate=72, amends=10**9, reason="x")
    vitals_record(session=session, heart_rate=72, amends=mine.pk, reason="x")
    with refused("amends", "already corrected by entry"):
        vitals_record(session=session, heart_rate=74, amends=mine.pk, reason="again")


def test_a_corrected_rate_no_longer_counts_for_the_ladder(clock, session):
    log_rate(clock, session, 0, "42.0")
    paused = log_rate(clock, session, 20, "0.0")
    # 0 was a slip: the pump kept running. Without the correction 84 would be a restart at 42.
    log_rate(clock, session, 21, "42.0", at=paused.at, amends=paused.pk, reason="Pump was not paused")
    assert log_rate(clock, session, 30, "84.0").rate_ml_per_hour == Decimal("84.0")


def test_every_entry_keeps_a_history_row_with_its_writer(clock, session, nurse, octagam):
    clock.move_to(at(0))
    entries = [
        rate_change_record(session=session, rate_ml_per_hour=Decimal("42.0"), by=nurse),
        vitals_record(session=session, heart_rate=70, by=nurse),
        premedication_record(session=session, drug="Acetaminophen", dose="650 mg", route="oral", by=nurse),
        record_lot(session, octagam, by=nurse),
        reaction_record(
            session=session, severity="mild", action="slowed", symptoms=["headache"], by=nurse
        ).reaction,
    ]
    for entry in entries:
        [row] = entry.history.all()
        assert (row.history_type, row.history_user) == ("+", nurse)


# -- reactions ----------------------------------------------------------------------------------------


def test_a_severe_reaction_must_stop_and_a_moderate_one_may_not_just_slow(clock, session):
    clock.move_to(at(10))
    with refused("action", "severe reaction stops the infusion for good"):
        reaction_record(session=session, severity="severe", action="paused", symptoms=["anaphylaxis"])
    with refused("action", "moderate reaction stops the infusion"):
        reaction_record(session=session, severity="moderate", action="slowed", symptoms=["urticaria"])
    with refused("symptom_notes", "Describe the 'other' symptom"):
        reaction_record(session=session, severity="mild", action="slowed", symptoms=["other"])
    with refused("symptoms", "at least one symptom"):
        reaction_record(session=session, severity="mild", action="slowed")
    assert not Reaction.objects.exists()


def test_a_mild_reaction_leaves_the_cap_and_the_ladder_alone(clock, session, patient_a):
    follow_the_ladder(clock, session)
    clock.move_to(at(70))
    outcome = reaction_record(
        session=session, severity="mild", action="slowed", symptoms=["headache", "flushing"]
    )

    assert (outcome.paused, outcome.session_completed, outcome.tolerated_cap_mg_kg_min) == (
        False,
        False,
        None,
    )
    patient_a.refresh_from_db()
    assert patient_a.tolerated_max_rate_mg_kg_min is None


def test_a_moderate_reaction_pauses_and_sets_the_cap_to_the_highest_rate_given_without_one(
    clock, session, patient_a, nurse
):
    follow_the_ladder(clock, session)
    clock.move_to(at(75))
    outcome = reaction_record(
        session=session, severity="moderate", action="paused", symptoms=["chills", "nausea"], by=nurse
    )

    assert outcome.paused and not outcome.session_completed
    assert outcome.tolerated_cap_mg_kg_min == Decimal("2.000")  # 84 mL/h ran without a reaction, 168 did not
    patient_a.refresh_from_db()
    assert patient_a.tolerated_max_rate_mg_kg_min == Decimal("2.000")
    latest = patient_a.history.first()
    assert latest.history_user == nurse
    assert "Moderate reaction in session" in latest.history_change_reason
    # Paused: the next rate restarts the ladder, now also under the new cap.
    with refused("rate_ml_per_hour", "after the restart after a pause"):
        log_rate(clock, session, 95, "84.0")
    log_rate(clock, session, 95, "42.0")
    with refused("rate_ml_per_hour", r"84\.0 mL/h \(2 mg/kg/min\).*tolerated cap"):
        log_rate(clock, session, 200, "168.0")


def test_a_rate_at_or_above_one_that_reacted_is_not_tolerated(clock, session):
    follow_the_ladder(clock, session)
    log_rate(clock, session, 70, "84.0")  # 168 mL/h ran for 10 minutes without a reaction
    clock.move_to(at(80))
    outcome = reaction_record(session=session, severity="moderate", action="paused", symptoms=["urticaria"])
    # The reaction came at 2 mg/kg/min, so 4 is not tolerated either: the cap is the 1 given before.
    assert outcome.tolerated_cap_mg_kg_min == Decimal("1.000")


def test_a_reaction_at_the_first_step_halves_that_rate(clock, session, patient_a):
    log_rate(clock, session, 0, "42.0")
    clock.move_to(at(10))
    outcome = reaction_record(session=session, severity="moderate", action="paused", symptoms=["urticaria"])
    assert outcome.tolerated_cap_mg_kg_min == Decimal("0.500")


def test_a_reaction_under_an_existing_cap_lowers_it_further(clock, patient_a):
    Patient.objects.filter(pk=patient_a.pk).update(tolerated_max_rate_mg_kg_min=Decimal("1.5"))
    session = running_session(clock, patient_a)
    log_rate(clock, session, 0, "42.0")
    log_rate(clock, session, 30, "63.0")  # the 1.5 mg/kg/min cap
    clock.move_to(at(45))
    outcome = reaction_record(session=session, severity="moderate", action="paused", symptoms=["chills"])
    assert outcome.tolerated_cap_mg_kg_min == Decimal("1.000")


def test_a_severe_reaction_stops_the_session_and_records_the_grams_until_then(clock, session, patient_a):
    follow_the_ladder(clock, session)
    clock.move_to(at(95))
    outcome = reaction_record(
        session=session, severity="severe", action="stopped", symptoms=["anaphylaxis"], at=at(90)
    )

    session.refresh_from_db()
    assert outcome.session_completed and session.status == "completed"
    # 21 + 42 + 84 mL (30 min at 168) = 147 mL of 100 mg/mL: the stop at 90 min ends the infusion.
    assert session.grams_infused == Decimal("14.70")
    assert session.infusion_warnings[0] == "Stopped early after a severe reaction at 10:45."
    assert "-79.0% from the planned 70 g" in session.infusion_warnings[1]
    patient_a.refresh_from_db()
    assert patient_a.tolerated_max_rate_mg_kg_min == Decimal("2.000")


# -- re-planning later sessions ----------------------------------------------------------------------


@pytest.fixture
def later(clock, session, patient_a):
    """patient_a's next course (booked 30 + 287.5 + 30 → 360 min) and a long and a cancelled booking."""
    plan = session.plan
    clock.move_to(START - dt.timedelta(days=7))
    next_course = session_book(
        patient=patient_a, center=session.center, start=START + dt.timedelta(days=28), plan=plan
    )
    roomy = SessionFactory(
        patient=patient_a,
        plan=plan,
        chair=session.chair,
        start=START + dt.timedelta(days=56),
        chair_minutes=600,
    )
    cancelled = SessionFactory(
        patient=patient_a,
        plan=plan,
        chair=session.chair,
        start=START + dt.timedelta(days=84),
        status="cancelled",
    )
    clock.move_to(at(0))
    return next_course, roomy, cancelled


def test_a_moderate_reaction_re_plans_later_sessions_and_flags_those_that_no_longer_fit(
    clock, session, later
):
    next_course, roomy, cancelled = later
    assert next_course.chair_minutes == 360
    follow_the_ladder(clock, session)
    clock.move_to(at(75))

    outcome = reaction_record(session=session, severity="moderate", action="paused", symptoms=["tachycardia"])

    assert outcome.replanning.replanned == [next_course.pk, roomy.pk]
    assert outcome.replanning.flagged == [next_course.pk]
    next_course.refresh_from_db()
    # At 2 mg/kg/min: 30 min at 42 mL/h, then 679 mL at 84 mL/h (485 min): 30 + 515 + 30 → 585.
    assert next_course.chair_minutes == 585 and next_course.needs_rebooking
    assert next_course.rebooking_reason.endswith("needs 585 chair minutes; it is booked for 360.")
    assert [step["rate_ml_per_hour"] for step in next_course.ladder] == [42.0, 84.0]
    roomy.refresh_from_db()
    assert (roomy.chair_minutes, roomy.needs_rebooking) == (585, False)
    cancelled.refresh_from_db()
    assert cancelled.ladder == [] and not cancelled.needs_rebooking


def test_clearing_the_cap_re_plans_again_and_lifts_the_flags(clock, session, later, patient_a, admin_user):
    next_course, _, _ = later
    follow_the_ladder(clock, session)
    clock.move_to(at(75))
    reaction_record(session=session, severity="moderate", action="paused", symptoms=["tachycardia"])

    with refused("reason", "Say why"):
        tolerated_cap_clear(patient=patient_a, reason=" ", by=admin_user)
    previous, replanning = tolerated_cap_clear(
        patient=patient_a, reason="Premedication changed", by=admin_user
    )

    assert previous == Decimal("2.000") and replanning.flagged == []
    patient_a.refresh_from_db()
    assert patient_a.tolerated_max_rate_mg_kg_min is None
    assert patient_a.history.first().history_user == admin_user
    next_course.refresh_from_db()
    assert (next_course.chair_minutes, next_course.needs_rebooking, next_course.rebooking_reason) == (
        360,
        False,
        "",
    )


# -- completion --------------------------------------------------------------------------------------


def test_completing_on_time_after_the_full_ladder_infuses_the_planned_grams(clock, session):
    follow_the_ladder(clock, session)
    clock.move_to(at(FULL_DOSE_MINUTES))

    completed = session_complete(session=session)

    assert completed.status == "completed" and completed.completed_at == at(FULL_DOSE_MINUTES)
    assert completed.grams_infused == Decimal("70.00")
    assert completed.infusion_warnings == []


def test_a_pause_infuses_nothing_and_more_than_five_percent_short_is_a_warning(clock, session):
    follow_the_ladder(clock, session)
    log_rate(clock, session, 100, "0.0")
    log_rate(clock, session, 115, "42.0")  # restart
    log_rate(clock, session, 145, "84.0")
    log_rate(clock, session, 175, "168.0")
    clock.move_to(at(FULL_DOSE_MINUTES))

    completed = session_complete(session=session)

    # 21 + 42 + 112 (40 min at 168) + 21 + 42 + 315 (112.5 min at 168) = 553 mL
    assert completed.grams_infused == Decimal("55.30")
    assert completed.infusion_warnings == [
        "55.3 g infused by the rate log, -21.0% from the planned 70 g (more than 5%)."
    ]


def test_within_five_percent_there_is_no_warning(clock, session):
    follow_the_ladder(clock, session)
    clock.move_to(at(FULL_DOSE_MINUTES - 20))  # 56 mL short: 64.4 g, 8% short
    assert session_complete(session=session).infusion_warnings
    other = running_session(clock, PatientWeightFactory(patient=PatientFactory()).patient)
    follow_the_ladder(clock, other)
    clock.move_to(at(FULL_DOSE_MINUTES - 10, other.started_at))  # 28 mL short: 67.2 g, 4% short
    assert session_complete(session=other).infusion_warnings == []


def test_completing_a_session_twice_is_refused(clock, session):
    from infusions.scheduling.booking import InvalidTransition

    session_complete(session=session)
    with pytest.raises(InvalidTransition):
        session_complete(session=session)
    assert InfusionSession.objects.get(pk=session.pk).status == "completed"


# -- the admin ------------------------------------------------------------------------------------


def test_the_admin_shows_records_but_never_adds_changes_or_deletes_them(client, clock, session, admin_user):
    clock.move_to(at(10))
    entry = vitals_record(session=session, heart_rate=70)
    client.force_login(admin_user)

    assert client.get("/admin/infusions/vitalsigns/").status_code == 200
    assert client.get(f"/admin/infusions/vitalsigns/{entry.pk}/change/").status_code == 200  # view only
    assert client.get("/admin/infusions/vitalsigns/add/").status_code == 403
    assert (
        client.post(f"/admin/infusions/vitalsigns/{entry.pk}/change/", {"heart_rate": 99}).status_code == 403
    )
    assert client.post(f"/admin/infusions/vitalsigns/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.heart_rate == 70
