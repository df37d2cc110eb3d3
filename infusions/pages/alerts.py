"""Alerts: failed reminder deliveries, sessions flagged after a reaction, unconfirmed sessions.

Each section is one query whatever the number of rows; times are shown in each
session's center zone, with the zone named.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from infusions.models import InfusionSession, Reminder, ReminderAttempt, ReminderStatus, SessionStatus
from infusions.pages.common import staff_page

# Unconfirmed sessions this close are worth a phone call.
UNCONFIRMED_WITHIN = dt.timedelta(hours=72)


@staff_page
def alerts(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    context = {
        "nav": "alerts",
        "failed_reminders": list(failed_reminders(now)),
        "flagged_sessions": [(session, booked_minutes(session)) for session in flagged_sessions()],
        "unconfirmed_sessions": list(unconfirmed_sessions(now)),
    }
    return render(request, "alerts/alerts.html", context)


def failed_reminders(now: dt.datetime) -> QuerySet[Reminder]:
    """Deliveries that gave up, for sessions not yet over: someone should call the patient.

    Cancellation notices count too, so the session need not be live.
    """
    last_attempt = ReminderAttempt.objects.filter(reminder=OuterRef("pk")).order_by("-at", "-id")
    return (
        Reminder.objects.filter(status=ReminderStatus.FAILED, session__end__gt=now)
        .annotate(failed_at=Subquery(last_attempt.values("at")[:1]))
        .select_related("session__patient", "session__center")
        .order_by("session__start", "session_id", "id")
    )


def flagged_sessions() -> QuerySet[InfusionSession]:
    """Booked sessions whose re-planned chair time no longer fits (as GET /api/v1/flagged-sessions/)."""
    return (
        InfusionSession.objects.needing_rebooking()
        .select_related("patient", "center", "chair")
        .order_by("start", "id")
    )


def booked_minutes(session: InfusionSession) -> int:
    return round((session.end - session.start).total_seconds() / 60)


def unconfirmed_sessions(now: dt.datetime) -> QuerySet[InfusionSession]:
    """Live sessions starting within 72 hours that the patient has not confirmed."""
    return (
        InfusionSession.objects.live()
        .filter(status=SessionStatus.SCHEDULED, start__gte=now, start__lt=now + UNCONFIRMED_WITHIN)
        .select_related("patient", "center", "chair")
        .order_by("start", "id")
    )
