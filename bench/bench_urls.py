"""The application's URLs plus the floors bench/api_load.py measures the application against.

`/bench/floor/` is what a request costs Django and gunicorn alone. The two
others are reference points, not goals: what authenticating alone costs, the
way the API (a DRF token) and the dashboard (a session cookie) authenticate,
with the role lookup every view makes and no data.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as application_urlpatterns
from patients.roles import roles_of


def floor(request: HttpRequest) -> JsonResponse:
    """The whole middleware stack and a JSON response, and no database."""
    return JsonResponse({"ok": True})


class TokenFloor(APIView):
    """DRF with the API's authentication and permission classes, and the user's roles."""

    def get(self, request: Request) -> Response:
        return Response({"roles": sorted(roles_of(request.user))})


@login_required
def session_floor(request: HttpRequest) -> JsonResponse:
    """A logged-in page's session and user, and the user's roles."""
    return JsonResponse({"roles": sorted(roles_of(request.user))})


urlpatterns = [
    path("bench/floor/", floor, name="bench-floor"),
    path("bench/floor/token/", TokenFloor.as_view(), name="bench-floor-token"),
    path("bench/floor/session/", session_floor, name="bench-floor-session"),
    *application_urlpatterns,
]
