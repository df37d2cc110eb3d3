"""The Django admin: pharmacists keep the catalogue; plans show their computed dose."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from infusions.models import Product
from tests.factories import PlanFactory, UserFactory


@pytest.fixture
def pharmacist_staff(db):
    user = UserFactory(username="pharm-admin", role="pharmacist", is_staff=True)
    return user


def test_a_plan_page_shows_its_day_dose_vials_and_chair_minutes(client, admin_user, patient_a):
    plan = PlanFactory(patient=patient_a)
    client.force_login(admin_user)

    page = client.get(f"/admin/infusions/infusionplan/{plan.pk}/change/").content.decode()

    assert "70 g a day (3 × 20 g, 1 × 10 g), 700 mL" in page
    assert "chair 390 min" in page  # first infusion: 30 + 287.5 + 60, in 15-min slots


def test_the_pharmacist_group_may_edit_the_catalogue_and_nothing_else(client, pharmacist_staff):
    assert Group.objects.get(name="pharmacist").permissions.filter(codename="change_product").exists()
    client.force_login(pharmacist_staff)
    octagam = Product.objects.get(code="octagam-10")

    assert client.get(f"/admin/infusions/product/{octagam.pk}/change/").status_code == 200
    assert client.get("/admin/patients/patient/").status_code == 403
    assert client.get("/admin/infusions/infusionsession/").status_code == 403


def test_a_pharmacist_edit_is_kept_in_the_history(client, pharmacist_staff):
    client.force_login(pharmacist_staff)
    octagam = Product.objects.get(code="octagam-10")
    data = {
        "name": octagam.name,
        "code": octagam.code,
        "manufacturer": octagam.manufacturer,
        "concentration_mg_per_ml": 100,
        "vial_sizes_g": "[2, 5, 10, 20, 40]",
        "iga_ug_per_ml": "106.0",
        "contains_maltose": "on",
        "risk_cap_mg_kg_min": "3.0000",
        "is_active": "on",
        "notes": octagam.notes,
        "protocols-TOTAL_FORMS": "0",
        "protocols-INITIAL_FORMS": "0",
    }

    response = client.post(f"/admin/infusions/product/{octagam.pk}/change/", data)

    assert response.status_code == 302, response.content.decode()[:2000]
    octagam.refresh_from_db()
    assert octagam.vial_sizes_g == [2, 5, 10, 20, 40]
    assert octagam.history.first().history_user == pharmacist_staff


def test_the_admin_refuses_vial_sizes_that_are_not_positive_numbers(client, pharmacist_staff):
    client.force_login(pharmacist_staff)
    octagam = Product.objects.get(code="octagam-10")
    response = client.post(
        f"/admin/infusions/product/{octagam.pk}/change/",
        {
            "name": octagam.name,
            "code": octagam.code,
            "manufacturer": octagam.manufacturer,
            "concentration_mg_per_ml": 100,
            "vial_sizes_g": "[2, -5]",
            "protocols-TOTAL_FORMS": "0",
            "protocols-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "positive vial sizes" in response.content.decode()
    octagam.refresh_from_db()
    assert octagam.vial_sizes_g == [2, 5, 10, 20]
