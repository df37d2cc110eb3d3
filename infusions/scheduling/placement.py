"""Choosing where sessions go: load-levelled placement of a plan's courses.

Among the feasible choices for a course day (the day, a start within the
plan's flexibility of its preferred time, a chair) placement takes the one
with the lowest peak of infusion starts, then of running infusions, over the
session's span, the way commercial infusion schedulers level nurse load; ties
go to the time nearest the preferred one, then to the patient's previous chair.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from infusions.scheduling.dates import NonexistentLocalTime, local_instant
from infusions.scheduling.ledger import CENTER_CLOSED, NONEXISTENT_TIME, Booking, Day, Ledger

MAX_ALTERNATIVES = 3
ALTERNATIVE_DAYS = 14  # how far past a failed date alternatives are looked for


@dataclass(frozen=True)
class Placement:
    course: int | None
    day: int | None
    chair_id: int
    start: dt.datetime
    end: dt.datetime
    long_observation: bool


@dataclass
class Conflict:
    course: int
    day: int
    date: dt.date
    reasons: list[str]
    alternatives: list[dict] = field(default_factory=list)


@dataclass
class History:
    """The patient's infusion before the one being placed: long observation follows a gap or a switch."""

    last_end: dt.datetime | None
    switched: bool = False

    def long_observation(self, start: dt.datetime, long_gap: dt.timedelta) -> bool:
        return self.last_end is None or self.switched or start - self.last_end > long_gap


@dataclass(frozen=True)
class SeriesSpec:
    """What placement needs from a plan."""

    patient_id: int
    preferred: dt.time
    flexibility: dt.timedelta
    window_days: int
    days_per_course: int
    previous_chair_id: int | None = None
    last_day: dt.date | None = None  # nothing is placed after it (the booking locked no later day)


class Placer:
    def __init__(self, ledger: Ledger, spec: SeriesSpec, minutes_for, long_gap: dt.timedelta):
        self.ledger = ledger
        self.spec = spec
        self.minutes_for = minutes_for  # long_observation -> chair minutes
        self.long_gap = long_gap
        self.previous_chair_id = spec.previous_chair_id

    # -- one session ------------------------------------------------------------

    def candidates(self, day: Day, around: dt.time, spread: dt.timedelta) -> list[tuple[dt.datetime, float]]:
        """UTC start times on the slot grid within `spread` of `around` that day, nearest first.

        Arithmetic is on UTC instants: adding minutes to a zoned datetime would
        add wall-clock time and be an hour out across a daylight-saving change.
        """
        try:
            centre = local_instant(day.date, around, self.ledger.zone).astimezone(dt.UTC)
        except NonexistentLocalTime:
            return []
        found, step = [], dt.timedelta(0)
        while step <= spread:
            for start in {centre - step, centre + step}:
                if self.ledger.local_date(start) == day.date:
                    found.append((start, step.total_seconds() / 60))
            step += self.ledger.slot
        return sorted(found, key=lambda pair: (pair[1], pair[0]))

    def best(self, day: Day, history: History, *, spread: dt.timedelta) -> Placement | None:
        best_key, best = None, None
        for start, distance in self.candidates(day, self.spec.preferred, spread):
            long = history.long_observation(start, self.long_gap)
            end = start + dt.timedelta(minutes=self.minutes_for(long))
            load = None
            for chair in self.ledger.chairs:
                if self.ledger.reasons(
                    chair_id=chair.pk, patient_id=self.spec.patient_id, start=start, end=end
                ):
                    continue
                load = load or self.ledger.load_key(start, end)
                key = (*load, distance, chair.pk != self.previous_chair_id)
                if best_key is None or key < best_key:
                    best_key, best = key, Placement(None, None, chair.pk, start, end, long)
        return best

    def blocking_reasons(self, day: Day, history: History) -> list[str]:
        """Why the preferred time fails on `day`: the fewest reasons any chair gives."""
        try:
            start = local_instant(day.date, self.spec.preferred, self.ledger.zone).astimezone(dt.UTC)
        except NonexistentLocalTime:
            return [NONEXISTENT_TIME]
        end = start + dt.timedelta(minutes=self.minutes_for(history.long_observation(start, self.long_gap)))
        per_chair = [
            self.ledger.reasons(chair_id=c.pk, patient_id=self.spec.patient_id, start=start, end=end)
            for c in self.ledger.chairs
        ]
        return min(per_chair, key=len, default=[CENTER_CLOSED]) or ["chair_busy"]

    def alternatives(self, date: dt.date, history: History) -> list[dict]:
        """Up to three nearest times that would work on `date` or the days after, any chair."""
        found = []
        for day in self.ledger.open_days(date, date + dt.timedelta(days=ALTERNATIVE_DAYS)):
            whole_day = dt.timedelta(hours=24)
            for start, _ in self.candidates(day, self.spec.preferred, whole_day):
                end = start + dt.timedelta(
                    minutes=self.minutes_for(history.long_observation(start, self.long_gap))
                )
                chair = next(
                    (
                        c
                        for c in self.ledger.chairs
                        if not self.ledger.reasons(
                            chair_id=c.pk, patient_id=self.spec.patient_id, start=start, end=end
                        )
                    ),
                    None,
                )
                if chair is not None:
                    found.append({"start": start.astimezone(self.ledger.zone), "chair": chair.pk})
                if len(found) == MAX_ALTERNATIVES:
                    return found
        return found

    # -- a course ---------------------------------------------------------------

    def place_course(self, course: int, anchor: dt.date, history: History) -> list[Placement] | Conflict:
        """Day 1 on the interval date or the next open day within the window; days 2..N on the open days after."""
        failure: tuple[int, Day] | None = None
        last_day = anchor + dt.timedelta(days=self.spec.window_days)
        for first in self.ledger.open_days(anchor, last_day):
            placed, failed = self._try_days(course, first, history)
            if failed is None:
                return placed
            failure = failure or failed
        return self._conflict(course, anchor, failure, history)

    def _try_days(self, course: int, first: Day, history: History) -> tuple[list[Placement], tuple | None]:
        placed: list[Placement] = []
        day: Day | None = first
        trial = History(history.last_end, history.switched)
        for number in range(1, self.spec.days_per_course + 1):
            if day is not None and self.spec.last_day is not None and day.date > self.spec.last_day:
                day = None
            found = self.best(day, trial, spread=self.spec.flexibility) if day is not None else None
            if found is None:
                for p in placed:
                    self.ledger.remove(self._booking(p))
                return [], (number, day)
            found = Placement(course, number, found.chair_id, found.start, found.end, found.long_observation)
            placed.append(found)
            self.ledger.add(self._booking(found))
            trial = History(found.end)
            day = self.ledger.next_open_day(day.date)
        return placed, None

    def _conflict(self, course: int, anchor: dt.date, failure, history: History) -> Conflict:
        if failure is None or failure[1] is None:
            number = failure[0] if failure else 1
            return Conflict(course, number, anchor, [CENTER_CLOSED], self.alternatives(anchor, history))
        number, day = failure
        reasons = self.blocking_reasons(day, history)
        anchor_day = self.ledger.days.get(anchor)
        if anchor_day is not None and not anchor_day.is_open and CENTER_CLOSED not in reasons:
            reasons = [CENTER_CLOSED, *reasons]
        return Conflict(course, number, day.date, reasons, self.alternatives(day.date, history))

    def commit(self, placements: list[Placement]) -> None:
        if placements:
            self.previous_chair_id = placements[-1].chair_id

    def _booking(self, p: Placement) -> Booking:
        return Booking(p.chair_id, self.spec.patient_id, self.ledger.center.pk, p.start, p.end)
