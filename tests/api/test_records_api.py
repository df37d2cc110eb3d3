"""The chairside records API: sessions/{id}/rate-changes|vitals|reactions|premedications|lots/,
timeline/, lots/{lot_number}/recipients/, flagged-sessions/ and patients/{id}/clear-tolerated-cap/."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext

from infusions.chairside import lot_record, reaction_record, vitals_record
from infusions.models import InfusionSession, Product, RateChange, VitalSigns
from patients.models import Patient
from tests.chairside_support import DAY, START, at, follow_the_ladder, log_rate, running_session
from tests.factories import PatientFactory, PatientWeightFactory

pytestmark = pytest.mark.django_db

KINDS = {
    "rate-changes": {"rate_ml_per_hour": "42.0"},
    "vitals": {"systolic": 118, "diastolic": 76, "heart_rate": 72, "temperature_c": "36.8", "spo2": 98},
    "reactions": {"severity": "mild", "symptoms": ["headache"], "action": "slowed"},
    "premedications": {"drug": "Acetaminophen", "dose": "650 mg", "route": "oral"},
    "lots": {
        "product": "octagam-10",
        "lot_number": "b0123",
        "expiry": "2027-06-30",
        "vial_grams": 10,
        "count": 7,
    },
}


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def session(clock, patient_a):
    session = running_session(clock, patient_a)
    clock.move_to(at(0))
    return session


def url(session: InfusionSession, kind: str, pk: int | None = None) -> str:
    base = f"/api/v1/sessions/{session.pk}/{kind}/"
    return f"{base}{pk}/" if pk is not None else base


def post(client, session, kind, **body):
    return client.post(url(session, kind), {**KINDS.get(kind, {}), **body}, format="json")


# -- writing ------------------------------------------------------------------------------------


def test_a_nurse_logs_a_rate_and_sees_it_in_both_units_beside_the_plan(client_for, nurse, session):
    response = post(client_for(nurse), session, "rate-changes")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "rate_change" and body["session"] == session.pk
    assert (body["rate_ml_per_hour"], body["rate_mg_kg_min"], body["dosing_weight_kg"]) == (42.0, 1.0, 70.0)
    assert (body["planned_rate_ml_per_hour"], body["planned_rate_mg_kg_min"], body["restart"]) == (
        42.0,
        1.0,
        False,
    )
    assert body["at"] == "2027-01-04T09:15:00-05:00"
    assert (body["recorded_by"], body["amends"], body["amended_by"], body["superseded"]) == (
        "nurse",
        None,
        None,
        False,
    )


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_nurses_and_admins_write_every_kind(client_for, nurse, admin_user, session, kind):
    for user in (nurse, admin_user):
        body = {"rate_ml_per_hour": "0.0"} if kind == "rate-changes" and user == admin_user else {}
        response = post(client_for(user), session, kind, **body)
        assert response.status_code == 201, response.json()
        assert response.json()["recorded_by"] == user.username


def test_a_rate_above_the_maximum_is_a_400_stating_the_limit_in_both_units(client_for, nurse, clock, session):
    follow_the_ladder(clock, session)
    response = post(client_for(nurse), session, "rate-changes", rate_ml_per_hour="170.0")

    assert response.status_code == 400
    [message] = response.json()["rate_ml_per_hour"]
    assert (
        "170.0 mL/h (4.05 mg/kg/min) is above the patient's effective maximum of 168.0 mL/h (4 mg/kg/min)"
        in message
    )


def test_an_early_step_up_is_a_400_saying_when_it_is_allowed(client_for, nurse, clock, session):
    log_rate(clock, session, 0, "42.0")
    clock.move_to(at(10))
    response = post(client_for(nurse), session, "rate-changes", rate_ml_per_hour="84.0")

    assert response.status_code == 400
    assert "allowed from 09:45" in response.json()["rate_ml_per_hour"][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"at": "2027-01-04T09:20:00"}, "at"),  # no offset
        ({"at": "2027-01-04T09:00:00-05:00"}, "at"),  # before the infusion started
        ({"at": "2027-01-04T09:21:00-05:00"}, "at"),  # 6 minutes ahead
        ({"at": "yesterday"}, "at"),
        ({"rate_ml_per_hour": "-1"}, "rate_ml_per_hour"),
        ({"rate_ml_per_hour": "1000"}, "rate_ml_per_hour"),
        ({"rate_ml_per_hour": "42.05"}, "rate_ml_per_hour"),
        ({"rate_ml_per_hour": "NaN"}, "rate_ml_per_hour"),
        ({"rate_ml_per_hour": "Infinity"}, "rate_ml_per_hour"),
        ({"rate_ml_per_hour": ["42"]}, "rate_ml_per_hour"),
        ({"rate_ml_per_hour": None}, "rate_ml_per_hour"),
        ({"amends": 2**70, "reason": "x"}, "amends"),
        ({"amends": "first", "reason": "x"}, "amends"),
        ({"amends": 999999, "reason": "x"}, "amends"),
        ({"amends": 1}, "reason"),
    ],
)
def test_bad_rate_input_is_a_400_never_a_500(client_for, nurse, session, body, field):
    response = post(client_for(nurse), session, "rate-changes", **body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not RateChange.objects.exists()


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        (
            "vitals",
            {"systolic": None, "diastolic": None, "heart_rate": None, "temperature_c": None, "spo2": None},
            "non_field_errors",
        ),
        ("vitals", {"systolic": 300}, "systolic"),
        ("vitals", {"systolic": 10**12}, "systolic"),
        ("vitals", {"temperature_c": "45.0"}, "temperature_c"),
        ("vitals", {"temperature_c": "36.85"}, "temperature_c"),
        ("vitals", {"spo2": True}, "spo2"),
        ("vitals", {"respiratory_rate": "fast"}, "respiratory_rate"),
        ("reactions", {"severity": "catastrophic"}, "severity"),
        ("reactions", {"symptoms": ["hiccups"]}, "symptoms"),
        ("reactions", {"symptoms": "headache"}, "symptoms"),
        ("reactions", {"severity": "severe", "action": "slowed"}, "action"),
        ("premedications", {"route": "inhaled"}, "route"),
        ("premedications", {"drug": ""}, "drug"),
        ("lots", {"product": "no-such-product"}, "product"),
        ("lots", {"lot_number": "A/1"}, "lot_number"),
        ("lots", {"lot_number": "x" * 41}, "lot_number"),
        ("lots", {"expiry": "2027-01-03"}, "expiry"),
        ("lots", {"expiry": "31/12/2027"}, "expiry"),
        ("lots", {"vial_grams": 0}, "vial_grams"),
        ("lots", {"count": 0}, "count"),
        ("lots", {"product": "panzyga"}, "reason"),
    ],
)
def test_bad_entries_are_a_400_on_the_field_at_fault(client_for, nurse, session, kind, body, field):
    response = post(client_for(nurse), session, kind, **body)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()


def test_entries_for_a_session_that_does_not_exist_are_a_404(client_for, nurse, session):
    client = client_for(nurse)
    assert client.get(f"/api/v1/sessions/{session.pk + 1000}/vitals/").status_code == 404
    assert (
        client.post(f"/api/v1/sessions/{2**70}/vitals/", {"heart_rate": 70}, format="json").status_code == 404
    )
    assert client.get(f"/api/v1/sessions/{session.pk}/vitals/{2**70}/").status_code == 404


# -- append-only -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_records_cannot_be_edited_or_deleted(client_for, nurse, admin_user, session, kind):
    client = client_for(nurse)
    created = post(client, session, kind).json()
    for target in (url(session, kind), url(session, kind, created["id"])):
        for user in (nurse, admin_user):
            client = client_for(user)
            assert client.put(target, KINDS[kind], format="json").status_code == 405
            assert client.patch(target, KINDS[kind], format="json").status_code == 405
            assert client.delete(target).status_code == 405
    created.pop("consequences", None)  # only the answer to a new reaction has them
    assert client.get(url(session, kind, created["id"])).json() == created


def test_a_correction_is_shown_beside_the_original_in_the_timeline(client_for, nurse, clock, session):
    client = client_for(nurse)
    clock.move_to(at(10))
    wrong = post(client, session, "vitals", systolic=210, diastolic=80).json()
    clock.move_to(at(12))
    fixed = post(
        client,
        session,
        "vitals",
        systolic=120,
        diastolic=80,
        at=wrong["at"],
        amends=wrong["id"],
        reason="Typed 210",
    )

    assert fixed.status_code == 201, fixed.json()
    timeline = client.get(url(session, "timeline")).json()["entries"]
    vitals = [e for e in timeline if e["kind"] == "vitals"]
    assert [(e["id"], e["systolic"], e["superseded"]) for e in vitals] == [
        (wrong["id"], 210, True),
        (fixed.json()["id"], 120, False),
    ]
    assert vitals[0]["amended_by"] == vitals[1]["id"] and vitals[1]["amends"] == vitals[0]["id"]
    assert vitals[1]["reason"] == "Typed 210"


def test_the_history_keeps_the_user_who_wrote_through_the_api(client_for, nurse, session):
    created = post(client_for(nurse), session, "vitals").json()
    [row] = VitalSigns.history.filter(id=created["id"])
    assert row.history_user == nurse


# -- roles -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [*sorted(KINDS), "timeline", "fhir"])
def test_patients_and_pharmacists_see_none_of_it_even_for_their_own_session(
    client_for, nurse, pharmacist, patient_a, session, kind
):
    created = post(client_for(nurse), session, kind).json() if kind in KINDS else None
    for user in (patient_a.user, pharmacist):
        client = client_for(user)
        assert client.get(url(session, kind)).status_code == 403
        if created:
            assert client.get(url(session, kind, created["id"])).status_code == 403
            assert post(client, session, kind).status_code == 403


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_schedulers_read_but_do_not_write(client_for, nurse, scheduler, session, kind):
    created = post(client_for(nurse), session, kind).json()
    client = client_for(scheduler)

    listed = client.get(url(session, kind))
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()["results"]] == [created["id"]]
    assert client.get(url(session, kind, created["id"])).status_code == 200
    assert post(client, session, kind).status_code == 403


def test_anonymous_callers_are_refused(api, session):
    assert api.get(url(session, "timeline")).status_code in (401, 403)


# -- the timeline ------------------------------------------------------------------------------------


def test_the_timeline_puts_everything_in_time_order_beside_the_planned_ladder(
    client_for, nurse, clock, session
):
    clock.move_to(at(-5))
    vitals_record(session=session, heart_rate=70)
    follow_the_ladder(clock, session)
    clock.move_to(at(70))
    reaction_record(session=session, severity="mild", action="slowed", symptoms=["headache"])
    log_rate(clock, session, 71, "84.0")

    body = client_for(nurse).get(url(session, "timeline")).json()

    assert [(e["kind"], e["at"][11:16]) for e in body["entries"]] == [
        ("vitals", "09:10"),
        ("rate_change", "09:15"),
        ("rate_change", "09:45"),
        ("rate_change", "10:15"),
        ("reaction", "10:25"),
        ("rate_change", "10:26"),
    ]
    assert [(s["starts_at"], s["rate_ml_per_hour"], s["minutes"]) for s in body["planned_ladder"]] == [
        ("2027-01-04T14:15:00Z", 42.0, 30.0),
        ("2027-01-04T14:45:00Z", 84.0, 30.0),
        ("2027-01-04T15:15:00Z", 168.0, None),
    ]
    slowed = body["entries"][-1]
    assert (slowed["rate_ml_per_hour"], slowed["planned_rate_ml_per_hour"], slowed["ladder_minute"]) == (
        84.0,
        168.0,
        71.0,
    )
    assert body["session"]["status"] == "in_progress" and body["dosing_weight_kg"] == 70.0


def many_entries(clock, session, n: int) -> None:
    clock.move_to(at(5))
    product = Product.objects.get(code="octagam-10")
    for i in range(n):
        vitals_record(session=session, heart_rate=70 + i)
        lot_record(
            session=session,
            product=product,
            lot_number=f"L{i}",
            expiry=DAY,
            vial_grams=Decimal("10"),
            count=1,
        )
        reaction_record(session=session, severity="mild", action="slowed", symptoms=["flushing"])


def queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(path).status_code == 200
    return len(context)


@pytest.mark.parametrize("kind", ["timeline", *sorted(KINDS)])
def test_lists_and_the_timeline_take_the_same_queries_for_few_or_many_entries(
    client_for, scheduler, clock, session, kind
):
    client = client_for(scheduler)
    log_rate(clock, session, 0, "42.0")
    many_entries(clock, session, 2)
    queries(client, url(session, kind))  # the first request also reads the user's roles
    few = queries(client, url(session, kind))
    for minute in (30, 60, 70, 80):
        log_rate(clock, session, minute, {30: "84.0", 60: "168.0"}.get(minute, "126.0"))
    many_entries(clock, session, 10)
    assert queries(client, url(session, kind)) == few


# -- reactions, completion ---------------------------------------------------------------------------


def test_a_moderate_reaction_answers_with_its_consequences(client_for, nurse, clock, session, patient_a):
    follow_the_ladder(clock, session)
    clock.move_to(at(75))

    response = post(
        client_for(nurse), session, "reactions", severity="moderate", action="paused", symptoms=["chills"]
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["cap_set_mg_kg_min"] == 2.0
    assert body["consequences"] == {
        "paused": True,
        "session_completed": False,
        "tolerated_cap_mg_kg_min": 2.0,
        "replanned_sessions": [],
        "flagged_sessions": [],
    }


def test_a_severe_reaction_completes_the_session(client_for, nurse, clock, session):
    follow_the_ladder(clock, session)
    clock.move_to(at(75))

    body = post(
        client_for(nurse),
        session,
        "reactions",
        severity="severe",
        action="stopped",
        symptoms=["bronchospasm"],
    ).json()

    assert body["consequences"]["session_completed"] is True
    assert client_for(nurse).get(url(session, "timeline")).json()["session"]["status"] == "completed"
    assert post(client_for(nurse), session, "vitals").status_code == 400


def test_complete_answers_with_the_grams_infused_and_the_warnings(
    client_for, nurse, scheduler, clock, session
):
    follow_the_ladder(clock, session)
    clock.move_to(at(120))

    assert client_for(scheduler).post(f"/api/v1/sessions/{session.pk}/complete/").status_code == 403
    response = client_for(nurse).post(f"/api/v1/sessions/{session.pk}/complete/")

    assert response.status_code == 200
    body = response.json()
    # 21 + 42 + 168 (60 min at 168 mL/h) = 231 mL
    assert (body["status"], body["grams_infused"]) == ("completed", 23.1)
    assert body["infusion_warnings"] == [
        "23.1 g infused by the rate log, -67.0% from the planned 70 g (more than 5%)."
    ]
    again = client_for(nurse).post(f"/api/v1/sessions/{session.pk}/complete/")
    assert again.status_code == 409


# -- the lot recall ------------------------------------------------------------------------------------


def test_a_pharmacist_finds_every_patient_and_session_that_received_a_lot(
    client_for, nurse, pharmacist, admin_user, patient_a, patient_b, clock, session
):
    other = running_session(clock, patient_b, start=START + dt.timedelta(hours=1))
    third = running_session(
        clock, PatientWeightFactory(patient=PatientFactory()).patient, start=START + dt.timedelta(hours=2)
    )
    clock.move_to(at(150))
    product = Product.objects.get(code="octagam-10")
    mine = lot_record(
        session=session, product=product, lot_number="B0123", expiry=DAY, vial_grams=Decimal("20"), count=3
    )
    lot_record(
        session=other, product=product, lot_number="b0123 ", expiry=DAY, vial_grams=Decimal("10"), count=1
    )
    typo = lot_record(
        session=third, product=product, lot_number="B0123", expiry=DAY, vial_grams=Decimal("10"), count=1
    )
    lot_record(
        session=third,
        product=product,
        lot_number="B0132",
        expiry=DAY,
        vial_grams=Decimal("10"),
        count=1,
        amends=typo.pk,
        reason="Digits swapped",
    )

    response = client_for(pharmacist).get("/api/v1/lots/b0123/recipients/")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["patient"]["mrn"], r["session"]["id"], r["count"]) for r in results] == [
        (patient_a.mrn, session.pk, 3),
        (patient_b.mrn, other.pk, 1),
    ]
    assert results[0]["product"] == "octagam-10" and results[0]["id"] == mine.pk
    assert client_for(admin_user).get("/api/v1/lots/B0132/recipients/").json()["count"] == 1
    assert (
        client_for(pharmacist).get("/api/v1/lots/B0123/recipients/", {"product": "panzyga"}).json()["count"]
        == 0
    )
    assert client_for(nurse).get("/api/v1/lots/B0123/recipients/").status_code == 403
    assert client_for(patient_a.user).get("/api/v1/lots/B0123/recipients/").status_code == 403


def test_the_recall_list_takes_the_same_queries_for_few_or_many_recipients(
    client_for, pharmacist, clock, session
):
    product = Product.objects.get(code="octagam-10")
    client = client_for(pharmacist)

    def lots(n: int) -> None:
        for i in range(n):
            patient = PatientWeightFactory(patient=PatientFactory()).patient
            other = running_session(clock, patient, start=START + dt.timedelta(days=7 * (i + 1)))
            clock.move_to(at(1, other.started_at))
            lot_record(
                session=other,
                product=product,
                lot_number="R1",
                expiry=DAY + dt.timedelta(days=365),
                vial_grams=Decimal("10"),
                count=1,
            )

    lots(2)
    queries(client, "/api/v1/lots/R1/recipients/")  # the first request also reads the user's roles
    few = queries(client, "/api/v1/lots/R1/recipients/")
    lots(6)
    assert queries(client, "/api/v1/lots/R1/recipients/") == few
    assert client.get("/api/v1/lots/R1/recipients/").json()["count"] == 8


# -- flags and the tolerated cap ---------------------------------------------------------------------


def test_flagged_sessions_list_what_the_scheduler_must_rebook(
    client_for, scheduler, clock, session, patient_a
):
    from infusions.scheduling.booking import session_book

    clock.move_to(START - dt.timedelta(days=7))
    later = session_book(
        patient=patient_a, center=session.center, start=START + dt.timedelta(days=28), plan=session.plan
    )
    follow_the_ladder(clock, session)
    clock.move_to(at(75))
    reaction_record(session=session, severity="moderate", action="paused", symptoms=["chills"])

    response = client_for(scheduler).get("/api/v1/flagged-sessions/")

    assert response.status_code == 200
    [flagged] = response.json()["results"]
    assert (flagged["id"], flagged["booked_minutes"], flagged["chair_minutes"]) == (later.pk, 360, 585)
    assert "needs 585 chair minutes" in flagged["rebooking_reason"]
    assert client_for(patient_a.user).get("/api/v1/flagged-sessions/").status_code == 403


def test_only_an_admin_clears_the_tolerated_cap_and_must_say_why(
    client_for, admin_user, nurse, scheduler, patient_a
):
    Patient.objects.filter(pk=patient_a.pk).update(tolerated_max_rate_mg_kg_min=Decimal("2"))
    path = f"/api/v1/patients/{patient_a.pk}/clear-tolerated-cap/"

    for user in (nurse, scheduler, patient_a.user):
        assert client_for(user).post(path, {"reason": "x"}, format="json").status_code == 403
    admin = client_for(admin_user)
    assert admin.post(path, {}, format="json").status_code == 400
    assert admin.get(path).status_code == 405
    assert (
        admin.post(
            f"/api/v1/patients/{patient_a.pk + 999}/clear-tolerated-cap/", {"reason": "x"}, format="json"
        ).status_code
        == 404
    )
    response = admin.post(path, {"reason": "Tolerated 4 mg/kg/min with new premedication"}, format="json")

    assert response.status_code == 200
    assert response.json() == {
        "patient": patient_a.pk,
        "previous_cap_mg_kg_min": 2.0,
        "tolerated_max_rate_mg_kg_min": None,
        "replanned_sessions": [],
        "flagged_sessions": [],
    }
    patient_a.refresh_from_db()
    assert patient_a.tolerated_max_rate_mg_kg_min is None
    assert patient_a.history.first().history_change_reason.startswith("Tolerated cap cleared: Tolerated 4")


def test_the_schema_documents_the_records_endpoints(client_for, nurse):
    paths = yaml.safe_load(client_for(nurse).get("/api/schema/").content)["paths"]
    assert {
        "/api/v1/sessions/{session_id}/rate-changes/",
        "/api/v1/sessions/{session_id}/rate-changes/{id}/",
        "/api/v1/sessions/{session_id}/timeline/",
        "/api/v1/sessions/{session_id}/fhir/",
        "/api/v1/lots/{lot_number}/recipients/",
        "/api/v1/flagged-sessions/",
        "/api/v1/patients/{patient_id}/clear-tolerated-cap/",
    } <= set(paths)
    assert set(paths["/api/v1/sessions/{session_id}/vitals/{id}/"]) & {"put", "patch", "delete"} == set()
