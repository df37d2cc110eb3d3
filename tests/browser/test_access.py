"""In a real browser: logging in and out, the lockout, and a patient kept out of
another patient's records, in the pages and in the API behind them."""

from __future__ import annotations

import datetime as dt
import json
import re

from django.conf import settings
from playwright.sync_api import Page, expect

from infusions.scheduling.booking import session_book
from tests.browser.helpers import SCREENSHOTS, api_get, log_in, log_out, screenshot, submit_login
from tests.chairside_support import START, make_center
from tests.factories import PatientFactory, UserFactory

PASSWORD = "a-long-passphrase"
ON_LOGIN_PAGE = re.compile(r"/accounts/login/")
STYLESHEET_APPLIED = """() => [...document.styleSheets].some(
    (sheet) => sheet.href && sheet.href.endsWith("/static/css/chairside.css") && sheet.cssRules.length > 0
)"""


def at(live_server, path: str) -> re.Pattern[str]:
    """The page `path`, whatever query string the page adds."""
    return re.compile(rf"^{re.escape(live_server.url + path)}(\?.*)?$")


def test_the_login_page_is_styled_and_a_scheduler_logs_in_to_the_board_and_out(page: Page, live_server):
    make_center()
    UserFactory(username="sched", role="scheduler", password=PASSWORD)
    statuses: dict[str, int] = {}
    page.on("response", lambda response: statuses.setdefault(response.url, response.status))

    page.goto("/accounts/login/")

    assert statuses[f"{live_server.url}/static/css/chairside.css"] == 200
    assert statuses[f"{live_server.url}/static/js/api.js"] == 200
    assert page.evaluate(STYLESHEET_APPLIED), "chairside.css loaded but no rule of it applies"
    assert page.evaluate("typeof Chairside.api") == "function"

    log_in(page, live_server, "sched", PASSWORD)
    expect(page).to_have_url(at(live_server, "/board/"))
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Day board")).to_be_visible()

    log_out(page)
    expect(page).to_have_url(ON_LOGIN_PAGE)
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.goto("/board/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/board/"))


def test_a_wrong_password_says_so_and_repeated_failures_lock_the_login(page: Page, live_server):
    UserFactory(username="nurse1", role="nurse", password=PASSWORD)

    submit_login(page, live_server, "nurse1", "not-the-passphrase")
    expect(page.get_by_role("alert")).to_contain_text("did not match")
    expect(page.get_by_label("Username")).to_have_value("nurse1")

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        submit_login(page, live_server, "nurse1", "not-the-passphrase")
    locked = page.get_by_role("heading", name="Too many failed logins")
    expect(locked).to_be_visible()

    submit_login(page, live_server, "nurse1", PASSWORD)  # even the right one, while locked
    expect(locked).to_be_visible()
    page.goto("/board/")
    expect(page).to_have_url(ON_LOGIN_PAGE)


def test_a_patient_sees_neither_another_patients_page_nor_their_records_in_the_api(page: Page, live_server):
    center = make_center()
    alma = PatientFactory(
        given_name="Alma",
        family_name="Achterberg",
        mrn="MRN-A-1001",
        user=UserFactory(username="alma", role="patient", password=PASSWORD),
    )
    bruno = PatientFactory(
        given_name="Bruno",
        family_name="Brightwater",
        mrn="MRN-B-2002",
        user=UserFactory(username="bruno", role="patient", password=PASSWORD),
    )
    mine = session_book(patient=alma, center=center, start=START, chair_minutes=240)
    session_book(patient=bruno, center=center, start=START + dt.timedelta(hours=4), chair_minutes=240)
    brunos_details = ("Bruno", "Brightwater", "MRN-B-2002")

    log_in(page, live_server, "alma", PASSWORD)
    expect(page).to_have_url(at(live_server, "/portal/"))

    response = page.goto(f"/patients/{bruno.pk}/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not for your role")).to_be_visible()
    shown = page.content()
    assert not [detail for detail in brunos_details if detail in shown]

    status, own = api_get(page, f"/api/v1/patients/{alma.pk}/")
    assert status == 200 and own["mrn"] == "MRN-A-1001"  # the browser's session does reach the API

    status, body = api_get(page, f"/api/v1/patients/{bruno.pk}/")
    assert status in (403, 404)
    assert not [detail for detail in brunos_details if detail in json.dumps(body)]

    status, sessions = api_get(page, "/api/v1/sessions/")
    assert status == 200
    assert [(s["id"], s["patient"]) for s in sessions["results"]] == [(mine.pk, alma.pk)]


def test_the_login_page_and_the_day_board_are_saved_as_screenshots(page: Page, live_server):
    make_center()
    UserFactory(username="sched", role="scheduler", password=PASSWORD)
    for name in ("login", "board"):
        (SCREENSHOTS / f"{name}.png").unlink(missing_ok=True)

    page.goto("/accounts/login/")
    login = screenshot(page, "login")
    log_in(page, live_server, "sched", PASSWORD)
    board = screenshot(page, "board")

    for png in (login, board):
        assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), f"{png} is not a PNG"
        assert png.stat().st_size > 1000
