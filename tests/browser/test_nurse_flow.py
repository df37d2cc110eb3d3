"""In a real browser: a nurse runs today's booked session from the day board to completion,
climbing the rate ladder with the server's clock moved between steps, and the rate form
works on the chairside tablet.

The expected rates, limit and refusal come from the chairside services themselves (the
planned ladder at the patient's dosing weight, the effective maximum), not from numbers
copied here.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from infusions import chairside
from infusions.models import InfusionSession
from infusions.scheduling.booking import session_book
from tests.browser.helpers import TABLET, inside_viewport, log_in, screenshot, server_clock, sideways_overflow
from tests.chairside_support import DAY, START, make_center, running_session
from tests.factories import PatientFactory, PatientWeightFactory, PlanFactory, UserFactory

PASSWORD = "a-long-passphrase"


@pytest.fixture
def clock():
    """The server's clock at 09:00 New York on the session's day (a Monday), ticking."""
    with server_clock(START) as traveller:
        yield traveller


@pytest.fixture
def patient():
    patient = PatientFactory(given_name="Dora", family_name="Delacroix", mrn="MRN-D-4004")
    PatientWeightFactory(patient=patient)  # 70 kg: Octagam 10% for DM climbs 42 → 84 → 168 mL/h
    return patient


@pytest.fixture
def nurse():
    return UserFactory(username="nurse", role="nurse", password=PASSWORD)


@pytest.fixture
def booked(clock, patient) -> InfusionSession:
    """Octagam 10% for dermatomyositis, booked a week ahead for 09:00 today."""
    center = make_center()
    plan = PlanFactory(patient=patient, center=center)
    clock.move_to(START - dt.timedelta(days=7))
    session = session_book(patient=patient, center=center, start=START, plan=plan)
    clock.move_to(START)
    return session


def ladder_and_limit(session: InfusionSession) -> tuple[list[dict], chairside.RateLimit]:
    """The planned ladder in mL/h and the effective maximum, as the rate checks compute them."""
    session = InfusionSession.objects.select_related("patient", "plan__protocol__product").get(pk=session.pk)
    weight = chairside.session_dosing_weight(session)
    return chairside.planned_ladder_rows(session, weight), chairside.effective_limit(session, weight)


def full_dose_minutes(session: InfusionSession) -> float:
    """How long the booked ladder takes to give the day's dose."""
    last = max(session.ladder, key=lambda step: step["start_minute"])
    return last["start_minute"] + last["minutes"]


def log_rate(page: Page, ml_per_hour: float) -> None:
    page.get_by_label("Rate (mL/h)").fill(f"{ml_per_hour:.1f}")
    page.get_by_role("button", name="Log rate").click()


def log_vitals(page: Page, *, systolic: str, diastolic: str) -> None:
    for label, value in (
        ("Systolic (mmHg)", systolic),
        ("Diastolic (mmHg)", diastolic),
        ("Pulse (/min)", "72"),
        ("Temperature (°C)", "36.8"),
        ("Respiratory rate (/min)", "16"),
        ("SpO2 (%)", "98"),
    ):
        page.get_by_label(label).fill(value)
    page.get_by_role("button", name="Log vitals").click()
    expect(page.locator("#vitals-form [data-form-status]")).to_contain_text("Vitals logged at")


