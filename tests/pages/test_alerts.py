"""The alerts page (/alerts/): what staff should act on.

Three lists: reminders that could not be delivered, sessions flagged for
rebooking after a reaction, and live sessions in the next 72 hours that the
patient has not confirmed. Each row links to its session.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from infusions.models import InfusionSession, Reminder, ReminderAttempt
from tests.factories import CenterFactory, ChairFactory, PatientFactory, SessionFactory

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
NOW = dt.datetime(2027, 3, 1, 17, 0, tzinfo=dt.UTC)  # Monday noon in New York


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def chair(db):
    return ChairFactory(center=CenterFactory(short_name="Riverside IC"), name="C1")


@pytest.fixture
def alerts_page(scheduler):
    client = Client()
    client.force_login(scheduler)

    def get() -> str:
        response = client.get("/alerts/")
        assert response.status_code == 200
        return response.content.decode()

    return get


def in_hours(hours: float) -> dt.datetime:
    return NOW + dt.timedelta(hours=hours)


def session_at(chair, start: dt.datetime, **fields) -> InfusionSession:
    return SessionFactory(chair=chair, start=start, **{"chair_minutes": 240, **fields})


def failed_reminder(session: InfusionSession, *, status: str = "failed", error: str = "") -> Reminder:
    reminder = Reminder.objects.create(
        session=session,
        session_version=session.version,
        kind="upcoming",
        offset_hours=24,
        channel="sms",
        status=status,
        due_at=session.start - dt.timedelta(hours=24),
        send_after=session.start - dt.timedelta(hours=24),
        attempts=3 if status == "failed" else 1,
        last_error=error,
    )
    for minutes in (0, 5, 20):
        ReminderAttempt.objects.create(
            reminder=reminder,
            at=NOW - dt.timedelta(hours=2) + dt.timedelta(minutes=minutes),
            outcome="permanent" if status == "failed" else "sent",
            error=error,
        )
    return reminder


def section(page: str, section_id: str) -> str:
    match = re.search(rf'<section[^>]*id="{section_id}".*?</section>', page, re.S)
    assert match, f"no section {section_id}"
    return match.group(0)


def count_in(part: str, testid: str) -> int:
    match = re.search(rf'data-testid="{testid}">(\d+)<', part)
    assert match
    return int(match.group(1))


def listed(part: str, prefix: str) -> set[int]:
    return {int(pk) for pk in re.findall(rf'<tr id="{prefix}-(\d+)"', part)}


# -- failed reminders -----------------------------------------------------------------


def test_failed_reminders_list_the_session_patient_and_error(alerts_page, chair):
    patient = PatientFactory(given_name="Ada", family_name="Byron", mrn="MRN-77")
    session = session_at(chair, in_hours(48), patient=patient)
    reminder = failed_reminder(session, error="Number not reachable by SMS")

    part = section(alerts_page(), "failed-reminders")

    assert listed(part, "failed-reminder") == {reminder.pk}
    assert count_in(part, "failed-reminders-count") == 1
    assert f'href="/sessions/{session.pk}/"' in part
    assert "Ada Byron" in part and "MRN-77" in part
    assert "Upcoming" in part and "24 h before" in part
    assert "SMS" in part
    assert "<td>3</td>" in part
    assert "Number not reachable by SMS" in part
    # The last attempt, 10:20 in New York, and the session's start, both with the zone.
    assert "Mon 1 Mar, 10:20" in part
    assert "Wed 3 Mar 2027, 12:00" in part
    assert "EST · America/New_York" in part


def test_reminders_that_were_sent_or_are_still_pending_are_not_alerts(alerts_page, chair):
    session = session_at(chair, in_hours(48))
    failed_reminder(session, status="sent")
    Reminder.objects.create(
        session=session,
        session_version=1,
        kind="booked",
        channel="email",
        due_at=NOW,
        send_after=NOW,
        status="pending",
    )

    part = section(alerts_page(), "failed-reminders")

    assert listed(part, "failed-reminder") == set()
    assert "<p>None</p>" in part


def test_a_failure_for_a_session_already_over_is_no_longer_an_alert(alerts_page, chair):
    over = failed_reminder(session_at(chair, in_hours(-30), status="completed"))
    ahead = failed_reminder(session_at(chair, in_hours(30)))

    part = section(alerts_page(), "failed-reminders")

    assert listed(part, "failed-reminder") == {ahead.pk}
    assert over.pk not in listed(part, "failed-reminder")


def test_a_failed_cancellation_notice_is_an_alert_although_the_session_is_cancelled(alerts_page, chair):
    session = session_at(chair, in_hours(30), status="cancelled")
    reminder = failed_reminder(session)

    assert listed(section(alerts_page(), "failed-reminders"), "failed-reminder") == {reminder.pk}


# -- sessions flagged for rebooking ---------------------------------------------------


def test_flagged_sessions_still_booked_are_listed_with_booked_and_needed_minutes(alerts_page, chair):
    scheduled = session_at(
        chair,
        in_hours(200),
        needs_rebooking=True,
        chair_minutes=300,
        rebooking_reason="Cap lowered to 2 mg/kg/min after a moderate reaction.",
    )
    InfusionSession.objects.filter(pk=scheduled.pk).update(end=scheduled.start + dt.timedelta(minutes=240))
    confirmed = session_at(chair, in_hours(400), needs_rebooking=True, status="confirmed")

    part = section(alerts_page(), "needs-rebooking")

    assert listed(part, "needs-rebooking") == {scheduled.pk, confirmed.pk}
    assert count_in(part, "needs-rebooking-count") == 2
    assert f'href="/sessions/{scheduled.pk}/"' in part
    assert "<td>240 min</td>" in part and "<td>300 min</td>" in part
    assert "Cap lowered to 2 mg/kg/min after a moderate reaction." in part
    assert "Riverside IC · C1" in part


@pytest.mark.parametrize("status", ["cancelled", "no_show", "completed", "in_progress", "checked_in"])
def test_flagged_sessions_no_longer_booked_are_not_listed(alerts_page, chair, status):
    session_at(chair, in_hours(200), needs_rebooking=True, status=status)

    part = section(alerts_page(), "needs-rebooking")

    assert listed(part, "needs-rebooking") == set()
    assert "<p>None</p>" in part


def test_sessions_not_flagged_are_not_listed(alerts_page, chair):
    session_at(chair, in_hours(200))

    assert listed(section(alerts_page(), "needs-rebooking"), "needs-rebooking") == set()


# -- unconfirmed sessions -------------------------------------------------------------


def test_unconfirmed_sessions_in_the_next_72_hours_show_local_time_and_reminder_channel(alerts_page, chair):
    patient = PatientFactory(
        given_name="Grace", family_name="Hopper", reminder_channel="both", phone="+12125550100"
    )
    tomorrow = session_at(chair, in_hours(24), patient=patient)
    almost = session_at(chair, in_hours(71.5))

    part = section(alerts_page(), "unconfirmed")

    assert listed(part, "unconfirmed") == {tomorrow.pk, almost.pk}
    assert count_in(part, "unconfirmed-count") == 2
    assert f'href="/sessions/{tomorrow.pk}/"' in part
    assert "Tue 2 Mar 2027, 12:00" in part
    assert "EST · America/New_York" in part
    assert "Grace Hopper" in part
    assert "Email and SMS" in part
    assert 'href="tel:+12125550100"' in part


@pytest.mark.parametrize(
    ("hours", "status"),
    [
        (24, "confirmed"),  # the patient answered
        (24, "cancelled"),  # not live
        (24, "no_show"),
        (73, "scheduled"),  # too far ahead
        (-1, "scheduled"),  # already started
    ],
)
def test_sessions_confirmed_cancelled_far_off_or_started_are_not_unconfirmed_alerts(
    alerts_page, chair, hours, status
):
    session_at(chair, in_hours(hours), status=status)

    part = section(alerts_page(), "unconfirmed")

    assert listed(part, "unconfirmed") == set()
    assert "<p>None</p>" in part


# -- the page as a whole --------------------------------------------------------------


def test_with_nothing_to_act_on_every_section_says_none(alerts_page):
    html = alerts_page()

    for section_id in ("failed-reminders", "needs-rebooking", "unconfirmed"):
        assert "<p>None</p>" in section(html, section_id)


@pytest.mark.parametrize("persona", ["scheduler", "nurse", "pharmacist", "admin_user"])
def test_every_staff_role_opens_the_alerts(request, persona):
    client = Client()
    client.force_login(request.getfixturevalue(persona))

    response = client.get("/alerts/")

    assert response.status_code == 200
    assert 'aria-current="page">Alerts<' in response.content.decode()


def test_a_patient_cannot_open_the_alerts(patient_a, chair):
    failed_reminder(session_at(chair, in_hours(30), patient=patient_a))
    client = Client()
    client.force_login(patient_a.user)

    response = client.get("/alerts/")

    assert response.status_code == 403
    assert patient_a.family_name not in response.content.decode()


def test_an_anonymous_visitor_is_sent_to_log_in():
    response = Client().get("/alerts/")

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_the_alerts_cost_the_same_queries_for_1_or_10_rows_per_section(
    scheduler, chair, django_assert_max_num_queries
):
    client = Client()
    client.force_login(scheduler)

    def add_rows(rows: range) -> None:
        for n in rows:  # one of each kind, 6 hours apart in one chair
            failed_reminder(session_at(chair, in_hours(100 + 6 * n), patient=PatientFactory()))
            session_at(chair, in_hours(200 + 6 * n), needs_rebooking=True, patient=PatientFactory())
            session_at(chair, in_hours(1 + 6 * n), patient=PatientFactory())

    add_rows(range(1))
    with django_assert_max_num_queries(6):
        few = client.get("/alerts/").content.decode()
    add_rows(range(1, 10))
    with django_assert_max_num_queries(6):
        many = client.get("/alerts/").content.decode()

    for testid, (small, large) in {
        "failed-reminders-count": (1, 10),
        "needs-rebooking-count": (1, 10),
        "unconfirmed-count": (1, 10),
    }.items():
        assert (count_in(few, testid), count_in(many, testid)) == (small, large)
