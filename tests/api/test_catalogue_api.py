"""The shipped IVIG catalogue, and the catalogue, center and chair endpoints.

Label figures: /work/shared/reference/ivig-products.md. Gammagard Liquid's
label is in mL/kg/h; 1 mL/kg/h of a 10% liquid is 100/60 mg/kg/min.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from infusions.models import Center, Chair, Product, Protocol
from tests.factories import CenterFactory, ChairFactory, SessionFactory

pytestmark = pytest.mark.django_db

ACTIVE = {"octagam-10", "panzyga", "bivigam", "gammagard-liquid"}
AWAITING_A_LADDER = {"gamunex-c", "privigen", "flebogamma-10-dif", "asceniv"}
STAFF = ["scheduler", "nurse", "pharmacist", "admin_user"]
STANDARD_LADDER = [(1, 30), (2, 30), (4, 30), (8, 30)]


def ml_kg_h(rate: float) -> float:
    return rate * 100 / 60


def protocol(product: str, indication: str) -> Protocol:
    return Protocol.objects.get(product__code=product, indication__code=indication)


def ladder(product: str, indication: str) -> list[tuple[float, int]]:
    steps = protocol(product, indication).steps.order_by("position")
    return [(float(step.rate_mg_kg_min), step.minutes) for step in steps]


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.fixture
def persona(request: pytest.FixtureRequest):
    """The user named by the test's `persona` parameter."""
    return request.getfixturevalue(request.param)


# The shipped catalogue (data migration 0003) ---------------------------------------


def test_it_ships_four_products_ready_to_schedule():
    assert set(Product.objects.active().values_list("code", flat=True)) == ACTIVE


def test_it_ships_products_whose_labels_give_no_ladder_inactive_and_unconfirmed():
    inactive = Product.objects.filter(is_active=False)
    assert set(inactive.values_list("code", flat=True)) == AWAITING_A_LADDER
    protocols = Protocol.objects.filter(product__in=inactive)
    assert protocols.exists()
    assert not protocols.filter(ladder_confirmed=True).exists()
    assert not protocols.filter(steps__isnull=False).exists()


def test_only_active_products_with_confirmed_ladders_can_be_scheduled():
    schedulable = Protocol.objects.schedulable()
    assert set(schedulable.values_list("product__code", flat=True)) == ACTIVE
    assert not schedulable.filter(steps__isnull=True).exists()


def test_octagam_in_dermatomyositis_climbs_1_2_4_8_and_stops_at_4():
    assert ladder("octagam-10", "dermatomyositis") == STANDARD_LADDER
    assert protocol("octagam-10", "dermatomyositis").max_rate_mg_kg_min == Decimal("4")


def test_octagam_in_chronic_itp_may_reach_12():
    assert ladder("octagam-10", "chronic_itp") == STANDARD_LADDER
    assert protocol("octagam-10", "chronic_itp").max_rate_mg_kg_min == Decimal("12")


def test_octagam_caps_patients_at_risk_at_the_stricter_3_mg_kg_min():
    octagam = Product.objects.get(code="octagam-10")
    assert octagam.risk_cap_mg_kg_min == Decimal("3.0")
    assert octagam.contains_maltose is True
    assert octagam.iga_ug_per_ml == Decimal("106")
    assert octagam.vial_sizes == (2.0, 5.0, 10.0, 20.0)


def test_gammagard_rates_are_its_ml_per_kg_per_hour_label_converted():
    assert float(
        protocol("gammagard-liquid", "primary_immunodeficiency").max_rate_mg_kg_min
    ) == pytest.approx(ml_kg_h(5), abs=1e-4)
    expected = [(pytest.approx(ml_kg_h(rate), abs=1e-4), 30) for rate in (0.5, 1, 2, 3, 4)]
    assert ladder("gammagard-liquid", "primary_immunodeficiency") == expected
    assert float(protocol("gammagard-liquid", "mmn").max_rate_mg_kg_min) == pytest.approx(
        ml_kg_h(5.4), abs=1e-4
    )


