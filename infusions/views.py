"""Server-rendered pages. Changes go through the REST API; pages only read."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from infusions.models import Center, InfusionSession
from patients.roles import Role, home_role


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and the CI smoke: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Each role's landing page: staff see today's chairs per center, a patient their sessions."""
    role = home_role(request.user)
    if role == Role.PATIENT:
        sessions = (
            InfusionSession.objects.visible_to(request.user)
            .live()
            .filter(end__gte=timezone.now())
            .select_related("center", "chair")[:10]
        )
        return render(request, "portal/home.html", {"sessions": sessions})
    if role is None:
        return render(request, "no_role.html", status=403)
    centers = []
    for center in Center.objects.order_by("name"):
        today = timezone.localdate(timezone=center.zone)
        day_sessions = (
            InfusionSession.objects.on_day(today, center).select_related("chair", "patient").order_by("start")
        )
        centers.append({"center": center, "today": today, "sessions": day_sessions})
    return render(request, "home.html", {"centers": centers, "role": role})
