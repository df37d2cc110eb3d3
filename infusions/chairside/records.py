"""The chairside entries: a rate, vital signs, a premedication, a product lot or a
reaction, each checked before it is saved; a correction amends an earlier entry."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from infusions import dosing
from infusions.chairside.common import KINDS, EntryRefused, _check_time, _locked, _mg
from infusions.chairside.completion import session_complete
from infusions.chairside.consequences import (
    ReactionOutcome,
    _cap_after,
    _patient_cap_set,
    later_sessions_replan,
)
from infusions.chairside.limits import _check_rate, session_dosing_weight
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
    VitalSigns,
)
from patients.models import Patient

LOT_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,39}$")
MAX_VIALS = 100


# -- corrections ------------------------------------------------------------------------


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


# -- rates ------------------------------------------------------------------------------


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


# -- reactions ------------------------------------------------------------------------------


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
