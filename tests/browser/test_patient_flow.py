"""In a real browser: a patient confirms a session from a reminder link, sees it confirmed
on the portal, subscribes to their calendar feed, and sees nothing of another patient."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from infusions.models import Indication, InfusionSession, Product
from infusions.reminders.links import link_urls
from infusions.scheduling.booking import session_book
from tests.browser.helpers import log_in, screenshot
from tests.chairside_support import START, make_center
from tests.factories import PatientFactory, PatientWeightFactory, PlanFactory, UserFactory

PASSWORD = "a-long-passphrase"


def patient_with_account(username: str, **fields):
    patient = PatientFactory(user=UserFactory(username=username, role="patient", password=PASSWORD), **fields)
    PatientWeightFactory(patient=patient)
    return patient


def booked_with_plan(patient, center, start: dt.datetime = START) -> InfusionSession:
    """A session of an Octagam 10% plan for dermatomyositis: a drug and a diagnosis that must not leak."""
    plan = PlanFactory(patient=patient, center=center)
    return session_book(patient=patient, center=center, start=start, plan=plan)


def on_live_server(live_server, url: str) -> str:
    """The link as the live server serves it (links are built for the configured SITE_URL)."""
    return live_server.url + urlsplit(url).path


def clinical_words() -> list[str]:
    """Every product and indication name in the catalogue, each product's first word (its brand),
    and what every product is."""
    products = list(Product.objects.values_list("name", flat=True))
    indications = list(Indication.objects.values_list("name", flat=True))
    return sorted(
        {*products, *indications, *(name.split()[0] for name in products), "IVIG", "immunoglobulin"}
    )


def test_a_patient_confirms_from_a_reminder_link_and_subscribes_to_their_calendar(
    page: Page, live_server, new_context
):
    center = make_center()
    patient = patient_with_account("alma", given_name="Alma", family_name="Achterberg")
    session = booked_with_plan(patient, center)
    local = session.start.astimezone(center.zone)

    # The link from the reminder: opening it only shows the choice; the button acts.
    response = page.goto(on_live_server(live_server, link_urls(session)["confirm"]))
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", name="Your appointment")).to_be_visible()
    expect(
        page.get_by_text(f"{center.short_name}, {local:%A} {local.day} {local:%B %Y} at {local:%H:%M}")
    ).to_be_visible()
    assert InfusionSession.objects.get(pk=session.pk).status == "scheduled"
    page.get_by_role("button", name="Confirm my appointment").click()
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    expect(
        page.get_by_text(
            re.compile(rf"on {local:%A} {local.day} {local:%B %Y} at {local:%H:%M} .* is confirmed")
        )
    ).to_be_visible()
    screenshot(page, "reminder-link-confirmed")

    log_in(page, live_server, "alma", PASSWORD)
    expect(page).to_have_url(re.compile(r"/portal/$"))
    row = page.locator(f"#session-{session.pk}")
    expect(row.get_by_test_id(f"session-status-{session.pk}")).to_have_text("Confirmed")
    expect(row).to_contain_text(f"{local:%H:%M}")
    expect(row).to_contain_text(center.time_zone)
    expect(row.get_by_role("button", name="Confirm")).to_have_count(0)
    expect(row.get_by_role("button", name="Cancel")).to_be_visible()

    page.get_by_role("button", name="Create calendar link").click()
    feed_url = page.locator("#calendar-url")
    expect(feed_url).to_have_value(re.compile(r"^http://.+\.ics$"))
    screenshot(page, "portal")

    # A calendar app fetches the feed with no cookies: a fresh context's request.
    feed = new_context().request.get(feed_url.input_value())
    assert feed.status == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    ics = feed.text().replace("\r\n ", "")  # unfold long lines (RFC 5545)
    assert ics.startswith("BEGIN:VCALENDAR")
    assert "BEGIN:VTIMEZONE" in ics and f"TZID:{center.time_zone}" in ics
    assert f"DTSTART;TZID={center.time_zone}:{local:%Y%m%dT%H%M%S}" in ics
    leaked = [word for word in clinical_words() if word.lower() in ics.lower()]
    assert not leaked, f"the calendar feed names {leaked}"


def test_a_patient_sees_only_their_own_sessions_and_not_another_patients_session_page(
    page: Page, live_server
):
    center = make_center()
    alma = patient_with_account("alma", given_name="Alma", family_name="Achterberg")
    bruno = patient_with_account("bruno", given_name="Bruno", family_name="Brightwater")
    mine = booked_with_plan(alma, center)
    theirs = booked_with_plan(bruno, center, START + dt.timedelta(days=1))

    log_in(page, live_server, "alma", PASSWORD)
    expect(page.locator(f"#session-{mine.pk}")).to_be_visible()
    expect(page.locator("tr[data-session]")).to_have_count(1)
    expect(page.locator(f"#session-{theirs.pk}")).to_have_count(0)

    response = page.goto(f"/sessions/{theirs.pk}/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not for your role")).to_be_visible()
    shown = page.content()
    assert not [detail for detail in ("Bruno", "Brightwater", bruno.mrn) if detail in shown]
