"""What browser tests do again and again: log in through the real form, read the
API as the logged-in browser, move the server's clock, check that a part of a page
fits the window, and keep screenshots of what the user saw.

Every test drives Debian's Chromium (CHROMIUM) against pytest-django's
`live_server`; pages are found the way a user finds them, by label and by
button name.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import time_machine
from playwright.sync_api import Locator, Page
from pytest_django.live_server_helper import LiveServer

CHROMIUM = Path("/usr/bin/chromium")

# Root may not use Chromium's sandbox; the rest keeps a headless Chromium from
# reaching out to Google's update, sync and field-trial services, which this
# closed network refuses (and which would make page loads wait on time-outs).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 1024, "height": 768}  # the chairside tablets; every page must work at this width

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"

LOGIN_PATH = "/accounts/login/"


def submit_login(page: Page, live_server: LiveServer, username: str, password: str) -> None:
    """Open the login page, type the credentials and press "Log in"; waits for the answer."""
    page.goto(f"{live_server.url}{LOGIN_PATH}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()


def log_in(page: Page, live_server: LiveServer, username: str, password: str) -> None:
    """Log in through the form and land on the role's home page, or fail saying why not."""
    submit_login(page, live_server, username, password)
    if LOGIN_PATH in page.url:  # the form again, or the lockout page
        alert = page.get_by_role("alert")
        said = alert.first.inner_text() if alert.count() else page.title()
        raise AssertionError(f"{username} could not log in: {said}")


def log_out(page: Page) -> None:
    """Press "Log out" in the page header; waits for the page it leads to (the login page)."""
    with page.expect_navigation():
        page.get_by_role("button", name="Log out").click()


def api_get(page: Page, path: str) -> tuple[int, Any]:
    """GET an API path on the server the page is showing, with the browser's own session
    cookie (as the page's script would); returns (status, JSON or None)."""
    shown = urlsplit(page.url)
    response = page.request.get(
        f"{shown.scheme}://{shown.netloc}{path}", headers={"Accept": "application/json"}
    )
    is_json = response.headers.get("content-type", "").startswith("application/json")
    return response.status, response.json() if is_json else None


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page as test-output/screenshots/<name>.png; returns the file."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


def server_clock(instant: dt.datetime) -> time_machine.travel:
    """Set the server's clock (the live server's thread too) to `instant`, ticking on from there.

    Use it as a context manager; its `move_to()` and `shift()` move the clock on, e.g. past a
    step of the rate ladder. The browser keeps its own clock: pages must take "now" from the server.
    """
    return time_machine.travel(instant, tick=True)


def sideways_overflow(locator: Locator) -> float:
    """How many pixels the element's content sticks out of its box sideways (0 when it fits)."""
    return locator.evaluate("(node) => Math.max(0, node.scrollWidth - node.clientWidth)")


def inside_viewport(page: Page, locator: Locator) -> bool:
    """The element is drawn whole across the window's width (a user need not scroll sideways to it)."""
    box, viewport = locator.bounding_box(), page.viewport_size
    return (
        box is not None
        and viewport is not None
        and box["x"] >= 0
        and box["x"] + box["width"] <= viewport["width"]
    )
