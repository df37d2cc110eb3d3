"""The application's URLs plus `/bench/floor/`, what a request costs Django and gunicorn alone."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import urlpatterns as application_urlpatterns


def floor(request: HttpRequest) -> JsonResponse:
    """The whole middleware stack and a JSON response, and no database."""
    return JsonResponse({"ok": True})


urlpatterns = [
    path("bench/floor/", floor, name="bench-floor"),
    *application_urlpatterns,
]
