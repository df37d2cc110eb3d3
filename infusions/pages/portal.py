"""The patient portal and the patient's private calendar feed.

Nothing here names a drug, a diagnosis or a dose: like the reminder messages,
the portal and the feed show where and when, nothing clinical.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from infusions.calendar import sessions_calendar
from infusions.models import InfusionSession, SessionStatus
from infusions.pages.common import patient_page
from patients.models import Patient, ReminderChannel

# A feed carries the recent past too, so a calendar keeps the sessions just
# had instead of dropping each one the day after.
FEED_PAST_DAYS = 90
PATIENT_ACTIONS = ("confirm", "cancel")


@dataclass(frozen=True)
class PortalSession:
    """One upcoming session as the patient sees it: where and when, in the center's zone."""

    session: InfusionSession
    start: dt.datetime
    end: dt.datetime
    actions: tuple[str, ...]

    @classmethod
    def of(cls, session: InfusionSession) -> PortalSession:
        actions = tuple(a for a in PATIENT_ACTIONS if session.next_status(a) is not None)
        return cls(session, session.local_start, session.local_end, actions)

    @property
    def day(self) -> str:
        return f"{self.start:%A} {self.start.day} {self.start:%B %Y}"

    @property
    def times(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"

    @property
    def zone(self) -> str:
        """The abbreviation in force that day, then the IANA name: "EST · America/New_York"."""
        return f"{self.start.tzname()} · {self.session.center.time_zone}"


@patient_page
def portal_home(request: HttpRequest) -> HttpResponse:
    patient = Patient.objects.filter(user=request.user).first()
    context = {"nav": "portal", "patient": patient}
    if patient is not None:
        feed_path = patient.calendar_feed_path()
        context |= {
            "sessions": [PortalSession.of(s) for s in upcoming_sessions(request)],
            "calendar_url": request.build_absolute_uri(feed_path) if feed_path else "",
            "channels": ReminderChannel.choices,
            "statuses": dict(SessionStatus.choices),
        }
    return render(request, "portal/home.html", context)


def upcoming_sessions(request: HttpRequest) -> QuerySet[InfusionSession]:
    """The caller's own live sessions not yet over, scoped exactly as the sessions API scopes them."""
    return (
        InfusionSession.objects.visible_to(request.user)
        .live()
        .filter(end__gt=timezone.now())
        .select_related("center")
        .order_by("start", "id")
    )


@require_safe
@never_cache
def portal_calendar(request: HttpRequest, token: str) -> HttpResponse:
    """The patient's sessions as iCalendar, for a calendar app to subscribe to.

    Calendar apps fetch without cookies, so the unguessable token in the
    address is the only credential; an unknown or revoked one is a plain 404.
    """
    patient = Patient.objects.by_calendar_token(token)
    if patient is None:
        raise Http404("No such calendar.")
    since = timezone.now() - dt.timedelta(days=FEED_PAST_DAYS)
    sessions = patient.sessions.live().filter(end__gte=since).select_related("center").order_by("start", "id")
    response = HttpResponse(
        sessions_calendar(sessions, name="Appointments"), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'inline; filename="appointments.ics"'
    response["X-Robots-Tag"] = "noindex"
    return response
