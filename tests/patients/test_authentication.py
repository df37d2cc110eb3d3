"""The API token and the session cookie bring the user's roles with the user, in one query,
and keep nothing between requests: a role, a user or a token taken away counts at once."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIRequestFactory

from patients.authentication import RoleBackend, RoleTokenAuthentication
from patients.roles import GROUP_ROLES, Role, roles_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Every mix a center has: none, each group, two groups, a superuser with and without a group.
MEMBERSHIPS = [
    ((), False),
    *(((role,), False) for role in GROUP_ROLES),
    ((Role.NURSE, Role.PHARMACIST), False),
    ((), True),
    ((Role.SCHEDULER,), True),
]


def member(groups: tuple[Role, ...], superuser: bool):
    user = UserFactory(is_superuser=superuser)
    user.groups.add(*Group.objects.filter(name__in=[role.value for role in groups]))
    return user


def expected(groups: tuple[Role, ...], superuser: bool) -> frozenset[Role]:
    return frozenset(groups) | ({Role.ADMIN} if superuser else set())


@pytest.mark.parametrize(("groups", "superuser"), MEMBERSHIPS)
def test_a_token_reads_its_user_and_roles_in_one_query(groups, superuser, django_assert_num_queries):
    user = member(groups, superuser)
    UserFactory(username="bystander", role="scheduler")  # another user's groups are not theirs
    token = Token.objects.create(user=user)
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {token.key}")
    with django_assert_num_queries(1):
        found, by = RoleTokenAuthentication().authenticate(request)
        roles = roles_of(found)
    assert (found, by) == (user, token)
    assert roles == expected(groups, superuser)


@pytest.mark.parametrize(("groups", "superuser"), MEMBERSHIPS)
def test_a_sessions_user_comes_with_their_roles_in_one_query(groups, superuser, django_assert_num_queries):
    user = member(groups, superuser)
    with django_assert_num_queries(1):
        found = RoleBackend().get_user(user.pk)
        roles = roles_of(found)
    assert found == user
    assert roles == expected(groups, superuser)


def test_a_user_object_from_elsewhere_still_gets_its_roles():
    user = member((Role.NURSE,), False)
    assert roles_of(type(user).objects.get(pk=user.pk)) == {Role.NURSE}


def test_the_backend_finds_no_one_for_an_unknown_or_inactive_user():
    user = member((Role.NURSE,), False)
    user.is_active = False
    user.save()
    assert RoleBackend().get_user(user.pk) is None
    assert RoleBackend().get_user(user.pk + 1000) is None


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
