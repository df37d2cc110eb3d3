"""POST /api/v1/dose-calculations/: the label arithmetic through the API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from infusions.models import InfusionSession
from tests.factories import CenterFactory, PatientFactory, PatientWeightFactory, SessionFactory

URL = "/api/v1/dose-calculations/"
OCTAGAM_DM = {"product": "octagam-10", "indication": "dermatomyositis", "dose_g_per_kg": 2, "days": 2}


@pytest.fixture
def as_scheduler(client_for, scheduler):
    return client_for(scheduler)


def post(client, **body):
    return client.post(URL, body, format="json")


def test_the_worked_example_comes_out_exactly(as_scheduler):
    response = post(as_scheduler, **OCTAGAM_DM, weight_kg=70)

    assert response.status_code == 200
    assert response.json() == {
        "dosing_weight_kg": 70.0,
        "grams_per_day_exact": 70.0,
        "grams_per_day": 70.0,
        "vials": [{"grams": 20.0, "count": 3}, {"grams": 10.0, "count": 1}],
        "volume_ml_per_day": 700.0,
        "max_rate_mg_kg_min": 4.0,
        "max_rate_ml_per_hour": 168.0,
        "steps": [
            {"start_minute": 0.0, "minutes": 30.0, "rate_mg_kg_min": 1.0, "rate_ml_per_hour": 42.0},
            {"start_minute": 30.0, "minutes": 30.0, "rate_mg_kg_min": 2.0, "rate_ml_per_hour": 84.0},
            {"start_minute": 60.0, "minutes": 227.5, "rate_mg_kg_min": 4.0, "rate_ml_per_hour": 168.0},
        ],
        "infusion_minutes": 287.5,
        "chair_minutes": 360,
        "warnings": [],
    }


def test_numbers_are_json_numbers_rounded_for_display(as_scheduler):
    # Gammagard PI at 70 kg: label 0.5 mL/kg/h = 35 mL/h; stored 0.8333 mg/kg/min x 70 x 0.6
    # = 34.9986 mL/h, shown to 0.1 mL/h. Max 5 mL/kg/h = 350 mL/h.
    body = response_json(
        as_scheduler,
        product="gammagard-liquid",
        indication="primary_immunodeficiency",
        weight_kg=70,
        dose_g_per_kg=0.4,
        days=1,
    )
    assert [s["rate_ml_per_hour"] for s in body["steps"]][:2] == [35.0, 70.0]
    assert body["max_rate_ml_per_hour"] == 350.0
    # 28 g = 280 mL at 35, 70, 140, 210 mL/h for 30 min each: 17.5 + 35 + 70 + 105 = 227.5 mL
    # in 120 min; the last 52.5 mL at 280 mL/h (4 mL/kg/h) take 11.25 min.
    assert body["infusion_minutes"] == 131.25
    assert all(isinstance(s["rate_ml_per_hour"], float) for s in body["steps"])


def response_json(client, **body) -> dict:
    response = post(client, **body)
    assert response.status_code == 200, response.json()
    return response.json()


def test_a_patient_with_a_thrombosis_risk_gets_the_risk_cap(as_scheduler):
    body = response_json(as_scheduler, **OCTAGAM_DM, weight_kg=70, thrombosis_risk=True)
    # Octagam risk cap 0.03 mL/kg/min = 3 mg/kg/min: 3 x 70 x 0.6 = 126 mL/h.
    assert body["max_rate_mg_kg_min"] == 3.0
    assert body["max_rate_ml_per_hour"] == 126.0
    assert [s["rate_ml_per_hour"] for s in body["steps"]] == [42.0, 84.0, 126.0]


def test_a_tolerated_cap_below_the_label_wins(as_scheduler):
    body = response_json(as_scheduler, **OCTAGAM_DM, weight_kg=70, max_rate_mg_kg_min=2)
    assert body["max_rate_ml_per_hour"] == 84.0
    # 700 mL: 21 mL in the first 30 min, then 679 mL at 84 mL/h = 485 min.
    assert body["infusion_minutes"] == 515.0


def test_it_uses_the_patients_latest_weight_flags_and_cap(as_scheduler):
    patient = PatientFactory(renal_risk=True, tolerated_max_rate_mg_kg_min=Decimal("2.5"))
    PatientWeightFactory(patient=patient, weight_kg=Decimal("90.0"), measured_on=dt.date(2026, 1, 1))
    PatientWeightFactory(patient=patient, weight_kg=Decimal("80.0"), measured_on=dt.date(2026, 10, 1))

    body = response_json(as_scheduler, **OCTAGAM_DM, patient=patient.pk)

    assert body["dosing_weight_kg"] == 80.0
    assert body["grams_per_day"] == 80.0
    assert body["max_rate_mg_kg_min"] == 2.5  # tolerated 2.5 < risk cap 3 < DM max 4
    assert body["max_rate_ml_per_hour"] == 120.0  # 2.5 x 80 x 0.6


def test_a_first_infusion_gets_the_longer_observation(as_scheduler):
    center = CenterFactory(buffer_after_minutes=30, buffer_after_first_minutes=60)
    patient = PatientFactory()
    PatientWeightFactory(patient=patient, weight_kg=Decimal("70.0"))

    first = response_json(as_scheduler, **OCTAGAM_DM, patient=patient.pk, center=center.pk)
    SessionFactory(patient=patient, status="completed", start=dt.datetime(2026, 11, 2, 14, tzinfo=dt.UTC))
    later = response_json(as_scheduler, **OCTAGAM_DM, patient=patient.pk, center=center.pk)

    assert first["chair_minutes"] == 390  # 30 + 287.5 + 60 = 377.5 -> 390
    assert later["chair_minutes"] == 360  # 30 + 287.5 + 30 = 347.5 -> 360
    assert InfusionSession.objects.count() == 1


def test_it_uses_the_centers_buffers_and_slot(as_scheduler):
    center = CenterFactory(buffer_before_minutes=45, buffer_after_minutes=45, slot_minutes=30)
    body = response_json(as_scheduler, **OCTAGAM_DM, weight_kg=70, center=center.pk)
    assert body["chair_minutes"] == 390  # 45 + 287.5 + 45 = 377.5 -> 390 (30-min slots)


def test_it_refuses_igA_products_for_anti_iga_antibodies_naming_the_contraindication(as_scheduler):
    patient = PatientFactory(iga_status="anti_iga")
    PatientWeightFactory(patient=patient)

    response = post(as_scheduler, **OCTAGAM_DM, patient=patient.pk)

    assert response.status_code == 400
    assert "contraindicated" in response.json()["product"][0]
    assert "anti" in response.json()["product"][0].lower()


def test_it_warns_a_diabetic_patient_about_maltose(as_scheduler):
    body = response_json(as_scheduler, **OCTAGAM_DM, weight_kg=70, diabetes=True)
    assert any("maltose" in w for w in body["warnings"])
    panzyga = response_json(
        as_scheduler,
        product="panzyga",
        indication="cidp",
        weight_kg=70,
        dose_g_per_kg=2,
        days=2,
        diabetes=True,
    )
    assert not any("maltose" in w for w in panzyga["warnings"])


def test_it_warns_when_a_day_dose_is_above_1_g_per_kg(as_scheduler):
    body = response_json(as_scheduler, **{**OCTAGAM_DM, "days": 1}, weight_kg=70)
    assert any("above 1 g/kg" in w for w in body["warnings"])


def test_it_warns_when_vials_would_move_the_dose_more_than_10_percent(as_scheduler):
    # 0.2 g/kg x 8 kg = 1.6 g; Octagam's smallest bottle is 2 g, 25% away: the exact dose is kept.
    body = response_json(as_scheduler, **{**OCTAGAM_DM, "dose_g_per_kg": 0.2, "days": 1}, weight_kg=8)
    assert body["grams_per_day"] == 1.6
    assert any("10%" in w for w in body["warnings"])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"weight_kg": 0}, "weight_kg"),
        ({"weight_kg": -5}, "weight_kg"),
        ({"weight_kg": 351}, "weight_kg"),
        ({"weight_kg": "NaN"}, "weight_kg"),
        ({"weight_kg": "Infinity"}, "weight_kg"),
        ({"days": 0}, "days"),
        ({"days": 6}, "days"),
        ({"dose_g_per_kg": 0}, "dose_g_per_kg"),
        ({"dose_g_per_kg": 3.5}, "dose_g_per_kg"),
        ({"product": "no-such-product"}, "product"),
        ({"indication": "no-such-indication"}, "indication"),
        ({"indication": "cidp"}, "indication"),
        ({"product": "privigen", "indication": "cidp"}, "product"),
        ({"dosing_weight_method": "ideal"}, "height_cm"),
        ({"dosing_weight_method": "adjusted", "height_cm": 170}, "sex"),
        ({"dosing_weight_method": "magic"}, "dosing_weight_method"),
        ({"sex": "x"}, "sex"),
    ],
)
def test_bad_input_gets_a_400_naming_the_field(as_scheduler, change, field):
    response = post(as_scheduler, **{**OCTAGAM_DM, "weight_kg": 70, **change})
    assert response.status_code == 400
    assert field in response.json(), response.json()


def test_it_needs_a_patient_or_a_weight_but_not_both(as_scheduler, patient_a):
    assert post(as_scheduler, **OCTAGAM_DM).status_code == 400
    both = post(as_scheduler, **OCTAGAM_DM, patient=patient_a.pk, weight_kg=70)
    assert both.status_code == 400 and "patient" in both.json()


def test_a_patient_without_a_weight_or_height_is_refused_clearly(as_scheduler):
    patient = PatientFactory(height_cm=None)
    no_weight = post(as_scheduler, **OCTAGAM_DM, patient=patient.pk)
    assert no_weight.status_code == 400
    assert "weight" in no_weight.json()["patient"][0]
    PatientWeightFactory(patient=patient)
    no_height = post(as_scheduler, **OCTAGAM_DM, patient=patient.pk, dosing_weight_method="ideal")
    assert no_height.status_code == 400
    assert "height" in no_height.json()["patient"][0]


def test_a_non_json_body_is_a_400(as_scheduler):
    response = as_scheduler.post(URL, "not json", content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("persona", ["scheduler", "nurse", "pharmacist", "admin_user"])
def test_staff_may_calculate(db, request, client_for, persona):
    client = client_for(request.getfixturevalue(persona))
    assert post(client, **OCTAGAM_DM, weight_kg=70).status_code == 200


def test_patients_and_strangers_may_not(client_for, patient_a, api):
    assert post(api, **OCTAGAM_DM, weight_kg=70).status_code == 401
    assert post(client_for(patient_a.user), **OCTAGAM_DM, weight_kg=70).status_code == 403
