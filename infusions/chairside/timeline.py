"""Reading the record: each rate entry beside the planned ladder, and the planned ladder
in wall-clock time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from infusions.chairside.limits import LadderPosition, _shown_ml_per_hour, ladder_positions, planned_ladder
from infusions.chairside.ratelog import rate_events
from infusions.models import InfusionSession, RateChange, Reaction


def positions_by_entry(
    session: InfusionSession, rates: Iterable[RateChange], reactions: Iterable[Reaction]
) -> dict[int, LadderPosition]:
    """The ladder position of every rate entry in force, by its id (the timeline's planned rate)."""
    if session.plan is None:
        return {}
    events = rate_events(rates, reactions)
    started_at = session.started_at or session.start
    positions = ladder_positions(events, started_at=started_at, ladder=planned_ladder(session))
    return {events[index].entry.pk: position for index, position in positions.items()}


def planned_rate_ml_per_hour(session: InfusionSession, mg_kg_min: float, dosing_weight: float) -> float:
    return _shown_ml_per_hour(mg_kg_min, dosing_weight, session.plan.product)


def planned_ladder_rows(session: InfusionSession, dosing_weight: float | None) -> list[dict]:
    """The planned ladder with wall-clock step times from the start of the infusion; mL/h at
    `dosing_weight` when known, else as booked."""
    if session.plan is None:
        return []
    booked = {float(s.get("start_minute", -1)): s.get("rate_ml_per_hour") for s in session.ladder or []}
    ladder = planned_ladder(session)
    rows = []
    for index, (start, mg) in enumerate(ladder):
        following = ladder[index + 1][0] if index + 1 < len(ladder) else None
        if dosing_weight is not None:
            ml = planned_rate_ml_per_hour(session, mg, dosing_weight)
        else:
            ml = booked.get(start)
        rows.append(
            {
                "start_minute": start,
                "minutes": following - start if following is not None else None,
                "starts_at": session.started_at + dt.timedelta(minutes=start) if session.started_at else None,
                "rate_mg_kg_min": mg,
                "rate_ml_per_hour": ml,
            }
        )
    return rows
