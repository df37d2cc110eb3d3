"""What every page needs: role checks, the center and day a page shows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from infusions.models import Center
from patients.roles import STAFF_ROLES, Role, has_role

CLINICAL_ROLES = (Role.SCHEDULER, Role.NURSE, Role.ADMIN)
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)


def page(*roles: Role) -> Callable:
    """A GET page for users holding one of `roles`; others get a 403 page that says why."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @require_GET
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not has_role(request.user, *roles):
                return render(request, "no_role.html", {"needed": roles}, status=403)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


staff_page = page(*STAFF_ROLES)
clinical_page = page(*CLINICAL_ROLES)
patient_page = page(Role.PATIENT)


def chosen_center(request: HttpRequest) -> Center | None:
    """`?center=<id>`, else the first center by name; 400 for a malformed id, 404 for an unknown one."""
    raw = request.GET.get("center", "")
    if not raw:
        return Center.objects.order_by("name").first()
    if not (raw.isascii() and raw.isdigit()):
        raise BadRequest("A center is given by its number.")
    try:
        return Center.objects.get(pk=int(raw))
    except Center.DoesNotExist:
        raise Http404("No such center.") from None


def chosen_date(request: HttpRequest, name: str, center: Center | None) -> dt.date:
    """`?<name>=YYYY-MM-DD`, else today in the center's zone; 400 for a malformed or far date."""
    raw = request.GET.get(name, "")
    if not raw:
        from django.utils import timezone

        return timezone.localdate(timezone=center.zone) if center else timezone.localdate()
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise BadRequest("Dates are written YYYY-MM-DD.") from None
    if not FIRST_DAY <= day <= LAST_DAY:  # far dates overflow time-zone arithmetic
        raise BadRequest(f"Choose a date between {FIRST_DAY:%Y} and {LAST_DAY:%Y}.")
    return day