def test_a_nurse_runs_todays_session_from_the_board_up_the_ladder_to_completion(
    page: Page, live_server, clock, booked, nurse
):
    log_in(page, live_server, "nurse", PASSWORD)

    # The day board of today (the server's today) shows the session; its block opens the session page.
    expect(page).to_have_url(re.compile(r"/board/"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{DAY:%A} {DAY.day} {DAY:%B %Y}")
    block = page.get_by_test_id(f"session-{booked.pk}")
    expect(block).to_contain_text("Delacroix, D.")
    expect(block).to_contain_text("09:00")
    block.click()
    expect(page).to_have_url(re.compile(rf"/sessions/{booked.pk}/$"))
    status = page.locator("#session-status")
    expect(status).to_have_text("Scheduled")

    page.get_by_role("button", name="Check in").click()
    expect(status).to_have_text("Checked in")
    expect(page.locator("#session-notice")).to_have_text("Checked in.")

    log_vitals(page, systolic="118", diastolic="76")
    expect(page.get_by_test_id("timeline-entry").filter(has_text="BP 118/76 mmHg")).to_be_visible()

    page.get_by_role("button", name="Start infusion").click()
    expect(status).to_have_text("In progress")
    expect(page.locator("#session-notice")).to_have_text("Infusion started: log the first rate.")
    started_at = InfusionSession.objects.get(pk=booked.pk).started_at
    ladder, limit = ladder_and_limit(booked)
    assert len(ladder) >= 2, "the DM ladder has steps to climb"
    expect(page.locator("#max-rate")).to_contain_text(f"{limit.ml_per_hour:.1f} mL/h")

    rate_form = page.locator("#rate-form")
    rate_error = page.locator("#rate-error")
    rate_rows = page.locator('[data-testid="timeline-entry"][data-kind="rate"]')
    for number, step in enumerate(ladder, start=1):
        # Each step up only once the ladder allows it: move the server's clock to the step's minute.
        clock.move_to(started_at + dt.timedelta(minutes=step["start_minute"], seconds=5))
        log_rate(page, step["rate_ml_per_hour"])
        expect(rate_form.locator("[data-form-status]")).to_contain_text(
            f"Logged {step['rate_ml_per_hour']:.1f} mL/h at"
        )
        expect(rate_rows).to_have_count(number)
        expect(rate_error).to_be_hidden()
        if number == 1:
            # Straight to the next step is earlier than the ladder allows, and the page says from when.
            log_rate(page, ladder[1]["rate_ml_per_hour"])
            expect(rate_error).to_contain_text("is a step up earlier than the ladder allows")
            expect(rate_error).to_contain_text("is allowed from")
            expect(rate_rows).to_have_count(1)
    expect(rate_rows.last).to_contain_text(f"{ladder[-1]['rate_ml_per_hour']:.1f} mL/h")
    expect(page.locator("#rate-chart")).to_be_visible()

    # Above the maximum: refused next to the rate field, naming the limit in mL/h; the typed rate stays.
    above = limit.ml_per_hour + 10
    log_rate(page, above)
    expect(rate_error).to_be_visible()
    expect(rate_error).to_contain_text(
        f"is above the patient's effective maximum of {chairside.describe_rate(limit.ml_per_hour, limit.mg_kg_min)}"
    )
    expect(rate_error).to_contain_text(f"{limit.ml_per_hour:.1f} mL/h")
    expect(page.locator("#rate + #rate-error")).to_be_visible()  # right under the field
    expect(page.get_by_label("Rate (mL/h)")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Rate (mL/h)")).to_have_value(f"{above:.1f}")
    expect(rate_rows).to_have_count(len(ladder))
    screenshot(page, "session-page")

    reaction = page.locator("#reaction-form")
    severity = page.get_by_label("Severity")
    expect(severity.locator("option:checked")).to_have_text("Choose…")
    severity.select_option(label="Mild")
    page.get_by_label("Headache", exact=True).check()
    page.get_by_label("Flushing", exact=True).check()
    page.get_by_label("Description").fill("Mild frontal headache, flushed cheeks")
    page.get_by_label("Action taken").select_option(label="Slowed")
    page.get_by_role("button", name="Record reaction").click()
    expect(reaction.locator("[data-form-status]")).to_contain_text("Reaction recorded at")
    recorded = page.locator('[data-testid="timeline-entry"][data-kind="reaction"]')
    expect(recorded).to_have_count(1)
    expect(recorded).to_contain_text("Mild: headache, flushing; Mild frontal headache, flushed cheeks")
    expect(recorded).to_contain_text("action: slowed")
    expect(status).to_have_text("In progress")

    # The day's dose is in once the ladder has run its course.
    clock.move_to(started_at + dt.timedelta(minutes=full_dose_minutes(booked), seconds=5))
    log_vitals(page, systolic="121", diastolic="78")  # at the end, before Complete
    expect(page.get_by_test_id("timeline-entry").filter(has_text="BP 121/78 mmHg")).to_be_visible()
    page.get_by_role("button", name="Complete").click()
    expect(status).to_have_text("Completed")
    expect(page.locator("#session-notice")).to_contain_text("Session completed.")
    expect(page.locator("#session-notice")).to_contain_text("g infused by the rate log.")
    expect(page.locator("#rate-form")).to_have_count(0)
    expect(page.get_by_role("button", name="Complete")).to_have_count(0)
    expect(page.locator("#vitals-due")).to_contain_text("vitals at the end were recorded")
    screenshot(page, "session-completed")

    done = InfusionSession.objects.get(pk=booked.pk)
    assert done.status == "completed" and done.infusion_warnings == []
    assert abs(float(done.grams_infused) - float(done.grams)) <= chairside.GRAMS_TOLERANCE * float(done.grams)


@pytest.mark.browser_context_args(viewport=TABLET)
def test_the_rate_form_is_usable_on_the_chairside_tablet(page: Page, live_server, clock, patient, nurse):
    session = running_session(clock, patient)
    ladder, _ = ladder_and_limit(session)
    log_in(page, live_server, "nurse", PASSWORD)
    page.goto(f"/sessions/{session.pk}/")

    form = page.locator("#rate-form")
    rate = page.get_by_label("Rate (mL/h)")
    button = page.get_by_role("button", name="Log rate")
    for part in (form, rate, button):
        expect(part).to_be_visible()
        assert inside_viewport(page, part), "the rate form runs off the side of a 1024 px screen"
    assert sideways_overflow(form) == 0, "the rate form's content is wider than the form"
    assert sideways_overflow(page.locator("html")) == 0, "the session page scrolls sideways at 1024 px"

    rate.fill(f"{ladder[0]['rate_ml_per_hour']:.1f}")
    button.click()
    expect(form.locator("[data-form-status]")).to_contain_text(
        f"Logged {ladder[0]['rate_ml_per_hour']:.1f} mL/h"
    )
    screenshot(page, "session-page-tablet")
