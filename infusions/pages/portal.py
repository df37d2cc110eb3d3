"""The patient portal and the patient's private calendar feed."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from infusions.pages.common import patient_page


@patient_page
def portal_home(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/pending.html", {"nav": "portal", "title": "My sessions"})


def portal_calendar(request: HttpRequest, token: str) -> HttpResponse:
    raise Http404("No such calendar.")
