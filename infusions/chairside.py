"""Chairside documentation: the rules every entry at the chair is checked against,
and what an entry changes (a pause, the patient's tolerated cap, later bookings,
the grams infused at completion).

Sources: docs/ivig-products.md (ladders, maxima, risk caps) and
docs/clinical-practice.md (vital-sign ranges, reactions). Rates are compared
with the limit as the nurse reads it (0.1 mL/h, half up, as the planned ladder
shows it), so following the planned ladder to the displayed rate is never refused.

The ladder clock: a rate may not exceed the planned ladder rate for the minutes
elapsed since the infusion started (`session.started_at`). After a pause (a
reaction whose action is `paused` or `stopped`, or a rate of 0 mL/h) the next
rate above 0 is a restart and re-titrates: the clock starts again at the
restart, so the restart may be at most the ladder's first rate and each later
step comes when the ladder allows it, counted from the restart.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_FLOOR, Decimal

from django.db import transaction
from django.utils import timezone

from infusions import dosing
from infusions.calculations import (
    LONG_GAP,
    Contraindicated,
    calculate_dose,
    facts_of,
    ladder_of,
    latest_weight_kg,
)
from infusions.models import (
    SYMPTOM_CODES,
    VITAL_RANGES,
    InfusionSession,
    LotUse,
    Premedication,
    PremedicationRoute,
    Product,
    RateChange,
    Reaction,
    ReactionAction,
    ReactionSeverity,
    SessionStatus,
    VitalSigns,
)
from infusions.scheduling.booking import session_transition
from patients.models import Patient

FUTURE_GRACE = dt.timedelta(minutes=5)
GRAMS_TOLERANCE = 0.05  # more than 5% off the planned grams is a warning at completion
EPSILON = 1e-9
LOT_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,39}$")
MAX_VIALS = 100


class EntryRefused(Exception):
    """An entry breaks a chairside rule (a 400); `field` names the input at fault."""

    def __init__(self, message: str, field: str = "non_field_errors") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class EntryKind:
    label: str
    from_check_in: bool  # vitals and premedication may come from check-in; the rest once running
    correctable_after_completion: bool  # documentation that changes no dose may be corrected later


KINDS: dict[type, EntryKind] = {
    RateChange: EntryKind("rate change", False, False),
    VitalSigns: EntryKind("vital signs", True, True),
    Reaction: EntryKind("reaction", False, False),
    Premedication: EntryKind("premedication", True, True),
    LotUse: EntryKind("product lot", False, True),
}


# -- common checks ----------------------------------------------------------------


def _mg(value: float) -> str:
    """mg/kg/min for a sentence: at most two decimals, no trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def describe_rate(ml_per_hour: float, mg_kg_min: float) -> str:
    return f"{ml_per_hour:.1f} mL/h ({_mg(mg_kg_min)} mg/kg/min)"


def _clock(at: dt.datetime, session: InfusionSession) -> str:
    local = at.astimezone(session.center.zone)
    same_day = local.date() == session.start.astimezone(session.center.zone).date()
    return f"{local:%H:%M}" if same_day else f"{local:%Y-%m-%d %H:%M}"


def _locked(session: InfusionSession) -> InfusionSession:
    """The session, locked: entries for one session are checked one at a time against the log."""
    return (
        InfusionSession.objects.select_for_update(of=("self",))
        .select_related("center", "patient", "plan__protocol__product", "plan__protocol__indication")
        .get(pk=session.pk)
    )


def _check_time(session: InfusionSession, kind: EntryKind, at: dt.datetime, *, amending: bool) -> None:
    statuses = {SessionStatus.IN_PROGRESS}
    if kind.from_check_in:
        statuses.add(SessionStatus.CHECKED_IN)
    if amending and kind.correctable_after_completion:
        statuses.add(SessionStatus.COMPLETED)
    if session.status not in statuses:
        when = "from check-in" if kind.from_check_in else "while the infusion is in progress"
        raise EntryRefused(
            f"A {session.get_status_display().lower()} session takes no {kind.label} entry: "
            f"they are recorded {when}.",
            "session",
        )
    if at.tzinfo is None or at.utcoffset() is None:
        raise EntryRefused("Give the time with its UTC offset, e.g. 2027-01-04T09:00:00-05:00.", "at")
    opened, what = (session.checked_in_at, "check-in") if kind.from_check_in else (None, "")
    if opened is None:
        opened, what = session.started_at, "start of the infusion"
    if opened is not None and at < opened:
        raise EntryRefused(f"{_clock(at, session)} is before the {what} at {_clock(opened, session)}.", "at")
    if session.completed_at is not None and at > session.completed_at:
        raise EntryRefused(
            f"{_clock(at, session)} is after the session was completed at {_clock(session.completed_at, session)}.",
            "at",
        )
    if at > timezone.now() + FUTURE_GRACE:
        raise EntryRefused("The time is more than 5 minutes in the future.", "at")


