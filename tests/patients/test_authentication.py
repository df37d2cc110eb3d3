"""The API token and the session cookie keep nothing between requests: a role, a user or a
token taken away counts from the next request."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


@pytest.fixture
def scheduler_api(api, scheduler):
    token = Token.objects.create(user=scheduler)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/v1/sessions/").status_code == 200
    return api


def test_a_role_taken_away_counts_from_the_next_api_request(scheduler_api, scheduler):
    scheduler.groups.clear()
    response = scheduler_api.get("/api/v1/sessions/")
    assert response.status_code == 403
    assert response.json() == {"detail": "Your role does not allow this."}


def test_a_deactivated_users_token_stops_at_once(scheduler_api, scheduler):
    type(scheduler).objects.filter(pk=scheduler.pk).update(is_active=False)
    response = scheduler_api.get("/api/v1/sessions/")
    assert response.status_code == 401
    assert response.json() == {"detail": "User inactive or deleted."}


def test_a_deleted_token_stops_at_once(scheduler_api, scheduler):
    Token.objects.filter(user=scheduler).delete()
    response = scheduler_api.get("/api/v1/sessions/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


@pytest.fixture
def scheduler_browser(scheduler) -> Client:
    client = Client()
    client.force_login(scheduler)
    assert client.get("/patients/").status_code == 200
    return client


def test_a_role_taken_away_counts_from_the_next_page(scheduler_browser, scheduler):
    scheduler.groups.set([Group.objects.get(name="patient")])
    assert scheduler_browser.get("/patients/").status_code == 403


def test_a_deactivated_user_is_logged_out_at_the_next_page(scheduler_browser, scheduler):
    type(scheduler).objects.filter(pk=scheduler.pk).update(is_active=False)
    response = scheduler_browser.get("/patients/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
