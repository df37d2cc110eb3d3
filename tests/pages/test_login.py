"""Login, lockout after repeated failures, role homes and role-aware navigation."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def log_in(client: Client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})


@pytest.mark.parametrize(
    ("role", "home"),
    [("scheduler", "/board/"), ("nurse", "/board/"), ("pharmacist", "/patients/"), ("patient", "/portal/")],
)
def test_each_role_lands_on_its_home(role, home):
    UserFactory(username="someone", role=role, password="a-long-passphrase")
    client = Client()
    response = log_in(client, "someone", "a-long-passphrase")
    assert response.status_code == 302
    assert client.get(response.url).url == home


def test_a_wrong_password_says_so_and_keeps_the_user_out():
    UserFactory(username="nurse1", role="nurse", password="a-long-passphrase")
    client = Client()
    response = log_in(client, "nurse1", "wrong")
    assert response.status_code == 200
    assert "did not match" in response.content.decode()
    assert client.get("/board/").status_code == 302  # to the login page


def test_repeated_failures_lock_the_account_with_a_clear_message(settings):
    UserFactory(username="nurse1", role="nurse", password="a-long-passphrase")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "nurse1", "wrong").status_code == 200
    locked = log_in(client, "nurse1", "wrong")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert "15 minutes" in locked.content.decode()
    # Even the right password is refused while locked.
    again = log_in(client, "nurse1", "a-long-passphrase")
    assert again.status_code == 429
    assert client.get("/board/").status_code == 302


def test_a_success_before_the_limit_resets_the_count(settings):
    UserFactory(username="nurse1", role="nurse", password="a-long-passphrase")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "nurse1", "wrong")
    assert log_in(client, "nurse1", "a-long-passphrase").status_code == 302
    client.post("/accounts/logout/")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "nurse1", "wrong").status_code == 200


def test_navigation_follows_the_role():
    nurse = UserFactory(username="n", role="nurse")
    patient = UserFactory(username="p", role="patient")
    client = Client()
    client.force_login(nurse)
    staff_page = client.get("/patients/").content.decode()
    assert 'href="/board/"' in staff_page and 'href="/alerts/"' in staff_page
    assert 'href="/portal/"' not in staff_page
    client.force_login(patient)
    portal = client.get("/portal/").content.decode()
    assert 'href="/portal/"' in portal
    assert 'href="/board/"' not in portal and 'href="/patients/"' not in portal


@pytest.mark.parametrize("address", ["/board/", "/load/", "/patients/", "/alerts/"])
def test_a_patient_cannot_open_staff_pages(address):
    client = Client()
    client.force_login(UserFactory(username="p", role="patient"))
    response = client.get(address)
    assert response.status_code == 403
    assert "Not for your role" in response.content.decode()


def test_logout_ends_the_session():
    client = Client()
    client.force_login(UserFactory(username="n", role="nurse"))
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/board/").status_code == 302