def _amended(model: type, session: InfusionSession, amends: int | None, reason: str):
    """The entry a correction replaces: same kind, same session, not corrected already."""
    if amends is None:
        return None
    label = KINDS[model].label
    if not reason.strip():
        raise EntryRefused("A correction needs a reason.", "reason")
    target = model.objects.filter(pk=amends, session=session).first()
    if target is None:
        raise EntryRefused(f"This session has no {label} entry {amends} to correct.", "amends")
    newer = model.objects.filter(amends=target).values_list("pk", flat=True).first()
    if newer is not None:
        raise EntryRefused(
            f"The {label} entry {amends} was already corrected by entry {newer}: correct that one instead.",
            "amends",
        )
    return target


def _save(entry, by) -> None:
    user = by if getattr(by, "is_authenticated", False) else None
    entry.recorded_by = user
    entry._history_user = user  # simple-history: the writer, also outside a request
    entry.save()


def in_force(entries: Iterable) -> list:
    """Entries nobody corrected (a correction replaces the entry it amends)."""
    entries = list(entries)
    amended = {e.amends_id for e in entries if e.amends_id is not None}
    return [e for e in entries if e.pk not in amended]


# -- the rate log -------------------------------------------------------------------


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


@transaction.atomic
def rate_change_record(
    *,
    session: InfusionSession,
    rate_ml_per_hour: Decimal,
    at: dt.datetime | None = None,
    reason: str = "",
    amends: int | None = None,
    by=None,
) -> RateChange:
    """Log a pump rate (0 pauses), checked against the effective maximum and the ladder clock."""
    session = _locked(session)
    at = at or timezone.now()
    amended = _amended(RateChange, session, amends, reason)
    _check_time(session, KINDS[RateChange], at, amending=amended is not None)
    if session.plan is None:
        raise EntryRefused(
            "This session has no plan, so there is no protocol to check a rate against.", "session"
        )
    if not Decimal("0") <= rate_ml_per_hour <= Decimal("999.9"):
        raise EntryRefused("The rate must be between 0 and 999.9 mL/h.", "rate_ml_per_hour")
    weight = session_dosing_weight(session)
    mg = dosing.mg_kg_min(
        rate_ml_per_hour=float(rate_ml_per_hour),
        dosing_weight_kg=weight,
        concentration_mg_per_ml=float(session.plan.product.concentration_mg_per_ml),
    )
    entry = RateChange(
        session=session,
        at=at,
        amends=amended,
        reason=reason,
        rate_ml_per_hour=rate_ml_per_hour,
        rate_mg_kg_min=Decimal(repr(mg)).quantize(Decimal("0.0001")),
        dosing_weight_kg=Decimal(repr(weight)),
    )
    if rate_ml_per_hour > 0:  # a pause is always allowed
        _check_rate(session, entry, amended, weight)
    _save(entry, by)
    return entry


# -- vitals, premedication, lots ------------------------------------------------------------


VITAL_LABELS = {
    "systolic": "Systolic pressure",
    "diastolic": "Diastolic pressure",
    "heart_rate": "Heart rate",
    "temperature_c": "Temperature",
    "spo2": "SpO2",
    "respiratory_rate": "Respiratory rate",
}


def _check_vitals(values: dict[str, int | Decimal | None]) -> None:
    given = {name: value for name, value in values.items() if value is not None}
    if not given:
        raise EntryRefused("Give at least one vital sign.")
    for name, value in given.items():
        low, high, unit = VITAL_RANGES[name]
        if not low <= value <= high:
            raise EntryRefused(
                f"{VITAL_LABELS[name]} {value} {unit} is outside the plausible range {low}–{high} {unit} "
                "(clinical-practice.md).",
                name,
            )
    if "systolic" in given and "diastolic" in given and given["diastolic"] >= given["systolic"]:
        raise EntryRefused("The diastolic pressure must be below the systolic.", "diastolic")


