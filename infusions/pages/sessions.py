"""The session page: the nurse's chairside view, and reschedule / cancel for schedulers.

The page only reads. Status actions, chairside entries, rescheduling and
cancelling go to /api/v1/ from static/js/session.js, so every rule stays in the
services behind the API. The page reads a fixed number of queries whatever the
number of records: the session with its patient, plan and center, one query per
kind of record, and the choices its forms offer.
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone

from infusions import chairside
from infusions.api.records import RECORD_WRITERS
from infusions.api.sessions import ACTION_ROLES, SCHEDULERS
from infusions.chairside.vitals_due import session_vitals_due
from infusions.models import (
    SYMPTOM_CODES,
    Chair,
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
from infusions.pages.common import clinical_page
from infusions.scheduling.dates import zone_offsets
from patients.roles import has_role

# (action, button text, API path segment), in the order a session goes through them.
STATUS_BUTTONS = (
    ("check_in", "Check in", "check-in"),
    ("start", "Start infusion", "start"),
    ("complete", "Complete", "complete"),
    ("confirm", "Confirm", "confirm"),
    ("no_show", "No-show", "no-show"),
)
# (model, form and timeline code, label, API segment under /api/v1/sessions/<id>/).
ENTRY_KINDS = (
    (RateChange, "rate", "Rate", "rate-changes"),
    (VitalSigns, "vitals", "Vitals", "vitals"),
    (Reaction, "reaction", "Reaction", "reactions"),
    (Premedication, "premedication", "Premedication", "premedications"),
    (LotUse, "lot", "Lot", "lots"),
)
OFFSET_DAYS = 400  # how far ahead the page knows the zone's UTC offsets, for rescheduling
CHART = {"width": 720, "height": 270, "left": 56, "right": 16, "top": 28, "bottom": 44}


# -- formatting ----------------------------------------------------------------------------


def _clock(value: dt.datetime, zone: ZoneInfo) -> str:
    """A wall-clock time with the zone's abbreviation, e.g. "09:15 EST"."""
    local = value.astimezone(zone)
    return f"{local:%H:%M} {local.tzname()}"


