"""iCalendar (RFC 5545) for sessions: the .ics attached to reminder emails.

Events carry the center's short name and the times only: nothing clinical.
Times are in the center's zone with its VTIMEZONE, so calendar apps keep a
09:00 session at 09:00 across daylight-saving changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import icalendar
from django.utils import timezone

from infusions.models import InfusionSession

PRODID = "-//Chairside//Infusion sessions//EN"


def session_event(session: InfusionSession) -> icalendar.Event:
    zone = session.center.zone
    event = icalendar.Event()
    event.add("uid", f"session-{session.pk}@chairside")
    event.add("sequence", session.version)
    event.add("dtstamp", timezone.now().astimezone(dt.UTC))
    event.add("dtstart", session.start.astimezone(zone))
    event.add("dtend", session.end.astimezone(zone))
    event.add("summary", f"Appointment at {session.center.short_name}")
    event.add("status", "CANCELLED" if not session.is_live else "CONFIRMED")
    return event


def sessions_calendar(sessions: Iterable[InfusionSession], *, name: str = "Chairside") -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    for session in sessions:
        calendar.add_component(session_event(session))
    calendar.add_missing_timezones()
    return calendar.to_ical()