@transaction.atomic
def vitals_record(
    *,
    session: InfusionSession,
    systolic: int | None = None,
    diastolic: int | None = None,
    heart_rate: int | None = None,
    temperature_c: Decimal | None = None,
    spo2: int | None = None,
    respiratory_rate: int | None = None,
    at: dt.datetime | None = None,
    reason: str = "",
    amends: int | None = None,
    by=None,
) -> VitalSigns:
    """Record vital signs (from check-in), each within its plausible range (clinical-practice.md)."""
    session = _locked(session)
    at = at or timezone.now()
    amended = _amended(VitalSigns, session, amends, reason)
    _check_time(session, KINDS[VitalSigns], at, amending=amended is not None)
    values = {
        "systolic": systolic,
        "diastolic": diastolic,
        "heart_rate": heart_rate,
        "temperature_c": temperature_c,
        "spo2": spo2,
        "respiratory_rate": respiratory_rate,
    }
    _check_vitals(values)
    entry = VitalSigns(session=session, at=at, amends=amended, reason=reason, **values)
    _save(entry, by)
    return entry


@transaction.atomic
def premedication_record(
    *,
    session: InfusionSession,
    drug: str,
    dose: str,
    route: str,
    at: dt.datetime | None = None,
    reason: str = "",
    amends: int | None = None,
    by=None,
) -> Premedication:
    """Record a premedication given (from check-in)."""
    session = _locked(session)
    at = at or timezone.now()
    amended = _amended(Premedication, session, amends, reason)
    _check_time(session, KINDS[Premedication], at, amending=amended is not None)
    if not drug.strip() or not dose.strip():
        raise EntryRefused("Give the drug and the dose.", "drug" if not drug.strip() else "dose")
    if route not in PremedicationRoute.values:
        raise EntryRefused(f"The route is one of {', '.join(PremedicationRoute.values)}.", "route")
    entry = Premedication(
        session=session,
        at=at,
        amends=amended,
        reason=reason,
        drug=drug.strip(),
        dose=dose.strip(),
        route=route,
    )
    _save(entry, by)
    return entry


def normalized_lot_number(lot_number: str) -> str:
    """Lot numbers are matched in capitals, without surrounding spaces."""
    return lot_number.strip().upper()


def _check_lot(
    session: InfusionSession, product: Product, expiry: dt.date, vial_grams: Decimal, count: int, reason: str
) -> None:
    day = session.start.astimezone(session.center.zone).date()
    if expiry < day:
        raise EntryRefused(
            f"The lot expired on {expiry.isoformat()}, before the session day {day.isoformat()}.", "expiry"
        )
    if float(vial_grams) not in product.vial_sizes:
        sizes = ", ".join(f"{size:g}" for size in product.vial_sizes)
        raise EntryRefused(f"{product.name} comes in {sizes} g vials, not {vial_grams:g} g.", "vial_grams")
    if not 1 <= count <= MAX_VIALS:
        raise EntryRefused(f"The vial count must be between 1 and {MAX_VIALS}.", "count")
    planned = session.plan.product if session.plan is not None else None
    if planned is not None and product.pk != planned.pk and not reason.strip():
        raise EntryRefused(
            f"This is a lot of {product.name}, but the plan is for {planned.name}: give a reason to record it.",
            "reason",
        )


@transaction.atomic
def lot_record(
    *,
    session: InfusionSession,
    product: Product,
    lot_number: str,
    expiry: dt.date,
    vial_grams: Decimal,
    count: int,
    at: dt.datetime | None = None,
    reason: str = "",
    amends: int | None = None,
    by=None,
) -> LotUse:
    """Record vials of a product lot given; refuses an expired lot, and another product without a reason."""
    session = _locked(session)
    at = at or timezone.now()
    amended = _amended(LotUse, session, amends, reason)
    _check_time(session, KINDS[LotUse], at, amending=amended is not None)
    number = normalized_lot_number(lot_number)
    if not LOT_NUMBER.match(number):
        raise EntryRefused(
            "A lot number is 1 to 40 letters, digits, dots, dashes or underscores.", "lot_number"
        )
    _check_lot(session, product, expiry, vial_grams, count, reason)
    entry = LotUse(
        session=session,
        at=at,
        amends=amended,
        reason=reason,
        product=product,
        lot_number=number,
        expiry=expiry,
        vial_grams=vial_grams,
        count=count,
    )
    _save(entry, by)
    return entry


# -- reactions and their consequences ---------------------------------------------------------


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


