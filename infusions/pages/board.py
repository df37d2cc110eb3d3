"""Day board and week load (schedulers, nurses).

Both pages read a center's days through the scheduling Ledger, the loader that
booking checks its rules against (hours, closures, staffing, active chairs and
live sessions in a fixed number of queries). So the load strip counts nurse
capacity exactly as booking does, and each page costs the same queries
however many chairs and sessions it shows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from infusions.models import RELEASED_STATUSES, Center, Chair, InfusionSession, SessionStatus
from infusions.pages.common import chosen_center, chosen_date, clinical_page
from infusions.scheduling.dates import NonexistentLocalTime, local_instant
from infusions.scheduling.ledger import Day, Ledger

# Far enough for any real schedule, near enough that a day's edges stay valid datetimes.

# -- arithmetic -------------------------------------------------------------------
# Instants go through UTC: Python compares and subtracts two datetimes sharing a
# zone by their wall clocks, which is an hour off across a daylight-saving change.


def utc(instant: dt.datetime) -> dt.datetime:
    return instant.astimezone(dt.UTC)


def hours_between(start: dt.datetime, end: dt.datetime) -> float:
    return (utc(end) - utc(start)).total_seconds() / 3600


def overlap_hours(
    start: dt.datetime, end: dt.datetime, window_start: dt.datetime, window_end: dt.datetime
) -> float:
    """Hours of [start, end) inside [window_start, window_end)."""
    return max(0.0, hours_between(max(utc(start), utc(window_start)), min(utc(end), utc(window_end))))


def percent_along(instant: dt.datetime, opens: dt.datetime, closes: dt.datetime) -> float:
    """Where `instant` falls between opening and closing, in percent, held to 0–100."""
    share = hours_between(opens, instant) / hours_between(opens, closes)
    return round(min(max(share, 0.0), 1.0) * 100, 3)


def span_percent(
    start: dt.datetime, end: dt.datetime, opens: dt.datetime, closes: dt.datetime
) -> tuple[float, float]:
    """Left edge and width, in percent of the open day, of a block from `start` to `end`."""
    left = percent_along(start, opens, closes)
    return left, round(percent_along(end, opens, closes) - left, 3)


def utilisation_percent(used_hours: float, available_hours: float) -> float | None:
    """Used ÷ available chair-hours in percent, to one decimal; None when nothing was open."""
    if available_hours <= 0:
        return None
    return round(100 * used_hours / available_hours, 1)


# -- what the pages show ------------------------------------------------------------


# The page's display strings are made here rather than with template filters: a board has
# dozens of blocks and slots, and each `date` or `stringformat` filter in a loop costs more
# than the f-string (the datetimes are already in the center's zone, as the page shows them).


def clock(instant: dt.datetime) -> str:
    return f"{instant:%H:%M}"


def position_style(left: float, width: float) -> str:
    return f"left: {left:.3f}%; width: {width:.3f}%"


@dataclass(frozen=True)
class Block:
    """A session as the board draws or lists it, in the center's local time."""

    session: InfusionSession
    start: dt.datetime
    end: dt.datetime
    left: float = 0.0
    width: float = 0.0

    @property
    def times(self) -> str:
        return f"{clock(self.start)}–{clock(self.end)}"

    @property
    def style(self) -> str:
        return position_style(self.left, self.width)

    @property
    def patient_label(self) -> str:
        """Family name and initial ("Okafor, A."), as the board and its tables name a patient."""
        patient = self.session.patient
        return f"{patient.family_name}, {patient.given_name[:1]}."


@dataclass
class ChairRow:
    chair: Chair
    blocks: list[Block] = field(default_factory=list)


