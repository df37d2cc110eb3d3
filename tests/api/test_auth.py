"""`POST /api/v1/auth/token/`: tokens for API clients, and who gets in with one.

django-axes does not watch DRF's token view, so the view throttles password
guessing itself: "auth-token" = 10/min per client address (settings
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]). conftest clears the cache, and with
it the throttle counters, before each test.
"""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
PASSWORD = "pw-for-tests"  # every UserFactory user's password
ALLOWED_PER_MINUTE = 10  # the promised default; AUTH_TOKEN_RATE may only make it stricter


def guess(api, username: str, password: str = "wrong-guess", **extra: str):
    return api.post(TOKEN, {"username": username, "password": password}, format="json", **extra)


def test_a_user_exchanges_a_good_password_for_a_token(api, nurse):
    response = guess(api, "nurse", PASSWORD)
    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=nurse).key}


def test_asking_twice_returns_the_same_token(api, nurse):
    first = guess(api, "nurse", PASSWORD).json()["token"]
    assert guess(api, "nurse", PASSWORD).json()["token"] == first


def test_the_token_authenticates_api_calls(api, nurse, patient_a):
    token = guess(api, "nurse", PASSWORD).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = api.get("/api/v1/patients/")
    assert response.status_code == 200
    assert [p["mrn"] for p in response.json()["results"]] == [patient_a.mrn]


def test_a_patients_token_still_shows_only_their_own_record(api, patient_a, patient_b):
    token = guess(api, "patient-a", PASSWORD).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = api.get("/api/v1/patients/")
    assert [p["id"] for p in response.json()["results"]] == [patient_a.pk]


def test_a_made_up_token_is_not_authenticated(api, nurse):
    api.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert api.get("/api/v1/patients/").status_code == 401


@pytest.mark.parametrize(
    ("username", "password"),
    [("nurse", "wrong-guess"), ("nobody", PASSWORD), ("nurse", "")],
    ids=["wrong-password", "unknown-user", "no-password"],
)
def test_it_refuses_a_token_for_bad_credentials(api, nurse, username, password):
    response = guess(api, username, password)
    assert response.status_code == 400
    assert "token" not in response.json()
    assert not Token.objects.exists()


def test_it_refuses_a_token_to_a_deactivated_user(api):
    UserFactory(username="gone", role="nurse", is_active=False)
    response = guess(api, "gone", PASSWORD)
    assert response.status_code == 400
    assert not Token.objects.exists()


# Throttling ----------------------------------------------------------------------------


def test_the_eleventh_attempt_in_a_minute_is_throttled(api, nurse):
    answers = [guess(api, "nurse").status_code for _ in range(ALLOWED_PER_MINUTE)]
    assert answers == [400] * ALLOWED_PER_MINUTE
    throttled = guess(api, "nurse")
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0


def test_a_throttled_client_gets_no_token_even_with_the_right_password(api, nurse):
    for _ in range(ALLOWED_PER_MINUTE):
        guess(api, "nurse")
    response = guess(api, "nurse", PASSWORD)
    assert response.status_code == 429
    assert not Token.objects.exists()


def test_good_attempts_count_towards_the_limit_too(api, nurse):
    for _ in range(ALLOWED_PER_MINUTE):
        assert guess(api, "nurse", PASSWORD).status_code == 200
    assert guess(api, "nurse", PASSWORD).status_code == 429


def test_the_limit_is_per_client_address(api, nurse):
    for _ in range(ALLOWED_PER_MINUTE):
        guess(api, "nurse", REMOTE_ADDR="203.0.113.7")
    assert guess(api, "nurse", REMOTE_ADDR="203.0.113.7").status_code == 429
    assert guess(api, "nurse", PASSWORD, REMOTE_ADDR="198.51.100.9").status_code == 200


def test_a_client_cannot_escape_the_limit_by_inventing_forwarded_for_headers(api, nurse):
    """One machine guessing passwords must not get a fresh allowance per made-up header."""
    answers = [
        guess(api, "nurse", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code
        for n in range(ALLOWED_PER_MINUTE + 5)
    ]
    assert answers[ALLOWED_PER_MINUTE:] == [429] * 5


# Roles -------------------------------------------------------------------------------


def test_a_user_with_no_role_is_forbidden_from_patients(client_for, patient_a):
    response = client_for(UserFactory(username="visitor")).get("/api/v1/patients/")
    assert response.status_code == 403
    assert patient_a.mrn not in response.content.decode()


def test_a_user_with_no_role_gets_a_token_but_no_patients(api, patient_a):
    UserFactory(username="visitor")
    token = guess(api, "visitor", PASSWORD).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = api.get(f"/api/v1/patients/{patient_a.pk}/")
    assert response.status_code == 403
    assert patient_a.mrn not in response.content.decode()


def test_django_staff_status_alone_grants_no_role(client_for, patient_a):
    """`is_staff` opens the admin site, not the API: roles come from groups or superuser."""
    response = client_for(UserFactory(username="clerk", is_staff=True)).get("/api/v1/patients/")
    assert response.status_code == 403
