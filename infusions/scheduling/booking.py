"""Booking services: one session, a reschedule, a status change.

A whole series is booked in `series`, which shares this module's errors, locks and checks.

Every booking runs in one transaction that first locks the patient and the
center's days it may touch (`select_for_update`, always in that order so two
bookings never deadlock), then checks the rules against what is committed,
then writes. On PostgreSQL exclusion constraints back the check; on SQLite,
IMMEDIATE transactions serialise writers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from infusions import dosing
from infusions.calculations import LONG_GAP, buffers_of, plan_dose
from infusions.models import (
    ACTION_TIMESTAMPS,
    ACTION_WORDS,
    Center,
    Chair,
    InfusionPlan,
    InfusionSession,
    ReminderKind,
    SessionStatus,
    StaffingDay,
)
from infusions.reminders.planning import reminders_plan
from infusions.scheduling.dates import offset_matches_zone
from infusions.scheduling.ledger import Ledger
from infusions.scheduling.placement import Conflict, History
from patients.models import Patient


class BookingError(Exception):
    """The request cannot be booked as asked (bad input, not a conflict): 400."""

    def __init__(self, message: str, field: str = "detail"):
        super().__init__(message)
        self.field = field


class SeriesConflict(Exception):
    """Some courses of a series cannot be placed; nothing was booked: 409."""

    def __init__(self, conflicts: list[Conflict]):
        super().__init__(f"{len(conflicts)} course(s) cannot be booked.")
        self.conflicts = conflicts


class SlotConflict(Exception):
    """One session cannot go where asked: 409 with the reason codes."""

    def __init__(self, reasons: list[str], message: str = "The session cannot be booked there."):
        super().__init__(message)
        self.reasons = reasons


class InvalidTransition(Exception):
    """The status machine does not allow this action from the session's status: 409."""


# -- locking ------------------------------------------------------------------


def lock_for_booking(*, patients: list[int], center: Center, first: dt.date, last: dt.date) -> None:
    """Lock the patients, then the center's days first..last (creating their rows)."""
    list(Patient.objects.select_for_update().filter(pk__in=sorted(patients)).order_by("pk").values_list("pk"))
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    StaffingDay.objects.bulk_create(
        [StaffingDay(center=center, date=day) for day in days], ignore_conflicts=True
    )
    list(
        StaffingDay.objects.select_for_update()
        .filter(center=center, date__range=(first, last))
        .order_by("date")
        .values_list("pk")
    )


# -- chair time ----------------------------------------------------------------


@dataclass(frozen=True)
class ChairTime:
    """Chair minutes for a dose, with the short or the long observation after."""

    infusion_minutes: float
    before: int
    after: int
    after_long: int
    slot: int

    @classmethod
    def of(cls, dose: dosing.DoseResult, center: Center) -> ChairTime:
        buffers = buffers_of(center)
        return cls(
            dose.infusion_minutes,
            buffers["before"],
            buffers["after"],
            buffers["after_first"],
            buffers["slot"],
        )

    def minutes(self, long_observation: bool) -> int:
        return dosing.chair_minutes(
            infusion_minutes=self.infusion_minutes,
            before_minutes=self.before,
            after_minutes=self.after_long if long_observation else self.after,
            slot_minutes=self.slot,
        )


def patient_history(patient: Patient, plan: InfusionPlan | None, before: dt.datetime) -> History:
    last = (
        InfusionSession.objects.live()
        .filter(patient=patient, end__lte=before)
        .select_related("plan__protocol")
        .order_by("-end")
        .first()
    )
    if last is None:
        return History(None)
    switched = (
        plan is not None
        and last.plan is not None
        and last.plan.protocol.product_id != plan.protocol.product_id
    )
    return History(last.end, switched)


def dose_fields(dose: dosing.DoseResult | None) -> dict:
    if dose is None:
        return {}
    return {
        "grams": Decimal(str(round(dose.grams_per_day, 2))),
        "volume_ml": Decimal(str(round(dose.volume_ml_per_day, 1))),
        "ladder": [
            {
                "start_minute": round(s.start_minute, 2),
                "minutes": round(s.minutes, 2),
                "rate_mg_kg_min": round(s.rate_mg_kg_min, 4),
                "rate_ml_per_hour": round(s.rate_ml_per_hour, 1),
            }
            for s in dose.steps
        ],
    }


def bookable_dose(plan: InfusionPlan) -> dosing.DoseResult:
    try:
        return plan_dose(plan)
    except dosing.DosingError as exc:
        raise BookingError(f"The plan's dose cannot be computed: {exc}", field="plan") from exc


def save_or_conflict(session: InfusionSession) -> InfusionSession:
    """Insert or update; a race the locks did not stop still ends as a conflict, never a 500."""
    try:
        with transaction.atomic():
            session.save()
    except IntegrityError as exc:
        raise SlotConflict(
            ["chair_busy"], "The chair or the patient was booked at that time meanwhile."
        ) from exc
    return session


# -- one session ---------------------------------------------------------------


def checked_start(start: dt.datetime, center: Center) -> dt.datetime:
    if start.tzinfo is None:
        raise BookingError(
            "Give the start with its UTC offset, e.g. 2027-01-04T09:00:00-05:00.", field="start"
        )
    if not offset_matches_zone(start, center.zone):
        local = start.astimezone(center.zone)
        raise BookingError(
            f"{start.isoformat()} is not a wall-clock time in {center.time_zone}: that instant is "
            f"{local.isoformat()} there (a skipped daylight-saving hour, or the wrong offset).",
            field="start",
        )
    return start.astimezone(dt.UTC)


