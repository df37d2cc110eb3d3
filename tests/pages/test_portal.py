"""The patient portal (/portal/) and the private calendar feed (/portal/calendar/<token>.ics).

A patient sees only their own sessions, never a drug, a diagnosis or a dose;
the feed needs no login, so its token is the only key, and a wrong or
revoked one finds nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import icalendar
import pytest
import time_machine
from django.test import Client

from infusions.models import InfusionSession
from patients.models import Patient
from tests.factories import CenterFactory, ChairFactory, PlanFactory, SessionFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
NOW = dt.datetime(2027, 1, 1, 17, 0, tzinfo=dt.UTC)  # Friday noon in New York


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def chair(db):
    return ChairFactory(center=CenterFactory(short_name="Riverside IC"), name="C1")


@pytest.fixture
def other_chair(db):
    return ChairFactory(center=CenterFactory(short_name="Hilltop IC"), name="H1")


def local(day: str, time: str = "09:00") -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=NEW_YORK)


def session_for(patient: Patient, chair, start: dt.datetime, **fields) -> InfusionSession:
    """A booked day of an Octagam 10% plan for dermatomyositis: 70 g in 700 mL."""
    plan = PlanFactory(patient=patient, center=chair.center)
    return SessionFactory(
        patient=patient,
        chair=chair,
        plan=plan,
        start=start,
        grams=Decimal("70.00"),
        volume_ml=Decimal("700.0"),
        **fields,
    )


def logged_in(patient: Patient) -> Client:
    client = Client()
    client.force_login(patient.user)
    return client


def portal_page(client: Client) -> str:
    response = client.get("/portal/")
    assert response.status_code == 200
    return response.content.decode()


def portal_as(patient: Patient) -> str:
    return portal_page(logged_in(patient))


def feed(token: str):
    return Client().get(f"/portal/calendar/{token}.ics")


def events(response) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(response.content)
    return {str(event["uid"]): event for event in calendar.walk("VEVENT")}


def uid(session: InfusionSession) -> str:
    return f"session-{session.pk}@chairside"


# -- the portal page ------------------------------------------------------------------


def test_a_patient_sees_an_upcoming_session_in_the_centers_time_with_the_zone(patient_a, chair):
    session = session_for(patient_a, chair, local("2027-01-04"))  # 14:00 UTC

    page = portal_as(patient_a)

    assert f'id="session-{session.pk}"' in page
    assert "Monday 4 January 2027" in page
    assert "09:00–15:00" in page
    assert "EST · America/New_York" in page
    assert "Riverside IC" in page
    assert "Scheduled" in page


def test_a_summer_session_shows_daylight_time(patient_a, chair):
    session_for(patient_a, chair, local("2027-07-05", "10:30"))

    page = portal_as(patient_a)

    assert "10:30–16:30" in page
    assert "EDT · America/New_York" in page


def test_a_scheduled_session_offers_confirm_and_cancel_through_the_api(patient_a, chair):
    session = session_for(patient_a, chair, local("2027-01-04"))

    page = portal_as(patient_a)

    assert f'data-confirm-url="/api/v1/sessions/{session.pk}/confirm/"' in page
    assert f'data-cancel-url="/api/v1/sessions/{session.pk}/cancel/"' in page
    assert ">Confirm</button>" in page
    assert ">Cancel</button>" in page
    assert "Yes, cancel this session" in page


def test_a_confirmed_session_can_still_be_cancelled_but_not_confirmed_again(patient_a, chair):
    session_for(patient_a, chair, local("2027-01-04"), status="confirmed")

    page = portal_as(patient_a)

    assert "Confirmed" in page
    assert ">Confirm</button>" not in page
    assert ">Cancel</button>" in page


def test_past_and_cancelled_sessions_are_not_listed(patient_a, chair):
    past = session_for(patient_a, chair, local("2026-12-28"), status="completed")
    cancelled = session_for(patient_a, chair, local("2027-01-05"), status="cancelled")
    no_show = session_for(patient_a, chair, local("2027-01-06"), status="no_show")
    upcoming = session_for(patient_a, chair, local("2027-01-07"))

    page = portal_as(patient_a)

    assert f'id="session-{upcoming.pk}"' in page
    for hidden in (past, cancelled, no_show):
        assert f'id="session-{hidden.pk}"' not in page


def test_a_session_running_now_is_still_listed(patient_a, chair):
    running = session_for(patient_a, chair, NOW - dt.timedelta(hours=1), status="in_progress")

    page = portal_as(patient_a)

    assert f'id="session-{running.pk}"' in page
    assert ">Confirm</button>" not in page


def test_another_patients_sessions_are_never_shown(patient_a, patient_b, chair, other_chair):
    mine = session_for(patient_a, chair, local("2027-01-04"))
    theirs = session_for(patient_b, other_chair, local("2027-01-04", "11:00"))

    page = portal_as(patient_a)

    assert f'id="session-{mine.pk}"' in page
    assert f'id="session-{theirs.pk}"' not in page
    assert f"/api/v1/sessions/{theirs.pk}/" not in page
    assert "Hilltop IC" not in page
    assert patient_b.family_name not in page


def test_the_portal_names_no_drug_diagnosis_or_dose(patient_a, chair):
    session = session_for(patient_a, chair, local("2027-01-04"))
    product, indication = session.plan.protocol.product, session.plan.protocol.indication

    page = portal_as(patient_a)

    text = page.lower()
    for private in (product.name, product.code, indication.name, indication.code, "octagam", "ivig"):
        assert private.lower() not in text
    for dose in ("70.00", "70 g", "700.0", "700 ml", "g/kg", "ml/h"):
        assert dose not in text


def test_the_preferences_form_is_filled_with_the_current_values(patient_a):
    patient_a.reminder_channel = "both"
    patient_a.phone = "+12125550100"
    patient_a.quiet_hours_start, patient_a.quiet_hours_end = dt.time(21, 30), dt.time(7)
    patient_a.save()

    page = portal_as(patient_a)

    assert '<option value="both" selected>Email and SMS</option>' in page
    assert '<option value="email">' in page
    assert 'name="quiet_hours_start" value="21:30"' in page
    assert 'name="quiet_hours_end" value="07:00"' in page
    assert 'name="phone" value="+12125550100"' in page
    assert f'name="email" value="{patient_a.email}"' in page
    assert 'data-url="/api/v1/patients/me/preferences/"' in page
    for field in ("reminder_channel", "quiet_hours_start", "quiet_hours_end", "phone", "email"):
        assert f'<label for="{field}">' in page


def test_without_quiet_hours_the_time_fields_are_empty(patient_a):
    page = portal_as(patient_a)

    assert 'name="quiet_hours_start" value=""' in page
    assert 'name="quiet_hours_end" value=""' in page


def test_without_a_calendar_link_the_portal_offers_to_create_one(patient_a):
    page = portal_as(patient_a)

    assert "Create calendar link" in page
    assert "<div data-feed-on hidden>" in page
    assert 'id="calendar-url" value=""' in page


def test_with_a_calendar_link_the_portal_shows_it_to_copy(patient_a):
    token = patient_a.issue_calendar_token()

    page = portal_as(patient_a)

    assert f'id="calendar-url" value="http://testserver/portal/calendar/{token}.ics" readonly' in page
    assert "<div data-feed-off hidden>" in page
    for button in ("Copy", "Replace link", "Turn off"):
        assert f">{button}</button>" in page


@pytest.mark.parametrize("persona", ["scheduler", "nurse", "pharmacist", "admin_user"])
def test_staff_cannot_open_the_portal(request, persona):
    client = Client()
    client.force_login(request.getfixturevalue(persona))

    response = client.get("/portal/")

    assert response.status_code == 403
    assert "Not for your role" in response.content.decode()


def test_an_anonymous_visitor_is_sent_to_log_in():
    response = Client().get("/portal/")

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_a_patient_account_not_linked_to_a_record_is_told_so(chair):
    client = Client()
    client.force_login(UserFactory(username="unlinked", role="patient"))

    response = client.get("/portal/")

    assert response.status_code == 200
    assert "not linked to a patient record" in response.content.decode()


def test_the_portal_costs_the_same_queries_for_2_or_20_sessions(
    patient_a, chair, django_assert_max_num_queries
):
    def add_sessions(count: int) -> None:
        first = InfusionSession.objects.count()
        for n in range(first, first + count):
            session_for(patient_a, chair, local("2027-01-04") + dt.timedelta(days=n))

    client = logged_in(patient_a)
    add_sessions(2)
    with django_assert_max_num_queries(5):
        few = portal_page(client)
    add_sessions(18)
    with django_assert_max_num_queries(5):
        many = portal_page(client)

    assert few.count('<tr id="session-') == 2
    assert many.count('<tr id="session-') == 20


# -- the calendar feed ----------------------------------------------------------------


def test_the_feed_is_an_icalendar_of_the_patients_sessions_with_their_time_zone(patient_a, chair):
    recent = session_for(patient_a, chair, local("2026-12-14"), status="completed")
    upcoming = session_for(patient_a, chair, local("2027-01-04"))
    token = patient_a.issue_calendar_token()

    response = feed(token)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    body = response.content.decode()
    assert body.startswith("BEGIN:VCALENDAR")
    assert "BEGIN:VTIMEZONE\r\nTZID:America/New_York" in body
    assert body.index("BEGIN:VTIMEZONE") < body.index("BEGIN:VEVENT")
    found = events(response)
    assert set(found) == {uid(recent), uid(upcoming)}
    event = found[uid(upcoming)]
    assert event.decoded("dtstart") == local("2027-01-04")
    assert event["dtstart"].params["TZID"] == "America/New_York"
    assert str(event["summary"]) == "Appointment at Riverside IC"


def test_the_feed_leaves_out_other_patients_cancelled_and_old_sessions(patient_a, patient_b, chair):
    kept = session_for(patient_a, chair, local("2027-01-04"))
    session_for(patient_a, chair, local("2027-01-05"), status="cancelled")
    session_for(patient_a, chair, local("2027-01-06"), status="no_show")
    session_for(patient_a, chair, local("2026-09-01"), status="completed")  # beyond 90 days
    session_for(patient_b, ChairFactory(center=chair.center, name="C2"), local("2027-01-04", "11:00"))
    patient_b.issue_calendar_token()

    response = feed(patient_a.issue_calendar_token())

    assert set(events(response)) == {uid(kept)}


def test_the_feed_names_no_drug_diagnosis_or_dose(patient_a, chair):
    session = session_for(patient_a, chair, local("2027-01-04"))
    product, indication = session.plan.protocol.product, session.plan.protocol.indication

    response = feed(patient_a.issue_calendar_token())

    text = response.content.decode().lower()
    for private in (product.name, product.code, indication.name, indication.code, "octagam", "ivig"):
        assert private.lower() not in text
    for dose in ("70.00", "70 g", "700.0", "700 ml", "g/kg", "ml/h"):
        assert dose not in text


def test_the_feed_needs_no_login_and_is_not_cached(patient_a, chair):
    session_for(patient_a, chair, local("2027-01-04"))

    response = feed(patient_a.issue_calendar_token())

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_an_unknown_token_finds_nothing_and_leaks_nothing(patient_a, chair):
    session_for(patient_a, chair, local("2027-01-04"))
    patient_a.issue_calendar_token()

    response = feed("not-the-right-token")

    assert response.status_code == 404
    body = response.content.decode()
    assert "BEGIN:VCALENDAR" not in body
    assert "Riverside IC" not in body
    assert patient_a.family_name not in body


def test_a_token_differing_only_in_case_finds_nothing(patient_a):
    token = patient_a.issue_calendar_token()

    assert feed(token.swapcase()).status_code == 404


def test_a_revoked_token_finds_nothing(patient_a, chair):
    session_for(patient_a, chair, local("2027-01-04"))
    token = patient_a.issue_calendar_token()
    assert feed(token).status_code == 200

    patient_a.revoke_calendar_token()

    assert feed(token).status_code == 404


def test_a_replaced_token_finds_nothing(patient_a):
    old = patient_a.issue_calendar_token()
    new = patient_a.issue_calendar_token()

    assert feed(old).status_code == 404
    assert feed(new).status_code == 200


def test_the_feed_closes_with_the_patients_portal_account(patient_a):
    token = patient_a.issue_calendar_token()
    patient_a.user.is_active = False
    patient_a.user.save()

    assert feed(token).status_code == 404


def test_the_feed_only_answers_reads(patient_a):
    token = patient_a.issue_calendar_token()

    assert Client().post(f"/portal/calendar/{token}.ics").status_code == 405


def test_the_feed_costs_the_same_queries_for_2_or_20_sessions(
    patient_a, chair, django_assert_max_num_queries
):
    token = patient_a.issue_calendar_token()
    for n in range(2):
        session_for(patient_a, chair, local("2027-01-04") + dt.timedelta(days=n))
    with django_assert_max_num_queries(2):
        few = feed(token)
    for n in range(2, 20):
        session_for(patient_a, chair, local("2027-01-04") + dt.timedelta(days=n))
    with django_assert_max_num_queries(2):
        many = feed(token)

    assert (len(events(few)), len(events(many))) == (2, 20)
