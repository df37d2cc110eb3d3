"""Authentication that reads the user's roles in the same query as the user.

Every view asks for the caller's roles (`patients.roles`). Django's session
backend and DRF's token authentication read the user, and the roles would
then cost a second query on every request; these read both at once. Nothing
is kept beyond the request: a role taken away, a user deactivated or a token
deleted counts from the next request.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import OuterRef
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from patients.roles import remember_roles, role_annotations


class RoleBackend(ModelBackend):
    """Django's model backend (passwords, permissions); a session's user comes with their roles."""

    def get_user(self, user_id):
        users = get_user_model()._default_manager.annotate(**role_annotations(OuterRef("pk")))
        user = users.filter(pk=user_id).first()
        if user is None or not self.user_can_authenticate(user):
            return None
        remember_roles(user, user)
        return user


class RoleTokenAuthentication(TokenAuthentication):
    """DRF's `Authorization: Token <key>`; the token's user comes with their roles."""

    def authenticate_credentials(self, key: str):
        tokens = self.get_model().objects.select_related("user")
        token = tokens.annotate(**role_annotations(OuterRef("user_id"))).filter(key=key).first()
        if token is None:
            raise AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        remember_roles(token.user, token)
        return token.user, token
