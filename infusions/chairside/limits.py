"""The rules a rate is checked against: the planned ladder and its clock, the dosing
weight and the effective maximum."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from infusions import dosing
from infusions.calculations import ladder_of, latest_weight_kg
from infusions.chairside.common import EPSILON, EntryRefused, _clock, describe_rate
from infusions.chairside.ratelog import RateEvent, rate_events
from infusions.models import InfusionSession, Product, RateChange

# -- the planned ladder ---------------------------------------------------------------


def planned_ladder(session: InfusionSession) -> list[tuple[float, float]]:
    """(start minute, mg/kg/min) per step: the session's snapshot, or the protocol's own ladder."""
    try:
        steps = [(float(s["start_minute"]), float(s["rate_mg_kg_min"])) for s in session.ladder or []]
    except (KeyError, TypeError, ValueError):
        steps = []
    if steps:
        return sorted(steps)
    protocol = session.plan.protocol
    start, ladder = 0.0, []
    for step in dosing.planned_steps(ladder=ladder_of(protocol), max_rate=float(protocol.max_rate_mg_kg_min)):
        ladder.append((start, step.rate_mg_kg_min))
        start += step.minutes or 0.0
    return ladder


@dataclass(frozen=True)
class LadderPosition:
    """Where a rate entry stands on the planned ladder."""

    origin: dt.datetime  # the infusion's start, or the last restart
    restart: bool
    elapsed_minutes: float
    planned_mg_kg_min: float
    next_step: tuple[float, float] | None  # (start minute, mg/kg/min)


def _position(ladder: list[tuple[float, float]], origin: dt.datetime, at: dt.datetime, restart: bool):
    elapsed = (at - origin).total_seconds() / 60
    current, following = ladder[0], None
    for step in ladder:
        if step[0] <= elapsed + EPSILON:
            current = step
        else:
            following = step
            break
    return LadderPosition(origin, restart, elapsed, current[1], following)


def ladder_positions(
    events: Sequence[RateEvent], *, started_at: dt.datetime, ladder: list[tuple[float, float]]
) -> dict[int, LadderPosition]:
    """The ladder position of each rate event (by its index), restarting the clock after pauses."""
    origin, previous, positions = started_at, None, {}
    for index, event in enumerate(events):
        restart = previous == 0.0 and event.rate_mg_kg_min > 0
        if restart:
            origin = event.at
        if event.entry is not None:
            positions[index] = _position(ladder, origin, event.at, restart)
        previous = event.rate_mg_kg_min
    return positions


# -- rates ------------------------------------------------------------------------------


def session_dosing_weight(session: InfusionSession) -> float:
    """The dosing weight for per-kg rates: the patient's latest weight by the plan's method,
    rounded to 0.1 kg (clinical-practice.md: rates per kg use the dose's dosing weight)."""
    patient = session.patient
    weight = latest_weight_kg(patient)
    if weight is None:
        raise EntryRefused(
            "The patient has no recorded weight, so a rate cannot be checked per kg.", "session"
        )
    try:
        dosing_weight = dosing.dosing_weight_kg(
            method=session.plan.dosing_weight_method,
            actual_kg=weight,
            height_cm=float(patient.height_cm) if patient.height_cm is not None else None,
            sex=patient.sex,
        )
    except dosing.DosingError as exc:
        raise EntryRefused(f"The dosing weight cannot be computed: {exc}", "session") from exc
    return round(dosing_weight, 1)


@dataclass(frozen=True)
class RateLimit:
    mg_kg_min: float
    ml_per_hour: float  # as displayed: 0.1 mL/h, half up
    source: str


def effective_limit(session: InfusionSession, dosing_weight: float) -> RateLimit:
    """Lowest of the protocol maximum, the product's risk cap for a patient with a thrombosis
    or renal flag, and the patient's tolerated cap (ivig-products.md)."""
    protocol, patient = session.plan.protocol, session.patient
    product = protocol.product
    risk_cap = product.risk_cap_mg_kg_min
    tolerated = patient.tolerated_max_rate_mg_kg_min
    limit = dosing.effective_max_rate(
        protocol_max=float(protocol.max_rate_mg_kg_min),
        risk_cap=float(risk_cap) if risk_cap is not None else None,
        at_risk=patient.at_thrombosis_or_renal_risk,
        tolerated_cap=float(tolerated) if tolerated is not None else None,
    )
    if tolerated is not None and float(tolerated) == limit:
        source = "the patient's tolerated cap after a reaction"
    elif patient.at_thrombosis_or_renal_risk and risk_cap is not None and float(risk_cap) == limit:
        source = f"the {product.name} cap for patients at risk of thrombosis or renal dysfunction"
    else:
        source = f"the {product.name} maximum for {protocol.indication.name}"
    return RateLimit(limit, _shown_ml_per_hour(limit, dosing_weight, product), source)


def _shown_ml_per_hour(mg_kg_min: float, dosing_weight: float, product: Product) -> float:
    return dosing.display_ml_per_hour(
        dosing.ml_per_hour(
            rate_mg_kg_min=mg_kg_min,
            dosing_weight_kg=dosing_weight,
            concentration_mg_per_ml=float(product.concentration_mg_per_ml),
        )
    )


def _check_rate(
    session: InfusionSession, candidate: RateChange, amended: RateChange | None, dosing_weight: float
) -> None:
    rate, mg = float(candidate.rate_ml_per_hour), float(candidate.rate_mg_kg_min)
    limit = effective_limit(session, dosing_weight)
    if rate > limit.ml_per_hour + EPSILON:
        raise EntryRefused(
            f"{describe_rate(rate, mg)} is above the patient's effective maximum of "
            f"{describe_rate(limit.ml_per_hour, limit.mg_kg_min)} at a dosing weight of "
            f"{dosing_weight:g} kg: {limit.source}.",
            "rate_ml_per_hour",
        )
    rates = [r for r in session.rate_changes.all() if amended is None or r.pk != amended.pk]
    events = rate_events([*rates, candidate], session.reactions.all())
    started_at = session.started_at or session.start
    positions = ladder_positions(events, started_at=started_at, ladder=planned_ladder(session))
    index = next(i for i, event in enumerate(events) if event.entry is candidate)
    position = positions[index]
    planned = _shown_ml_per_hour(position.planned_mg_kg_min, dosing_weight, session.plan.product)
    if rate > planned + EPSILON:
        raise EntryRefused(
            _early_step_message(session, candidate, position, planned, dosing_weight), "rate_ml_per_hour"
        )


def _early_step_message(
    session: InfusionSession, candidate: RateChange, position: LadderPosition, planned: float, weight: float
) -> str:
    since = "the restart after a pause" if position.restart else "the start of the infusion"
    message = (
        f"{describe_rate(float(candidate.rate_ml_per_hour), float(candidate.rate_mg_kg_min))} is a step up "
        f"earlier than the ladder allows: {position.elapsed_minutes:.0f} min after {since} "
        f"({_clock(position.origin, session)}) the planned rate is "
        f"{describe_rate(planned, position.planned_mg_kg_min)}."
    )
    if position.next_step is not None:
        minute, mg = position.next_step
        allowed_from = position.origin + dt.timedelta(minutes=minute)
        next_rate = _shown_ml_per_hour(mg, weight, session.plan.product)
        message += f" The next step, {describe_rate(next_rate, mg)}, is allowed from {_clock(allowed_from, session)}."
    return message
