"""Patient search and the patient page (staff)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal

from django.core.paginator import Paginator
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from infusions.models import InfusionSession, Product, Reaction
from infusions.pages.common import staff_page
from patients.models import IgAStatus, Patient, PatientWeight
from patients.roles import Role, has_role

PAGE_SIZE = 50
WEIGHT_WRITERS = (Role.SCHEDULER, Role.NURSE, Role.ADMIN)


def with_next_session(patients: QuerySet[Patient], now: dt.datetime) -> QuerySet[Patient]:
    """Annotate each patient's next live session (id, start, center zone and name), in one query."""
    upcoming = (
        InfusionSession.objects.live().filter(patient=OuterRef("pk"), start__gte=now).order_by("start", "id")
    )
    return patients.annotate(
        next_session_id=Subquery(upcoming.values("id")[:1]),
        next_session_start=Subquery(upcoming.values("start")[:1]),
        next_session_zone=Subquery(upcoming.values("center__time_zone")[:1]),
        next_session_center=Subquery(upcoming.values("center__short_name")[:1]),
    )


@staff_page
def patient_list(request: HttpRequest) -> HttpResponse:
    """Search by name (partial) or MRN, whatever the case, as the patients API does."""
    query = request.GET.get("q", "").strip()
    patients = with_next_session(Patient.objects.search(query), timezone.now())
    page = Paginator(patients, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "patients/list.html",
        {"nav": "patients", "query": query, "page": page, "patients": page.object_list},
    )


# -- the patient page ------------------------------------------------------------


@dataclass(frozen=True)
class Flag:
    label: str
    detail: str
    level: str  # "error" or "warn", as the notice classes


def safety_flags(patient: Patient, maltose_products: list[str]) -> list[Flag]:
    """The flags that change dosing or safety, in words a scheduler or nurse acts on."""
    flags = []
    if patient.iga_status == IgAStatus.ANTI_IGA:
        flags.append(
            Flag(
                "IgA deficient with anti-IgA antibodies",
                "Every IVIG label contraindicates IgA-containing products; the plan form refuses them.",
                "error",
            )
        )
    elif patient.iga_status == IgAStatus.DEFICIENT:
        flags.append(Flag("IgA deficient", "Prefer the product with the lowest IgA content.", "warn"))
    if patient.thrombosis_risk:
        flags.append(
            Flag("Thrombosis risk", "The product's risk cap limits the infusion rate; hydrate.", "warn")
        )
    if patient.renal_risk:
        flags.append(
            Flag(
                "Renal risk", "The product's risk cap limits the infusion rate; check renal function.", "warn"
            )
        )
    if patient.diabetes:
        products = ", ".join(maltose_products) or "some IVIG products"
        flags.append(
            Flag(
                "Diabetes: maltose warning",
                f"The maltose in {products} falsely raises GDH-PQQ glucose-meter readings: "
                "use a glucose-specific method.",
                "warn",
            )
        )
    return flags


def cap_source(patient: Patient, reactions: list[Reaction]) -> Reaction | None:
    """The latest reaction in force that set the patient's current tolerated cap, if recorded."""
    cap = patient.tolerated_max_rate_mg_kg_min
    if cap is None:
        return None
    setting = [r for r in reactions if r.cap_set_mg_kg_min is not None and r.cap_set_mg_kg_min == cap]
    return max(setting, key=lambda r: (r.at, r.pk), default=None)


@dataclass(frozen=True)
class Axis:
    position: float
    label: str


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    kg: str
    day: dt.date


CHART_WIDTH, CHART_HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 44, 16, 48


def _kg_ticks(low: float, high: float) -> list[float]:
    """Round kg values covering low..high, four to eight of them."""
    span = max(high - low, 1.0)
    step = next(s for s in (0.5, 1, 2, 5, 10, 20, 50, 100) if span / s <= 6)
    first = math.floor(low / step) * step
    last = math.ceil(high / step) * step
    if first == last:
        first, last = first - step, last + step
    return [first + step * n for n in range(round((last - first) / step) + 1)]