def _ledger_around(center: Center, start: dt.datetime, patients: list[int]) -> Ledger:
    day = start.astimezone(center.zone).date()
    lock_for_booking(
        patients=patients, center=center, first=day - dt.timedelta(days=1), last=day + dt.timedelta(days=1)
    )
    return Ledger(center, day - dt.timedelta(days=1), day + dt.timedelta(days=1), patient_ids=set(patients))


def _choose_chair(
    ledger: Ledger,
    *,
    patient_id: int,
    start: dt.datetime,
    end: dt.datetime,
    chair: Chair | None,
    previous_chair_id: int | None,
) -> Chair:
    chairs = [chair] if chair is not None else ledger.chairs
    if chair is not None and (chair.center_id != ledger.center.pk or not chair.is_active):
        raise BookingError("That chair is not an active chair of this center.", field="chair")
    reasons_by_chair = {
        c.pk: ledger.reasons(chair_id=c.pk, patient_id=patient_id, start=start, end=end) for c in chairs
    }
    free = [c for c in chairs if not reasons_by_chair[c.pk]]
    if not free:
        reasons = min(reasons_by_chair.values(), key=len, default=["chair_busy"])
        raise SlotConflict(sorted(set(reasons)) if reasons else ["chair_busy"])
    return min(free, key=lambda c: (c.pk != previous_chair_id, c.name))


@transaction.atomic
def session_book(
    *,
    patient: Patient,
    center: Center,
    start: dt.datetime,
    chair: Chair | None = None,
    plan: InfusionPlan | None = None,
    chair_minutes: int | None = None,
    by=None,
) -> InfusionSession:
    """Book one session at an exact time (a scheduler's hand booking)."""
    start = checked_start(start, center)
    if plan is not None and plan.patient_id != patient.pk:
        raise BookingError("The plan belongs to another patient.", field="plan")
    dose = bookable_dose(plan) if plan is not None else None
    ledger = _ledger_around(center, start, [patient.pk])
    if dose is not None:
        long = patient_history(patient, plan, start).long_observation(start, LONG_GAP)
        chair_minutes = ChairTime.of(dose, center).minutes(long)
    if not chair_minutes:
        raise BookingError("Give chair_minutes for a session without a plan.", field="chair_minutes")
    end = start + dt.timedelta(minutes=chair_minutes)
    previous = patient.sessions.live().order_by("-start").values_list("chair_id", flat=True).first()
    chosen = _choose_chair(
        ledger, patient_id=patient.pk, start=start, end=end, chair=chair, previous_chair_id=previous
    )
    session = save_or_conflict(
        InfusionSession(
            patient=patient,
            plan=plan,
            center=center,
            chair=chosen,
            start=start,
            end=end,
            chair_minutes=chair_minutes,
            **dose_fields(dose),
        )
    )
    reminders_plan(session, notice=ReminderKind.BOOKED)
    return session


@transaction.atomic
def session_reschedule(
    *, session: InfusionSession, start: dt.datetime | None = None, chair: Chair | None = None, by=None
) -> InfusionSession:
    """Move a session to another time and/or chair under the same checks; its version grows by one."""
    session = InfusionSession.objects.select_related("center", "patient").get(pk=session.pk)
    if not session.can_reschedule():
        raise InvalidTransition(f"A {session.get_status_display().lower()} session cannot be rescheduled.")
    center = session.center
    start = checked_start(start, center) if start is not None else session.start
    end = start + dt.timedelta(minutes=session.chair_minutes)
    # Only the new time needs checking: leaving the old one frees room, never takes it.
    ledger = _ledger_around(center, start, [session.patient_id])
    ledger.ignore(session.pk)
    chosen = _choose_chair(
        ledger,
        patient_id=session.patient_id,
        start=start,
        end=end,
        chair=chair or session.chair,
        previous_chair_id=session.chair_id,
    )
    session.start, session.end, session.chair = start, end, chosen
    session.version += 1
    # The new booking is as long as the session's (possibly re-planned) chair minutes.
    session.needs_rebooking, session.rebooking_reason = False, ""
    if session.status == SessionStatus.CONFIRMED:
        # The patient confirmed the old time, not this one.
        session.status = SessionStatus.SCHEDULED
    save_or_conflict(session)
    reminders_plan(session, notice=ReminderKind.RESCHEDULED)
    return session


# -- status --------------------------------------------------------------------


@transaction.atomic
def session_transition(*, session: InfusionSession, action: str, by=None) -> InfusionSession:
    """Apply a status-machine action (confirm, check_in, start, complete, cancel, no_show)."""
    session = (
        InfusionSession.objects.select_for_update().select_related("center", "patient").get(pk=session.pk)
    )
    target = session.next_status(action)
    if target is None:
        allowed = ", ".join(a.replace("_", "-") for a in session.allowed_actions()) or "none"
        raise InvalidTransition(
            f"A {session.get_status_display().lower()} session cannot be {ACTION_WORDS[action]} "
            f"(allowed now: {allowed})."
        )
    session.status = target
    fields = ["status", "updated_at"]
    stamp = ACTION_TIMESTAMPS.get(action)
    if stamp is not None:
        setattr(session, stamp, timezone.now())
        fields.append(stamp)
    session.save(update_fields=fields)
    if not session.is_live:
        # Pending reminders are cancelled with the session; a cancellation is announced.
        reminders_plan(session, notice=ReminderKind.CANCELLED if action == "cancel" else None)
    return session
