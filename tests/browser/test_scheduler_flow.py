"""In a real browser: a scheduler finds a patient, enters a plan with its live dose preview,
books the series and finds the first session on the day board; and, when a course cannot
be placed, picks one of the alternatives offered and books the series with it.

The preview is checked against the dose-calculations endpoint's own answer for the same
inputs, not against numbers copied here.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from playwright.sync_api import Page, expect
from rest_framework.test import APIClient

from infusions.models import ClosedDate, InfusionPlan, InfusionSession
from tests.browser.helpers import log_in, screenshot
from tests.chairside_support import DAY, make_center
from tests.factories import PatientFactory, PatientWeightFactory, PlanFactory, UserFactory

PASSWORD = "a-long-passphrase"
SESSION_LINK = re.compile(r"^/sessions/(\d+)/$")


def dose_service(user, **body) -> dict:
    """What POST /api/v1/dose-calculations/ answers for these inputs."""
    client = APIClient()
    client.force_authenticate(user)
    response = client.post("/api/v1/dose-calculations/", body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def number(value: float) -> str:
    """A number as the page's script writes it (70, 65.6)."""
    return f"{value:g}"


def booked_ids(page: Page) -> list[int]:
    links = page.locator("#booked-sessions a")
    return [
        int(SESSION_LINK.match(href).group(1))
        for href in links.evaluate_all("(as) => as.map((a) => a.getAttribute('href'))")
    ]


