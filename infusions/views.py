"""Server-rendered pages. Changes go through the REST API; pages only read."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from infusions.models import InfusionSession
from infusions.reminders.links import BadLink, link_open
from infusions.reminders.responses import LinkRefused, link_state, reminder_link_respond
from infusions.scheduling.booking import InvalidTransition
from patients.roles import Role, home_role


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and the CI smoke: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


HOMES = {
    Role.ADMIN: "board",
    Role.SCHEDULER: "board",
    Role.NURSE: "board",
    Role.PHARMACIST: "patients",
    Role.PATIENT: "portal",
}


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """`/` sends each role to its own home page."""
    role = home_role(request.user)
    if role is None:
        return render(request, "no_role.html", status=403)
    return redirect(HOMES[role])


LINK_NOTES = {"cancel": "reason", "reschedule": "times"}


@require_http_methods(["GET", "POST"])
def reminder_link(request: HttpRequest, token: str) -> HttpResponse:
    """A patient's confirm / cancel / another-time link: GET shows the choice, POST acts.

    Acting only on POST keeps mail scanners that prefetch links from confirming
    or cancelling anything.
    """
    try:
        link = link_open(token)
    except BadLink:
        return render(request, "reminders/link.html", {"state": "invalid"}, status=400)
    session = link.session
    context = {"link": link, "when": session_when(session), "state": link_state(link)}
    if context["state"] != "ok" or request.method == "GET":
        return render(
            request, "reminders/link.html", context, status=200 if context["state"] == "ok" else 410
        )
    note = request.POST.get("note", "").strip()[:1000]
    if link.action in LINK_NOTES and not note:
        context["error"] = (
            "Please tell us the reason."
            if link.action == "cancel"
            else "Please tell us which times suit you."
        )
        return render(request, "reminders/link.html", context, status=400)
    try:
        reminder_link_respond(link=link, note=note)
    except LinkRefused as refused:
        context["state"] = refused.state
        return render(request, "reminders/link.html", context, status=410)
    except InvalidTransition:  # the session changed between the page and the click
        context["state"] = "closed"
        return render(request, "reminders/link.html", context, status=410)
    context["state"] = "done"
    return render(request, "reminders/link.html", context)


def session_when(session: InfusionSession) -> dict[str, str]:
    local = session.start.astimezone(session.center.zone)
    return {
        "center": session.center.short_name,
        "date": f"{local:%A} {local.day} {local:%B %Y}",
        "time": f"{local:%H:%M} {local.tzname()} ({session.center.time_zone})",
    }
