"""`/api/v1/patients/me/calendar-feed/`: a patient's private calendar address.

POST issues a new address (the old one stops working), DELETE turns the feed
off. The address is the only credential a calendar app has, so only the
patient can make, see or change it, and staff never see it in patient data.
"""

from __future__ import annotations

import pytest
import yaml

from patients.models import Patient
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

FEED = "/api/v1/patients/me/calendar-feed/"


def token_of(patient: Patient) -> str | None:
    patient.refresh_from_db()
    return patient.calendar_token


def test_a_patient_creates_their_calendar_link(client_for, patient_a):
    response = client_for(patient_a.user).post(FEED)

    assert response.status_code == 200, response.content
    token = token_of(patient_a)
    assert len(token) >= 40
    assert response.json() == {"url": f"http://testserver/portal/calendar/{token}.ics"}


def test_the_link_opens_the_patients_calendar(client_for, patient_a):
    url = client_for(patient_a.user).post(FEED).json()["url"]

    response = client_for(patient_a.user).get(url.removeprefix("http://testserver"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")


def test_replacing_the_link_makes_the_old_one_stop_working(client_for, api, patient_a):
    client = client_for(patient_a.user)
    first = client.post(FEED).json()["url"]

    second = client.post(FEED).json()["url"]

    assert first != second
    api.logout()
    assert api.get(first.removeprefix("http://testserver")).status_code == 404
    assert api.get(second.removeprefix("http://testserver")).status_code == 200


def test_turning_the_link_off_revokes_it(client_for, api, patient_a):
    client = client_for(patient_a.user)
    url = client.post(FEED).json()["url"]

    response = client.delete(FEED)

    assert response.status_code == 204
    assert token_of(patient_a) is None
    assert api.get(url.removeprefix("http://testserver")).status_code == 404


def test_turning_off_a_link_that_is_already_off_is_harmless(client_for, patient_a):
    assert client_for(patient_a.user).delete(FEED).status_code == 204
    assert token_of(patient_a) is None


def test_each_patients_link_is_their_own(client_for, patient_a, patient_b):
    client_for(patient_b.user).post(FEED)
    theirs = token_of(patient_b)

    client_for(patient_a.user).post(FEED)
    client_for(patient_a.user).delete(FEED)

    assert token_of(patient_a) is None
    assert token_of(patient_b) == theirs


@pytest.mark.parametrize("persona", ["scheduler", "nurse", "pharmacist", "admin_user"])
def test_staff_cannot_create_or_revoke_a_calendar_link(request, client_for, persona, patient_a):
    patient_a.issue_calendar_token()
    token = patient_a.calendar_token
    client = client_for(request.getfixturevalue(persona))

    assert client.post(FEED).status_code == 403
    assert client.delete(FEED).status_code == 403
    assert token_of(patient_a) == token


def test_a_patient_role_without_a_patient_record_has_no_calendar_link(client_for):
    response = client_for(UserFactory(username="unlinked", role="patient")).post(FEED)

    assert response.status_code == 404
    assert response.json() == {"detail": "Only a patient account has a calendar feed."}


def test_anonymous_callers_must_authenticate(api, patient_a):
    assert api.post(FEED).status_code == 401
    assert api.delete(FEED).status_code == 401
    assert token_of(patient_a) is None


def test_the_link_cannot_be_read_back_with_get(client_for, patient_a):
    assert client_for(patient_a.user).get(FEED).status_code == 405


@pytest.mark.parametrize("persona", ["scheduler", "nurse"])
def test_staff_never_see_a_patients_calendar_token(request, client_for, persona, patient_a):
    token = patient_a.issue_calendar_token()
    client = client_for(request.getfixturevalue(persona))

    listing = client.get("/api/v1/patients/", {"search": patient_a.mrn})
    detail = client.get(f"/api/v1/patients/{patient_a.pk}/")

    assert listing.status_code == detail.status_code == 200
    assert token not in listing.content.decode()
    assert token not in detail.content.decode()
    assert "calendar" not in detail.json()


def test_a_patient_reading_their_own_record_does_not_get_the_token_either(client_for, patient_a):
    token = patient_a.issue_calendar_token()

    response = client_for(patient_a.user).get(f"/api/v1/patients/{patient_a.pk}/")

    assert token not in response.content.decode()


def test_the_token_stays_out_of_the_audit_history(client_for, patient_a):
    token = client_for(patient_a.user).post(FEED).json()["url"].rsplit("/", 1)[1].removesuffix(".ics")

    history = patient_a.history.all()

    assert not hasattr(history.first(), "calendar_token")
    assert token_of(patient_a) == token


def test_the_schema_documents_the_calendar_feed(client_for, nurse):
    schema = yaml.safe_load(client_for(nurse).get("/api/schema/").content)

    operations = schema["paths"]["/api/v1/patients/me/calendar-feed/"]
    assert set(operations) == {"post", "delete"}
    body = operations["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CalendarFeed"}
    assert schema["components"]["schemas"]["CalendarFeed"]["required"] == ["url"]
    assert "204" in operations["delete"]["responses"]