@dataclass(frozen=True)
class Slot:
    start: dt.datetime
    end: dt.datetime
    running: int
    capacity: int
    left: float
    width: float

    @property
    def full(self) -> bool:
        return self.running >= self.capacity

    @property
    def over(self) -> bool:
        return self.running > self.capacity

    @property
    def room(self) -> int:
        return max(0, self.capacity - self.running)

    @property
    def times(self) -> str:
        return f"{clock(self.start)}–{clock(self.end)}"

    @property
    def testid(self) -> str:
        return f"load-slot-{self.start:%H%M}"

    @property
    def css(self) -> str:
        flags = (("slot-idle", not self.running), ("slot-full", self.full), ("slot-over", self.over))
        return " ".join(["slot", *(name for name, on in flags if on)])

    @property
    def style(self) -> str:
        return position_style(self.left, self.width)

    @property
    def title(self) -> str:
        return f"{self.times}: {self.running} running, capacity {self.capacity}"

    @property
    def state(self) -> str:
        if self.over:
            return "Over capacity"
        if self.full:
            return "At capacity"
        return f"Room for {self.room}"


@dataclass(frozen=True)
class Tick:
    label: str
    left: float

    @property
    def style(self) -> str:
        return f"left: {self.left:.3f}%"


@dataclass(frozen=True)
class Cell:
    """One hour of one day on the week's heatmap."""

    start: dt.datetime
    used: float
    available: float

    @property
    def percent(self) -> float | None:
        return utilisation_percent(self.used, self.available)

    @property
    def fill(self) -> float:
        """Shade, 0 to 1: used ÷ available chair-hours of the hour."""
        return min(1.0, self.used / self.available) if self.available else 0.0


@dataclass
class WeekRow:
    date: dt.date
    is_open: bool
    closed_reason: str
    cells: list[Cell] = field(default_factory=list)

    @property
    def used(self) -> float:
        return sum(cell.used for cell in self.cells)

    @property
    def available(self) -> float:
        return sum(cell.available for cell in self.cells)

    @property
    def percent(self) -> float | None:
        return utilisation_percent(self.used, self.available)


def page_url(name: str, center: Center, **params: str) -> str:
    return f"{reverse(name)}?{urlencode({'center': center.pk, **params})}"


def closed_reasons(center: Center, first: dt.date, last: dt.date) -> dict[dt.date, str]:
    return dict(center.closed_dates.filter(date__range=(first, last)).values_list("date", "reason"))


def zone_abbreviations(instants: list[dt.datetime], center: Center, day: dt.date) -> str:
    """The zone's abbreviation at `instants` (noon of `day` if none): EST, or EST/EDT across a change."""
    if not instants:
        instants = [dt.datetime.combine(day, dt.time(12), tzinfo=center.zone)]
    return "/".join(dict.fromkeys(instant.astimezone(center.zone).tzname() for instant in instants))


def picker_context(center: Center, field_name: str, field_label: str, value: dt.date) -> dict:
    return {
        "centers": Center.objects.order_by("name").only("pk", "name"),
        "center": center,
        "date_field": field_name,
        "date_label": field_label,
        "date_value": value,
    }


# -- day board ----------------------------------------------------------------------


def block_for(session: InfusionSession, day: Day, center: Center) -> Block:
    start, end = session.start.astimezone(center.zone), session.end.astimezone(center.zone)
    if not day.is_open:
        return Block(session, start, end)
    return Block(session, start, end, *span_percent(start, end, day.opens, day.closes))


def chair_rows(chairs: list[Chair], blocks: list[Block]) -> list[ChairRow]:
    """A row per active chair in order, plus any inactive chair still holding a session that day."""
    rows = {chair.pk: ChairRow(chair) for chair in chairs}
    for block in blocks:
        rows.setdefault(block.session.chair_id, ChairRow(block.session.chair)).blocks.append(block)
    return list(rows.values())


def hour_ticks(day: Day, center: Center) -> list[Tick]:
    ticks = []
    for hour in range(day.opens.hour, day.closes.hour + 1):
        try:
            instant = local_instant(day.date, dt.time(hour), center.zone)
        except NonexistentLocalTime:
            continue
        if utc(day.opens) <= utc(instant) <= utc(day.closes):
            ticks.append(Tick(f"{hour:02d}:00", percent_along(instant, day.opens, day.closes)))
    return ticks


