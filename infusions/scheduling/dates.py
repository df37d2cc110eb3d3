"""Calendar arithmetic for series: course dates and local wall-clock instants.

Plain functions on dates and zones; no database.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

INTERVAL_DAYS = {"biweekly": 14, "every_4_weeks": 28}


class NonexistentLocalTime(ValueError):
    """A wall-clock time skipped by a daylight-saving change (02:30 on spring-forward day)."""


def course_start_dates(
    *, interval: str, start_date: dt.date, course_count: int, interval_days: int | None = None
) -> list[dt.date]:
    """The interval date of every course (before moving to an open day).

    Monthly courses fall on the start date's day of month, clamped to the
    month's end, always counted from the start date: Jan 31 gives Feb 28 then
    Mar 31, never drifting to the 28th as chaining from the previous date would.
    """
    if interval == "monthly":
        return [start_date + relativedelta(months=k) for k in range(course_count)]
    step = INTERVAL_DAYS.get(interval, interval_days)
    if step is None:
        raise ValueError(f"Interval {interval!r} needs interval_days.")
    return [start_date + dt.timedelta(days=step * k) for k in range(course_count)]


def local_instant(day: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    """`time` on `day` in `zone` as an aware datetime.

    A time that does not exist that day raises NonexistentLocalTime; Python
    would silently move it an hour. An ambiguous time (fall-back day) means its
    first occurrence, in daylight time (fold=0).
    """
    instant = dt.datetime.combine(day, time, tzinfo=zone)
    round_trip = instant.astimezone(dt.UTC).astimezone(zone)
    if round_trip.replace(tzinfo=None) != instant.replace(tzinfo=None):
        raise NonexistentLocalTime(
            f"{time:%H:%M} does not exist on {day:%Y-%m-%d} in {zone.key}: the clocks skip it."
        )
    return round_trip


def offset_matches_zone(instant: dt.datetime, zone: ZoneInfo) -> bool:
    """Whether an instant given with an offset names a real wall-clock time in `zone`.

    UTC ("Z") is always accepted; any other offset must be the zone's own at
    that instant, so "02:30-05:00" on New York's spring-forward day is refused
    instead of being read as 03:30.
    """
    offset = instant.utcoffset()
    return offset == dt.timedelta(0) or offset == instant.astimezone(zone).utcoffset()


def zone_offsets(zone: ZoneInfo, first: dt.date, days: int) -> list[dict]:
    """The zone's UTC offset from `first` for `days` days, as the local wall-clock times
    ("YYYY-MM-DDTHH:MM") from which each offset applies.

    The page turns a local date and time into an instant with its offset from this
    list; a wall-clock time that does not exist (a skipped daylight-saving hour) is
    then refused by the API with a message naming the zone.
    """
    instant = dt.datetime.combine(first, dt.time.min, tzinfo=zone).astimezone(dt.UTC)
    until = instant + dt.timedelta(days=days)

    def entry(at: dt.datetime) -> dict:
        local = at.astimezone(zone)
        offset = local.isoformat()[19:] or "+00:00"
        return {"from": f"{local:%Y-%m-%dT%H:%M}", "offset": offset}

    changes = [entry(instant)]
    day = dt.timedelta(days=1)
    while instant < until:
        if (instant + day).astimezone(zone).utcoffset() != instant.astimezone(zone).utcoffset():
            step = dt.timedelta(minutes=15)  # offsets change on quarter hours
            moment = instant
            while moment.astimezone(zone).utcoffset() == instant.astimezone(zone).utcoffset():
                moment += step
            changes.append(entry(moment))
        instant += day
    return changes
