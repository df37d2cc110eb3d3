"""`/api/v1/patients/`: who may read and write patients and their weights.

Schedulers and admins register and edit patients; nurses and pharmacists read
them; a nurse (or scheduler, or admin) records weights. A patient with a
portal account sees only their own record, and another patient's is "not
found" rather than "forbidden", so its existence does not leak.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patients.models import Patient, PatientWeight
from tests.factories import PatientFactory, PatientWeightFactory, PlanFactory, SessionFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/patients/"


def detail(patient: Patient) -> str:
    return f"{LIST}{patient.pk}/"


def weights(patient: Patient) -> str:
    return f"{LIST}{patient.pk}/weights/"


def new_patient(**changes: object) -> dict[str, object]:
    """A valid registration, as the front desk would enter it."""
    return {
        "mrn": "MRN-1001",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "date_of_birth": "1970-05-17",
        "sex": "female",
        "time_zone": "America/New_York",
        "email": "ada@example.test",
        **changes,
    }


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.fixture
def persona(request: pytest.FixtureRequest):
    """The user named by the test's `persona` parameter."""
    return request.getfixturevalue(request.param)


# Anonymous callers -------------------------------------------------------------------


def test_an_anonymous_caller_cannot_list_patients(api, patient_a):
    response = api.get(LIST)
    assert response.status_code == 401
    assert patient_a.mrn not in response.content.decode()


def test_an_anonymous_caller_cannot_read_a_patient(api, patient_a):
    response = api.get(detail(patient_a))
    assert response.status_code == 401
    assert patient_a.family_name not in response.content.decode()


def test_an_anonymous_caller_cannot_register_a_patient(api):
    assert api.post(LIST, new_patient(), format="json").status_code == 401
    assert not Patient.objects.exists()


# Schedulers write ----------------------------------------------------------------------


