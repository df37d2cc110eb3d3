"""The plan form with its live dose preview, and a plan with its booked series."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone

from infusions import dosing
from infusions.api.dose import dose_json
from infusions.calculations import (
    LONG_GAP,
    Contraindicated,
    needs_long_observation,
    plan_dose,
    with_dose_inputs,
)
from infusions.models import (
    Center,
    DosingWeightMethod,
    InfusionPlan,
    InfusionSession,
    Interval,
    PlanStatus,
    PremedicationRoute,
    Product,
    Protocol,
    SessionStatus,
)
from infusions.pages.common import staff_page
from infusions.pages.patients import safety_flags
from infusions.scheduling.ledger import (
    CENTER_CLOSED,
    CHAIR_BUSY,
    NONEXISTENT_TIME,
    NURSE_CAPACITY,
    OUTSIDE_HOURS,
    PATIENT_BUSY,
)
from infusions.scheduling.series import remaining_courses
from patients.models import Patient
from patients.roles import Role, has_role

PLAN_WRITERS = (Role.SCHEDULER, Role.ADMIN)

# The demo's and the dermatomyositis trials' usual plan (ProDERM): 2 g/kg over 2 days every 4 weeks.
DEFAULTS = {
    "indication": "dermatomyositis",
    "product": "octagam-10",
    "dose_g_per_kg": "2.00",
    "days_per_course": 2,
    "interval": Interval.EVERY_4_WEEKS,
    "course_count": 6,
    "preferred_start_time": "09:00",
    "time_flexibility_minutes": 60,
    "window_days": 3,
    "dosing_weight_method": DosingWeightMethod.ACTUAL,
    "status": PlanStatus.DRAFT,
}

# Booking refusal codes (infusions/scheduling/ledger.py) in words.
REASON_WORDS = {
    CHAIR_BUSY: "No chair is free at that time.",
    PATIENT_BUSY: "The patient has another session at that time.",
    OUTSIDE_HOURS: "The session would run outside the center's opening hours.",
    CENTER_CLOSED: "The center is closed that day.",
    NURSE_CAPACITY: "The nurses on duty cannot take another infusion then.",
    NONEXISTENT_TIME: "That local time does not exist that day (a daylight-saving change).",
}


def chosen_patient(request: HttpRequest) -> Patient:
    """`?patient=<id>`: 400 when missing or malformed, 404 when unknown."""
    raw = request.GET.get("patient", "")
    if not raw.isdigit():
        raise BadRequest("Open the plan form from a patient's page (?patient=<id>).")
    return get_object_or_404(Patient.objects.with_latest_weight(), pk=int(raw))


def next_weekday(after: dt.date) -> dt.date:
    day = after + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def product_note(product: Product) -> str:
    """What a planner weighs when choosing a product: its IgA content and any maltose."""
    if product.iga_ug_per_ml is None:
        iga = "IgA not stated on the label"
    else:
        iga = f"IgA {product.iga_ug_per_ml.normalize():f} µg/mL"
    return f"{iga} · contains maltose" if product.contains_maltose else iga


def product_choices(protocols: list[Protocol]) -> list[dict]:
    """Each plannable product with the indications it has a confirmed protocol for."""
    products: dict[str, dict] = {}
    for protocol in protocols:
        product = protocol.product
        entry = products.setdefault(
            product.code,
            {"code": product.code, "name": product.name, "note": product_note(product), "indications": []},
        )
        entry["indications"].append(protocol.indication.code)
    return sorted(products.values(), key=lambda p: p["name"])


def maltose_products(protocols: list[Protocol]) -> list[str]:
    return sorted({p.product.name for p in protocols if p.product.contains_maltose})


def long_observation_reasons(patient: Patient, protocols: list[Protocol]) -> dict[str, str]:
    """Per product code, why its first session would get the long observation (absent when not)."""
    patient.completed_sessions = list(
        InfusionSession.objects.filter(patient=patient, status=SessionStatus.COMPLETED)
        .select_related("plan__protocol")
        .order_by("-start")
    )
    last = patient.completed_sessions[0] if patient.completed_sessions else None
    reasons = {}
    for protocol in protocols:
        if not needs_long_observation(patient=patient, protocol=protocol):
            continue
        if last is None:
            reasons[protocol.product.code] = "a first infusion"
        elif last.plan is not None and last.plan.protocol.product_id != protocol.product_id:
            reasons[protocol.product.code] = "a product switch"
        else:
            reasons[protocol.product.code] = f"more than {LONG_GAP.days // 7} weeks since the last infusion"
    return reasons


def form_defaults(protocols: list[Protocol], centers: list[Center]) -> dict:
    pairs = {(p.indication.code, p.product.code) for p in protocols}
    defaults = dict(DEFAULTS)
    if not any(indication == defaults["indication"] for indication, _ in pairs):
        defaults["indication"] = protocols[0].indication.code if protocols else ""
    if (defaults["indication"], defaults["product"]) not in pairs:
        fitting = sorted(product for indication, product in pairs if indication == defaults["indication"])
        defaults["product"] = fitting[0] if fitting else ""
    center = centers[0] if centers else None
    defaults["center"] = center.pk if center else None
    today = timezone.localdate(timezone=center.zone) if center else timezone.localdate()
    defaults["start_date"] = next_weekday(today).isoformat()
    return defaults


@staff_page
def plan_new(request: HttpRequest) -> HttpResponse:
    patient = chosen_patient(request)
    protocols = list(
        Protocol.objects.schedulable()
        .select_related("product", "indication")
        .order_by("indication__name", "product__name")
    )
    centers = list(Center.objects.order_by("name"))
    indications = {p.indication.code: p.indication for p in protocols}
    return render(
        request,
        "plans/new.html",
        {
            "nav": "patients",
            "patient": patient,
            "flags": safety_flags(patient, maltose_products(protocols)),
            "indications": sorted(indications.values(), key=lambda i: i.name),
            "products": product_choices(protocols),
            "centers": centers,
            "intervals": Interval.choices,
            "methods": DosingWeightMethod.choices,
            "statuses": [(PlanStatus.DRAFT, "Draft"), (PlanStatus.ACTIVE, "Active")],
            "routes": PremedicationRoute.choices,
            "defaults": form_defaults(protocols, centers),
            "can_save": has_role(request.user, *PLAN_WRITERS),
            "page_data": {
                "patient": patient.pk,
                "centers": {
                    str(c.pk): {
                        "zone": c.time_zone,
                        "after": c.buffer_after_minutes,
                        "after_first": c.buffer_after_first_minutes,
                    }
                    for c in centers
                },
                "long_observation": long_observation_reasons(patient, protocols),
                "plan_url": reverse("plan", args=[0]),
            },
        },
    )


# -- a plan ------------------------------------------------------------------------


def dose_of(plan: InfusionPlan) -> tuple[dict | None, str]:
    """The plan's day dose as the plans API shows it, or why it cannot be computed."""
    try:
        return tidy(dose_json(plan_dose(plan))), ""
    except (dosing.DosingError, Contraindicated) as exc:
        return None, str(exc)