def test_panzyga_maxima_differ_by_indication():
    assert ladder("panzyga", "chronic_itp") == [(1, 30), (4, 30)]
    maxima = {
        indication: protocol("panzyga", indication).max_rate_mg_kg_min
        for indication in ("chronic_itp", "primary_immunodeficiency", "cidp")
    }
    assert maxima == {"chronic_itp": 8, "primary_immunodeficiency": 14, "cidp": 12}
    assert Product.objects.get(code="panzyga").risk_cap_mg_kg_min == Decimal("3.3")


def test_bivigam_starts_at_half_and_climbs_by_0_8_every_20_minutes_to_6():
    expected = [(0.5, 10)] + [(pytest.approx(0.5 + 0.8 * n), 20) for n in range(1, 7)]
    assert ladder("bivigam", "primary_immunodeficiency") == expected
    assert protocol("bivigam", "primary_immunodeficiency").max_rate_mg_kg_min == Decimal("6")
    assert Product.objects.get(code="bivigam").risk_cap_mg_kg_min == Decimal("2")


@pytest.mark.parametrize(
    ("product", "indication", "start", "maximum"),
    [
        ("gamunex-c", "primary_immunodeficiency", "1", "8"),
        ("gamunex-c", "chronic_itp", "1", "8"),
        ("gamunex-c", "cidp", "2", "8"),
        ("privigen", "primary_immunodeficiency", "0.5", "8"),
        ("privigen", "cidp", "0.5", "8"),
        ("privigen", "chronic_itp", "0.5", "4"),
        ("flebogamma-10-dif", "primary_immunodeficiency", "1", "8"),
        ("flebogamma-10-dif", "chronic_itp", "1", "8"),
        ("asceniv", "primary_immunodeficiency", "0.5", "8"),
    ],
)
def test_unconfirmed_protocols_carry_the_labels_start_and_maximum(product, indication, start, maximum):
    shipped = protocol(product, indication)
    assert (shipped.start_rate_mg_kg_min, shipped.max_rate_mg_kg_min) == (Decimal(start), Decimal(maximum))


# Reading the catalogue ---------------------------------------------------------------


@pytest.mark.parametrize("persona", STAFF, indirect=True)
@pytest.mark.parametrize("url", ["/api/v1/products/", "/api/v1/protocols/"])
def test_staff_can_read_the_catalogue(client_for, persona, url):
    assert len(results(client_for(persona).get(url))) > 0


@pytest.mark.parametrize("url", ["/api/v1/products/", "/api/v1/protocols/", "/api/v1/products/octagam-10/"])
def test_a_patient_cannot_read_the_catalogue(client_for, patient_a, url):
    response = client_for(patient_a.user).get(url)
    assert response.status_code == 403
    assert "detail" in response.json()


@pytest.mark.parametrize("url", ["/api/v1/products/", "/api/v1/protocols/", "/api/v1/products/octagam-10/"])
def test_an_anonymous_caller_cannot_read_the_catalogue(api, url):
    assert api.get(url).status_code == 401


def test_products_come_lowest_iga_first_and_unknown_iga_last(client_for, nurse):
    codes = [product["code"] for product in results(client_for(nurse).get("/api/v1/products/"))]
    assert codes == [
        "privigen",  # 25 µg/mL
        "gammagard-liquid",  # 37
        "gamunex-c",  # 46
        "flebogamma-10-dif",  # 100
        "octagam-10",  # 106
        "asceniv",  # 200
        "bivigam",  # unknown, then by name
        "panzyga",
    ]


