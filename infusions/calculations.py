"""Dose calculations from stored records: the bridge between the models and the
pure arithmetic in `infusions/dosing.py`, plus the label safety rules that
need more than numbers (IgA contraindication, maltose and glucose meters)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from infusions import dosing
from infusions.models import (
    Center,
    InfusionPlan,
    InfusionSession,
    Product,
    Protocol,
    ProtocolStep,
    SessionStatus,
)
from patients.models import IgAStatus, Patient

# A gap longer than this since the last infusion means a longer observation,
# as after a first infusion or a product switch (EU Privigen leaflet).
LONG_GAP = dt.timedelta(weeks=8)
DEFAULT_BUFFERS = {"before": 30, "after": 30, "after_first": 60, "slot": 15}


class Contraindicated(Exception):
    """The product must not be given to this patient (label contraindication)."""


@dataclass(frozen=True)
class PatientFacts:
    """What a dose calculation needs to know about a patient."""

    weight_kg: float
    height_cm: float | None = None
    sex: str | None = None
    at_risk: bool = False
    tolerated_cap: float | None = None
    long_observation: bool = False
    iga_status: str = IgAStatus.NORMAL
    diabetes: bool = False


def ladder_of(protocol: Protocol) -> tuple[dosing.Step, ...]:
    steps = sorted(protocol.steps.all(), key=lambda step: step.position)
    return tuple(dosing.Step(float(s.rate_mg_kg_min), float(s.minutes)) for s in steps)


def _completed_sessions(patient: Patient) -> list[InfusionSession]:
    """Newest first; uses `completed_sessions` when the caller prefetched it."""
    prefetched = getattr(patient, "completed_sessions", None)
    if prefetched is not None:
        return prefetched
    return list(
        InfusionSession.objects.filter(patient=patient, status=SessionStatus.COMPLETED)
        .select_related("plan__protocol")
        .order_by("-start")
    )


def needs_long_observation(
    *, patient: Patient, protocol: Protocol, before: dt.datetime | None = None
) -> bool:
    """First infusion, a product switch, or more than 8 weeks since the last one."""
    past = [s for s in _completed_sessions(patient) if before is None or s.start < before]
    if not past:
        return True
    last = past[0]
    if last.plan is not None and last.plan.protocol.product_id != protocol.product_id:
        return True
    return (before or timezone.now()) - last.end > LONG_GAP


def latest_weight_kg(patient: Patient) -> float | None:
    weights = sorted(patient.weights.all(), key=lambda w: (w.measured_on, w.id), reverse=True)
    return float(weights[0].weight_kg) if weights else None


def facts_of(patient: Patient, *, protocol: Protocol, before: dt.datetime | None = None) -> PatientFacts:
    """The patient's latest weight, flags and caps; DosingError("patient") without a weight."""
    weight = latest_weight_kg(patient)
    if weight is None:
        raise dosing.DosingError("patient", "The patient has no recorded weight.")
    cap = patient.tolerated_max_rate_mg_kg_min
    return PatientFacts(
        weight_kg=weight,
        height_cm=float(patient.height_cm) if patient.height_cm is not None else None,
        sex=patient.sex,
        at_risk=patient.at_thrombosis_or_renal_risk,
        tolerated_cap=float(cap) if cap is not None else None,
        long_observation=needs_long_observation(patient=patient, protocol=protocol, before=before),
        iga_status=patient.iga_status,
        diabetes=patient.diabetes,
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


def contains_iga(product: Product) -> bool:
    """Every IVIG carries some IgA; a label without a figure counts as containing it."""
    return product.iga_ug_per_ml is None or product.iga_ug_per_ml > 0


def contraindication_check(*, product: Product, iga_status: str) -> None:
    """Every IVIG label: contraindicated in IgA deficiency with antibodies against IgA."""
    if iga_status == IgAStatus.ANTI_IGA and contains_iga(product):
        raise Contraindicated(
            f"{product.name} contains IgA and is contraindicated in IgA deficiency "
            "with antibodies against IgA."
        )


def safety_warnings(*, product: Product, facts: PatientFacts) -> list[str]:
    """Label warnings for this patient; raises Contraindicated for anti-IgA antibodies.

    Octagam 10% label: maltose falsely raises GDH-PQQ glucose-meter readings.
    """
    contraindication_check(product=product, iga_status=facts.iga_status)
    warnings = []
    if facts.iga_status == IgAStatus.DEFICIENT:
        iga = (
            f"{product.iga_ug_per_ml:g} µg/mL" if product.iga_ug_per_ml is not None else "an unstated amount"
        )
        warnings.append(f"IgA-deficient patient: {product.name} contains {iga} of IgA; prefer the lowest.")
    if facts.diabetes and product.contains_maltose:
        warnings.append(
            f"{product.name} contains maltose, which falsely raises GDH-PQQ glucose-meter readings: "
            "use a glucose-specific method."
        )
    return warnings


def calculate_dose(
    *,
    protocol: Protocol,
    facts: PatientFacts,
    dose_g_per_kg: float,
    days: int,
    method: str = "actual",
    center: Center | None = None,
) -> dosing.DoseResult:
    """One day's dose along the protocol; raises Contraindicated or DosingError."""
    product = protocol.product
    warnings = safety_warnings(product=product, facts=facts)
    buffers = buffers_of(center)
    risk_cap = product.risk_cap_mg_kg_min
    result = dosing.calculate(
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
            risk_cap=float(risk_cap) if risk_cap is not None else None,
            at_risk=facts.at_risk,
            tolerated_cap=facts.tolerated_cap,
            before_minutes=buffers["before"],
            after_minutes=buffers["after_first"] if facts.long_observation else buffers["after"],
            slot_minutes=buffers["slot"],
        )
    )
    return replace(result, warnings=(*warnings, *result.warnings))


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


def with_dose_inputs(plans: QuerySet[InfusionPlan]) -> QuerySet[InfusionPlan]:
    """Everything `plan_dose` reads, in a fixed number of queries for any number of plans."""
    return plans.select_related(
        "patient", "center", "protocol__product", "protocol__indication"
    ).prefetch_related(
        Prefetch("protocol__steps", queryset=ProtocolStep.objects.order_by("position")),
        "patient__weights",
        Prefetch(
            "patient__sessions",
            queryset=InfusionSession.objects.filter(status=SessionStatus.COMPLETED)
            .select_related("plan__protocol")
            .order_by("-start"),
            to_attr="completed_sessions",
        ),
    )
