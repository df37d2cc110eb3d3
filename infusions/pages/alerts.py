"""Alerts: failed reminder deliveries, sessions flagged after a reaction, unconfirmed sessions."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from infusions.pages.common import staff_page


@staff_page
def alerts(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/pending.html", {"nav": "alerts", "title": "Alerts"})