def test_a_scheduler_registers_a_patient(client_for, scheduler):
    response = client_for(scheduler).post(
        LIST,
        new_patient(
            phone="+12125550100", reminder_channel="both", quiet_hours_start="21:00", quiet_hours_end="08:00"
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    ada = Patient.objects.get(mrn="MRN-1001")
    assert response.json()["id"] == ada.pk
    assert (ada.full_name, ada.phone, ada.reminder_channel) == ("Ada Lovelace", "+12125550100", "both")
    assert (ada.quiet_hours_start, ada.quiet_hours_end) == (dt.time(21), dt.time(8))


def test_an_admin_registers_a_patient(client_for, admin_user):
    response = client_for(admin_user).post(LIST, new_patient(), format="json")
    assert response.status_code == 201
    assert Patient.objects.filter(mrn="MRN-1001").exists()


def test_a_scheduler_updates_a_patient(client_for, scheduler, patient_a):
    response = client_for(scheduler).patch(
        detail(patient_a), {"phone": "+12125550199", "thrombosis_risk": True}, format="json"
    )
    assert response.status_code == 200, response.content
    patient_a.refresh_from_db()
    assert (patient_a.phone, patient_a.thrombosis_risk) == ("+12125550199", True)


def test_a_scheduler_deletes_a_patient_with_no_sessions(client_for, scheduler, patient_a, patient_b):
    response = client_for(scheduler).delete(detail(patient_a))
    assert response.status_code == 204
    assert list(Patient.objects.all()) == [patient_b]


def test_deleting_a_patient_who_has_a_session_is_a_conflict(client_for, scheduler, patient_a):
    SessionFactory(patient=patient_a)
    response = client_for(scheduler).delete(detail(patient_a))
    assert response.status_code == 409
    assert "detail" in response.json()
    assert Patient.objects.filter(pk=patient_a.pk).exists()
    assert patient_a.weights.count() == 1


def test_deleting_a_patient_who_has_a_plan_is_a_conflict(client_for, scheduler, patient_a):
    PlanFactory(patient=patient_a)
    response = client_for(scheduler).delete(detail(patient_a))
    assert response.status_code == 409
    assert Patient.objects.filter(pk=patient_a.pk).exists()


# Nurses and pharmacists read -----------------------------------------------------------


@pytest.mark.parametrize("persona", ["nurse", "pharmacist"], indirect=True)
def test_clinical_staff_read_every_patient(client_for, persona, patient_a, patient_b):
    client = client_for(persona)
    assert {p["mrn"] for p in results(client.get(LIST))} == {patient_a.mrn, patient_b.mrn}
    one = client.get(detail(patient_b))
    assert one.status_code == 200
    assert one.json()["latest_weight_kg"] == 70.0


@pytest.mark.parametrize("persona", ["nurse", "pharmacist"], indirect=True)
def test_clinical_staff_cannot_register_a_patient(client_for, persona):
    response = client_for(persona).post(LIST, new_patient(), format="json")
    assert response.status_code == 403
    assert not Patient.objects.exists()


@pytest.mark.parametrize("persona", ["nurse", "pharmacist"], indirect=True)
def test_clinical_staff_cannot_edit_or_delete_a_patient(client_for, persona, patient_a):
    client = client_for(persona)
    assert client.patch(detail(patient_a), {"family_name": "Changed"}, format="json").status_code == 403
    assert client.delete(detail(patient_a)).status_code == 403
    patient_a.refresh_from_db()
    assert patient_a.family_name != "Changed"


# A patient sees only their own record ------------------------------------------------


def test_a_patient_lists_only_their_own_record(client_for, patient_a, patient_b):
    found = results(client_for(patient_a.user).get(LIST))
    assert [p["id"] for p in found] == [patient_a.pk]


def test_a_patient_cannot_find_another_patient_by_search(client_for, patient_a, patient_b):
    found = results(client_for(patient_a.user).get(LIST, {"search": patient_b.mrn}))
    assert found == []


def test_another_patients_record_is_not_found(client_for, patient_a, patient_b):
    response = client_for(patient_a.user).get(detail(patient_b))
    assert response.status_code == 404
    assert patient_b.family_name not in response.content.decode()


def test_a_patient_reads_their_own_record(client_for, patient_a):
    response = client_for(patient_a.user).get(detail(patient_a))
    assert response.status_code == 200
    assert response.json()["mrn"] == patient_a.mrn


def test_a_patient_cannot_register_a_patient(client_for, patient_a):
    response = client_for(patient_a.user).post(LIST, new_patient(), format="json")
    assert response.status_code == 403
    assert Patient.objects.count() == 1


def test_a_patient_cannot_edit_their_own_clinical_flags(client_for, patient_a):
    response = client_for(patient_a.user).patch(detail(patient_a), {"renal_risk": True}, format="json")
    assert response.status_code == 403
    patient_a.refresh_from_db()
    assert patient_a.renal_risk is False


# Bad input is refused, field by field, and nothing is saved ---------------------------


def future_birth_date() -> str:
    return (timezone.localdate() + dt.timedelta(days=30)).isoformat()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "212-555-0100"}, "phone"),
        ({"phone": "+0125550100"}, "phone"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"time_zone": "EST5EDT-ish"}, "time_zone"),
        ({"date_of_birth": "future"}, "date_of_birth"),
        ({"quiet_hours_start": "21:00"}, "quiet_hours_end"),
        ({"quiet_hours_end": "08:00"}, "quiet_hours_end"),
        ({"reminder_channel": "sms"}, "phone"),
        ({"reminder_channel": "both"}, "phone"),
        ({"reminder_channel": "email", "email": ""}, "email"),
        ({"height_cm": 99}, "height_cm"),
        ({"sex": "other"}, "sex"),
        ({"mrn": ""}, "mrn"),
    ],
    ids=[
        "phone-not-e164",
        "phone-with-leading-zero-country-code",
        "unknown-time-zone",
        "made-up-time-zone",
        "birth-date-in-the-future",
        "quiet-hours-without-an-end",
        "quiet-hours-without-a-start",
        "sms-reminders-without-a-phone",
        "both-reminders-without-a-phone",
        "email-reminders-without-an-email",
        "height-below-100-cm",
        "unknown-sex",
        "blank-mrn",
    ],
)
def test_it_refuses_a_bad_registration_with_field_errors(client_for, scheduler, changes, field):
    if changes.get("date_of_birth") == "future":
        changes = {"date_of_birth": future_birth_date()}
    response = client_for(scheduler).post(LIST, new_patient(**changes), format="json")
    assert response.status_code == 400
    errors = response.json()
    assert field in errors
    assert all(isinstance(message, str) and message for message in errors[field])
    assert not Patient.objects.exists()


