"""The database itself refuses impossible sessions, plans, centers and catalogue rows.

Every bad row is written with `objects.create` (factories use it) or
`QuerySet.update`, past model validation, because serializers and services do
not call `full_clean()`: the constraint is what holds. A refusal must name
its constraint (or be a uniqueness violation), so a row refused for some other
reason does not pass for a working constraint.

The no-double-booking exclusion constraints exist only on PostgreSQL
(migration 0002); those tests are marked `postgres`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from infusions.models import (
    Center,
    Chair,
    ClosedDate,
    Indication,
    InfusionPlan,
    InfusionSession,
    OpeningHours,
    Product,
    Protocol,
    ProtocolStep,
    SessionStatus,
    StaffingDay,
)
from tests.factories import CenterFactory, ChairFactory, PatientFactory, PlanFactory, SessionFactory

pytestmark = pytest.mark.django_db

UNIQUE = re.compile("unique constraint", re.IGNORECASE)
TEN = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)


@contextmanager
def refused_by(constraint: str | re.Pattern[str]) -> Iterator[None]:
    """The write inside must fail at the database, naming `constraint`."""
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        yield


def hours(n: float) -> dt.timedelta:
    return dt.timedelta(hours=n)


# Sessions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"start": TEN, "end": TEN}, "session_end_after_start"),
        ({"start": TEN, "end": TEN - hours(1)}, "session_end_after_start"),
        ({"version": 0}, "session_version_positive"),
        ({"start": TEN, "end": TEN + hours(4), "chair_minutes": 0}, "session_chair_minutes_positive"),
        ({"day": 0}, "session_day_1_to_5"),
        ({"day": 6}, "session_day_1_to_5"),
        ({"course": 0}, "session_course_positive"),
        ({"grams": Decimal("0")}, "session_grams_positive"),
        ({"grams": Decimal("-10")}, "session_grams_positive"),
        ({"volume_ml": Decimal("0")}, "session_volume_positive"),
        ({"volume_ml": Decimal("-100")}, "session_volume_positive"),
        ({"status": "postponed"}, "session_status_valid"),
    ],
    ids=[
        "ending-when-it-starts",
        "ending-before-it-starts",
        "version-0",
        "no-chair-minutes",
        "day-0",
        "day-6",
        "course-0",
        "zero-grams",
        "negative-grams",
        "zero-volume",
        "negative-volume",
        "unknown-status",
    ],
)
def test_it_refuses_an_impossible_session(changes, constraint):
    with refused_by(constraint):
        SessionFactory(**changes)
    assert not InfusionSession.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"start": TEN, "end": TEN + dt.timedelta(minutes=1)},
        {"version": 1},
        {"day": 1},
        {"day": 5},
        {"day": None},
        {"course": 1},
        {"grams": Decimal("0.01")},
        {"volume_ml": Decimal("0.1")},
        {"grams": None, "volume_ml": None},
    ],
    ids=[
        "one-minute-long",
        "version-1",
        "day-1",
        "day-5",
        "no-day",
        "course-1",
        "smallest-grams",
        "smallest-volume",
        "no-grams-or-volume",
    ],
)
def test_it_accepts_the_boundaries_of_a_possible_session(changes):
    session = SessionFactory(**changes)
    session.refresh_from_db()
    assert {field: getattr(session, field) for field in changes} == changes


def test_it_refuses_to_move_a_sessions_end_before_its_start():
    session = SessionFactory(start=TEN, end=TEN + hours(4))
    with refused_by("session_end_after_start"):
        InfusionSession.objects.filter(pk=session.pk).update(end=TEN - hours(1))
    session.refresh_from_db()
    assert session.end == TEN + hours(4)


def test_it_refuses_to_reset_a_sessions_version_to_zero():
    session = SessionFactory(version=3)
    with refused_by("session_version_positive"):
        InfusionSession.objects.filter(pk=session.pk).update(version=0)
    session.refresh_from_db()
    assert session.version == 3


# No double booking (PostgreSQL exclusion constraints) -----------------------------


@pytest.mark.postgres
def test_it_refuses_two_live_sessions_overlapping_on_one_chair():
    first = SessionFactory(start=TEN, end=TEN + hours(4))
    with refused_by("session_no_chair_overlap"):
        SessionFactory(chair=first.chair, start=TEN + hours(3), end=TEN + hours(6))
    assert list(InfusionSession.objects.filter(chair=first.chair)) == [first]


@pytest.mark.postgres
def test_it_refuses_a_session_inside_another_on_the_same_chair():
    first = SessionFactory(start=TEN, end=TEN + hours(6))
    with refused_by("session_no_chair_overlap"):
        SessionFactory(chair=first.chair, start=TEN + hours(1), end=TEN + hours(2))
    assert InfusionSession.objects.filter(chair=first.chair).count() == 1


@pytest.mark.postgres
def test_it_refuses_one_patient_in_two_chairs_at_once():
    first = SessionFactory(start=TEN, end=TEN + hours(4))
    other_chair = ChairFactory(center=first.center)
    with refused_by("session_no_patient_overlap"):
        SessionFactory(patient=first.patient, chair=other_chair, start=TEN + hours(2), end=TEN + hours(5))
    assert list(InfusionSession.objects.filter(patient=first.patient)) == [first]


@pytest.mark.postgres
def test_it_refuses_to_move_a_session_onto_a_booked_chair_time():
    first = SessionFactory(start=TEN, end=TEN + hours(4))
    later = SessionFactory(chair=first.chair, start=TEN + hours(5), end=TEN + hours(9))
    with refused_by("session_no_chair_overlap"):
        InfusionSession.objects.filter(pk=later.pk).update(start=TEN + hours(3))
    later.refresh_from_db()
    assert later.start == TEN + hours(5)


@pytest.mark.postgres
def test_it_allows_back_to_back_sessions_on_one_chair():
    """Half-open ranges: one ending at 10:00 does not overlap one starting at 10:00."""
    first = SessionFactory(start=TEN - hours(4), end=TEN)
    SessionFactory(chair=first.chair, start=TEN, end=TEN + hours(4))
    assert InfusionSession.objects.filter(chair=first.chair).count() == 2


@pytest.mark.postgres
def test_it_allows_one_patient_back_to_back_in_two_chairs():
    first = SessionFactory(start=TEN - hours(4), end=TEN)
    SessionFactory(
        patient=first.patient, chair=ChairFactory(center=first.center), start=TEN, end=TEN + hours(4)
    )
    assert first.patient.sessions.count() == 2


@pytest.mark.postgres
@pytest.mark.parametrize("released", [SessionStatus.CANCELLED, SessionStatus.NO_SHOW])
def test_a_released_session_does_not_block_its_chair_or_patient(released):
    first = SessionFactory(start=TEN, end=TEN + hours(4), status=released)
    SessionFactory(chair=first.chair, start=TEN, end=TEN + hours(4))
    SessionFactory(patient=first.patient, start=TEN + hours(1), end=TEN + hours(3))
    assert InfusionSession.objects.live().filter(chair=first.chair).count() == 1
    assert first.patient.sessions.count() == 2


@pytest.mark.postgres
def test_it_refuses_to_reinstate_a_cancelled_session_whose_chair_was_rebooked():
    cancelled = SessionFactory(start=TEN, end=TEN + hours(4), status=SessionStatus.CANCELLED)
    SessionFactory(chair=cancelled.chair, start=TEN, end=TEN + hours(4))
    with refused_by("session_no_chair_overlap"):
        InfusionSession.objects.filter(pk=cancelled.pk).update(status=SessionStatus.SCHEDULED)
    cancelled.refresh_from_db()
    assert cancelled.status == SessionStatus.CANCELLED


# Plans ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"dose_g_per_kg": Decimal("0")}, "plan_dose_0_to_3_g_per_kg"),
        ({"dose_g_per_kg": Decimal("-1")}, "plan_dose_0_to_3_g_per_kg"),
        ({"dose_g_per_kg": Decimal("3.01")}, "plan_dose_0_to_3_g_per_kg"),
        ({"days_per_course": 0}, "plan_days_per_course_1_to_5"),
        ({"days_per_course": 6}, "plan_days_per_course_1_to_5"),
        ({"course_count": 0}, "plan_course_count_1_to_52"),
        ({"course_count": 53}, "plan_course_count_1_to_52"),
        ({"interval": "every_n_days", "interval_days": None}, "plan_interval_days_only_for_every_n_days"),
        ({"interval": "every_n_days", "interval_days": 6}, "plan_interval_days_only_for_every_n_days"),
        ({"interval": "every_n_days", "interval_days": 85}, "plan_interval_days_only_for_every_n_days"),
        ({"interval": "every_4_weeks", "interval_days": 28}, "plan_interval_days_only_for_every_n_days"),
        ({"interval": "biweekly", "interval_days": 14}, "plan_interval_days_only_for_every_n_days"),
        ({"interval": "monthly", "interval_days": 30}, "plan_interval_days_only_for_every_n_days"),
        ({"interval": "weekly"}, "plan_interval_valid"),
        ({"status": "paused"}, "plan_status_valid"),
        ({"dosing_weight_method": "lean"}, "plan_dosing_weight_method_valid"),
        ({"window_days": 15}, "plan_window_at_most_14_days"),
        ({"time_flexibility_minutes": 721}, "plan_flexibility_at_most_12_hours"),
    ],
    ids=[
        "zero-dose",
        "negative-dose",
        "dose-above-3-g-per-kg",
        "0-days-per-course",
        "6-days-per-course",
        "0-courses",
        "53-courses",
        "every-n-days-without-n",
        "every-6-days",
        "every-85-days",
        "every-4-weeks-with-interval-days",
        "biweekly-with-interval-days",
        "monthly-with-interval-days",
        "unknown-interval",
        "unknown-status",
        "unknown-dosing-weight-method",
        "window-above-14-days",
        "flexibility-above-12-hours",
    ],
)
def test_it_refuses_an_impossible_plan(changes, constraint):
    with refused_by(constraint):
        PlanFactory(**changes)
    assert not InfusionPlan.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"dose_g_per_kg": Decimal("0.01")},
        {"dose_g_per_kg": Decimal("3.00")},
        {"days_per_course": 1},
        {"days_per_course": 5},
        {"course_count": 1},
        {"course_count": 52},
        {"interval": "every_n_days", "interval_days": 7},
        {"interval": "every_n_days", "interval_days": 84},
        {"interval": "biweekly", "interval_days": None},
        {"interval": "monthly", "interval_days": None},
        {"window_days": 14, "time_flexibility_minutes": 720},
    ],
    ids=[
        "smallest-dose",
        "dose-3-g-per-kg",
        "1-day-per-course",
        "5-days-per-course",
        "1-course",
        "52-courses",
        "every-7-days",
        "every-84-days",
        "biweekly-without-interval-days",
        "monthly-without-interval-days",
        "widest-window-and-flexibility",
    ],
)
def test_it_accepts_the_boundaries_of_a_possible_plan(changes):
    plan = PlanFactory(**changes)
    plan.refresh_from_db()
    assert {field: getattr(plan, field) for field in changes} == changes


def test_it_refuses_to_switch_a_plan_to_every_n_days_without_the_days():
    plan = PlanFactory(interval="every_4_weeks")
    with refused_by("plan_interval_days_only_for_every_n_days"):
        InfusionPlan.objects.filter(pk=plan.pk).update(interval="every_n_days")
    plan.refresh_from_db()
    assert (plan.interval, plan.interval_days) == ("every_4_weeks", None)


# Centers, hours, closures, staffing, chairs ----------------------------------------


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"slot_minutes": 4}, "center_slot_5_to_60"),
        ({"slot_minutes": 61}, "center_slot_5_to_60"),
        ({"patients_per_nurse": 0}, "center_patients_per_nurse"),
        ({"buffer_after_minutes": 30, "buffer_after_first_minutes": 29}, "center_first_buffer_not_shorter"),
    ],
    ids=["4-minute-slots", "61-minute-slots", "no-patients-per-nurse", "shorter-first-infusion-buffer"],
)
def test_it_refuses_an_impossible_center(changes, constraint):
    with refused_by(constraint):
        CenterFactory(**changes)
    assert not Center.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"slot_minutes": 5},
        {"slot_minutes": 60},
        {"patients_per_nurse": 1},
        {"buffer_after_minutes": 30, "buffer_after_first_minutes": 30},
    ],
    ids=["5-minute-slots", "60-minute-slots", "one-patient-per-nurse", "equal-buffers"],
)
def test_it_accepts_the_boundaries_of_a_possible_center(changes):
    center = CenterFactory(weekdays=[], **changes)
    center.refresh_from_db()
    assert {field: getattr(center, field) for field in changes} == changes


def test_it_refuses_two_centers_with_one_name():
    CenterFactory(name="North")
    with refused_by(UNIQUE):
        CenterFactory(name="North")
    assert Center.objects.filter(name="North").count() == 1


@pytest.mark.parametrize(
    ("opens", "closes"),
    [(dt.time(8), dt.time(8)), (dt.time(18), dt.time(8))],
    ids=["closing-when-it-opens", "closing-before-it-opens"],
)
def test_it_refuses_opening_hours_that_do_not_close_after_they_open(opens, closes):
    center = CenterFactory(weekdays=[])
    with refused_by("opening_hours_close_after_open"):
        OpeningHours.objects.create(center=center, weekday=0, opens=opens, closes=closes)
    assert not center.opening_hours.exists()


def test_it_accepts_opening_hours_that_close_a_minute_after_they_open():
    center = CenterFactory(weekdays=[])
    OpeningHours.objects.create(center=center, weekday=0, opens=dt.time(8), closes=dt.time(8, 1))
    assert list(center.opening_hours.values_list("opens", "closes")) == [(dt.time(8), dt.time(8, 1))]


def test_it_refuses_two_opening_hours_for_one_weekday():
    center = CenterFactory(weekdays=[0])
    with refused_by(UNIQUE):
        OpeningHours.objects.create(center=center, weekday=0, opens=dt.time(12), closes=dt.time(20))
    assert center.opening_hours.count() == 1


def test_it_accepts_the_same_weekday_at_two_centers():
    CenterFactory(weekdays=[0])
    CenterFactory(weekdays=[0])
    assert OpeningHours.objects.filter(weekday=0).count() == 2


@pytest.mark.parametrize("weekday", [0, 6], ids=["monday", "sunday"])
def test_it_accepts_every_weekday_from_monday_to_sunday(weekday):
    center = CenterFactory(weekdays=[weekday])
    assert list(center.opening_hours.values_list("weekday", flat=True)) == [weekday]


def test_it_refuses_a_weekday_after_sunday():
    center = CenterFactory(weekdays=[])
    with refused_by("opening_hours_weekday"):
        OpeningHours.objects.create(center=center, weekday=7, opens=dt.time(8), closes=dt.time(18))
    assert not center.opening_hours.exists()


def test_it_refuses_closing_a_center_twice_on_one_date():
    center = CenterFactory()
    ClosedDate.objects.create(center=center, date=dt.date(2026, 12, 25), reason="Christmas")
    with refused_by(UNIQUE):
        ClosedDate.objects.create(center=center, date=dt.date(2026, 12, 25))
    assert center.closed_dates.count() == 1


def test_it_refuses_two_staffing_entries_for_one_center_day():
    center = CenterFactory()
    StaffingDay.objects.create(center=center, date=dt.date(2026, 12, 7), nurses_on_duty=2)
    with refused_by(UNIQUE):
        StaffingDay.objects.create(center=center, date=dt.date(2026, 12, 7), nurses_on_duty=3)
    assert list(center.staffing_days.values_list("nurses_on_duty", flat=True)) == [2]


def test_it_refuses_two_chairs_with_one_name_in_a_center():
    chair = ChairFactory(name="Chair 1")
    with refused_by(UNIQUE):
        Chair.objects.create(center=chair.center, name="Chair 1")
    assert chair.center.chairs.count() == 1


def test_it_refuses_renaming_a_chair_to_a_name_taken_in_its_center():
    chair = ChairFactory(name="Chair 1")
    other = ChairFactory(center=chair.center, name="Chair 2")
    with refused_by(UNIQUE):
        Chair.objects.filter(pk=other.pk).update(name="Chair 1")
    other.refresh_from_db()
    assert other.name == "Chair 2"


def test_it_accepts_the_same_chair_name_in_another_center():
    ChairFactory(name="Chair 1")
    ChairFactory(name="Chair 1")
    assert Chair.objects.filter(name="Chair 1").values("center").distinct().count() == 2


# Catalogue ----------------------------------------------------------------------------


def make_product(**changes) -> Product:
    fields = {"code": "test-ivig", "name": "Test IVIG", "manufacturer": "Test", "vial_sizes_g": [5, 10]}
    return Product.objects.create(**{**fields, **changes})


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"risk_cap_mg_kg_min": Decimal("0")}, "product_risk_cap_positive"),
        ({"risk_cap_mg_kg_min": Decimal("-1")}, "product_risk_cap_positive"),
        ({"concentration_mg_per_ml": 0}, "product_concentration_positive"),
        ({"iga_ug_per_ml": Decimal("-1")}, "product_iga_not_negative"),
    ],
    ids=["zero-risk-cap", "negative-risk-cap", "zero-concentration", "negative-iga"],
)
def test_it_refuses_an_impossible_product(changes, constraint):
    with refused_by(constraint):
        make_product(**changes)
    assert not Product.objects.filter(code="test-ivig").exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"risk_cap_mg_kg_min": Decimal("0.0001")},
        {"risk_cap_mg_kg_min": None},
        {"concentration_mg_per_ml": 1},
        {"iga_ug_per_ml": Decimal("0.0")},
        {"iga_ug_per_ml": None},
    ],
    ids=["smallest-risk-cap", "no-risk-cap", "smallest-concentration", "no-iga", "iga-unknown"],
)
def test_it_accepts_the_boundaries_of_a_possible_product(changes):
    product = make_product(**changes)
    product.refresh_from_db()
    assert {field: getattr(product, field) for field in changes} == changes


def test_it_refuses_a_second_protocol_for_one_product_and_indication():
    existing = Protocol.objects.get(product__code="octagam-10", indication__code="dermatomyositis")
    with refused_by(UNIQUE):
        Protocol.objects.create(
            product=existing.product,
            indication=existing.indication,
            start_rate_mg_kg_min=Decimal("1"),
            max_rate_mg_kg_min=Decimal("8"),
        )
    assert Protocol.objects.filter(product=existing.product, indication=existing.indication).count() == 1


def test_it_accepts_a_protocol_for_the_same_product_and_a_new_indication():
    product = Product.objects.get(code="octagam-10")
    indication = Indication.objects.create(code="kawasaki", name="Kawasaki disease")
    Protocol.objects.create(
        product=product,
        indication=indication,
        start_rate_mg_kg_min=Decimal("1"),
        max_rate_mg_kg_min=Decimal("4"),
    )
    assert set(product.protocols.values_list("indication__code", flat=True)) == {
        "dermatomyositis",
        "chronic_itp",
        "kawasaki",
    }


@pytest.mark.parametrize(
    ("start", "maximum", "constraint"),
    [("0", "4", "protocol_start_rate_positive"), ("2", "1.9999", "protocol_max_not_below_start")],
    ids=["zero-start-rate", "maximum-below-start"],
)
def test_it_refuses_an_impossible_protocol(start, maximum, constraint):
    indication = Indication.objects.create(code="kawasaki", name="Kawasaki disease")
    with refused_by(constraint):
        Protocol.objects.create(
            product=make_product(),
            indication=indication,
            start_rate_mg_kg_min=Decimal(start),
            max_rate_mg_kg_min=Decimal(maximum),
        )
    assert not indication.protocols.exists()


def test_it_accepts_a_protocol_whose_maximum_is_its_start():
    indication = Indication.objects.create(code="kawasaki", name="Kawasaki disease")
    Protocol.objects.create(
        product=make_product(),
        indication=indication,
        start_rate_mg_kg_min=Decimal("2"),
        max_rate_mg_kg_min=Decimal("2"),
    )
    assert list(indication.protocols.values_list("max_rate_mg_kg_min", flat=True)) == [Decimal("2")]


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"position": 1}, UNIQUE),
        ({"rate_mg_kg_min": Decimal("0")}, "protocol_step_rate_positive"),
        ({"minutes": 0}, "protocol_step_minutes_positive"),
    ],
    ids=["second-step-at-one-position", "zero-rate", "zero-minutes"],
)
def test_it_refuses_an_impossible_ladder_step(changes, constraint):
    protocol = Protocol.objects.get(product__code="octagam-10", indication__code="dermatomyositis")
    step = {"protocol": protocol, "position": 5, "rate_mg_kg_min": Decimal("12"), "minutes": 30, **changes}
    with refused_by(constraint):
        ProtocolStep.objects.create(**step)
    assert list(protocol.steps.values_list("position", flat=True)) == [1, 2, 3, 4]


def test_it_accepts_a_new_ladder_step_at_a_free_position():
    protocol = Protocol.objects.get(product__code="octagam-10", indication__code="dermatomyositis")
    ProtocolStep.objects.create(protocol=protocol, position=5, rate_mg_kg_min=Decimal("0.0001"), minutes=1)
    assert list(protocol.steps.values_list("position", flat=True)) == [1, 2, 3, 4, 5]


def test_it_accepts_one_patient_on_consecutive_days_of_a_course():
    patient = PatientFactory()
    SessionFactory(patient=patient, start=TEN, end=TEN + hours(4), day=1, course=1)
    SessionFactory(patient=patient, start=TEN + hours(24), end=TEN + hours(28), day=2, course=1)
    assert list(patient.sessions.values_list("day", flat=True)) == [1, 2]
