"""The session page: the nurse's chairside view, and reschedule / cancel for schedulers."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from infusions.pages.common import clinical_page


@clinical_page
def session_page(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "pages/pending.html", {"nav": "board", "title": "Session"})