def test_it_refuses_a_duplicate_mrn_with_a_field_error(client_for, scheduler):
    PatientFactory(mrn="MRN-1001")
    response = client_for(scheduler).post(LIST, new_patient(), format="json")
    assert response.status_code == 400
    assert "mrn" in response.json()
    assert Patient.objects.count() == 1


def test_it_refuses_an_mrn_that_differs_only_in_case(client_for, scheduler):
    PatientFactory(mrn="mrn-1001")
    response = client_for(scheduler).post(LIST, new_patient(), format="json")
    assert response.status_code == 400
    assert response.json()["mrn"] == ["Another patient already has this MRN."]
    assert Patient.objects.count() == 1


def test_it_refuses_a_patient_left_on_email_reminders_without_an_email_address(client_for, scheduler):
    """The channel defaults to email; leaving it out must not skip the email check."""
    registration = new_patient()
    del registration["email"]
    response = client_for(scheduler).post(LIST, registration, format="json")
    assert response.status_code == 400, (
        f"saved with channel {Patient.objects.get().reminder_channel!r} and no email"
    )
    assert "email" in response.json()
    assert not Patient.objects.exists()


def test_it_refuses_an_update_that_leaves_quiet_hours_half_set(client_for, scheduler, patient_a):
    response = client_for(scheduler).patch(detail(patient_a), {"quiet_hours_start": "22:00"}, format="json")
    assert response.status_code == 400
    assert "quiet_hours_end" in response.json()
    patient_a.refresh_from_db()
    assert patient_a.quiet_hours_start is None


def test_it_refuses_removing_the_phone_of_a_patient_on_sms_reminders(client_for, scheduler):
    patient = PatientFactory(reminder_channel="sms", phone="+12125550100")
    response = client_for(scheduler).patch(detail(patient), {"phone": ""}, format="json")
    assert response.status_code == 400
    assert "phone" in response.json()
    patient.refresh_from_db()
    assert patient.phone == "+12125550100"


def test_it_refuses_an_update_to_an_mrn_already_in_use(client_for, scheduler, patient_a, patient_b):
    response = client_for(scheduler).patch(detail(patient_b), {"mrn": patient_a.mrn}, format="json")
    assert response.status_code == 400
    assert "mrn" in response.json()
    assert Patient.objects.filter(mrn=patient_a.mrn).get() == patient_a


# Search --------------------------------------------------------------------------------


def test_staff_find_a_patient_by_mrn_in_any_case(client_for, scheduler):
    wanted = PatientFactory(mrn="ABC-123")
    PatientFactory(mrn="ABC-1234")
    found = results(client_for(scheduler).get(LIST, {"search": "abc-123"}))
    assert [p["id"] for p in found] == [wanted.pk]


@pytest.mark.parametrize("text", ["lovel", "LOVELACE", "Ada", "  ada  "])
def test_staff_find_a_patient_by_part_of_a_name(client_for, scheduler, text):
    wanted = PatientFactory(given_name="Ada", family_name="Lovelace")
    PatientFactory(given_name="Grace", family_name="Hopper")
    found = results(client_for(scheduler).get(LIST, {"search": text}))
    assert [p["id"] for p in found] == [wanted.pk]


def test_an_empty_search_lists_everyone(client_for, scheduler, patient_a, patient_b):
    assert len(results(client_for(scheduler).get(LIST, {"search": ""}))) == 2


# Weights -------------------------------------------------------------------------------


def test_weights_come_newest_first(client_for, nurse, patient_a):
    PatientWeightFactory(patient=patient_a, weight_kg=Decimal("72.0"), measured_on=dt.date(2026, 10, 1))
    PatientWeightFactory(patient=patient_a, weight_kg=Decimal("69.0"), measured_on=dt.date(2026, 11, 15))
    found = results(client_for(nurse).get(weights(patient_a)))
    assert [(w["measured_on"], w["weight_kg"]) for w in found] == [
        ("2026-11-15", 69.0),
        ("2026-11-01", 70.0),
        ("2026-10-01", 72.0),
    ]


