"""`POST /api/v1/auth/token/`: a token for API clients, rate-limited.

django-axes does not watch DRF's token view, so guessing passwords here is
throttled per client address with the shared cache.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.throttling import ScopedRateThrottle


class AddressRateThrottle(ScopedRateThrottle):
    """Counts by client address whoever is calling: a signed-in caller buys no extra guesses."""

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenView(ObtainAuthToken):
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
