"""The plan form with its live dose preview, and a plan with its booked series."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from infusions.pages.common import staff_page


@staff_page
def plan_new(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/pending.html", {"nav": "patients", "title": "New plan"})


@staff_page
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "pages/pending.html", {"nav": "patients", "title": "Plan"})