def _mg(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _ml(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "—"


def _minutes(value: float | None) -> str:
    return f"{round(value, 1):g} min" if value is not None else "until the dose is in"


# -- reading ---------------------------------------------------------------------------------


def _session(pk: int) -> InfusionSession:
    sessions = InfusionSession.objects.select_related(
        "center", "chair", "patient", "plan__protocol__product", "plan__protocol__indication"
    ).prefetch_related("patient__weights", "plan__protocol__steps")
    return get_object_or_404(sessions, pk=pk)


def _records(session: InfusionSession) -> dict[type, list]:
    """Every record of the session, one query per kind, each knowing its session."""
    records = {}
    for model, *_ in ENTRY_KINDS:
        entries = model.objects.filter(session=session).select_related("recorded_by", "amended_by")
        if model is LotUse:
            entries = entries.select_related("product")
        records[model] = list(entries.order_by("at", "id"))
        for entry in records[model]:
            entry.session = session
    return records


def _dosing_weight(session: InfusionSession) -> float | None:
    if session.plan is None:
        return None
    try:
        return chairside.session_dosing_weight(session)
    except chairside.EntryRefused:
        return None


def _infusion_origin(session: InfusionSession) -> dt.datetime:
    """The infusion's start, or its planned start after the center's check-in buffer."""
    return session.started_at or session.start + dt.timedelta(minutes=session.center.buffer_before_minutes)


# -- the dose and its ladder ---------------------------------------------------------------


def _limits(session: InfusionSession, weight: float | None) -> dict:
    cap = session.patient.tolerated_max_rate_mg_kg_min
    facts = {"weight": weight, "limit": None, "cap_mg": _mg(float(cap)) if cap is not None else None}
    if session.plan is not None and weight is not None:
        limit = chairside.effective_limit(session, weight)
        facts["limit"] = {"ml": _ml(limit.ml_per_hour), "mg": _mg(limit.mg_kg_min), "source": limit.source}
        facts["limit_ml"] = limit.ml_per_hour
        if cap is not None:
            facts["cap_ml"] = _ml(chairside.planned_rate_ml_per_hour(session, float(cap), weight))
    return facts


def _ladder(session: InfusionSession, weight: float | None, zone: ZoneInfo) -> list[dict]:
    """The planned steps with local clock times from the infusion's (planned) start."""
    booked = {float(s.get("start_minute", -1)): s.get("minutes") for s in session.ladder or []}
    origin = _infusion_origin(session)
    rows = []
    for number, row in enumerate(chairside.planned_ladder_rows(session, weight), start=1):
        minutes = row["minutes"] if row["minutes"] is not None else booked.get(row["start_minute"])
        begins = origin + dt.timedelta(minutes=row["start_minute"])
        ends = begins + dt.timedelta(minutes=minutes) if minutes is not None else None
        rows.append(
            {
                "step": number,
                "ml": row["rate_ml_per_hour"],
                "ml_text": _ml(row["rate_ml_per_hour"]),
                "mg_text": _mg(row["rate_mg_kg_min"]),
                "begins": begins,
                "ends": ends,
                "from": _clock(begins, zone),
                "to": _clock(ends, zone) if ends is not None else "—",
                "duration": _minutes(minutes),
            }
        )
    return rows


# -- the timeline ---------------------------------------------------------------------------


def _details(entry, positions: dict) -> dict:
    """What the timeline shows beside a rate or a reaction that the template cannot work out."""
    if isinstance(entry, RateChange):
        position = positions.get(entry.pk)
        details = {"mg": _mg(float(entry.rate_mg_kg_min)), "paused": entry.rate_ml_per_hour == 0}
        if position is not None and not details["paused"]:
            planned = chairside.planned_rate_ml_per_hour(
                entry.session, position.planned_mg_kg_min, float(entry.dosing_weight_kg)
            )
            details |= {"planned": _ml(planned), "minute": round(position.elapsed_minutes)}
            details["restart"] = position.restart
        return details
    if isinstance(entry, Reaction):
        cap = entry.cap_set_mg_kg_min
        return {
            "symptoms": ", ".join(code.replace("_", " ") for code in entry.symptoms),
            "cap": _mg(float(cap)) if cap is not None else None,
        }
    return {}


def _timeline(records: dict[type, list], positions: dict, zone: ZoneInfo) -> list[dict]:
    """Every record in time order (ties in the order typed), superseded entries included."""
    rows = []
    for model, code, label, _ in ENTRY_KINDS:
        for entry in records[model]:
            newer = getattr(entry, "amended_by", None)
            rows.append(
                {
                    "entry": entry,
                    "kind": code,
                    "label": label,
                    "at": _clock(entry.at, zone),
                    "superseded_by": newer.pk if newer is not None else None,
                    **_details(entry, positions),
                }
            )
    return sorted(rows, key=lambda row: (row["entry"].at, row["entry"].created_at))


# -- the rate chart -------------------------------------------------------------------------


def _nice_ceiling(value: float) -> tuple[float, float]:
    """An axis top at or above `value` and a tick step giving at most six ticks."""
    for step in (5, 10, 20, 25, 50, 100, 200, 250, 500):
        if value / step <= 6:
            return math.ceil(value / step) * step or step, step
    return math.ceil(value / 1000) * 1000, 1000


def _clock_ticks(t0: dt.datetime, t1: dt.datetime, zone: ZoneInfo) -> list[dt.datetime]:
    """Local times on the whole or half hour between t0 and t1, at most about eight."""
    span = (t1 - t0).total_seconds()
    minutes = 30 if span <= 3 * 3600 else 60 if span <= 8 * 3600 else 120
    tick, ticks = t0.astimezone(zone).replace(minute=0, second=0, microsecond=0), []
    while tick <= t1:
        if tick >= t0:
            ticks.append(tick)
        tick = (tick.astimezone(dt.UTC) + dt.timedelta(minutes=minutes)).astimezone(zone)
    return ticks


def _chart(session: InfusionSession, ladder: list[dict], periods, limit_ml: float | None, zone, now) -> dict:
    """Coordinates of the rate chart: the logged rate, the planned ladder and the maximum."""
    c = CHART
    plot_w, plot_h = c["width"] - c["left"] - c["right"], c["height"] - c["top"] - c["bottom"]
    t0 = _infusion_origin(session)
    ends = [row["ends"] or row["begins"] for row in ladder] + [p.end or now for p in periods]
    if session.status == SessionStatus.IN_PROGRESS:
        ends.append(now)
    t1 = max([*ends, t0 + dt.timedelta(minutes=60)])
    rates = [row["ml"] or 0 for row in ladder] + [p.rate_ml_per_hour for p in periods] + [limit_ml or 0]
    top, step = _nice_ceiling(max(rates) * 1.1 or 10)
    span = (t1 - t0).total_seconds()

    def x(at: dt.datetime) -> float:
        return round(c["left"] + (at - t0).total_seconds() / span * plot_w, 1)

    def y(ml: float) -> float:
        return round(c["top"] + plot_h - ml / top * plot_h, 1)

    # Step lines: each rate from its start to its end, so consecutive rates join vertically.
    planned_points = [
        point
        for row in ladder
        for point in ((x(row["begins"]), y(row["ml"] or 0)), (x(row["ends"] or t1), y(row["ml"] or 0)))
    ]
    actual_points = [
        point
        for p in periods
        for point in ((x(p.start), y(p.rate_ml_per_hour)), (x(p.end or now), y(p.rate_ml_per_hour)))
    ]
    x_ticks = [{"x": x(tick), "label": f"{tick:%H:%M}"} for tick in _clock_ticks(t0, t1, zone)]
    y_ticks = [{"y": y(v), "label": f"{v:g}"} for v in range(0, int(top) + 1, int(step))]
    return {
        **c,
        "plot_right": c["width"] - c["right"],
        "plot_bottom": c["top"] + plot_h,
        "planned": " ".join(f"{a},{b}" for a, b in planned_points),
        "actual": " ".join(f"{a},{b}" for a, b in actual_points),
        "max_y": y(limit_ml) if limit_ml is not None else None,
        "max_label": f"Maximum {_ml(limit_ml)} mL/h" if limit_ml is not None else "",
        "now_x": x(now) if session.status == SessionStatus.IN_PROGRESS else None,
        "x_ticks": x_ticks,
        "y_ticks": y_ticks,
        "periods": [
            {
                "from": _clock(p.start, zone),
                "to": _clock(p.end, zone) if p.end else "now",
                "ml": _ml(p.rate_ml_per_hour),
                "mg": _mg(p.rate_mg_kg_min),
            }
            for p in periods
        ],
    }


# -- what the user may do -------------------------------------------------------------------


def _status_buttons(request: HttpRequest, session: InfusionSession) -> list[dict]:
    allowed = session.allowed_actions()
    return [
        {"action": action, "label": label, "path": path}
        for action, label, path in STATUS_BUTTONS
        if action in allowed and has_role(request.user, *ACTION_ROLES[action])
    ]


def _entry_forms(request: HttpRequest, session: InfusionSession) -> dict:
    """The chairside forms this user may fill now (the API refuses the rest anyway), and their choices."""
    writer = has_role(request.user, *RECORD_WRITERS)
    forms = set()
    if writer and session.status == SessionStatus.IN_PROGRESS:
        forms = {code for _, code, *_ in ENTRY_KINDS}
    elif writer and session.status == SessionStatus.CHECKED_IN:
        # Vitals and premedication are taken from check-in, the rest once the infusion runs.
        forms = {code for model, code, *_ in ENTRY_KINDS if chairside.KINDS[model].from_check_in}
    return {
        "forms": forms,
        "can_record": writer,
        "products": list(Product.objects.active().order_by("name")) if "lot" in forms else [],
        "severities": ReactionSeverity.choices,
        "actions": ReactionAction.choices,
        "routes": PremedicationRoute.choices,
        "symptoms": [(code, code.replace("_", " ")) for code in SYMPTOM_CODES],
    }


def _scheduling(request: HttpRequest, session: InfusionSession) -> dict:
    may = has_role(request.user, *SCHEDULERS)
    reschedule = may and session.can_reschedule()
    local = session.local_start
    today = timezone.localdate(timezone=session.center.zone)
    return {
        "can_reschedule": reschedule,
        "can_cancel": may and session.next_status("cancel") is not None,
        "chairs": list(Chair.objects.filter(center=session.center, is_active=True)) if reschedule else [],
        "date": local.date().isoformat(),
        "time": f"{local:%H:%M}",
        "offsets": zone_offsets(
            session.center.zone, min(today, local.date()) - dt.timedelta(days=1), OFFSET_DAYS
        ),
    }


# -- the page -------------------------------------------------------------------------------


@clinical_page
def session_page(request: HttpRequest, pk: int) -> HttpResponse:
    session = _session(pk)
    zone, now = session.center.zone, timezone.now()
    records = _records(session)
    weight = _dosing_weight(session)
    limits = _limits(session, weight)
    ladder = _ladder(session, weight, zone) if session.plan is not None else []
    rates, reactions = records[RateChange], records[Reaction]
    positions = chairside.positions_by_entry(session, rates, reactions)
    # Open-ended while running: the last rate runs "now".
    periods = chairside.rate_periods(chairside.rate_events(rates, reactions), until=session.completed_at)
    due = session_vitals_due(
        session, rates=rates, reactions=reactions, vitals=records[VitalSigns], dosing_weight=weight
    )
    context = {
        "nav": "board",
        "session": session,
        "patient": session.patient,
        "plan": session.plan,
        "zone_name": session.center.time_zone,
        "when": _when(session, zone),
        "limits": limits,
        "ladder": ladder,
        "chart": _chart(session, ladder, periods, limits.get("limit_ml"), zone, now) if ladder else None,
        "timeline": _timeline(records, positions, zone),
        "due": {
            "now": due.is_due(now),
            "at": _clock(due.at, zone) if due.at else None,
            "iso": due.at.isoformat() if due.at else "",
            "reason": due.reason,
        },
        "buttons": _status_buttons(request, session),
        "api": _api(session),
        **_entry_forms(request, session),
        **_scheduling(request, session),
    }
    return render(request, "sessions/session.html", context)


def _when(session: InfusionSession, zone: ZoneInfo) -> dict:
    def clock(value: dt.datetime | None) -> str:
        return _clock(value, zone) if value is not None else ""

    return {
        "day": f"{session.local_start:%a %d %b %Y}",
        "start": clock(session.start),
        "end": clock(session.end),
        "origin": clock(_infusion_origin(session)),
        "checked_in": clock(session.checked_in_at),
        "completed": clock(session.completed_at),
        "abbr": session.local_start.tzname(),
        # The day a time typed at the chair belongs to: the day of check-in.
        "entry_date": (session.checked_in_at or session.start).astimezone(zone).date().isoformat(),
    }


def _api(session: InfusionSession) -> dict:
    """The API addresses the page's script calls."""
    urls = {"session": reverse("session-detail", args=[session.pk]), "availability": reverse("availability")}
    for _, code, _, segment in ENTRY_KINDS:
        urls[code] = reverse(f"session-{segment}", kwargs={"session_id": session.pk})
    return urls
