"""Browser tests: pytest-playwright driving Debian's Chromium against pytest-django's
`live_server`.

- The browser is /usr/bin/chromium, never a downloaded build. Without it these
  tests skip with the reason, except under CI, where they fail.
- Playwright's sync API keeps an asyncio event loop running in the test thread
  while it is started, and Django refuses ORM calls from such a thread
  (SynchronousOnlyOperation). So DJANGO_ALLOW_ASYNC_UNSAFE is set for this
  folder only, and Playwright is started once per folder rather than once per
  run: the loop is gone before any test outside this folder runs.
- The live server answers from another thread, so every test here runs in
  real transactions and the tables are emptied after it; serialized_rollback
  puts back what the migrations installed (role groups, the product catalogue)
  for the next test.
- Pages come from a browser in Pacific/Auckland, far from every center: a page
  that shows the browser's zone instead of the center's shows wrong times here.

Tests use the `page` fixture (a fresh context per test, desktop size, base URL
set to the live server) and the functions in tests/browser/helpers.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from playwright.sync_api import Browser, BrowserType, Playwright, sync_playwright

from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, DESKTOP
from tests.conftest import _missing

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything in this folder is a browser test (`-m "not browser"` leaves them out), and
    transactional: the marker lets pytest-django run them after the tests that roll back,
    since a live server's test empties the tables when it ends."""
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.django_db(transaction=True, serialized_rollback=True))


@pytest.fixture(scope="package", autouse=True)
def _orm_beside_playwrights_loop() -> Iterator[None]:
    """Let the ORM run in the test thread while Playwright's loop runs there (this folder only)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(autouse=True)
def _migrated_rows_back_after_each_test(django_db_serialized_rollback: None) -> None:
    """The live server's tests empty the tables; this puts back the role groups and the catalogue."""


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's options (--headed, --slowmo) on Debian's Chromium."""
    if not CHROMIUM.exists():
        _missing(f"needs Chromium at {CHROMIUM}: apt-get install chromium")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


# pytest-playwright starts Playwright for the whole run; these replace its
# session fixtures with ones that last for this folder only (see the docstring).


@pytest.fixture(scope="package")
def playwright(_orm_beside_playwrights_loop: None) -> Iterator[Playwright]:
    # Django hands code that runs beside an event loop its own database
    # connections. Here that would be a second connection for the test thread,
    # apart from the one the test database was set up on and the live server
    # uses: serialized_rollback's copy of the migrated rows hangs off the first,
    # and two connections to one in-memory SQLite database lock each other's
    # tables. So the test thread keeps its usual connections.
    usual = {alias: connections[alias] for alias in connections}
    with sync_playwright() as started:
        for alias, connection in usual.items():
            connections[alias] = connection
        yield started
        for alias in usual:
            del connections[alias]


@pytest.fixture(scope="package")
def browser_type(playwright: Playwright, browser_name: str) -> BrowserType:
    return getattr(playwright, browser_name)


@pytest.fixture(scope="package")
def launch_browser(
    browser_type_launch_args: dict[str, Any], browser_type: BrowserType
) -> Callable[..., Browser]:
    def launch(**options: Any) -> Browser:
        return browser_type.launch(**{**browser_type_launch_args, **options})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser: Callable[..., Browser]) -> Iterator[Browser]:
    started = launch_browser()
    yield started
    started.close()


@pytest.fixture(scope="package")
def browser_context_args(live_server: Any) -> dict[str, Any]:
    """Every context: the live server as base URL, a desktop window, US English, Auckland time.

    For another size mark the test `@pytest.mark.browser_context_args(viewport=TABLET)`.
    """
    return {
        "base_url": live_server.url,
        "viewport": DESKTOP,
        "locale": "en-US",
        "timezone_id": "Pacific/Auckland",
    }