def test_a_product_shows_its_protocols_with_their_ladders(client_for, pharmacist):
    response = client_for(pharmacist).get("/api/v1/products/octagam-10/")
    assert response.status_code == 200
    octagam = response.json()
    assert octagam["risk_cap_mg_kg_min"] == 3.0
    protocols = {p["indication"]: p for p in octagam["protocols"]}
    assert set(protocols) == {"dermatomyositis", "chronic_itp"}
    dm = protocols["dermatomyositis"]
    assert dm["max_rate_mg_kg_min"] == 4
    assert dm["ladder_confirmed"] is True
    assert [(s["position"], s["rate_mg_kg_min"], s["minutes"]) for s in dm["steps"]] == [
        (1, 1, 30),
        (2, 2, 30),
        (3, 4, 30),
        (4, 8, 30),
    ]
    assert protocols["chronic_itp"]["max_rate_mg_kg_min"] == 12


def test_an_unknown_product_code_is_not_found(client_for, nurse):
    assert client_for(nurse).get("/api/v1/products/no-such-ivig/").status_code == 404


def test_protocols_filter_by_product_and_indication_code(client_for, scheduler):
    found = results(
        client_for(scheduler).get(
            "/api/v1/protocols/", {"product__code": "octagam-10", "indication__code": "dermatomyositis"}
        )
    )
    assert [(p["product"], p["indication"], p["max_rate_mg_kg_min"]) for p in found] == [
        ("octagam-10", "dermatomyositis", 4)
    ]
    assert [step["rate_mg_kg_min"] for step in found[0]["steps"]] == [1, 2, 4, 8]


def test_protocols_filter_by_confirmed_ladder(client_for, scheduler):
    found = results(client_for(scheduler).get("/api/v1/protocols/", {"ladder_confirmed": "false"}))
    assert {p["product"] for p in found} == AWAITING_A_LADDER


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/api/v1/products/"),
        ("put", "/api/v1/products/octagam-10/"),
        ("patch", "/api/v1/products/octagam-10/"),
        ("delete", "/api/v1/products/octagam-10/"),
        ("post", "/api/v1/protocols/"),
    ],
)
def test_the_catalogue_cannot_be_changed_through_the_api(client_for, admin_user, method, url):
    response = getattr(client_for(admin_user), method)(url, {"risk_cap_mg_kg_min": 9}, format="json")
    assert response.status_code == 405
    assert Product.objects.get(code="octagam-10").risk_cap_mg_kg_min == Decimal("3.0")


# Centers and chairs ------------------------------------------------------------------


@pytest.mark.parametrize("persona", STAFF, indirect=True)
def test_staff_can_read_centers_and_chairs(client_for, persona):
    chair = ChairFactory(name="Chair 1")
    client = client_for(persona)
    centers = results(client.get("/api/v1/centers/"))
    assert [c["name"] for c in centers] == [chair.center.name]
    assert [h["weekday"] for h in centers[0]["opening_hours"]] == [0, 1, 2, 3, 4]
    chairs = results(client.get("/api/v1/chairs/"))
    assert [(c["center"], c["name"]) for c in chairs] == [(chair.center_id, "Chair 1")]


def test_a_patient_cannot_read_centers_or_chairs(client_for, patient_a):
    ChairFactory()
    client = client_for(patient_a.user)
    assert client.get("/api/v1/centers/").status_code == 403
    assert client.get("/api/v1/chairs/").status_code == 403


def test_chairs_filter_by_center(client_for, nurse):
    wanted = ChairFactory(name="Chair 1")
    ChairFactory(name="Chair 1")
    chairs = results(client_for(nurse).get("/api/v1/chairs/", {"center": wanted.center_id}))
    assert [c["id"] for c in chairs] == [wanted.pk]


@pytest.mark.parametrize("persona", ["scheduler", "nurse", "pharmacist"], indirect=True)
def test_only_an_admin_may_add_a_chair(client_for, persona):
    center = CenterFactory()
    response = client_for(persona).post(
        "/api/v1/chairs/", {"center": center.pk, "name": "Chair 9"}, format="json"
    )
    assert response.status_code == 403
    assert not center.chairs.exists()