def load_slots(ledger: Ledger, day: Day) -> list[Slot]:
    """Infusions running in each slot of the open day against nurse capacity, as booking counts them."""
    capacity = ledger.capacity(day)
    slots, start, closes = [], utc(day.opens), utc(day.closes)
    while start < closes:
        end = min(start + ledger.slot, closes)
        running = ledger.running_peak(start, end, [b for b in day.bookings if b.overlaps(start, end)])
        left, width = span_percent(start, end, day.opens, day.closes)
        local = start.astimezone(ledger.zone), end.astimezone(ledger.zone)
        slots.append(Slot(*local, running, capacity, left, width))
        start = end
    return slots


def full_stretches(slots: list[Slot]) -> list[tuple[Slot, Slot]]:
    """Consecutive slots at or over capacity, as (first, last) pairs."""
    stretches: list[tuple[Slot, Slot]] = []
    for previous, slot in zip([None, *slots], slots, strict=False):
        if not slot.full:
            continue
        if previous is not None and previous.full:
            stretches[-1] = (stretches[-1][0], slot)
        else:
            stretches.append((slot, slot))
    return stretches


def now_percent(day: Day, now: dt.datetime) -> float | None:
    """Where the "now" line goes: only today, and only while open."""
    if not day.is_open or not utc(day.opens) <= utc(now) < utc(day.closes):
        return None
    return percent_along(now, day.opens, day.closes)


def closed_message(center: Center, day: dt.date, reasons: dict[dt.date, str]) -> str:
    if day in reasons:
        reason = f": {reasons[day]}" if reasons[day] else ""
        return f"{center.name} is closed on {day:%A} {day.day} {day:%B %Y}{reason}."
    return f"{center.name} is closed on {day:%A}s (no opening hours that weekday)."


def day_board_context(center: Center, day: dt.date, now: dt.datetime) -> dict:
    ledger = Ledger(center, day, day)
    today = ledger.days[day]
    sessions = InfusionSession.objects.on_day(day, center).for_board().order_by("start")
    blocks = [block_for(session, today, center) for session in sessions]
    live = [block for block in blocks if block.session.is_live]
    local_today = timezone.localdate(now, timezone=center.zone)
    context = {
        "day": day,
        "is_open": today.is_open,
        "zone_abbrev": zone_abbreviations([today.opens, today.closes] if today.is_open else [], center, day),
        "released": [block for block in blocks if not block.session.is_live],
        "statuses": [
            (value, label, value not in RELEASED_STATUSES) for value, label in SessionStatus.choices
        ],
        "step_label": "Other days",
        "step_links": [
            ("Previous day", page_url("board", center, date=f"{day - dt.timedelta(days=1):%Y-%m-%d}")),
            ("Today", page_url("board", center, date=f"{local_today:%Y-%m-%d}")),
            ("Next day", page_url("board", center, date=f"{day + dt.timedelta(days=1):%Y-%m-%d}")),
            ("Week load", page_url("load", center, week=f"{day:%Y-%m-%d}")),
        ],
        **picker_context(center, "date", "Date", day),
    }
    if not today.is_open:
        return {
            **context,
            "closed_message": closed_message(center, day, closed_reasons(center, day, day)),
            "stranded": live,
        }
    slots = load_slots(ledger, today)
    return {
        **context,
        "opens": today.opens,
        "closes": today.closes,
        "open_hours": hours_between(today.opens, today.closes),
        "ticks": hour_ticks(today, center),
        "rows": chair_rows(ledger.chairs, live),
        "slots": slots,
        "capacity": ledger.capacity(today),
        "nurses": today.nurses,
        "full_stretches": full_stretches(slots),
        "now": now.astimezone(center.zone),
        "now_percent": now_percent(today, now) if day == local_today else None,
    }


