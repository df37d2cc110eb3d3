"""/api/v1/plans/: plans with their computed day dose, scoped by role."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from infusions.models import InfusionPlan
from tests.factories import CenterFactory, PatientFactory, PatientWeightFactory, PlanFactory, SessionFactory

URL = "/api/v1/plans/"


@pytest.fixture
def center(db):
    return CenterFactory()


@pytest.fixture
def as_scheduler(client_for, scheduler):
    return client_for(scheduler)


def plan_body(patient, center, **changes) -> dict:
    return {
        "patient": patient.pk,
        "product": "octagam-10",
        "indication": "dermatomyositis",
        "dose_g_per_kg": 2,
        "days_per_course": 2,
        "interval": "every_4_weeks",
        "start_date": "2027-01-04",
        "course_count": 6,
        "preferred_start_time": "09:00",
        "center": center.pk,
        **changes,
    }


def test_a_scheduler_creates_a_plan_and_sees_its_day_dose(as_scheduler, patient_a, center):
    response = as_scheduler.post(URL, plan_body(patient_a, center), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["product"] == "octagam-10" and body["indication"] == "dermatomyositis"
    # patient_a weighs 70 kg: the worked example, with a first infusion's 60-min observation.
    assert body["dose"]["grams_per_day"] == 70.0
    assert body["dose"]["vials"] == [{"grams": 20.0, "count": 3}, {"grams": 10.0, "count": 1}]
    assert body["dose"]["chair_minutes"] == 390  # 30 + 287.5 + 60 = 377.5 -> 390
    plan = InfusionPlan.objects.get()
    assert plan.protocol.max_rate_mg_kg_min == Decimal("4")
    assert plan.created_by.username == "sched"


def test_every_n_days_needs_interval_days_in_range(as_scheduler, patient_a, center):
    missing = as_scheduler.post(URL, plan_body(patient_a, center, interval="every_n_days"), format="json")
    too_long = as_scheduler.post(
        URL, plan_body(patient_a, center, interval="every_n_days", interval_days=85), format="json"
    )
    stray = as_scheduler.post(URL, plan_body(patient_a, center, interval_days=56), format="json")
    good = as_scheduler.post(
        URL, plan_body(patient_a, center, interval="every_n_days", interval_days=56), format="json"
    )

    assert [r.status_code for r in (missing, too_long, stray)] == [400, 400, 400]
    assert all("interval_days" in r.json() for r in (missing, too_long, stray))
    assert good.status_code == 201
    assert InfusionPlan.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"product": "gamunex-c", "indication": "cidp"}, "product"),
        ({"indication": "mmn"}, "indication"),
        ({"days_per_course": 6}, "days_per_course"),
        ({"dose_g_per_kg": 0}, "dose_g_per_kg"),
        ({"dose_g_per_kg": "NaN"}, "dose_g_per_kg"),
        ({"course_count": 0}, "course_count"),
        ({"interval": "fortnightly"}, "interval"),
        ({"start_date": "2027-02-30"}, "start_date"),
        (
            {"premedication": [{"drug": "acetaminophen", "dose": "650 mg", "route": "rectal"}]},
            "premedication",
        ),
    ],
)
def test_bad_plans_are_refused_and_nothing_is_saved(as_scheduler, patient_a, center, change, field):
    response = as_scheduler.post(URL, plan_body(patient_a, center, **change), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not InfusionPlan.objects.exists()


def test_an_anti_iga_patient_cannot_be_planned_on_an_iga_containing_product(as_scheduler, center):
    patient = PatientFactory(iga_status="anti_iga")
    response = as_scheduler.post(URL, plan_body(patient, center), format="json")
    assert response.status_code == 400
    assert "contraindicated" in response.json()["product"][0]


def test_changing_the_indication_changes_the_protocol(as_scheduler, patient_a, center):
    plan = PlanFactory(patient=patient_a, center=center)
    response = as_scheduler.patch(
        f"{URL}{plan.pk}/", {"indication": "chronic_itp", "product": "octagam-10"}, format="json"
    )
    assert response.status_code == 200, response.json()
    plan.refresh_from_db()
    assert plan.protocol.indication.code == "chronic_itp"
    assert response.json()["dose"]["max_rate_mg_kg_min"] == 12.0


def test_a_plan_with_sessions_cannot_be_deleted(as_scheduler, patient_a, center):
    plan = PlanFactory(patient=patient_a, center=center)
    SessionFactory(patient=patient_a, plan=plan)
    response = as_scheduler.delete(f"{URL}{plan.pk}/")
    assert response.status_code == 409
    assert InfusionPlan.objects.filter(pk=plan.pk).exists()


def test_a_plan_whose_patient_has_no_weight_shows_no_dose(as_scheduler, center):
    plan = PlanFactory(patient=PatientFactory(), center=center)
    response = as_scheduler.get(f"{URL}{plan.pk}/")
    assert response.status_code == 200
    assert response.json()["dose"] is None


def test_a_patient_sees_only_their_own_plans(client_for, patient_a, patient_b, center):
    own = PlanFactory(patient=patient_a, center=center)
    other = PlanFactory(patient=patient_b, center=center)
    client = client_for(patient_a.user)

    listed = client.get(URL).json()["results"]

    assert [p["id"] for p in listed] == [own.pk]
    assert client.get(f"{URL}{other.pk}/").status_code == 404
    assert client.post(URL, plan_body(patient_a, center), format="json").status_code == 403


def test_nurses_read_but_do_not_write_plans(client_for, nurse, patient_a, center):
    PlanFactory(patient=patient_a, center=center)
    client = client_for(nurse)
    assert client.get(URL).status_code == 200
    assert client.post(URL, plan_body(patient_a, center), format="json").status_code == 403


def test_listing_plans_takes_the_same_queries_for_2_or_12(as_scheduler, center):
    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert as_scheduler.get(URL).status_code == 200
        return len(ctx)

    queries_for_list()  # the first request also looks up the user's roles
    for _ in range(2):
        PlanFactory(patient=PatientWeightFactory().patient, center=center)
    few = queries_for_list()
    for _ in range(10):
        patient = PatientWeightFactory().patient
        PlanFactory(patient=patient, center=center)
        SessionFactory(patient=patient, status="completed")
    many = queries_for_list()
    assert many == few
