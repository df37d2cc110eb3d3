"""Booking series and sessions into chairs: the rules, all or nothing, DST, levelling."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from infusions.models import ClosedDate, InfusionSession, StaffingDay
from infusions.scheduling.booking import (
    BookingError,
    InvalidTransition,
    SeriesConflict,
    SlotConflict,
    session_book,
    session_reschedule,
    session_transition,
)
from infusions.scheduling.series import plan_book
from tests.factories import CenterFactory, ChairFactory, PatientFactory, PatientWeightFactory, PlanFactory

NEW_YORK = ZoneInfo("America/New_York")
pytestmark = pytest.mark.django_db


def make_center(chairs: int = 2, **fields):
    center = CenterFactory(**fields)
    for n in range(1, chairs + 1):
        ChairFactory(center=center, name=f"C{n}")
    return center


def weighed_patient(kg: str = "70.0", **fields):
    patient = PatientFactory(**fields)
    PatientWeightFactory(patient=patient, weight_kg=Decimal(kg))
    return patient


def local(session: InfusionSession) -> tuple[str, str]:
    start = session.start.astimezone(session.center.zone)
    return start.date().isoformat(), start.strftime("%H:%M")


def at(day: str, time: str, zone: ZoneInfo = NEW_YORK) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=zone)


# -- series ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "start", "changes"),
    [
        ("America/New_York", dt.date(2027, 2, 1), ("2027-03-14", "2027-11-07")),
        ("Australia/Sydney", dt.date(2027, 2, 1), ("2027-04-04", "2027-10-03")),
    ],
)
def test_a_series_stays_at_nine_local_across_both_daylight_saving_changes(zone, start, changes):
    center = make_center(time_zone=zone)
    plan = PlanFactory(
        patient=weighed_patient(),
        center=center,
        days_per_course=1,
        interval="every_4_weeks",
        start_date=start,
        course_count=12,
        preferred_start_time=dt.time(9),
        dose_g_per_kg=Decimal("1"),
    )

    sessions = plan_book(plan=plan)

    assert len(sessions) == 12
    assert {local(s)[1] for s in sessions} == {"09:00"}
    offsets = {s.start.astimezone(ZoneInfo(zone)).utcoffset() for s in sessions}
    assert len(offsets) == 2, f"the series should cross {changes}"


def test_a_monthly_series_from_the_31st_books_month_ends_on_open_days():
    center = make_center()
    plan = PlanFactory(
        patient=weighed_patient(),
        center=center,
        interval="monthly",
        start_date=dt.date(2027, 3, 31),
        course_count=3,
        days_per_course=1,
        dose_g_per_kg=Decimal("1"),
    )
    days = [local(s)[0] for s in plan_book(plan=plan)]
    # 31 Mar (Wed); 30 Apr (Fri); 31 May is Memorial Day in real life but open here (Mon).
    assert days == ["2027-03-31", "2027-04-30", "2027-05-31"]


def test_course_days_follow_the_centers_open_days():
    center = make_center()
    plan = PlanFactory(
        patient=weighed_patient(),
        center=center,
        start_date=dt.date(2027, 1, 7),
        course_count=1,
        days_per_course=3,
        dose_g_per_kg=Decimal("2"),
    )
    days = [local(s)[0] for s in plan_book(plan=plan)]
    assert days == ["2027-01-07", "2027-01-08", "2027-01-11"]  # Thu, Fri, then Monday


def test_a_closed_date_moves_the_course_to_the_next_open_day_in_the_window():
    center = make_center()
    ClosedDate.objects.create(center=center, date=dt.date(2027, 1, 4), reason="Staff training")
    plan = PlanFactory(
        patient=weighed_patient(),
        center=center,
        start_date=dt.date(2027, 1, 4),
        course_count=1,
        days_per_course=2,
        window_days=3,
    )
    assert [local(s)[0] for s in plan_book(plan=plan)] == ["2027-01-05", "2027-01-06"]


def test_one_impossible_course_books_nothing_and_says_why_with_alternatives():
    center = make_center()
    ClosedDate.objects.bulk_create(
        [ClosedDate(center=center, date=dt.date(2027, 2, 1) + dt.timedelta(days=n)) for n in range(10)]
    )
    plan = PlanFactory(
        patient=weighed_patient(),
        center=center,
        start_date=dt.date(2027, 1, 4),
        course_count=3,
        days_per_course=1,
        dose_g_per_kg=Decimal("1"),
        window_days=3,
    )

    with pytest.raises(SeriesConflict) as refused:
        plan_book(plan=plan)

    assert not InfusionSession.objects.exists()
    [conflict] = refused.value.conflicts
    assert (conflict.course, conflict.day, conflict.date) == (2, 1, dt.date(2027, 2, 1))
    assert conflict.reasons == ["center_closed"]
    assert conflict.alternatives, "the nearest open times should be offered"
    assert all(a["start"].date() >= dt.date(2027, 2, 11) for a in conflict.alternatives)
    assert len(conflict.alternatives) <= 3


def test_a_busy_patient_is_reported_and_not_double_booked():
    center = make_center(chairs=3)
    patient = weighed_patient()
    session_book(patient=patient, center=center, start=at("2027-01-04", "08:00"), chair_minutes=600)
    plan = PlanFactory(
        patient=patient,
        center=center,
        start_date=dt.date(2027, 1, 4),
        course_count=1,
        days_per_course=1,
        dose_g_per_kg=Decimal("1"),
        window_days=0,
    )
    with pytest.raises(SeriesConflict) as refused:
        plan_book(plan=plan)
    assert "patient_busy" in refused.value.conflicts[0].reasons
    assert InfusionSession.objects.count() == 1


def test_booking_again_books_only_the_remaining_courses():
    center = make_center()
    plan = PlanFactory(
        patient=weighed_patient(),
        center=center,
        course_count=2,
        days_per_course=1,
        dose_g_per_kg=Decimal("1"),
    )
    first = plan_book(plan=plan)
    session_transition(session=first[1], action="cancel")

    again = plan_book(plan=plan)

    assert [s.course for s in again] == [2]
    with pytest.raises(SlotConflict, match="already booked"):
        plan_book(plan=plan)


def test_the_first_infusion_gets_the_long_observation_and_later_ones_the_short():
    center = make_center()
    plan = PlanFactory(patient=weighed_patient(), center=center, course_count=2, days_per_course=2)
    minutes = [s.chair_minutes for s in plan_book(plan=plan)]
    assert minutes == [390, 360, 360, 360]  # 30 + 287.5 + 60 -> 390, then + 30 -> 360


def test_booked_sessions_snapshot_the_dose_and_ladder():
    plan = PlanFactory(patient=weighed_patient(), center=make_center(), course_count=1, days_per_course=2)
    session = plan_book(plan=plan)[0]
    assert (session.grams, session.volume_ml) == (Decimal("70.00"), Decimal("700.0"))
    assert [step["rate_ml_per_hour"] for step in session.ladder] == [42.0, 84.0, 168.0]
    plan.refresh_from_db()
    assert plan.status == "active"


def test_placement_spreads_starts_that_all_prefer_nine():
    center = make_center(chairs=6, default_nurses_on_duty=3)
    starts = []
    for _ in range(4):
        plan = PlanFactory(
            patient=weighed_patient(),
            center=center,
            start_date=dt.date(2027, 1, 5),
            course_count=1,
            days_per_course=1,
            dose_g_per_kg=Decimal("1"),
        )
        starts.append(local(plan_book(plan=plan)[0])[1])
    assert starts[0] == "09:00"
    assert len(set(starts)) == 4, starts  # no two starts in one 30-minute window
    assert all("08:00" <= s <= "10:00" for s in starts)  # within the 60-min flexibility


def test_a_series_costs_the_same_queries_however_full_the_center_is():
    def queries_to_book(existing: int) -> int:
        center = make_center(chairs=4)
        for n in range(existing):
            session_book(
                patient=weighed_patient(),
                center=center,
                start=at((dt.date(2027, 1, 4) + dt.timedelta(days=7 * (n // 2))).isoformat(), "16:00"),
                chair_minutes=60,
            )
        plan = PlanFactory(patient=weighed_patient(), center=center, course_count=4, days_per_course=2)
        with CaptureQueriesContext(connection) as ctx:
            plan_book(plan=plan)
        return len(ctx)

    assert queries_to_book(2) == queries_to_book(12)


# -- one session ------------------------------------------------------------------


def test_a_session_must_fit_the_opening_hours():
    center = make_center()
    with pytest.raises(SlotConflict) as late:
        session_book(
            patient=weighed_patient(), center=center, start=at("2027-01-04", "15:00"), chair_minutes=240
        )
    assert late.value.reasons == ["outside_hours"]
    with pytest.raises(SlotConflict) as weekend:
        session_book(
            patient=weighed_patient(), center=center, start=at("2027-01-09", "09:00"), chair_minutes=60
        )
    assert weekend.value.reasons == ["center_closed"]


def test_a_chair_is_never_double_booked_but_back_to_back_is_fine():
    center = make_center(chairs=1)
    chair = center.chairs.get()
    session_book(
        patient=weighed_patient(),
        center=center,
        chair=chair,
        start=at("2027-01-04", "09:00"),
        chair_minutes=60,
    )
    with pytest.raises(SlotConflict) as busy:
        session_book(
            patient=weighed_patient(),
            center=center,
            chair=chair,
            start=at("2027-01-04", "09:30"),
            chair_minutes=60,
        )
    assert busy.value.reasons == ["chair_busy"]
    later = session_book(
        patient=weighed_patient(),
        center=center,
        chair=chair,
        start=at("2027-01-04", "10:00"),
        chair_minutes=60,
    )
    assert later.chair == chair


def test_a_free_chair_is_chosen_when_none_is_given():
    center = make_center(chairs=2)
    first = session_book(
        patient=weighed_patient(), center=center, start=at("2027-01-04", "09:00"), chair_minutes=60
    )
    second = session_book(
        patient=weighed_patient(), center=center, start=at("2027-01-04", "09:15"), chair_minutes=60
    )
    assert first.chair != second.chair


def test_nurse_capacity_limits_running_infusions_even_with_free_chairs():
    center = make_center(chairs=4, default_nurses_on_duty=1, patients_per_nurse=2)
    session_book(patient=weighed_patient(), center=center, start=at("2027-01-04", "09:00"), chair_minutes=120)
    session_book(patient=weighed_patient(), center=center, start=at("2027-01-04", "09:30"), chair_minutes=120)
    with pytest.raises(SlotConflict) as full:
        session_book(
            patient=weighed_patient(), center=center, start=at("2027-01-04", "10:00"), chair_minutes=60
        )
    assert full.value.reasons == ["nurse_capacity"]
    fine = session_book(
        patient=weighed_patient(), center=center, start=at("2027-01-04", "11:00"), chair_minutes=60
    )
    assert fine.pk


def test_one_nurse_cannot_start_two_infusions_in_one_slot():
    center = make_center(chairs=4, default_nurses_on_duty=1, patients_per_nurse=4)
    session_book(patient=weighed_patient(), center=center, start=at("2027-01-04", "09:00"), chair_minutes=60)
    with pytest.raises(SlotConflict) as same_slot:
        session_book(
            patient=weighed_patient(), center=center, start=at("2027-01-04", "09:10"), chair_minutes=60
        )
    assert same_slot.value.reasons == ["nurse_capacity"]


def test_a_days_staffing_overrides_the_centers_default():
    center = make_center(chairs=4, default_nurses_on_duty=1, patients_per_nurse=1)
    StaffingDay.objects.create(center=center, date=dt.date(2027, 1, 4), nurses_on_duty=2)
    session_book(patient=weighed_patient(), center=center, start=at("2027-01-04", "09:00"), chair_minutes=60)
    second = session_book(
        patient=weighed_patient(), center=center, start=at("2027-01-04", "09:30"), chair_minutes=60
    )
    assert second.pk


def test_a_start_must_carry_the_centers_real_offset():
    center = make_center()
    skipped = dt.datetime(2027, 3, 14, 2, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    with pytest.raises(BookingError, match="not a wall-clock time in America/New_York"):
        session_book(patient=weighed_patient(), center=center, start=skipped, chair_minutes=60)
    with pytest.raises(BookingError, match="UTC offset"):
        session_book(
            patient=weighed_patient(), center=center, start=dt.datetime(2027, 3, 15, 9), chair_minutes=60
        )


# -- reschedule and status ------------------------------------------------------------


def test_a_reschedule_moves_the_session_and_bumps_its_version():
    center = make_center()
    session = session_book(
        patient=weighed_patient(), center=center, start=at("2027-01-04", "09:00"), chair_minutes=60
    )
    session = session_transition(session=session, action="confirm")

    moved = session_reschedule(session=session, start=at("2027-01-05", "13:00"))

    assert local(moved) == ("2027-01-05", "13:00")
    assert moved.end - moved.start == dt.timedelta(minutes=60)
    assert moved.version == 2
    assert moved.status == "scheduled"  # the patient confirmed the old time, not this one


def test_a_reschedule_clears_a_rebooking_flag_with_the_new_length():
    center = make_center()
    session = session_book(
        patient=weighed_patient(), center=center, start=at("2027-01-04", "09:00"), chair_minutes=60
    )
    InfusionSession.objects.filter(pk=session.pk).update(
        chair_minutes=90, needs_rebooking=True, rebooking_reason="Needs 90 chair minutes"
    )
    session.refresh_from_db()

    moved = session_reschedule(session=session, start=at("2027-01-04", "13:00"))

    assert moved.end - moved.start == dt.timedelta(minutes=90)
    assert (moved.needs_rebooking, moved.rebooking_reason) == (False, "")


def test_a_reschedule_into_a_conflict_changes_nothing():
    center = make_center(chairs=1)
    patient = weighed_patient()
    session_book(patient=weighed_patient(), center=center, start=at("2027-01-04", "13:00"), chair_minutes=60)
    session = session_book(patient=patient, center=center, start=at("2027-01-04", "09:00"), chair_minutes=60)

    with pytest.raises(SlotConflict):
        session_reschedule(session=session, start=at("2027-01-04", "13:30"))

    session.refresh_from_db()
    assert (local(session), session.version) == (("2027-01-04", "09:00"), 1)


def test_a_session_can_move_within_its_own_time():
    center = make_center(chairs=1)
    session = session_book(
        patient=weighed_patient(), center=center, start=at("2027-01-04", "09:00"), chair_minutes=120
    )
    moved = session_reschedule(session=session, start=at("2027-01-04", "09:30"))
    assert local(moved) == ("2027-01-04", "09:30")


@pytest.mark.parametrize(
    ("path", "final"),
    [
        (["confirm", "check_in", "start", "complete"], "completed"),
        (["check_in", "cancel"], "cancelled"),
        (["confirm", "no_show"], "no_show"),
    ],
)
def test_the_status_machine_allows_the_clinical_paths(path, final):
    session = session_book(
        patient=weighed_patient(), center=make_center(), start=at("2027-01-04", "09:00"), chair_minutes=60
    )
    for action in path:
        session = session_transition(session=session, action=action)
    assert session.status == final


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ([], "start"),
        ([], "complete"),
        (["cancel"], "confirm"),
        (["check_in", "start"], "cancel"),
        (["check_in", "start", "complete"], "no_show"),
        (["no_show"], "check_in"),
    ],
)
def test_the_status_machine_refuses_the_rest(path, refused):
    session = session_book(
        patient=weighed_patient(), center=make_center(), start=at("2027-01-04", "09:00"), chair_minutes=60
    )
    for action in path:
        session = session_transition(session=session, action=action)
    before = session.status
    with pytest.raises(InvalidTransition, match="allowed now"):
        session_transition(session=session, action=refused)
    session.refresh_from_db()
    assert session.status == before


def test_check_in_start_and_complete_record_when_they_happened():
    session = session_book(
        patient=weighed_patient(), center=make_center(), start=at("2027-01-04", "09:00"), chair_minutes=60
    )
    assert (session.checked_in_at, session.started_at, session.completed_at) == (None, None, None)
    stamps = []
    for action, field in (
        ("check_in", "checked_in_at"),
        ("start", "started_at"),
        ("complete", "completed_at"),
    ):
        session = session_transition(session=session, action=action)
        stamps.append(getattr(session, field))
    assert all(stamps) and stamps == sorted(stamps)


def test_cancelled_and_no_show_sessions_free_their_chair():
    center = make_center(chairs=1)
    for action in ("cancel", "no_show"):
        session = session_book(
            patient=weighed_patient(), center=center, start=at("2027-01-04", "09:00"), chair_minutes=60
        )
        session_transition(session=session, action=action)
    again = session_book(
        patient=weighed_patient(), center=center, start=at("2027-01-04", "09:00"), chair_minutes=60
    )
    assert again.status == "scheduled"


def test_a_started_session_cannot_be_rescheduled():
    session = session_book(
        patient=weighed_patient(), center=make_center(), start=at("2027-01-04", "09:00"), chair_minutes=60
    )
    session = session_transition(session=session, action="check_in")
    with pytest.raises(InvalidTransition):
        session_reschedule(session=session, start=at("2027-01-04", "11:00"))