def test_a_scheduler_plans_and_books_a_series_and_finds_it_on_the_day_board(page: Page, live_server):
    center = make_center()
    scheduler = UserFactory(username="sched", role="scheduler", password=PASSWORD)
    patient = PatientFactory(given_name="Carmen", family_name="Castellano", mrn="MRN-C-3003")
    PatientWeightFactory(patient=patient, weight_kg=Decimal("82.0"))
    PatientFactory(given_name="Carla", family_name="Castellano", mrn="MRN-C-3004")  # a namesake

    log_in(page, live_server, "sched", PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    page.get_by_label("Search by name or MRN").fill("MRN-C-3003")
    page.get_by_role("button", name="Search").click()
    results = page.get_by_test_id("patient-results")
    expect(results.locator("tbody tr")).to_have_count(1)
    results.get_by_role("link", name="Castellano, Carmen").click()
    expect(page.get_by_test_id("patient-mrn")).to_have_text("MRN-C-3003")

    page.get_by_role("link", name="New plan").click()
    expect(page).to_have_url(re.compile(rf"/plans/new/\?patient={patient.pk}$"))
    page.get_by_label("Indication", exact=True).select_option(label="Dermatomyositis")
    page.get_by_label("Product", exact=True).select_option(label="Octagam 10%")
    page.get_by_label("Dose (g/kg per course)", exact=True).fill("1.6")
    page.get_by_label("Days per course", exact=True).fill("2")
    page.get_by_label("Interval", exact=True).select_option(label="Every 2 weeks")
    page.get_by_label("Start date", exact=True).fill(DAY.isoformat())
    page.get_by_label("Courses", exact=True).fill("2")
    page.get_by_label("Preferred start time", exact=True).fill("10:30")
    page.get_by_label("Center", exact=True).select_option(label=center.name)

    expected = dose_service(
        scheduler,
        patient=patient.pk,
        product="octagam-10",
        indication="dermatomyositis",
        dose_g_per_kg="1.6",
        days=2,
        dosing_weight_method="actual",
        center=center.pk,
    )
    grams, chair_minutes = number(expected["grams_per_day"]), expected["chair_minutes"]
    preview = page.locator("#dose-preview")
    expect(preview.get_by_role("status")).to_have_text(f"{grams} g a day, {chair_minutes} chair minutes.")
    expect(preview.get_by_test_id("preview-grams")).to_have_text(re.compile(rf"^{re.escape(grams)} g\b"))
    expect(preview.get_by_test_id("preview-chair-minutes")).to_contain_text(f"{chair_minutes} min")
    screenshot(page, "plan-new")

    page.get_by_role("button", name="Save plan").click()
    expect(page).to_have_url(re.compile(r"/plans/\d+/\?saved=1$"))
    plan = InfusionPlan.objects.get(patient=patient)
    assert (plan.dose_g_per_kg, plan.days_per_course, plan.interval, plan.course_count) == (
        Decimal("1.60"),
        2,
        "biweekly",
        2,
    )
    assert (plan.start_date, plan.preferred_start_time, plan.center_id) == (DAY, dt.time(10, 30), center.pk)
    expect(page.get_by_role("status").filter(has_text="Plan saved.")).to_be_visible()

    page.get_by_role("button", name="Book series").click()
    booked = page.locator("#booked-sessions")
    expect(booked.get_by_role("link")).to_have_count(4)  # 2 courses × 2 days
    expect(page.locator("#book-status")).to_have_text("Booked 4 sessions.")
    sessions = list(plan.sessions.select_related("chair").order_by("start"))
    assert sorted(booked_ids(page)) == sorted(s.pk for s in sessions)
    first = sessions[0]
    local = first.start.astimezone(center.zone)
    assert (local.date(), local.time()) == (DAY, dt.time(10, 30)), "the series starts when the plan says"
    expect(booked.get_by_role("link").first).to_have_text(
        f"Course 1, day 1: {local:%a} {local.day} {local:%b %Y}, {local:%H:%M} {local.tzname()}"
    )
    expect(page.get_by_test_id("plan-status")).to_have_text("Active")
    screenshot(page, "plan-booked")

    page.goto(f"/board/?center={center.pk}&date={local.date().isoformat()}")
    block = page.get_by_test_id(f"session-{first.pk}")
    expect(block).to_be_visible()
    expect(block).to_contain_text("10:30")
    expect(block).to_contain_text("Castellano, C.")
    expect(
        page.get_by_test_id(f"chair-{first.chair_id}").get_by_test_id(f"session-{first.pk}")
    ).to_be_visible()
    screenshot(page, "day-board")


def test_a_course_that_cannot_be_placed_offers_alternatives_and_the_picked_one_is_booked(
    page: Page, live_server
):
    center = make_center()
    UserFactory(username="sched", role="scheduler", password=PASSWORD)
    patient = PatientFactory(given_name="Ewa", family_name="Eriksen")
    PatientWeightFactory(patient=patient)
    # Two 2-day courses from Monday 1 March 2027; the center is closed the week course 2 falls in.
    closed_from = dt.date(2027, 3, 29)
    ClosedDate.objects.bulk_create(
        [ClosedDate(center=center, date=closed_from + dt.timedelta(days=n)) for n in range(7)]
    )
    plan = PlanFactory(patient=patient, center=center, start_date=dt.date(2027, 3, 1), course_count=2)

    log_in(page, live_server, "sched", PASSWORD)
    page.goto(f"/plans/{plan.pk}/")
    page.get_by_role("button", name="Book series").click()

    conflict = page.get_by_test_id("conflict")
    expect(conflict).to_have_count(1)
    expect(conflict.locator("legend")).to_have_text("Course 2, day 1: Mon 29 Mar 2027")
    expect(conflict).to_contain_text("The center is closed that day.")
    expect(page.locator("#book-status")).to_contain_text("Nothing was booked.")
    assert not InfusionSession.objects.filter(plan=plan).exists()
    choices = conflict.get_by_role("radio")
    assert choices.count() >= 2, "more than one alternative to pick from"
    expect(choices.first).to_be_checked()
    screenshot(page, "plan-conflicts")

    picked = choices.last
    picked_label = conflict.locator(f"label[for='{picked.get_attribute('id')}']").inner_text().strip()
    picked.check()
    page.get_by_role("button", name="Book with these times").click()

    booked = page.locator("#booked-sessions")
    expect(booked.get_by_role("link")).to_have_count(4)
    when = picked_label.split(" (")[0]  # "Mon 5 Apr 2027, 09:00 EDT"
    expect(booked.get_by_role("link", name=f"Course 2, day 1: {when}")).to_be_visible()
    expect(page.get_by_test_id("conflict")).to_be_hidden()
    screenshot(page, "plan-booked-with-choice")

    course_2 = InfusionSession.objects.select_related("center", "chair").get(plan=plan, course=2, day=1)
    local = course_2.start.astimezone(center.zone)
    assert local.date() > closed_from + dt.timedelta(days=6)
    assert f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M}" in picked_label
    assert course_2.chair.name in picked_label


def test_once_the_series_is_booked_the_plan_page_stops_saying_none_are_booked(page: Page, live_server):
    center = make_center()
    UserFactory(username="sched", role="scheduler", password=PASSWORD)
    patient = PatientFactory()
    PatientWeightFactory(patient=patient)
    plan = PlanFactory(patient=patient, center=center, start_date=DAY, course_count=1)

    log_in(page, live_server, "sched", PASSWORD)
    page.goto(f"/plans/{plan.pk}/")
    sessions_card = page.locator("#plan-sessions")
    expect(sessions_card).to_contain_text("No sessions booked for this plan yet.")
    page.get_by_role("button", name="Book series").click()
    expect(page.locator("#booked-sessions").get_by_role("link")).to_have_count(2)

    # The card is read again from the server: it now lists the booked sessions.
    expect(sessions_card).not_to_contain_text("No sessions booked for this plan yet.")
    expect(sessions_card.get_by_role("link", name=re.compile(r"^Session \d+$"))).to_have_count(2)
