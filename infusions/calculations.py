"""Dose calculations from stored records: the bridge between the models and the
pure arithmetic in `infusions/dosing.py`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from infusions import dosing
from infusions.models import Center, InfusionPlan, InfusionSession, Protocol, SessionStatus
from patients.models import Patient

# A gap longer than this since the last infusion means a longer observation,
# as after a first infusion or a product switch (EU Privigen leaflet).
LONG_GAP = dt.timedelta(weeks=8)
DEFAULT_BUFFERS = {"before": 30, "after": 30, "after_first": 60, "slot": 15}


@dataclass(frozen=True)
class PatientFacts:
    """What a dose calculation needs to know about a patient."""

    weight_kg: float
    height_cm: float | None = None
    sex: str | None = None
    at_risk: bool = False
    tolerated_cap: float | None = None
    long_observation: bool = False


def ladder_of(protocol: Protocol) -> tuple[dosing.Step, ...]:
    return tuple(dosing.Step(float(s.rate_mg_kg_min), float(s.minutes)) for s in protocol.steps.all())


def needs_long_observation(
    *, patient: Patient, protocol: Protocol, before: dt.datetime | None = None
) -> bool:
    """First infusion, a product switch, or more than 8 weeks since the last one."""
    past = InfusionSession.objects.filter(patient=patient, status=SessionStatus.COMPLETED)
    if before is not None:
        past = past.filter(start__lt=before)
    last = past.select_related("plan__protocol").order_by("-start").first()
    if last is None:
        return True
    switched = last.plan is not None and last.plan.protocol.product_id != protocol.product_id
    reference = before or last.end
    return switched or reference - last.end > LONG_GAP


def facts_of(patient: Patient, *, protocol: Protocol, before: dt.datetime | None = None) -> PatientFacts:
    """The patient's latest weight, flags and caps; raises DosingError without a weight."""
    weight = patient.latest_weight()
    if weight is None:
        raise dosing.DosingError("patient", "The patient has no recorded weight.")
    return PatientFacts(
        weight_kg=float(weight.weight_kg),
        height_cm=float(patient.height_cm) if patient.height_cm is not None else None,
        sex=patient.sex,
        at_risk=patient.at_thrombosis_or_renal_risk,
        tolerated_cap=(
            float(patient.tolerated_max_rate_mg_kg_min)
            if patient.tolerated_max_rate_mg_kg_min is not None
            else None
        ),
        long_observation=needs_long_observation(patient=patient, protocol=protocol, before=before),
    )


def buffers_of(center: Center | None) -> dict[str, int]:
    if center is None:
        return DEFAULT_BUFFERS
    return {
        "before": center.buffer_before_minutes,
        "after": center.buffer_after_minutes,
        "after_first": center.buffer_after_first_minutes,
        "slot": center.slot_minutes,
    }


def calculate_dose(
    *,
    protocol: Protocol,
    facts: PatientFacts,
    dose_g_per_kg: float,
    days: int,
    method: str = "actual",
    center: Center | None = None,
) -> dosing.DoseResult:
    product = protocol.product
    buffers = buffers_of(center)
    return dosing.calculate(
        dosing.DoseInput(
            actual_weight_kg=facts.weight_kg,
            dose_g_per_kg=dose_g_per_kg,
            days=days,
            ladder=ladder_of(protocol),
            protocol_max_rate=float(protocol.max_rate_mg_kg_min),
            vial_sizes_g=product.vial_sizes,
            concentration_mg_per_ml=float(product.concentration_mg_per_ml),
            method=method,
            height_cm=facts.height_cm,
            sex=facts.sex,
            risk_cap=float(product.risk_cap_mg_kg_min) if product.risk_cap_mg_kg_min is not None else None,
            at_risk=facts.at_risk,
            tolerated_cap=facts.tolerated_cap,
            before_minutes=buffers["before"],
            after_minutes=buffers["after_first"] if facts.long_observation else buffers["after"],
            slot_minutes=buffers["slot"],
        )
    )


def plan_dose(plan: InfusionPlan, *, before: dt.datetime | None = None) -> dosing.DoseResult:
    """One day's dose of a plan for its patient as they are now."""
    return calculate_dose(
        protocol=plan.protocol,
        facts=facts_of(plan.patient, protocol=plan.protocol, before=before),
        dose_g_per_kg=float(plan.dose_g_per_kg),
        days=plan.days_per_course,
        method=plan.dosing_weight_method,
        center=plan.center,
    )
