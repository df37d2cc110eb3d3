"""What a center's days hold, loaded once, and the booking rules checked against it.

A Ledger loads a center's hours, closures, staffing, chairs and the live
sessions of a date range (plus the patient's sessions elsewhere) in a fixed
number of queries, then answers every "does this fit?" in memory, so that
placing a whole series costs the same queries however full the center is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q

from infusions.models import Center, Chair, InfusionSession, StaffingDay
from infusions.scheduling.dates import NonexistentLocalTime, local_instant

# Reason codes, as the API reports them.
CHAIR_BUSY = "chair_busy"
PATIENT_BUSY = "patient_busy"
OUTSIDE_HOURS = "outside_hours"
CENTER_CLOSED = "center_closed"
NURSE_CAPACITY = "nurse_capacity"
NONEXISTENT_TIME = "nonexistent_time"

START_WINDOW = dt.timedelta(minutes=30)  # infusion starts are levelled per 30 minutes


@dataclass(frozen=True)
class Booking:
    """A live session as the rules see it (stored, or placed earlier in this booking)."""

    chair_id: int
    patient_id: int
    center_id: int
    start: dt.datetime
    end: dt.datetime
    session_id: int | None = None

    def overlaps(self, start: dt.datetime, end: dt.datetime) -> bool:
        return self.start < end and start < self.end


@dataclass
class Day:
    date: dt.date
    opens: dt.datetime | None
    closes: dt.datetime | None
    nurses: int
    bookings: list[Booking] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.opens is not None


class Ledger:
    def __init__(self, center: Center, first: dt.date, last: dt.date, *, patient_ids: set[int] = frozenset()):
        self.center = center
        self.first, self.last = first, last
        self.zone = center.zone
        self.slot = dt.timedelta(minutes=center.slot_minutes)
        self.chairs: list[Chair] = list(center.chairs.filter(is_active=True).order_by("name", "id"))
        self.days = self._load_days()
        self.elsewhere: list[Booking] = []  # the patients' sessions at other centers
        self._load_sessions(patient_ids)
        self.ignored: set[int] = set()

    # -- loading ---------------------------------------------------------------

    def _load_days(self) -> dict[dt.date, Day]:
        hours = {h.weekday: h for h in self.center.opening_hours.all()}
        closed = set(
            self.center.closed_dates.filter(date__range=(self.first, self.last)).values_list(
                "date", flat=True
            )
        )
        staffing = dict(
            StaffingDay.objects.filter(
                center=self.center, date__range=(self.first, self.last), nurses_on_duty__isnull=False
            ).values_list("date", "nurses_on_duty")
        )
        days = {}
        day = self.first
        while day <= self.last:
            opening = hours.get(day.weekday())
            opens = closes = None
            if opening is not None and day not in closed:
                opens, closes = self._local(day, opening.opens), self._local(day, opening.closes)
            nurses = staffing.get(day, self.center.default_nurses_on_duty)
            days[day] = Day(day, opens, closes, nurses)
            day += dt.timedelta(days=1)
        return days

    def _local(self, day: dt.date, time: dt.time) -> dt.datetime:
        try:
            return local_instant(day, time, self.zone)
        except NonexistentLocalTime:
            # Opening at a skipped time means opening when the clocks resume.
            return dt.datetime.combine(day, time, tzinfo=self.zone).astimezone(dt.UTC).astimezone(self.zone)

    def _load_sessions(self, patient_ids: set[int]) -> None:
        begin = dt.datetime.combine(self.first, dt.time.min, tzinfo=self.zone)
        end = dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time.min, tzinfo=self.zone)
        rows = (
            InfusionSession.objects.live()
            .overlapping(begin, end)
            .filter(Q(center=self.center) | Q(patient_id__in=patient_ids))
            .values_list("id", "chair_id", "patient_id", "center_id", "start", "end")
        )
        for session_id, chair_id, patient_id, center_id, start, finish in rows:
            self.add(Booking(chair_id, patient_id, center_id, start, finish, session_id))

    # -- recording -------------------------------------------------------------

    def local_date(self, instant: dt.datetime) -> dt.date:
        return instant.astimezone(self.zone).date()

    def add(self, booking: Booking) -> None:
        day = self.days.get(self.local_date(booking.start))
        if booking.center_id != self.center.pk or day is None:
            self.elsewhere.append(booking)
        else:
            day.bookings.append(booking)

    def ignore(self, session_id: int) -> None:
        """Leave a session out of every check (the one being rescheduled)."""
        self.ignored.add(session_id)

    def _live(self, day: Day | None) -> list[Booking]:
        if day is None:
            return []
        return [b for b in day.bookings if b.session_id not in self.ignored]

    def _nearby(self, start: dt.datetime, end: dt.datetime) -> list[Booking]:
        """Bookings at this center overlapping [start, end), from the day before on."""
        found = []
        for offset in (-1, 0):
            day = self.days.get(self.local_date(start) + dt.timedelta(days=offset))
            found += [b for b in self._live(day) if b.overlaps(start, end)]
        return found

    # -- rules ------------------------------------------------------------------

    def reasons(self, *, chair_id: int, patient_id: int, start: dt.datetime, end: dt.datetime) -> list[str]:
        """Why a session cannot go here, as reason codes; empty when it fits."""
        day = self.days.get(self.local_date(start))
        if day is None or not day.is_open:
            return [CENTER_CLOSED]
        reasons = []
        if start < day.opens or end > day.closes:
            reasons.append(OUTSIDE_HOURS)
        overlapping = self._nearby(start, end)
        if any(b.chair_id == chair_id for b in overlapping):
            reasons.append(CHAIR_BUSY)
        others = overlapping + [b for b in self.elsewhere if b.session_id not in self.ignored]
        if any(b.patient_id == patient_id and b.overlaps(start, end) for b in others):
            reasons.append(PATIENT_BUSY)
        if self._over_capacity(day, start, end, overlapping):
            reasons.append(NURSE_CAPACITY)
        return reasons

    def capacity(self, day: Day) -> int:
        return day.nurses * self.center.patients_per_nurse

    def _over_capacity(
        self, day: Day, start: dt.datetime, end: dt.datetime, overlapping: list[Booking]
    ) -> bool:
        if self.running_peak(start, end, overlapping) + 1 > self.capacity(day):
            return True
        slot_start = start - (start - day.opens) % self.slot if day.opens else start
        starts = sum(1 for b in self._live(day) if slot_start <= b.start < slot_start + self.slot)
        return starts + 1 > day.nurses

    @staticmethod
    def running_peak(start: dt.datetime, end: dt.datetime, overlapping: list[Booking]) -> int:
        """Most sessions running at once within [start, end), before adding one."""
        points = [start] + [b.start for b in overlapping if start < b.start < end]
        return max((sum(1 for b in overlapping if b.start <= p < b.end) for p in points), default=0)

    def starts_peak(self, start: dt.datetime) -> int:
        """Most starts, counting one more at `start`, in any 30-minute window that holds it."""
        day = self.days.get(self.local_date(start))
        times = sorted([b.start for b in self._live(day)] + [start])
        peak = 0
        for first in times:
            if first <= start < first + START_WINDOW or start <= first < start + START_WINDOW:
                window_start = min(first, start)
                peak = max(peak, sum(1 for t in times if window_start <= t < window_start + START_WINDOW))
        return peak

    def load_key(self, start: dt.datetime, end: dt.datetime) -> tuple[int, int]:
        """How crowded the nurses would be: (peak starts near it, peak running over it), after adding."""
        return self.starts_peak(start), self.running_peak(start, end, self._nearby(start, end)) + 1

    def remove(self, booking: Booking) -> None:
        day = self.days.get(self.local_date(booking.start))
        if day is not None and booking in day.bookings:
            day.bookings.remove(booking)
        elif booking in self.elsewhere:
            self.elsewhere.remove(booking)

    def open_days(self, first: dt.date, last: dt.date) -> list[Day]:
        return [d for d in self.days.values() if first <= d.date <= last and d.is_open]

    def next_open_day(self, after: dt.date) -> Day | None:
        return next((d for d in self.days.values() if d.date > after and d.is_open), None)