def weight_chart(weights: list[PatientWeight]) -> dict | None:
    """An SVG line chart of weights oldest first: points, kg ticks and date ticks in pixels."""
    if not weights:
        return None
    ticks = _kg_ticks(min(float(w.weight_kg) for w in weights), max(float(w.weight_kg) for w in weights))
    first, last = weights[0].measured_on, weights[-1].measured_on
    days = max((last - first).days, 1)
    plot_w, plot_h = CHART_WIDTH - LEFT - RIGHT, CHART_HEIGHT - TOP - BOTTOM

    def x(day: dt.date) -> float:
        if first == last:
            return LEFT + plot_w / 2
        return round(LEFT + plot_w * (day - first).days / days, 1)

    def y(kg: float) -> float:
        return round(TOP + plot_h * (ticks[-1] - kg) / (ticks[-1] - ticks[0]), 1)

    points = [
        Point(x(w.measured_on), y(float(w.weight_kg)), f"{w.weight_kg}", w.measured_on) for w in weights
    ]
    date_ticks = sorted({first + dt.timedelta(days=round((last - first).days * n / 3)) for n in range(4)})
    lightest = min(weights, key=lambda w: w.weight_kg)
    heaviest = max(weights, key=lambda w: w.weight_kg)
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": LEFT,
        "right": CHART_WIDTH - RIGHT,
        "top": TOP,
        "bottom": CHART_HEIGHT - BOTTOM,
        "mid_y": TOP + plot_h / 2,
        "points": points,
        "line": " ".join(f"{p.x},{p.y}" for p in points),
        "kg_ticks": [Axis(y(kg), f"{kg:g}") for kg in ticks],
        "date_ticks": [Axis(x(day), _day(day)) for day in date_ticks],
        "summary": (
            f"{len(weights)} weight(s) from {weights[0].weight_kg} kg on {_day(first)} "
            f"to {weights[-1].weight_kg} kg on {_day(last)}; lowest {lightest.weight_kg} kg, "
            f"highest {heaviest.weight_kg} kg."
        ),
    }


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"


def patient_records(patient: Patient) -> dict:
    """Everything the patient page lists, each kind in one query whatever its number of rows."""
    weights = list(patient.weights.order_by("measured_on", "id"))
    plans = list(
        patient.plans.select_related("protocol__product", "protocol__indication", "center").order_by(
            "-start_date", "-id"
        )
    )
    sessions = list(patient.sessions.select_related("center", "chair").order_by("start", "id"))
    reactions = list(
        Reaction.objects.filter(session__patient=patient, amended_by__isnull=True)
        .select_related("session__center")
        .order_by("-at", "-id")
    )
    for reaction in reactions:
        reaction.signs = signs_of(reaction)
        reaction.cap_text = plain(reaction.cap_set_mg_kg_min)
    return {"weights": weights, "plans": plans, "sessions": sessions, "reactions": reactions}


def plain(value: Decimal | None) -> str:
    """A decimal without trailing zeros (1.5, not 1.500); empty for None."""
    return "" if value is None else f"{value.normalize():f}"


def signs_of(reaction: Reaction) -> str:
    """The symptom codes in words, then the nurse's own note."""
    signs = ", ".join(code.replace("_", " ") for code in reaction.symptoms)
    return "; ".join(part for part in (signs, reaction.symptom_notes) if part)


@staff_page
def patient_detail(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient, pk=pk)
    records = patient_records(patient)
    now = timezone.now()
    sessions = records["sessions"]
    maltose = []
    if patient.diabetes:
        maltose = list(Product.objects.filter(contains_maltose=True).values_list("name", flat=True))
    weights = records["weights"]
    return render(
        request,
        "patients/detail.html",
        {
            "nav": "patients",
            "patient": patient,
            "latest_weight": weights[-1] if weights else None,
            "weights_newest_first": weights[::-1],
            "chart": weight_chart(weights),
            "flags": safety_flags(patient, maltose),
            "cap": plain(patient.tolerated_max_rate_mg_kg_min),
            "cap_reaction": cap_source(patient, records["reactions"]),
            "plans": records["plans"],
            "upcoming": [s for s in sessions if s.start >= now],
            "past": [s for s in reversed(sessions) if s.start < now],
            "reactions": records["reactions"],
            "can_record_weight": has_role(request.user, *WEIGHT_WRITERS),
            "can_plan": has_role(request.user, Role.SCHEDULER, Role.ADMIN),
            "today": patient.today(),
        },
    )
