"""What a reaction changes beyond the session: the patient's tolerated cap and the
re-planning of their later sessions; an admin's clearing of the cap."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_FLOOR, Decimal

from django.db import transaction
from django.utils import timezone

from infusions import dosing
from infusions.calculations import LONG_GAP, Contraindicated, calculate_dose, facts_of
from infusions.chairside.common import EPSILON, EntryRefused, in_force
from infusions.chairside.ratelog import RateEvent, _typed, rate_events
from infusions.models import InfusionSession, Reaction, SessionStatus
from patients.models import Patient


@dataclass(frozen=True)
class Replanning:
    replanned: list[int]
    flagged: list[int]


@dataclass(frozen=True)
class ReactionOutcome:
    reaction: Reaction
    paused: bool
    session_completed: bool
    tolerated_cap_mg_kg_min: Decimal | None
    replanning: Replanning | None


def tolerated_cap(events: Sequence[RateEvent], reactions: Iterable[Reaction]) -> float | None:
    """The highest rate (mg/kg/min) given without a reaction, below every rate that ran during one.

    A rate that ran when any reaction began is not tolerated. With no such
    rate left, half the lowest reacting rate (clinical-practice.md: restart at
    half the previous rate). None when no rate was running at any reaction.
    """
    reactions = list(reactions)
    reacting: set[int] = set()  # indexes of the rate events that ran when a reaction began
    for reaction in reactions:
        key = (reaction.at, _typed(reaction))
        before = [i for i, e in enumerate(events) if (e.at, e.order) < key]
        if before and events[before[-1]].entry is not None and events[before[-1]].rate_mg_kg_min > 0:
            reacting.add(before[-1])
    if not reacting:
        return None
    lowest = min(events[i].rate_mg_kg_min for i in reacting)
    latest = max((r.at, _typed(r)) for r in reactions)
    given = [
        e.rate_mg_kg_min
        for i, e in enumerate(events)
        if e.entry is not None
        and i not in reacting
        and (e.at, e.order) < latest
        and 0 < e.rate_mg_kg_min < lowest - EPSILON
    ]
    return max(given) if given else lowest / 2


def _cap_after(session: InfusionSession, reaction: Reaction, amended: Reaction | None) -> Decimal | None:
    reactions = [r for r in session.reactions.all() if amended is None or r.pk != amended.pk]
    reactions = [*in_force(reactions), reaction]
    cap = tolerated_cap(rate_events(session.rate_changes.all(), reactions), reactions)
    if cap is None:
        return None
    # A cap is never rounded up.
    value = max(Decimal(repr(cap)).quantize(Decimal("0.001"), rounding=ROUND_FLOOR), Decimal("0.001"))
    current = session.patient.tolerated_max_rate_mg_kg_min
    return min(value, current) if current is not None else value


def _patient_cap_set(patient: Patient, cap: Decimal | None, *, why: str, by) -> None:
    patient.tolerated_max_rate_mg_kg_min = cap
    patient._history_user = by if getattr(by, "is_authenticated", False) else None
    patient._change_reason = why[:100]  # simple-history's change-reason column holds 100 characters
    patient.save(update_fields=["tolerated_max_rate_mg_kg_min", "updated_at"])


# -- re-planning later sessions -----------------------------------------------------------------


def _long_observation(session: InfusionSession) -> bool:
    """As booking decides it: the patient's first session, a product switch or a long gap
    before this one means the longer observation after (clinical-practice.md, Chair time)."""
    last = (
        InfusionSession.objects.live()
        .filter(patient_id=session.patient_id, end__lte=session.start)
        .select_related("plan__protocol")
        .order_by("-end")
        .first()
    )
    if last is None:
        return True
    if last.plan is not None and last.plan.protocol.product_id != session.plan.protocol.product_id:
        return True
    return session.start - last.end > LONG_GAP


def _ladder_snapshot(dose: dosing.DoseResult) -> list[dict]:
    return [
        {
            "start_minute": round(s.start_minute, 2),
            "minutes": round(s.minutes, 2),
            "rate_mg_kg_min": round(s.rate_mg_kg_min, 4),
            "rate_ml_per_hour": round(s.rate_ml_per_hour, 1),
        }
        for s in dose.steps
    ]


def _replan(session: InfusionSession, patient: Patient) -> None:
    plan = session.plan
    booked = round((session.end - session.start).total_seconds() / 60)
    try:
        facts = replace(
            facts_of(patient, protocol=plan.protocol), long_observation=_long_observation(session)
        )
        dose = calculate_dose(
            protocol=plan.protocol,
            facts=facts,
            dose_g_per_kg=float(plan.dose_g_per_kg),
            days=plan.days_per_course,
            method=plan.dosing_weight_method,
            center=session.center,
        )
    except (dosing.DosingError, Contraindicated) as exc:
        session.needs_rebooking, session.rebooking_reason = True, f"Cannot re-plan the dose: {exc}"[:300]
        return
    session.ladder, session.chair_minutes = _ladder_snapshot(dose), dose.chair_minutes
    session.needs_rebooking = dose.chair_minutes > booked
    session.rebooking_reason = (
        f"At the patient's new rate cap the session needs {dose.chair_minutes} chair minutes; "
        f"it is booked for {booked}."
        if session.needs_rebooking
        else ""
    )


def later_sessions_replan(*, patient: Patient, after: dt.datetime, by=None) -> Replanning:
    """Recompute the ladder and chair minutes of the patient's booked sessions after `after`
    at their current caps; flag those that no longer fit their booking for the scheduler.

    The booking itself is not moved: the scheduler reschedules a flagged session,
    and rescheduling books its new chair minutes.
    """
    sessions = (
        InfusionSession.objects.filter(
            patient=patient,
            status__in=(SessionStatus.SCHEDULED, SessionStatus.CONFIRMED),
            start__gt=after,
            plan__isnull=False,
        )
        .select_related("center", "plan__protocol__product", "plan__protocol__indication")
        .order_by("start")
    )
    replanned, flagged = [], []
    for session in sessions:
        _replan(session, patient)
        session._history_user = by if getattr(by, "is_authenticated", False) else None
        session.save(
            update_fields=["ladder", "chair_minutes", "needs_rebooking", "rebooking_reason", "updated_at"]
        )
        replanned.append(session.pk)
        if session.needs_rebooking:
            flagged.append(session.pk)
    return Replanning(replanned, flagged)


@transaction.atomic
def tolerated_cap_clear(*, patient: Patient, reason: str, by=None) -> tuple[Decimal | None, Replanning]:
    """An admin lifts the patient's tolerated cap; later sessions are re-planned without it."""
    if not reason.strip():
        raise EntryRefused("Say why the cap is cleared.", "reason")
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    previous = patient.tolerated_max_rate_mg_kg_min
    if previous is None:
        return None, Replanning([], [])
    _patient_cap_set(patient, None, why=f"Tolerated cap cleared: {reason.strip()}", by=by)
    return previous, later_sessions_replan(patient=patient, after=timezone.now(), by=by)