def test_a_nurse_records_a_weight_that_becomes_the_latest(client_for, nurse, patient_a):
    client = client_for(nurse)
    response = client.post(weights(patient_a), {"weight_kg": "68.5"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["weight_kg"] == 68.5
    weight = patient_a.weights.get(pk=response.json()["id"])
    assert weight.recorded_by == nurse
    assert weight.measured_on == patient_a.today()
    assert client.get(detail(patient_a)).json()["latest_weight_kg"] == 68.5


def test_a_nurse_may_record_when_a_weight_was_measured(client_for, nurse, patient_a):
    yesterday = patient_a.today() - dt.timedelta(days=1)
    response = client_for(nurse).post(
        weights(patient_a), {"weight_kg": 71, "measured_on": yesterday.isoformat()}, format="json"
    )
    assert response.status_code == 201
    assert patient_a.weights.filter(measured_on=yesterday, weight_kg=Decimal("71")).exists()


@pytest.mark.parametrize("persona", ["pharmacist", "patient_a"])
def test_only_nurses_schedulers_and_admins_record_weights(client_for, request, persona, patient_a):
    caller = request.getfixturevalue(persona)
    user = getattr(caller, "user", caller)
    response = client_for(user).post(weights(patient_a), {"weight_kg": 68}, format="json")
    assert response.status_code == 403
    assert list(patient_a.weights.values_list("weight_kg", flat=True)) == [Decimal("70.0")]


@pytest.mark.parametrize("weight", [0, 400, -5], ids=["zero", "above-350-kg", "negative"])
def test_it_refuses_an_implausible_weight(client_for, nurse, patient_a, weight):
    response = client_for(nurse).post(weights(patient_a), {"weight_kg": weight}, format="json")
    assert response.status_code == 400
    assert "weight_kg" in response.json()
    assert patient_a.weights.count() == 1


def test_it_refuses_a_weight_measured_in_the_future(client_for, nurse, patient_a):
    next_week = (timezone.localdate() + dt.timedelta(days=7)).isoformat()
    response = client_for(nurse).post(
        weights(patient_a), {"weight_kg": 70, "measured_on": next_week}, format="json"
    )
    assert response.status_code == 400
    assert "measured_on" in response.json()
    assert patient_a.weights.count() == 1


def test_a_patient_reads_their_own_weights(client_for, patient_a):
    found = results(client_for(patient_a.user).get(weights(patient_a)))
    assert [w["weight_kg"] for w in found] == [70.0]


def test_another_patients_weights_are_not_found(client_for, patient_a, patient_b):
    response = client_for(patient_a.user).get(weights(patient_b))
    assert response.status_code == 404
    assert "weight_kg" not in response.content.decode()


def test_a_patient_cannot_add_a_weight_to_another_patient(client_for, patient_a, patient_b):
    response = client_for(patient_a.user).post(weights(patient_b), {"weight_kg": 68}, format="json")
    assert response.status_code == 403
    assert patient_b.weights.count() == 1


def test_an_anonymous_caller_cannot_read_weights(api, patient_a):
    assert api.get(weights(patient_a)).status_code == 401
    assert PatientWeight.objects.filter(patient=patient_a).count() == 1


# Cost ------------------------------------------------------------------------------------


def list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(LIST).status_code == 200
    return len(queries)


def test_listing_patients_costs_the_same_queries_for_2_or_20(client_for, scheduler):
    client = client_for(scheduler)
    for patient in PatientFactory.create_batch(2):
        PatientWeightFactory.create_batch(2, patient=patient)
    client.get(LIST)  # the caller's roles are looked up once and cached on the user
    with_two = list_queries(client)
    for patient in PatientFactory.create_batch(18):
        PatientWeightFactory.create_batch(2, patient=patient)
    with_twenty = list_queries(client)
    assert len(results(client.get(LIST))) == 20
    assert with_twenty == with_two


def test_listing_patients_takes_a_handful_of_queries(client_for, scheduler, django_assert_max_num_queries):
    for patient in PatientFactory.create_batch(20):
        PatientWeightFactory(patient=patient)
    client = client_for(scheduler)
    with django_assert_max_num_queries(4):
        response = client.get(LIST)
    assert response.json()["count"] == 20