def tidy(value):
    """Whole floats as integers for display (4 mg/kg/min, not 4.0), through lists and dicts."""
    if isinstance(value, dict):
        return {key: tidy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [tidy(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def booking_blocker(plan: InfusionPlan, remaining: list) -> str:
    """Why the series cannot be booked from this page now; empty when it can."""
    if plan.status in (PlanStatus.CANCELLED, PlanStatus.COMPLETED):
        return f"The plan is {plan.get_status_display().lower()}."
    if not remaining:
        return "Every course of this plan is booked."
    return ""


@staff_page
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(with_dose_inputs(InfusionPlan.objects.all()), pk=pk)
    sessions = list(plan.sessions.select_related("center", "chair").order_by("start", "id"))
    remaining = remaining_courses(plan)
    dose, dose_error = dose_of(plan)
    can_book = has_role(request.user, *PLAN_WRITERS)
    chairs = list(plan.center.chairs.order_by("name", "id")) if can_book else []
    return render(
        request,
        "plans/detail.html",
        {
            "nav": "patients",
            "plan": plan,
            "patient": plan.patient,
            "dose": dose,
            "dose_error": dose_error,
            "sessions": sessions,
            "remaining": remaining,
            "can_book": can_book,
            "blocker": booking_blocker(plan, remaining),
            "saved": request.GET.get("saved") == "1",
            "page_data": {
                "book_url": f"/api/v1/plans/{plan.pk}/book/",
                "zone": plan.center.time_zone,
                "chairs": {str(c.pk): c.name for c in chairs},
                "reasons": REASON_WORDS,
                "session_url": reverse("session", args=[0]),
            },
        },
    )
