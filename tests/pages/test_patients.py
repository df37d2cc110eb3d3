"""/patients/ (search) and /patients/<id>/ (the patient page): staff only, fixed queries."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from infusions.models import Reaction
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
# Session, user, roles, the patient, one query per kind of record (weights, plans,
# sessions, reactions) and, for a diabetic patient, the maltose products.
PATIENT_PAGE_QUERIES = 9
# Session, user, roles, the count and the page of patients with their next sessions.
SEARCH_QUERIES = 5


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


def client_as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    """The page's visible text with tags removed and spaces collapsed."""
    body = re.sub(r"<script.*?</script>", " ", response.content.decode(), flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def at(day: str, time: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=NEW_YORK)


# -- search -----------------------------------------------------------------------


def test_search_finds_patients_by_part_of_a_name_whatever_the_case(scheduler):
    wanted = PatientFactory(family_name="Okonkwo", given_name="Ada")
    PatientFactory(family_name="Smith", given_name="Bea")

    page = text(client_as(scheduler).get("/patients/", {"q": "konk"}))

    assert "Okonkwo, Ada" in page and wanted.mrn in page
    assert "Smith" not in page


def test_search_finds_a_patient_by_mrn_in_any_case(nurse):
    wanted = PatientFactory(mrn="DM00042", family_name="Reyes")
    PatientFactory(mrn="DM00043", family_name="Other")

    response = client_as(nurse).get("/patients/", {"q": "dm00042"})

    assert "Reyes" in text(response) and "Other" not in text(response)
    assert f'href="/patients/{wanted.pk}/"' in response.content.decode()


def test_results_show_birth_date_and_next_session_in_the_centers_time(pharmacist):
    patient = PatientFactory(family_name="Lindqvist", date_of_birth=dt.date(1962, 3, 9))
    chair = ChairFactory(name="C4")
    SessionFactory(patient=patient, chair=chair, start=at("2026-11-20", "09:00"), status="completed")
    upcoming = SessionFactory(patient=patient, chair=chair, start=at("2026-12-07", "09:30"))
    SessionFactory(patient=patient, chair=chair, start=at("2026-12-08", "08:00"), status="cancelled")
    SessionFactory(patient=patient, chair=chair, start=at("2027-01-04", "09:00"))

    response = client_as(pharmacist).get("/patients/", {"q": "lindqvist"})

    page = text(response)
    assert "1962-03-09" in page
    assert "Mon 7 Dec 2026, 09:30 EST America/New_York" in page
    assert f'href="/sessions/{upcoming.pk}/"' in response.content.decode()


def test_a_search_with_no_match_says_so(scheduler):
    PatientFactory(family_name="Smith")
    assert "No patient matches “zzz”" in text(client_as(scheduler).get("/patients/", {"q": "zzz"}))


def test_search_takes_the_same_queries_for_few_or_many_patients(scheduler, django_assert_max_num_queries):
    client = client_as(scheduler)
    for n in range(2):
        SessionFactory(patient=PatientFactory(family_name=f"Few{n}"), start=at("2026-12-07", "09:00"))
    with django_assert_max_num_queries(SEARCH_QUERIES):
        assert client.get("/patients/").status_code == 200
    for n in range(30):
        patient = PatientFactory(family_name=f"Many{n}")
        SessionFactory(patient=patient, start=at("2026-12-07", "09:00") + dt.timedelta(days=n))
    with django_assert_max_num_queries(SEARCH_QUERIES):
        response = client.get("/patients/")
    assert "Many29" in text(response)


@pytest.mark.parametrize("persona", ["scheduler", "nurse", "pharmacist", "admin_user"])
def test_every_staff_role_can_search(request, persona):
    assert client_as(request.getfixturevalue(persona)).get("/patients/").status_code == 200


# -- the patient page ----------------------------------------------------------------


@pytest.fixture
def flagged_patient(db):
    return PatientFactory(
        family_name="Ferreira",
        given_name="Lucia",
        mrn="FLAG0001",
        sex="female",
        height_cm=Decimal("162.0"),
        time_zone="America/Chicago",
        iga_status="anti_iga",
        thrombosis_risk=True,
        renal_risk=True,
        diabetes=True,
        tolerated_max_rate_mg_kg_min=Decimal("1.500"),
    )


def add_reaction(session, *, at_, severity="moderate", action="paused", cap=None, **fields) -> Reaction:
    return Reaction.objects.create(
        session=session, at=at_, severity=severity, action=action, cap_set_mg_kg_min=cap, **fields
    )


def test_the_header_shows_who_the_patient_is(scheduler, flagged_patient):
    page = text(client_as(scheduler).get(f"/patients/{flagged_patient.pk}/"))

    assert "Ferreira, Lucia" in page
    for fact in ("FLAG0001", "1970-05-17", "Female", "162.0 cm", "America/Chicago"):
        assert fact in page


def test_flags_are_shown_in_words(nurse, flagged_patient):
    page = text(client_as(nurse).get(f"/patients/{flagged_patient.pk}/"))

    assert "IgA deficient with anti-IgA antibodies" in page
    assert "Thrombosis risk" in page and "Renal risk" in page
    assert "Diabetes: maltose warning" in page
    assert "The maltose in Octagam 10% falsely raises GDH-PQQ glucose-meter readings" in page


def test_a_patient_without_flags_says_so(nurse, patient_a):
    page = text(client_as(nurse).get(f"/patients/{patient_a.pk}/"))
    assert "No IgA, thrombosis, renal or diabetes flags recorded." in page
    assert "Tolerated rate cap None" in page


def test_the_tolerated_cap_names_the_reaction_that_set_it(nurse, flagged_patient):
    chair = ChairFactory(name="C2")
    session = SessionFactory(
        patient=flagged_patient, chair=chair, start=at("2026-11-16", "09:00"), status="completed"
    )
    add_reaction(session, at_=at("2026-11-16", "10:40"), severity="mild", action="slowed")
    add_reaction(session, at_=at("2026-11-16", "11:05"), cap=Decimal("1.500"))

    response = client_as(nurse).get(f"/patients/{flagged_patient.pk}/")

    page = text(response)
    assert "1.5 mg/kg/min" in page
    assert "Set on Mon 16 Nov 2026, 11:05 EST America/New_York after a moderate reaction" in page
    assert f'href="/sessions/{session.pk}/"' in response.content.decode()


def test_weights_are_charted_with_axes_and_a_table(nurse, patient_b):
    PatientWeightFactory(patient=patient_b, weight_kg=Decimal("74.5"), measured_on=dt.date(2026, 9, 1))
    PatientWeightFactory(patient=patient_b, weight_kg=Decimal("72.0"), measured_on=dt.date(2026, 10, 1))

    response = client_as(nurse).get(f"/patients/{patient_b.pk}/")

    html = response.content.decode()
    chart = html[html.index('data-testid="weight-chart"') : html.index("</svg>")]
    assert chart.count("<circle") == 3
    assert "<polyline" in chart
    assert "Weight (kg)" in chart and "Date measured" in chart
    assert "1 Sep 2026" in chart and "1 Nov 2026" in chart
    assert "3 weight(s) from 74.5 kg on 1 Sep 2026 to 70.0 kg on 1 Nov 2026" in chart
    table = text(response).split("Weights, newest first")[1]
    assert table.index("2026-11-01 70.0") < table.index("2026-10-01 72.0") < table.index("2026-09-01 74.5")


def test_a_patient_with_no_weight_has_no_chart(nurse):
    patient = PatientFactory()
    response = client_as(nurse).get(f"/patients/{patient.pk}/")
    assert "<svg" not in response.content.decode()
    assert "No weight recorded yet" in text(response)


@pytest.mark.parametrize(("persona", "shown"), [("nurse", True), ("scheduler", True), ("pharmacist", False)])
def test_the_record_weight_form_is_for_those_who_may_add_weights(request, patient_a, persona, shown):
    response = client_as(request.getfixturevalue(persona)).get(f"/patients/{patient_a.pk}/")
    html = response.content.decode()
    assert ('id="weight-form"' in html) is shown
    if shown:
        assert f'data-url="/api/v1/patients/{patient_a.pk}/weights/"' in html
        assert '<label for="weight-kg">Weight (kg)</label>' in html
        assert '<label for="weight-measured-on">Measured on</label>' in html


def test_plans_are_listed_with_links_and_a_new_plan_link(scheduler, patient_a):
    center = CenterFactory()
    plan = PlanFactory(patient=patient_a, center=center, status="active")
    every_3_weeks = PlanFactory(
        patient=patient_a,
        center=center,
        interval="every_n_days",
        interval_days=21,
        dose_g_per_kg=Decimal("1"),
    )

    response = client_as(scheduler).get(f"/patients/{patient_a.pk}/")

    html, page = response.content.decode(), text(response)
    assert "Octagam 10% Dermatomyositis 2 over 2 days Every 4 weeks, 6 courses 2026-12-07 Active" in page
    assert "Every 21 days" in page and "Draft" in page
    assert f'href="/plans/{plan.pk}/"' in html and f'href="/plans/{every_3_weeks.pk}/"' in html
    assert f'href="/plans/new/?patient={patient_a.pk}"' in html


def test_sessions_are_split_into_upcoming_and_past_in_local_time(scheduler, patient_a):
    chair = ChairFactory(name="C7")
    past = SessionFactory(patient=patient_a, chair=chair, start=at("2026-11-02", "09:00"), status="completed")
    ahead = SessionFactory(patient=patient_a, chair=chair, start=at("2026-12-14", "10:15"), course=2, day=1)

    response = client_as(scheduler).get(f"/patients/{patient_a.pk}/")

    page = text(response)
    upcoming, earlier = page.split("Upcoming", 1)[1].split("Past", 1)
    assert "Mon 14 Dec 2026, 10:15 EST–16:15 America/New_York" in upcoming
    assert f"C7 2, day 1 Scheduled Session {ahead.pk}" in upcoming
    assert "Mon 2 Nov 2026, 09:00 EST" in earlier and "Completed" in earlier
    assert f'href="/sessions/{past.pk}/"' in response.content.decode()


def test_reactions_show_severity_and_what_was_done_with_corrections_in_force(nurse, patient_a):
    session = SessionFactory(patient=patient_a, start=at("2026-11-02", "09:00"), status="completed")
    wrong = add_reaction(session, at_=at("2026-11-02", "10:00"), severity="mild", action="slowed")
    add_reaction(
        session,
        at_=at("2026-11-02", "10:00"),
        severity="moderate",
        action="paused",
        symptoms=["chills", "blood_pressure_change"],
        symptom_notes="felt cold",
        amends=wrong,
        reason="severity was moderate",
    )
    add_reaction(
        session, at_=at("2026-11-02", "11:30"), severity="severe", action="stopped", symptoms=["chest_pain"]
    )

    page = text(client_as(nurse).get(f"/patients/{patient_a.pk}/")).split("Reactions", 1)[1]

    assert (
        "Moderate chills, blood pressure change; felt cold Paused (correction: severity was moderate)" in page
    )
    assert "Severe chest pain Stopped for good" in page
    assert "Mild" not in page


def test_a_patient_can_open_neither_their_own_staff_page_nor_anothers(patient_a, patient_b):
    client = client_as(patient_a.user)
    for address in (f"/patients/{patient_a.pk}/", f"/patients/{patient_b.pk}/", "/patients/"):
        response = client.get(address)
        assert response.status_code == 403
        assert patient_b.family_name not in response.content.decode()


def test_anonymous_visitors_are_sent_to_log_in(patient_a):
    response = Client().get(f"/patients/{patient_a.pk}/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_an_unknown_patient_is_a_404(nurse):
    assert client_as(nurse).get("/patients/999999/").status_code == 404


def fill(patient, n: int) -> None:
    """n plans, sessions (half past, half ahead, at two centers), weights and reactions."""
    for k in range(n):
        center = CenterFactory()
        plan = PlanFactory(patient=patient, center=center)
        chair = ChairFactory(center=center)
        start = at("2026-11-02", "09:00") + dt.timedelta(days=7 * k - 7 * (n // 2))
        session = SessionFactory(patient=patient, chair=chair, plan=plan, start=start, course=k + 1, day=1)
        PatientWeightFactory(
            patient=patient,
            weight_kg=Decimal("70") + k,
            measured_on=dt.date(2026, 1, 1) + dt.timedelta(days=9 * k),
        )
        add_reaction(session, at_=start + dt.timedelta(hours=1), cap=Decimal("2.000"))


def test_the_patient_page_takes_the_same_queries_for_few_or_many_records(
    scheduler, django_assert_max_num_queries
):
    client = client_as(scheduler)
    few, many = PatientFactory(diabetes=True), PatientFactory(diabetes=True)
    fill(few, 1)
    fill(many, 12)

    with django_assert_max_num_queries(PATIENT_PAGE_QUERIES):
        assert client.get(f"/patients/{few.pk}/").status_code == 200
    with django_assert_max_num_queries(PATIENT_PAGE_QUERIES):
        response = client.get(f"/patients/{many.pk}/")
    assert text(response).count("Session ") >= 24  # every session and reaction is listed
