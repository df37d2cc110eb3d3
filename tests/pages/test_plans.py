"""/plans/new/?patient=<id> (the plan form) and /plans/<id>/ (a plan and its series)."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from infusions.api.plans import PlanSerializer
from infusions.scheduling.series import plan_book
from tests.factories import (
    CenterFactory,
    ChairFactory,
    PatientFactory,
    PatientWeightFactory,
    PlanFactory,
    SessionFactory,
)

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
# Session, user, roles, the patient, the protocols, the centers and the patient's
# completed sessions (for the long-observation note).
PLAN_FORM_QUERIES = 7
# Session, user, roles, the plan with its patient, center and protocol, the dose inputs
# (ladder steps, weights, completed sessions), the plan's sessions, the courses still
# to book, and the center's chairs for the booking panel.
PLAN_PAGE_QUERIES = 10


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def center(db):
    center = CenterFactory(name="Riverside Infusion")
    for n in (1, 2):
        ChairFactory(center=center, name=f"C{n}")
    return center


def client_as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    body = re.sub(r"<(script|template).*?</\1>", " ", response.content.decode(), flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


class Fields(HTMLParser):
    """Labels (by the id they point at) and form controls (by id) of a page."""

    def __init__(self):
        super().__init__()
        self.labels: dict[str, str] = {}
        self.controls: dict[str, dict] = {}
        self.options: dict[str, list[dict]] = {}
        self._label: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label" and "for" in attrs:
            self._label = attrs["for"]
            self.labels[self._label] = ""
        if tag in ("input", "select", "textarea") and "id" in attrs:
            self.controls[attrs["id"]] = attrs
        if tag == "select":
            self._select = attrs.get("name")
            self.options[self._select] = []
        if tag == "option" and self._select:
            self.options[self._select].append(attrs)

    def handle_endtag(self, tag):
        if tag == "label":
            self._label = None
        if tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._label:
            self.labels[self._label] += data

    def labelled(self) -> dict[str, str]:
        """Label text -> the name of the control it labels."""
        return {
            " ".join(text.split()): self.controls[for_id].get("name")
            for for_id, text in self.labels.items()
            if for_id in self.controls
        }


def parse(response) -> Fields:
    fields = Fields()
    fields.feed(response.content.decode())
    return fields


def page_data(response, element_id: str) -> dict:
    html = response.content.decode()
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


# -- the plan form -------------------------------------------------------------------------


def test_the_form_names_the_patient_and_labels_every_field_the_plans_api_takes(scheduler, patient_a, center):
    response = client_as(scheduler).get("/plans/new/", {"patient": patient_a.pk})

    assert response.status_code == 200
    assert f"New plan for {patient_a.given_name} {patient_a.family_name}" in text(response)
    labelled = parse(response).labelled()
    assert labelled == {
        "Indication": "indication",
        "Product": "product",
        "Dose (g/kg per course)": "dose_g_per_kg",
        "Days per course": "days_per_course",
        "Dosing weight": "dosing_weight_method",
        "Interval": "interval",
        "Every N days": "interval_days",
        "Start date": "start_date",
        "Courses": "course_count",
        "Status": "status",
        "Center": "center",
        "Preferred start time": "preferred_start_time",
        "Time flexibility (± minutes)": "time_flexibility_minutes",
        "Shift window (days)": "window_days",
    }
    writable = {name for name, field in PlanSerializer().fields.items() if not field.read_only}
    html = response.content.decode()
    # The patient is fixed by the page; premedication orders are rows added from a template.
    assert f'<input type="hidden" name="patient" value="{patient_a.pk}">' in html
    assert writable == {*labelled.values(), "patient", "premedication"}
    for label in ("Drug", "Premedication dose", "Route", "Minutes before start"):
        assert f">{label}</label>" in html
    assert 'id="dose-preview"' in html


def test_the_form_starts_from_the_usual_dermatomyositis_plan(scheduler, patient_a, center):
    fields = parse(client_as(scheduler).get("/plans/new/", {"patient": patient_a.pk}))

    def selected(name):
        return next(o["value"] for o in fields.options[name] if "selected" in o)

    assert (selected("indication"), selected("product")) == ("dermatomyositis", "octagam-10")
    values = {c["name"]: c.get("value") for c in fields.controls.values() if c.get("name")}
    assert values["dose_g_per_kg"] == "2.00" and values["days_per_course"] == "2"
    assert selected("interval") == "every_4_weeks" and values["course_count"] == "6"
    assert values["preferred_start_time"] == "09:00" and values["start_date"] == "2026-12-02"
    assert selected("center") == str(center.pk)


def test_only_plannable_products_are_offered_each_with_its_indications(scheduler, patient_a, center):
    fields = parse(client_as(scheduler).get("/plans/new/", {"patient": patient_a.pk}))

    products = {o["value"]: set(o["data-indications"].split()) for o in fields.options["product"]}
    assert products["octagam-10"] == {"dermatomyositis", "chronic_itp"}
    assert "cidp" in products["panzyga"]
    # Inactive products (no confirmed ladder) cannot be planned.
    assert "gamunex-c" not in products and "privigen" not in products


def test_the_preview_knows_a_first_infusion_gets_the_long_observation(scheduler, patient_a, center):
    response = client_as(scheduler).get("/plans/new/", {"patient": patient_a.pk})
    data = page_data(response, "plan-form-data")
    assert data["patient"] == patient_a.pk
    assert data["long_observation"]["octagam-10"] == "a first infusion"
    assert data["centers"][str(center.pk)] == {"zone": "America/New_York", "after": 30, "after_first": 60}


@pytest.mark.parametrize(("persona", "note"), [("scheduler", False), ("admin_user", False), ("nurse", True)])
def test_staff_who_may_not_save_see_the_form_with_a_note(request, patient_a, center, persona, note):
    response = client_as(request.getfixturevalue(persona)).get("/plans/new/", {"patient": patient_a.pk})
    assert response.status_code == 200
    assert ("Only schedulers and administrators save plans" in text(response)) is note


def test_the_form_needs_a_known_patient(scheduler, patient_a):
    client = client_as(scheduler)
    assert client.get("/plans/new/").status_code == 400
    assert client.get("/plans/new/", {"patient": "abc"}).status_code == 400
    assert client.get("/plans/new/", {"patient": 999999}).status_code == 404


def test_patients_cannot_open_the_plan_form(patient_a):
    response = client_as(patient_a.user).get("/plans/new/", {"patient": patient_a.pk})
    assert response.status_code == 403


def test_the_form_takes_the_same_queries_for_a_new_or_a_long_treated_patient(
    scheduler, center, django_assert_max_num_queries
):
    client = client_as(scheduler)
    new = PatientWeightFactory().patient
    treated = PatientWeightFactory().patient
    chair = center.chairs.first()
    for week in range(12):
        plan = PlanFactory(patient=treated, center=center)
        start = dt.datetime(2026, 6, 1, 14, tzinfo=dt.UTC) + dt.timedelta(weeks=week)
        SessionFactory(patient=treated, plan=plan, chair=chair, start=start, status="completed")

    for patient in (new, treated):
        with django_assert_max_num_queries(PLAN_FORM_QUERIES):
            assert client.get("/plans/new/", {"patient": patient.pk}).status_code == 200


# -- a plan ------------------------------------------------------------------------------


@pytest.fixture
def plan(patient_a, center):
    return PlanFactory(
        patient=patient_a,
        center=center,
        start_date=dt.date(2027, 3, 1),
        course_count=2,
        premedication=[{"drug": "cetirizine", "dose": "10 mg", "route": "oral", "minutes_before": 45}],
    )


def test_the_plan_page_shows_the_summary_and_the_day_dose(nurse, plan):
    response = client_as(nurse).get(f"/plans/{plan.pk}/")

    page = text(response)
    assert f"Plan {plan.pk}: Octagam 10% for Dermatomyositis Draft" in page
    assert "2 g/kg per course over 2 days" in page and "Every 4 weeks" in page
    assert "2 from Mon 1 Mar 2027" in page and "Riverside Infusion" in page
    assert re.search(r"09:00 America/New_York ?, ± 60 min", page)
    assert "cetirizine 10 mg oral, 45 min before" in page
    # patient_a weighs 70 kg: the worked example, with a first infusion's 60-minute observation.
    assert "Day dose 70 g" in page and "Vials 3 × 20 g, 1 × 10 g" in page
    assert "Maximum rate 168 mL/h (4 mg/kg/min)" in page
    assert "Chair time 390 min" in page
    assert "3 60 227.5 4 168" in page  # the last ladder step: from minute 60 for 227.5 min


def test_a_plan_without_a_weight_says_why_there_is_no_dose(nurse, center):
    plan = PlanFactory(patient=PatientFactory(), center=center)
    assert "No dose: The patient has no recorded weight." in text(client_as(nurse).get(f"/plans/{plan.pk}/"))


def test_the_plan_page_lists_its_sessions_in_the_centers_time(scheduler, plan):
    sessions = plan_book(plan=plan)

    response = client_as(scheduler).get(f"/plans/{plan.pk}/")

    page, html = text(response), response.content.decode()
    assert "Mon 1 Mar 2027, 09:00 EST–15:30 America/New_York" in page
    assert "Mon 29 Mar 2027, 09:00 EDT" in page
    assert all(f'href="/sessions/{s.pk}/"' in html for s in sessions)
    # Everything is booked: nothing left to book from here.
    assert 'id="book-series"' not in html
    assert "Every course of this plan is booked." in page


@pytest.mark.parametrize(
    ("persona", "can_book"),
    [("scheduler", True), ("admin_user", True), ("nurse", False), ("pharmacist", False)],
)
def test_only_schedulers_and_admins_get_the_book_series_button(request, plan, persona, can_book):
    response = client_as(request.getfixturevalue(persona)).get(f"/plans/{plan.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert (">Book series</button>" in html) is can_book
    if can_book:
        data = page_data(response, "plan-page-data")
        assert data["book_url"] == f"/api/v1/plans/{plan.pk}/book/"
        assert data["zone"] == "America/New_York"
        assert sorted(data["chairs"].values()) == ["C1", "C2"]
        assert data["reasons"]["center_closed"] == "The center is closed that day."
        assert 'id="booked-sessions"' in html and 'id="book-conflicts"' in html


def test_a_cancelled_plan_cannot_be_booked_from_its_page(scheduler, plan):
    plan.status = "cancelled"
    plan.save()
    response = client_as(scheduler).get(f"/plans/{plan.pk}/")
    assert ">Book series</button>" not in response.content.decode()
    assert "The plan is cancelled." in text(response)


def test_patients_cannot_open_a_plan_page_even_their_own(plan, patient_a):
    assert client_as(patient_a.user).get(f"/plans/{plan.pk}/").status_code == 403
    assert Client().get(f"/plans/{plan.pk}/").status_code == 302


def test_an_unknown_plan_is_a_404(scheduler):
    assert client_as(scheduler).get("/plans/999999/").status_code == 404


def test_the_plan_page_takes_the_same_queries_for_few_or_many_sessions(
    scheduler, patient_a, center, django_assert_max_num_queries
):
    client = client_as(scheduler)
    few = PlanFactory(patient=patient_a, center=center, start_date=dt.date(2027, 1, 4), course_count=1)
    many = PlanFactory(patient=patient_a, center=center, start_date=dt.date(2027, 3, 1), course_count=12)
    plan_book(plan=few)
    plan_book(plan=many)
    for session in many.sessions.all()[:3]:
        session.status = "completed"
        session.save()
    PatientWeightFactory(patient=patient_a, weight_kg=Decimal("71.0"), measured_on=dt.date(2026, 11, 20))

    for plan in (few, many):
        with django_assert_max_num_queries(PLAN_PAGE_QUERIES):
            response = client.get(f"/plans/{plan.pk}/")
        assert response.status_code == 200
    assert text(response).count("Scheduled") >= 21