def _check_reaction(severity: str, action: str, symptoms: Sequence[str], notes: str) -> None:
    if severity not in ReactionSeverity.values:
        raise EntryRefused(f"The severity is one of {', '.join(ReactionSeverity.values)}.", "severity")
    if action not in ReactionAction.values:
        raise EntryRefused(f"The action is one of {', '.join(ReactionAction.values)}.", "action")
    # docs/clinical-practice.md, Reactions: moderate → stop, restart later; severe → stop for good.
    if severity == ReactionSeverity.SEVERE and action != ReactionAction.STOPPED:
        raise EntryRefused(
            "A severe reaction stops the infusion for good: the action is 'stopped'.", "action"
        )
    if severity == ReactionSeverity.MODERATE and action == ReactionAction.SLOWED:
        raise EntryRefused(
            "A moderate reaction stops the infusion: the action is 'paused' or 'stopped'.", "action"
        )
    unknown = sorted(set(symptoms) - set(SYMPTOM_CODES))
    if unknown:
        raise EntryRefused(f"Unknown symptom codes: {', '.join(unknown)}.", "symptoms")
    if not symptoms and not notes.strip():
        raise EntryRefused("Give at least one symptom code or a description.", "symptoms")
    if "other" in symptoms and not notes.strip():
        raise EntryRefused("Describe the 'other' symptom in symptom_notes.", "symptom_notes")


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


@transaction.atomic
def reaction_record(
    *,
    session: InfusionSession,
    severity: str,
    action: str,
    symptoms: Sequence[str] = (),
    symptom_notes: str = "",
    at: dt.datetime | None = None,
    reason: str = "",
    amends: int | None = None,
    by=None,
) -> ReactionOutcome:
    """Record a reaction and apply its consequences.

    `paused` pauses the infusion (the next rate restarts the ladder); `stopped`
    (always for a severe reaction) completes the session early with a warning.
    A moderate or severe reaction lowers the patient's tolerated cap and
    re-plans their later sessions.
    """
    session = _locked(session)
    at = at or timezone.now()
    amended = _amended(Reaction, session, amends, reason)
    _check_time(session, KINDS[Reaction], at, amending=amended is not None)
    symptoms = list(dict.fromkeys(symptoms))
    _check_reaction(severity, action, symptoms, symptom_notes)
    reaction = Reaction(
        session=session,
        at=at,
        amends=amended,
        reason=reason,
        severity=severity,
        action=action,
        symptoms=symptoms,
        symptom_notes=symptom_notes.strip(),
    )
    cap, replanning = None, None
    if severity in (ReactionSeverity.MODERATE, ReactionSeverity.SEVERE):
        # Lock the patient before reading the cap it may lower.
        session.patient = Patient.objects.select_for_update().get(pk=session.patient_id)
        cap = _cap_after(session, reaction, amended)
        reaction.cap_set_mg_kg_min = cap
    _save(reaction, by)
    if cap is not None:
        why = f"{reaction.get_severity_display()} reaction in session {session.pk}: cap {_mg(float(cap))} mg/kg/min"
        _patient_cap_set(session.patient, cap, why=why, by=by)
        replanning = later_sessions_replan(patient=session.patient, after=session.start, by=by)
    stopped = action == ReactionAction.STOPPED
    if stopped:
        session_complete(session=session, by=by, stopped_by=reaction)
    return ReactionOutcome(reaction, action == ReactionAction.PAUSED, stopped, cap, replanning)


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


# -- completion ------------------------------------------------------------------------------


def grams_infused(session: InfusionSession) -> float:
    """Grams from the rate log: each rate held until the next entry or completion (a pause runs
    0 mL/h), integrated over time, × the product's concentration."""
    events = rate_events(session.rate_changes.all(), session.reactions.all())
    periods = rate_periods(events, until=session.completed_at or timezone.now())
    return volume_infused_ml(periods) * session.plan.product.concentration_mg_per_ml / 1000


@transaction.atomic
def session_complete(
    *, session: InfusionSession, by=None, stopped_by: Reaction | None = None
) -> InfusionSession:
    """In progress → completed; records the grams infused and any warning on the session."""
    session_transition(session=session, action="complete", by=by)
    session = _locked(session)
    warnings = []
    if stopped_by is not None:
        warnings.append(
            f"Stopped early after a {stopped_by.severity} reaction at {_clock(stopped_by.at, session)}."
        )
    if session.plan is not None:
        infused = grams_infused(session)
        session.grams_infused = Decimal(repr(infused)).quantize(Decimal("0.01"))
        planned = float(session.grams) if session.grams else None
        if planned and abs(infused - planned) > GRAMS_TOLERANCE * planned:
            warnings.append(
                f"{infused:.1f} g infused by the rate log, {(infused - planned) / planned:+.1%} from the "
                f"planned {planned:g} g (more than {GRAMS_TOLERANCE:.0%})."
            )
    session.infusion_warnings = [*session.infusion_warnings, *warnings]
    session._history_user = by if getattr(by, "is_authenticated", False) else None
    session.save(update_fields=["grams_infused", "infusion_warnings", "updated_at"])
    return session


# -- reading the record -------------------------------------------------------------------------


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
