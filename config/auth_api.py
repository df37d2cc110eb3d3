"""`POST /api/v1/auth/token/`: a token for API clients, rate-limited.

django-axes records failures here but does not lock this view out, so guessing passwords is
throttled per client address with the shared cache.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.throttling import ScopedRateThrottle


class AddressRateThrottle(ScopedRateThrottle):
    """Counts by client address whoever is calling: a signed-in caller buys no extra guesses."""

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenRequest(AuthTokenSerializer):
    """No longer a username than a user can have: a failed login is logged by django-axes in a
    varchar(255), and PostgreSQL refused a longer one with a 500."""

    username = serializers.CharField(
        label="Username", max_length=User._meta.get_field("username").max_length, write_only=True
    )


class TokenView(ObtainAuthToken):
    serializer_class = TokenRequest
    authentication_classes = ()  # credentials are in the body; a token header proves nothing here
    throttle_classes = [AddressRateThrottle]
    throttle_scope = "auth-token"
    extra_error_codes = ("429",)

    @extend_schema(
        responses={200: inline_serializer("Token", fields={"token": serializers.CharField()})},
        auth=[],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
