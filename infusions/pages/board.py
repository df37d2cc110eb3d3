"""Day board and week load (schedulers, nurses)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from infusions.pages.common import clinical_page


@clinical_page
def day_board(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/pending.html", {"nav": "board", "title": "Day board"})


@clinical_page
def week_load(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/pending.html", {"nav": "load", "title": "Week load"})
