"""When a session's next vital signs are due.

docs/clinical-practice.md, Vital signs: before the start; about 15 min after the
start; before each rate increase; at least hourly at the maintenance rate; at the
end. `vitals_due` applies that schedule to plain times and rates so it can be
tested with numbers; `session_vitals_due` feeds it a session's record.

How a set of vitals counts:
- the 15-minute check is met by any set taken from 10 minutes after the start;
- a rate increase (a planned step up, or one already logged) is met by a set taken
  up to 15 minutes before it, or any time after;
- the hourly check runs from the latest set (or from the start, with none).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from infusions.chairside.common import EPSILON, in_force
from infusions.chairside.ratelog import rate_events
from infusions.chairside.timeline import planned_ladder_rows
from infusions.models import InfusionSession, RateChange, Reaction, SessionStatus, VitalSigns

AFTER_START = dt.timedelta(minutes=15)
AFTER_START_FROM = dt.timedelta(minutes=10)
BEFORE_INCREASE = dt.timedelta(minutes=15)
HOURLY = dt.timedelta(hours=1)
AT_THE_END = dt.timedelta(minutes=15)  # a set this close before completion is the end-of-infusion set


@dataclass(frozen=True)
class VitalsDue:
    """The next vitals: due `at` (None when no time applies) and why."""

    at: dt.datetime | None
    reason: str

    def is_due(self, now: dt.datetime) -> bool:
        return self.at is not None and self.at <= now


def _ml(value: float) -> str:
    return f"{value:.1f} mL/h"


def _last_increase(rates: Sequence[tuple[dt.datetime, float]]) -> tuple[dt.datetime, float] | None:
    """The latest logged rate above the one before it (a restart after a pause included)."""
    found, previous = None, None
    for at, rate in rates:
        if previous is not None and rate > previous + EPSILON:
            found = (at, rate)
        previous = rate
    return found


def _next_step_up(
    rates: Sequence[tuple[dt.datetime, float]],
    started_at: dt.datetime,
    ladder: Sequence[tuple[float, float | None]],
) -> tuple[dt.datetime, float] | None:
    """The next planned rate above the running one, and when the ladder allows it.

    The ladder clock starts again at a restart after a pause; while paused the
    restart itself is the next increase, and its time is not known.
    """
    if not ladder or any(rate is None for _, rate in ladder):
        return None
    origin, current, previous = started_at, ladder[0][1], None
    for at, rate in rates:
        if previous == 0 and rate > 0:
            origin = at
        current, previous = rate, rate
    if current <= EPSILON:
        return None
    for minute, rate in ladder:
        if rate > current + EPSILON:
            return origin + dt.timedelta(minutes=minute), rate
    return None


def _met(vitals: Iterable[dt.datetime], since: dt.datetime) -> bool:
    return any(taken >= since for taken in vitals)


def _while_running(
    started_at: dt.datetime,
    vitals: Sequence[dt.datetime],
    rates: Sequence[tuple[dt.datetime, float]],
    ladder: Sequence[tuple[float, float | None]],
) -> VitalsDue:
    checks: list[tuple[dt.datetime, str]] = []
    if not _met(vitals, started_at + AFTER_START_FROM):
        checks.append((started_at + AFTER_START, "about 15 minutes after the start"))
    increase = _last_increase(rates)
    if increase is not None and not _met(vitals, increase[0] - BEFORE_INCREASE):
        checks.append((increase[0], f"none taken for the increase to {_ml(increase[1])}"))
    step = _next_step_up(rates, started_at, ladder)
    if step is not None and not _met(vitals, step[0] - BEFORE_INCREASE):
        checks.append((step[0], f"before the step up to {_ml(step[1])}"))
    latest = max(vitals, default=None)
    checks.append(((latest or started_at) + HOURLY, "at least hourly during the infusion"))
    at, reason = min(checks, key=lambda check: check[0])  # the first listed wins a tie
    return VitalsDue(at, reason)


def vitals_due(
    *,
    status: str,
    checked_in_at: dt.datetime | None,
    started_at: dt.datetime | None,
    completed_at: dt.datetime | None,
    vitals: Sequence[dt.datetime],
    rates: Sequence[tuple[dt.datetime, float]],
    ladder: Sequence[tuple[float, float | None]],
) -> VitalsDue:
    """The next vital signs of a session (docs/clinical-practice.md, Vital signs).

    `vitals` are the times of the sets in force; `rates` the rate log in time order
    as (time, mL/h), pauses as 0; `ladder` the planned steps as (start minute, mL/h).
    """
    if status in (SessionStatus.CANCELLED, SessionStatus.NO_SHOW):
        return VitalsDue(None, "No vitals are due: the session did not take place.")
    if status in (SessionStatus.SCHEDULED, SessionStatus.CONFIRMED):
        return VitalsDue(None, "Vitals are due at check-in, before the infusion starts.")
    if status == SessionStatus.CHECKED_IN or started_at is None:
        if vitals:
            return VitalsDue(
                None, "Baseline vitals taken; the next set is due about 15 minutes after the start."
            )
        return VitalsDue(checked_in_at, "baseline, before the infusion starts")
    if status == SessionStatus.COMPLETED:
        if completed_at is not None and _met(vitals, completed_at - AT_THE_END):
            return VitalsDue(None, "Session completed; vitals at the end were recorded.")
        return VitalsDue(None, "Session completed without a set of vitals at the end of the infusion.")
    return _while_running(started_at, sorted(vitals), rates, ladder)


def session_vitals_due(
    session: InfusionSession,
    *,
    rates: Iterable[RateChange],
    reactions: Iterable[Reaction],
    vitals: Iterable[VitalSigns],
    dosing_weight: float | None,
) -> VitalsDue:
    """`vitals_due` for a session, from its records (already loaded) and the planned ladder
    in mL/h at `dosing_weight` (as booked when None)."""
    events = rate_events(rates, reactions)
    ladder = [
        (row["start_minute"], row["rate_ml_per_hour"]) for row in planned_ladder_rows(session, dosing_weight)
    ]
    return vitals_due(
        status=session.status,
        checked_in_at=session.checked_in_at,
        started_at=session.started_at,
        completed_at=session.completed_at,
        vitals=[entry.at for entry in in_force(vitals)],
        rates=[(event.at, event.rate_ml_per_hour) for event in events],
        ladder=ladder,
    )
