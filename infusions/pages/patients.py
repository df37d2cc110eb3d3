"""Patient search and the patient page (staff)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from infusions.pages.common import staff_page


@staff_page
def patient_list(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/pending.html", {"nav": "patients", "title": "Patients"})


@staff_page
def patient_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "pages/pending.html", {"nav": "patients", "title": "Patient"})
