"""iCalendar (RFC 5545) for sessions: the .ics attached to reminder emails.

Events carry the center's short name and the times only: nothing clinical.
Times are in the center's zone with its VTIMEZONE, so calendar apps keep a
09:00 session at 09:00 across daylight-saving changes.
"""

from __future__ import annotations

import datetime as dt
import functools
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
    zones, years = set(), set()
    for session in sessions:
        calendar.add_component(session_event(session))
        zones.add(session.center.time_zone)
        years.add(session.start.astimezone(session.center.zone).year)
    body = calendar.to_ical()
    if not zones:
        return body
    timezones = b"".join(_vtimezone(zone, min(years), max(years)) for zone in sorted(zones))
    # VTIMEZONE goes before the events that use it, right after the calendar's own properties.
    head, marker, events = body.partition(b"BEGIN:VEVENT")
    return head + timezones + marker + events


@functools.lru_cache(maxsize=64)
def _vtimezone(zone: str, first_year: int, last_year: int) -> bytes:
    """The zone's VTIMEZONE for the years the events need, serialised once per process.

    Building and folding the default 1970-2038 span costs ten milliseconds and
    kilobytes per message; a zone's rules for given years never change.
    """
    component = icalendar.Timezone.from_tzid(
        zone, first_date=dt.date(first_year - 1, 1, 1), last_date=dt.date(last_year + 1, 12, 31)
    )
    return component.to_ical()
