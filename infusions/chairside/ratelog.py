"""The rate log: the rate entries and pausing reactions in force, in time order, and the
periods each rate ran for."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils import timezone

from infusions.chairside.common import in_force
from infusions.models import RateChange, Reaction, ReactionAction


@dataclass(frozen=True)
class RateEvent:
    """A point where the running rate changed: a rate entry, or a pause by a reaction."""

    at: dt.datetime
    order: dt.datetime  # ties at one instant go in the order they were typed
    rate_ml_per_hour: float
    rate_mg_kg_min: float
    entry: RateChange | None = None
    reaction: Reaction | None = None


def _typed(entry) -> dt.datetime:
    return entry.created_at or timezone.now()


def rate_events(rates: Iterable[RateChange], reactions: Iterable[Reaction]) -> list[RateEvent]:
    """The rate log in force, in time order; a paused or stopped reaction runs 0 mL/h from its time."""
    events = [
        RateEvent(r.at, _typed(r), float(r.rate_ml_per_hour), float(r.rate_mg_kg_min), entry=r)
        for r in in_force(rates)
    ]
    events += [
        RateEvent(x.at, _typed(x), 0.0, 0.0, reaction=x)
        for x in in_force(reactions)
        if x.action in (ReactionAction.PAUSED, ReactionAction.STOPPED)
    ]
    return sorted(events, key=lambda e: (e.at, e.order))


@dataclass(frozen=True)
class RatePeriod:
    start: dt.datetime
    end: dt.datetime | None  # None: still running
    rate_ml_per_hour: float
    rate_mg_kg_min: float
    entry: RateChange | None


def rate_periods(events: Sequence[RateEvent], until: dt.datetime | None) -> list[RatePeriod]:
    """Each rate held until the next event, the last until `until` (completion) or still running."""
    periods = []
    for index, event in enumerate(events):
        end = events[index + 1].at if index + 1 < len(events) else until
        if until is not None and end is not None:
            end = min(end, until)
        if end is not None and end <= event.at:
            continue
        periods.append(RatePeriod(event.at, end, event.rate_ml_per_hour, event.rate_mg_kg_min, event.entry))
    return periods


def volume_infused_ml(periods: Iterable[RatePeriod]) -> float:
    """The integral of the rate over time (mL/h × h); a running period must be closed first."""
    return math.fsum(p.rate_ml_per_hour * (p.end - p.start).total_seconds() / 3600 for p in periods if p.end)
