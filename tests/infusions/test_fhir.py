"""GET /api/v1/sessions/{id}/fhir/: a FHIR R4B Bundle that fhir.resources validates."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from infusions.chairside import lot_record, reaction_record, session_complete, vitals_record
from infusions.models import Product
from tests.chairside_support import DAY, START, at, follow_the_ladder, log_rate, running_session

pytestmark = pytest.mark.django_db

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def session(clock, patient_a):
    return running_session(clock, patient_a)


def document(session, clock, *, complete: bool = True):
    """Ladder to the DM maximum, a moderate reaction (pause), a restart, vitals and two lots."""
    octagam = Product.objects.get(code="octagam-10")
    clock.move_to(at(-5))
    vitals_record(session=session, systolic=118, diastolic=76, heart_rate=72, temperature_c=Decimal("36.8"))
    follow_the_ladder(clock, session)
    clock.move_to(at(61))
    wrong = lot_record(
        session=session, product=octagam, lot_number="A1", expiry=DAY, vial_grams=Decimal("20"), count=3
    )
    lot_record(
        session=session,
        product=octagam,
        lot_number="A7",
        expiry=DAY,
        vial_grams=Decimal("20"),
        count=3,
        amends=wrong.pk,
        reason="Read the label again",
    )
    lot_record(
        session=session, product=octagam, lot_number="B2", expiry=DAY, vial_grams=Decimal("10"), count=1
    )
    clock.move_to(at(75))
    vitals_record(session=session, spo2=97, respiratory_rate=18, heart_rate=104)
    reaction_record(session=session, severity="moderate", action="paused", symptoms=["chills", "tachycardia"])
    log_rate(clock, session, 95, "42.0")
    log_rate(clock, session, 125, "84.0")
    clock.move_to(at(200))
    if complete:
        session_complete(session=session)


def bundle_of(client, session) -> dict:
    response = client.get(f"/api/v1/sessions/{session.pk}/fhir/")
    assert response.status_code == 200, response.content
    return response.json()


def resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def by_url(bundle: dict) -> dict[str, dict]:
    return {e["fullUrl"]: e["resource"] for e in bundle["entry"]}


def test_the_bundle_is_valid_fhir_r4b(client_for, nurse, clock, session):
    document(session, clock)
    bundle = bundle_of(client_for(nurse), session)

    parsed = Bundle.model_validate(bundle)

    assert parsed.type == "collection"
    kinds = [e.resource.__resource_type__ for e in parsed.entry]
    assert kinds.count("Appointment") == 1 and kinds.count("Patient") == 1


def test_a_broken_bundle_would_not_validate(client_for, nurse, clock, session):
    document(session, clock)
    broken = copy.deepcopy(bundle_of(client_for(nurse), session))
    del resources(broken, "Observation")[0]["code"]
    with pytest.raises(ValidationError):
        Bundle.model_validate(broken)


def test_one_medication_administration_per_rate_period_in_ucum_ml_per_hour(client_for, nurse, clock, session):
    document(session, clock)
    bundle = bundle_of(client_for(nurse), session)

    given = resources(bundle, "MedicationAdministration")

    # 42, 84, 168 until the reaction paused it; 42 and 84 after the restart; the pause gives nothing.
    assert [m["dosage"]["rateQuantity"]["value"] for m in given] == [42.0, 84.0, 168.0, 42.0, 84.0]
    for administration in given:
        rate = administration["dosage"]["rateQuantity"]
        assert (rate["unit"], rate["system"], rate["code"]) == ("mL/h", UCUM, "mL/h")
        assert administration["status"] == "completed"
    assert [m["dosage"]["dose"]["value"] for m in given] == [21.0, 42.0, 42.0, 21.0, 105.0]
    assert given[2]["effectivePeriod"] == {
        "start": "2027-01-04T10:15:00-05:00",
        "end": "2027-01-04T10:30:00-05:00",
    }


def test_the_lots_in_force_are_reachable_from_each_administration(client_for, nurse, clock, session):
    document(session, clock)
    bundle = bundle_of(client_for(nurse), session)
    urls = by_url(bundle)

    for administration in resources(bundle, "MedicationAdministration"):
        product = urls[administration["medicationReference"]["reference"]]
        assert product["code"]["text"] == "Octagam 10%"
        lots = [urls[i["itemReference"]["reference"]]["batch"] for i in product["ingredient"]]
        assert lots == [
            {"lotNumber": "A7", "expirationDate": "2027-01-04"},
            {"lotNumber": "B2", "expirationDate": "2027-01-04"},
        ]
        assert "Lots: A7 (Octagam 10%), B2 (Octagam 10%)" in administration["note"][0]["text"]


def test_vitals_are_observations_with_loinc_codes_and_ucum_units(client_for, nurse, clock, session):
    document(session, clock)
    bundle = bundle_of(client_for(nurse), session)

    observations = resources(bundle, "Observation")

    found = {
        o["code"]["coding"][0]["code"]: (o["valueQuantity"]["value"], o["valueQuantity"]["code"])
        for o in observations
    }
    assert found == {
        "8480-6": (118.0, "mm[Hg]"),
        "8462-4": (76.0, "mm[Hg]"),
        "8867-4": (104.0, "/min"),  # the later heart rate; both are there
        "8310-5": (36.8, "Cel"),
        "59408-5": (97.0, "%"),
        "9279-1": (18.0, "/min"),
    }
    assert len(observations) == 7
    assert all(o["code"]["coding"][0]["system"] == LOINC for o in observations)
    assert all(o["category"][0]["coding"][0]["code"] == "vital-signs" for o in observations)
    assert all(o["valueQuantity"]["system"] == UCUM for o in observations)


def test_every_reference_resolves_inside_the_bundle(client_for, nurse, clock, session):
    document(session, clock)
    bundle = bundle_of(client_for(nurse), session)
    urls = by_url(bundle)

    def references(node):
        if isinstance(node, dict):
            if "reference" in node:
                yield node["reference"]
            for value in node.values():
                yield from references(value)
        elif isinstance(node, list):
            for value in node:
                yield from references(value)

    found = list(references(bundle))
    assert len(found) > 10 and all(ref in urls for ref in found)
    [appointment] = resources(bundle, "Appointment")
    assert appointment["status"] == "fulfilled"
    [reaction] = resources(bundle, "AdverseEvent")
    assert reaction["severity"]["coding"][0]["code"] == "moderate"


def test_a_running_infusion_ends_with_an_open_administration(client_for, nurse, clock, session):
    document(session, clock, complete=False)
    bundle = bundle_of(client_for(nurse), session)
    Bundle.model_validate(bundle)

    last = resources(bundle, "MedicationAdministration")[-1]
    assert last["status"] == "in-progress"
    assert "end" not in last["effectivePeriod"] and "dose" not in last["dosage"]
    assert resources(bundle, "Appointment")[0]["status"] == "arrived"


def test_a_stopped_infusion_ends_with_a_stopped_administration(client_for, nurse, clock, session):
    follow_the_ladder(clock, session)
    clock.move_to(at(70))
    reaction_record(session=session, severity="severe", action="stopped", symptoms=["hypotension"])
    bundle = bundle_of(client_for(nurse), session)
    Bundle.model_validate(bundle)
    assert [m["status"] for m in resources(bundle, "MedicationAdministration")] == [
        "completed",
        "completed",
        "stopped",
    ]


def test_the_export_takes_the_same_queries_for_a_short_or_a_long_record(client_for, nurse, clock, session):
    client = client_for(nurse)
    log_rate(clock, session, 0, "42.0")
    bundle_of(client, session)

    def count() -> int:
        with CaptureQueriesContext(connection) as context:
            bundle_of(client, session)
        return len(context)

    few = count()
    document(session, clock, complete=False)
    assert count() == few


def test_a_session_without_a_plan_exports_its_lots_and_vitals(client_for, nurse, clock, patient_a):
    from infusions.scheduling.booking import session_book, session_transition
    from tests.chairside_support import make_center

    bare = session_book(patient=patient_a, center=make_center(), start=START, chair_minutes=120)
    session_transition(session=bare, action="check_in")
    session_transition(session=bare, action="start")
    clock.move_to(at(10))
    vitals_record(session=bare, heart_rate=80)
    panzyga = Product.objects.get(code="panzyga")
    lot_record(session=bare, product=panzyga, lot_number="P9", expiry=DAY, vial_grams=Decimal("5"), count=2)

    bundle = bundle_of(client_for(nurse), bare)

    Bundle.model_validate(bundle)
    assert resources(bundle, "MedicationAdministration") == []
    assert [m["code"]["text"] for m in resources(bundle, "Medication")] == ["Panzyga", "Panzyga"]
    assert len(resources(bundle, "Observation")) == 1
