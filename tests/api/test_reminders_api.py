"""The reminder outbox (GET /api/v1/reminders/) and a patient's own reminder preferences."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from infusions.models import Reminder
from infusions.scheduling.booking import session_book, session_transition
from tests.factories import CenterFactory, ChairFactory

REMINDERS = "/api/v1/reminders/"
PREFERENCES = "/api/v1/patients/me/preferences/"
NEW_YORK = ZoneInfo("America/New_York")
NOW = dt.datetime(2027, 3, 1, 17, 0, tzinfo=dt.UTC)  # Monday 12:00 in New York
PHONE = "+12125550100"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def center(db):
    center = CenterFactory(short_name="Riverside IC")
    for n in (1, 2):
        ChairFactory(center=center, name=f"C{n}")
    return center


def at(day: str, time: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=NEW_YORK)


def book(patient, center, day: str = "2027-03-11", time: str = "12:00", minutes: int = 120):
    return session_book(patient=patient, center=center, start=at(day, time), chair_minutes=minutes)


def instant(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def listed(client, **filters) -> list[dict]:
    response = client.get(REMINDERS, filters)
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def statuses(session) -> dict[tuple[str, int, str], str]:
    return {(r.kind, r.offset_hours, r.channel): r.status for r in Reminder.objects.filter(session=session)}


# -- the outbox ---------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["scheduler", "nurse", "pharmacist", "admin_user"])
def test_every_staff_role_reads_the_outbox(request, client_for, persona, patient_a, center):
    book(patient_a, center)

    response = client_for(request.getfixturevalue(persona)).get(REMINDERS)

    assert response.status_code == 200
    assert response.json()["count"] == 3


def test_a_patient_may_not_read_the_outbox(client_for, patient_a, center):
    book(patient_a, center)

    response = client_for(patient_a.user).get(REMINDERS)

    assert response.status_code == 403


def test_the_outbox_asks_anonymous_callers_to_authenticate(api):
    assert api.get(REMINDERS).status_code == 401


def test_a_reminder_shows_its_delivery_state_and_nothing_else(client_for, scheduler, patient_a, center):
    book(patient_a, center)

    [first, *_] = listed(client_for(scheduler))

    assert set(first) == {
        "id",
        "session",
        "session_version",
        "kind",
        "offset_hours",
        "channel",
        "status",
        "due_at",
        "sent_at",
        "attempts",
        "last_error",
    }


def test_a_session_booked_ten_days_ahead_has_a_booked_message_now_and_two_upcoming_reminders(
    client_for, scheduler, patient_a, center
):
    session = book(patient_a, center, "2027-03-11", "12:00")

    rows = listed(client_for(scheduler), session=session.pk)

    assert [
        (r["kind"], r["offset_hours"], r["channel"], r["status"], instant(r["due_at"])) for r in rows
    ] == [
        ("booked", 0, "email", "pending", NOW),
        ("upcoming", 72, "email", "pending", at("2027-03-08", "12:00")),
        ("upcoming", 24, "email", "pending", at("2027-03-10", "12:00")),
    ]
    assert {
        (r["session"], r["session_version"], r["sent_at"], r["attempts"], r["last_error"]) for r in rows
    } == {(session.pk, 1, None, 0, "")}


@pytest.mark.parametrize(
    ("channel", "channels"),
    [("email", {"email"}), ("sms", {"sms"}), ("both", {"email", "sms"}), ("none", set())],
)
def test_reminders_go_by_the_patients_chosen_channel(
    client_for, scheduler, patient_a, center, channel, channels
):
    patient_a.phone, patient_a.reminder_channel = PHONE, channel
    patient_a.save()
    session = book(patient_a, center)

    rows = listed(client_for(scheduler), session=session.pk)

    assert {r["channel"] for r in rows} == channels
    assert len(rows) == 3 * len(channels)
    assert {r["status"] for r in rows} <= {"pending"}


def test_the_outbox_filters_by_session_status_and_kind(client_for, scheduler, patient_a, patient_b, center):
    kept = book(patient_a, center, time="09:00")
    dropped = book(patient_b, center, time="13:00")
    session_transition(session=dropped, action="cancel")
    client = client_for(scheduler)

    mine = listed(client, session=kept.pk)
    cancelled = listed(client, status="cancelled")
    upcoming = listed(client, kind="upcoming")
    notices = listed(client, session=dropped.pk, kind="cancelled")

    assert {r["session"] for r in mine} == {kept.pk} and len(mine) == 3
    # The dropped session's unsent booked and upcoming messages are withdrawn.
    assert sorted((r["session"], r["kind"], r["offset_hours"]) for r in cancelled) == [
        (dropped.pk, "booked", 0),
        (dropped.pk, "upcoming", 24),
        (dropped.pk, "upcoming", 72),
    ]
    assert {r["kind"] for r in upcoming} == {"upcoming"} and len(upcoming) == 4
    assert [(r["channel"], r["status"]) for r in notices] == [("email", "pending")]


def test_listing_the_outbox_costs_the_same_queries_for_2_or_20_sessions(
    client_for, scheduler, patient_a, center
):
    weekdays = [d for d in (dt.date(2027, 3, 8) + dt.timedelta(days=n) for n in range(40)) if d.weekday() < 5]
    client = client_for(scheduler)
    client.get(REMINDERS)  # the user's roles are read once, then cached on the user

    def queries_to_list() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            count = client.get(REMINDERS).json()["count"]
        return count, len(ctx)

    for day in weekdays[:2]:
        book(patient_a, center, day.isoformat())
    few, few_queries = queries_to_list()
    for day in weekdays[2:20]:
        book(patient_a, center, day.isoformat())
    many, many_queries = queries_to_list()

    assert (few, many) == (6, 60)
    assert few_queries == many_queries


# -- a patient's own preferences ------------------------------------------------------


def test_a_patient_reads_their_reminder_preferences(client_for, patient_a):
    client = client_for(patient_a.user)

    before = client.get(PREFERENCES)
    patient_a.quiet_hours_start, patient_a.quiet_hours_end = dt.time(21, 30), dt.time(7)
    patient_a.phone = PHONE
    patient_a.save()
    after = client.get(PREFERENCES)

    assert before.status_code == 200
    assert before.json() == {
        "reminder_channel": "email",
        "quiet_hours_start": None,
        "quiet_hours_end": None,
        "phone": "",
        "email": patient_a.email,
    }
    assert after.json() == {
        "reminder_channel": "email",
        "quiet_hours_start": "21:30",
        "quiet_hours_end": "07:00",
        "phone": PHONE,
        "email": patient_a.email,
    }


def test_switching_to_sms_withdraws_pending_emails_and_plans_texts(client_for, patient_a, center):
    session = book(patient_a, center)

    response = client_for(patient_a.user).patch(
        PREFERENCES, {"reminder_channel": "sms", "phone": PHONE}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["reminder_channel"] == "sms"
    assert not Reminder.objects.filter(session=session, channel="email", status="pending").exists()
    texts = Reminder.objects.filter(session=session, channel="sms", kind="upcoming", status="pending")
    assert sorted((r.offset_hours, r.due_at) for r in texts) == [
        (24, at("2027-03-10", "12:00")),
        (72, at("2027-03-08", "12:00")),
    ]


def test_choosing_no_reminders_withdraws_every_pending_reminder_of_that_patient_only(
    client_for, patient_a, patient_b, center
):
    mine = [book(patient_a, center, day) for day in ("2027-03-11", "2027-03-12")]
    theirs = book(patient_b, center, "2027-03-11", "15:00")

    response = client_for(patient_a.user).patch(PREFERENCES, {"reminder_channel": "none"}, format="json")

    assert response.status_code == 200, response.json()
    assert not Reminder.objects.filter(session__in=mine, status="pending").exists()
    assert Reminder.objects.filter(session__in=mine, status="cancelled").count() == 6
    assert set(statuses(theirs).values()) == {"pending"}


def test_correcting_a_phone_number_keeps_the_pending_booking_email(client_for, patient_a, center):
    """Bug: reminders_refresh_for_patient re-plans with no notice, so
    reminders_plan() treats the unsent "booked" email as unwanted and cancels it:
    a patient who fixes their phone number (or quiet hours) before the booking
    email goes out never hears that they were booked."""
    session = book(patient_a, center)
    assert statuses(session)[("booked", 0, "email")] == "pending"

    response = client_for(patient_a.user).patch(PREFERENCES, {"phone": PHONE}, format="json")

    assert response.status_code == 200, response.json()
    assert statuses(session) == {
        ("booked", 0, "email"): "pending",
        ("upcoming", 72, "email"): "pending",
        ("upcoming", 24, "email"): "pending",
    }


def test_turning_reminders_off_and_on_again_brings_the_reminders_back(client_for, patient_a, center):
    """Bug: the rows cancelled by "none" keep their (session, version, kind, offset,
    channel) key; reminders_plan() finds them as existing, re-dates only pending
    ones and never re-opens them, and the unique constraint forbids a new row, so
    the patient gets no reminders after switching back to email."""
    session = book(patient_a, center)
    client = client_for(patient_a.user)

    client.patch(PREFERENCES, {"reminder_channel": "none"}, format="json")
    response = client.patch(PREFERENCES, {"reminder_channel": "email"}, format="json")

    assert response.status_code == 200, response.json()
    upcoming = Reminder.objects.filter(session=session, kind="upcoming", channel="email", status="pending")
    assert sorted((r.offset_hours, r.due_at) for r in upcoming) == [
        (24, at("2027-03-10", "12:00")),
        (72, at("2027-03-08", "12:00")),
    ]


def test_sms_without_a_phone_number_is_refused_and_changes_nothing(client_for, patient_a, center):
    session = book(patient_a, center)
    before = statuses(session)

    response = client_for(patient_a.user).patch(PREFERENCES, {"reminder_channel": "sms"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"phone": ["SMS reminders need a phone number."]}
    patient_a.refresh_from_db()
    assert patient_a.reminder_channel == "email"
    assert statuses(session) == before


@pytest.mark.parametrize("half", [{"quiet_hours_start": "22:00"}, {"quiet_hours_end": "07:00"}])
def test_quiet_hours_need_both_ends(client_for, patient_a, half):
    response = client_for(patient_a.user).patch(PREFERENCES, half, format="json")

    assert response.status_code == 400
    assert response.json() == {"quiet_hours_end": ["Give both ends of the quiet hours, or neither."]}
    patient_a.refresh_from_db()
    assert (patient_a.quiet_hours_start, patient_a.quiet_hours_end) == (None, None)


def test_a_patient_sets_quiet_hours_as_hh_mm(client_for, patient_a):
    response = client_for(patient_a.user).patch(
        PREFERENCES, {"quiet_hours_start": "22:00", "quiet_hours_end": "07:00"}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["quiet_hours_start"], response.json()["quiet_hours_end"]) == ("22:00", "07:00")
    patient_a.refresh_from_db()
    assert (patient_a.quiet_hours_start, patient_a.quiet_hours_end) == (dt.time(22), dt.time(7))


@pytest.mark.parametrize("persona", ["nurse", "scheduler"])
def test_staff_have_no_reminder_preferences_of_their_own(request, client_for, persona):
    response = client_for(request.getfixturevalue(persona)).get(PREFERENCES)

    assert response.status_code == 404
    assert response.json() == {"detail": "Only a patient account has reminder preferences."}


def test_staff_cannot_change_preferences_through_the_patients_own_endpoint(client_for, nurse):
    response = client_for(nurse).patch(PREFERENCES, {"reminder_channel": "none"}, format="json")

    assert response.status_code == 403


def test_preferences_ask_anonymous_callers_to_authenticate(api):
    assert api.get(PREFERENCES).status_code == 401
    assert api.patch(PREFERENCES, {"reminder_channel": "none"}, format="json").status_code == 401


# -- staff changing a patient's quiet hours -----------------------------------------------


def test_new_quiet_hours_re_date_pending_reminders(client_for, scheduler, patient_a):
    center = CenterFactory(short_name="Early IC", reminder_offsets_hours=[24])
    ChairFactory(center=center, name="C1")
    center.opening_hours.update(opens=dt.time(7))
    patient_a.quiet_hours_start, patient_a.quiet_hours_end = dt.time(21), dt.time(8)
    patient_a.save()
    session = book(patient_a, center, "2027-03-11", "07:30")
    client = client_for(scheduler)

    def due_24h() -> tuple[int, dt.datetime]:
        [row] = listed(client, session=session.pk, kind="upcoming", status="pending")
        return row["id"], instant(row["due_at"])

    # 07:30 the day before falls in the 21:00-08:00 quiet hours: it waits until 08:00.
    reminder, due = due_24h()
    assert due == at("2027-03-10", "08:00")

    response = client.patch(
        f"/api/v1/patients/{patient_a.pk}/",
        {"quiet_hours_start": "22:00", "quiet_hours_end": "07:00"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    # The same row, re-dated: exactly 24 hours before the start.
    assert due_24h() == (reminder, session.start - dt.timedelta(hours=24))
    assert session.start - dt.timedelta(hours=24) == at("2027-03-10", "07:30")


def test_a_staff_edit_that_touches_no_reminder_field_leaves_the_reminders_alone(
    client_for, scheduler, patient_a, center
):
    session = book(patient_a, center)
    before = statuses(session)

    response = client_for(scheduler).patch(
        f"/api/v1/patients/{patient_a.pk}/", {"diabetes": True}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert statuses(session) == before