@pytest.mark.parametrize("persona", ["scheduler", "nurse", "pharmacist"], indirect=True)
def test_only_an_admin_may_add_or_change_a_center(client_for, persona):
    center = CenterFactory(name="North")
    client = client_for(persona)
    created = client.post("/api/v1/centers/", {"name": "South", "short_name": "S"}, format="json")
    changed = client.patch(f"/api/v1/centers/{center.pk}/", {"name": "Renamed"}, format="json")
    assert (created.status_code, changed.status_code) == (403, 403)
    assert list(Center.objects.values_list("name", flat=True)) == ["North"]


def test_an_admin_adds_a_chair(client_for, admin_user):
    center = CenterFactory()
    response = client_for(admin_user).post(
        "/api/v1/chairs/", {"center": center.pk, "name": "Chair 9"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["name"] == "Chair 9"
    assert list(center.chairs.values_list("name", "is_active")) == [("Chair 9", True)]


def test_an_admin_adds_a_center(client_for, admin_user):
    response = client_for(admin_user).post(
        "/api/v1/centers/",
        {"name": "South Infusion Center", "short_name": "South", "time_zone": "America/Chicago"},
        format="json",
    )
    assert response.status_code == 201
    south = Center.objects.get(name="South Infusion Center")
    assert (south.time_zone, south.slot_minutes) == ("America/Chicago", 15)


def test_it_refuses_a_center_in_an_unknown_time_zone(client_for, admin_user):
    response = client_for(admin_user).post(
        "/api/v1/centers/",
        {"name": "South", "short_name": "S", "time_zone": "Mars/Olympus_Mons"},
        format="json",
    )
    assert response.status_code == 400
    assert "time_zone" in response.json()
    assert not Center.objects.exists()


def test_it_refuses_a_second_chair_with_one_name_in_a_center(client_for, admin_user):
    chair = ChairFactory(name="Chair 1")
    response = client_for(admin_user).post(
        "/api/v1/chairs/", {"center": chair.center_id, "name": "Chair 1"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["non_field_errors"] == ["This center already has a chair with that name."]
    assert chair.center.chairs.count() == 1


def test_it_refuses_renaming_a_chair_to_a_name_taken_in_its_center(client_for, admin_user):
    chair = ChairFactory(name="Chair 1")
    other = ChairFactory(center=chair.center, name="Chair 2")
    response = client_for(admin_user).patch(f"/api/v1/chairs/{other.pk}/", {"name": "Chair 1"}, format="json")
    assert response.status_code == 400
    other.refresh_from_db()
    assert other.name == "Chair 2"


def test_an_admin_may_reuse_a_chair_name_in_another_center(client_for, admin_user):
    ChairFactory(name="Chair 1")
    other_center = CenterFactory()
    response = client_for(admin_user).post(
        "/api/v1/chairs/", {"center": other_center.pk, "name": "Chair 1"}, format="json"
    )
    assert response.status_code == 201
    assert Chair.objects.filter(name="Chair 1").count() == 2


def test_deleting_a_center_that_has_chairs_is_a_conflict_not_a_crash(client_for, admin_user):
    chair = ChairFactory()
    response = client_for(admin_user).delete(f"/api/v1/centers/{chair.center_id}/")
    assert response.status_code == 409
    assert "detail" in response.json()
    assert Center.objects.filter(pk=chair.center_id).exists()
    assert chair.center.opening_hours.count() == 5


def test_deleting_a_chair_that_has_sessions_is_a_conflict_not_a_crash(client_for, admin_user):
    session = SessionFactory()
    response = client_for(admin_user).delete(f"/api/v1/chairs/{session.chair_id}/")
    assert response.status_code == 409
    assert Chair.objects.filter(pk=session.chair_id).exists()


def test_an_admin_deletes_an_empty_center(client_for, admin_user):
    center = CenterFactory()
    response = client_for(admin_user).delete(f"/api/v1/centers/{center.pk}/")
    assert response.status_code == 204
    assert not Center.objects.exists()