@clinical_page
def day_board(request: HttpRequest) -> HttpResponse:
    center = chosen_center(request)
    if center is None:
        return render(request, "board/no_center.html", {"nav": "board", "title": "Day board"})
    day = chosen_date(request, "date", center)
    context = day_board_context(center, day, timezone.now())
    return render(request, "board/day.html", {"nav": "board", **context})


# -- week load ----------------------------------------------------------------------


def wall_clock(day: dt.date, hour: int, center: Center) -> dt.datetime:
    """`hour`:00 on `day` in the center's zone; hour 24 is the next midnight."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=center.zone) + dt.timedelta(hours=hour)


def open_hour_range(days: list[Day]) -> range:
    """Local hours of the day covering every open day's hours (closing at 17:30 counts 17:00–18:00)."""
    opening = [d for d in days if d.is_open]
    if not opening:
        return range(0)
    first = min(d.opens.hour for d in opening)
    last = max(d.closes.hour + (1 if d.closes.time() > dt.time(d.closes.hour) else 0) for d in opening)
    return range(first, last)


def hour_cell(day: Day, hour: int, chairs: int, center: Center) -> Cell:
    """Chair-hours used and available in one hour; both count only time the center is open."""
    start = utc(wall_clock(day.date, hour, center))
    end = max(start, utc(wall_clock(day.date, hour + 1, center)))
    window_start, window_end = max(start, utc(day.opens)), min(end, utc(day.closes))
    used = sum(overlap_hours(b.start, b.end, window_start, window_end) for b in day.bookings)
    available = chairs * overlap_hours(start, end, day.opens, day.closes)
    return Cell(start.astimezone(center.zone), used, available)


def week_rows(ledger: Ledger, hours: range, reasons: dict[dt.date, str]) -> list[WeekRow]:
    rows = []
    for day in ledger.days.values():
        row = WeekRow(day.date, day.is_open, reasons.get(day.date, ""))
        if day.is_open:
            row.cells = [hour_cell(day, hour, len(ledger.chairs), ledger.center) for hour in hours]
        rows.append(row)
    return rows


def week_load_context(center: Center, any_day: dt.date) -> dict:
    monday = any_day - dt.timedelta(days=any_day.weekday())
    sunday = monday + dt.timedelta(days=6)
    ledger = Ledger(center, monday, sunday)
    hours = open_hour_range(list(ledger.days.values()))
    rows = week_rows(ledger, hours, closed_reasons(center, monday, sunday))
    used = sum(row.used for row in rows)
    available = sum(row.available for row in rows)
    edges = [instant for d in ledger.days.values() if d.is_open for instant in (d.opens, d.closes)]
    this_week = timezone.localdate(timezone=center.zone)
    return {
        "monday": monday,
        "sunday": sunday,
        "hours": [f"{hour:02d}:00" for hour in hours],
        "rows": rows,
        "chairs": len(ledger.chairs),
        "used": used,
        "available": available,
        "utilisation": utilisation_percent(used, available),
        "zone_abbrev": zone_abbreviations(edges, center, monday),
        "step_label": "Other weeks",
        "step_links": [
            ("Previous week", page_url("load", center, week=f"{monday - dt.timedelta(days=7):%Y-%m-%d}")),
            ("This week", page_url("load", center, week=f"{this_week:%Y-%m-%d}")),
            ("Next week", page_url("load", center, week=f"{monday + dt.timedelta(days=7):%Y-%m-%d}")),
        ],
        **picker_context(center, "week", "Week of", any_day),
    }


@clinical_page
def week_load(request: HttpRequest) -> HttpResponse:
    center = chosen_center(request)
    if center is None:
        return render(request, "board/no_center.html", {"nav": "load", "title": "Week load"})
    day = chosen_date(request, "week", center)
    return render(request, "board/week.html", {"nav": "load", **week_load_context(center, day)})
