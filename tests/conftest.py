"""Shared fixtures: personas for every role, API clients, and service checks.

Tests marked `postgres` or `redis` need those services. Without them a test
skips with the reason, except under CI (`CI` set), where a missing service is
a failure: CI must never pass on a suite that did not really run.
"""

from __future__ import annotations

import os
import socket

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import PatientFactory, PatientWeightFactory, UserFactory

IN_CI = bool(os.environ.get("CI"))


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI is set, so this may not skip)")
    pytest.skip(reason)


def redis_url() -> str:
    url = settings.CELERY_BROKER_URL
    return url if url.startswith("redis") else "redis://127.0.0.1:6379/0"


def _redis_up(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser tests run last and together, whatever else reordered the run: Playwright's
    event loop lives in the test thread while they run, and each live-server test leaves the
    tables empty for whatever would come after it."""
    browser = [item for item in items if item.get_closest_marker("browser")]
    if browser:
        items[:] = [item for item in items if not item.get_closest_marker("browser")] + browser


@pytest.fixture(autouse=True)
def _services(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        _missing("needs PostgreSQL: set DATABASE_URL=postgres://...")
    if request.node.get_closest_marker("redis") and not _redis_up(redis_url()):
        _missing(f"needs Redis at {redis_url()}")


@pytest.fixture(autouse=True)
def _outside_world(settings):
    """SMS goes to the in-memory outbox (email already goes to Django's)."""
    from infusions.reminders import sms

    settings.SMS_BACKEND = "locmem"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


@pytest.fixture
def sms_outbox(_outside_world) -> list[dict[str, str]]:
    return _outside_world


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Throttle counters live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def scheduler(db):
    return UserFactory(username="sched", role="scheduler")


@pytest.fixture
def nurse(db):
    return UserFactory(username="nurse", role="nurse")


@pytest.fixture
def pharmacist(db):
    return UserFactory(username="pharm", role="pharmacist")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def patient_a(db):
    """A patient with a portal account; must never see patient_b."""
    patient = PatientFactory(user=UserFactory(username="patient-a", role="patient"))
    PatientWeightFactory(patient=patient)
    return patient


@pytest.fixture
def patient_b(db):
    patient = PatientFactory(user=UserFactory(username="patient-b", role="patient"))
    PatientWeightFactory(patient=patient)
    return patient


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for(api: APIClient):
    """`client_for(user)` authenticates the API client as that user."""

    def login(user) -> APIClient:
        api.force_authenticate(user)
        return api

    return login
