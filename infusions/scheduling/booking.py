"""Booking services: a whole series, one session, a reschedule, a status change.

Every booking runs in one transaction that first locks the patient and the
center's days it may touch (`select_for_update`, always in that order so two
bookings never deadlock), then checks the rules against what is committed,
then writes. On PostgreSQL exclusion constraints back the check; on SQLite,
IMMEDIATE transactions serialise writers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
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
    PlanStatus,
    ReminderKind,
    SessionStatus,
    StaffingDay,
)
from infusions.reminders.planning import reminders_plan
from infusions.scheduling.dates import course_start_dates, offset_matches_zone
from infusions.scheduling.ledger import CENTER_CLOSED, Booking, Ledger
from infusions.scheduling.placement import (
    ALTERNATIVE_DAYS,
    Conflict,
    History,
    Placement,
    Placer,
    SeriesSpec,
)
from patients.models import Patient

# Room after a course's interval date for the window, its following days and weekends.
COURSE_SPAN_SLACK = 10


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


def _lock(*, patients: list[int], center: Center, first: dt.date, last: dt.date) -> None:
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


def _history(patient: Patient, plan: InfusionPlan | None, before: dt.datetime) -> History:
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


def _dose_fields(dose: dosing.DoseResult | None) -> dict:
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


def _dose(plan: InfusionPlan) -> dosing.DoseResult:
    try:
        return plan_dose(plan)
    except dosing.DosingError as exc:
        raise BookingError(f"The plan's dose cannot be computed: {exc}", field="plan") from exc


def _save(session: InfusionSession) -> InfusionSession:
    """Insert or update; a race the locks did not stop still ends as a conflict, never a 500."""
    try:
        with transaction.atomic():
            session.save()
    except IntegrityError as exc:
        raise SlotConflict(
            ["chair_busy"], "The chair or the patient was booked at that time meanwhile."
        ) from exc
    return session


# -- a series -----------------------------------------------------------------


def remaining_courses(plan: InfusionPlan) -> list[tuple[int, dt.date]]:
    """(course number, interval date) of every course with no live session yet."""
    booked = set(plan.sessions.live().values_list("course", flat=True))
    dates = course_start_dates(
        interval=plan.interval,
        start_date=plan.start_date,
        course_count=plan.course_count,
        interval_days=plan.interval_days,
    )
    return [(n, day) for n, day in enumerate(dates, start=1) if n not in booked]


@dataclass(frozen=True)
class Choice:
    """A scheduler's pick for one day of a course: an exact start and chair.

    Usually one of the alternatives a refused booking offered; the series is
    still booked all or nothing, with the other days placed as usual.
    """

    course: int
    day: int
    start: dt.datetime
    chair: Chair


@transaction.atomic
def plan_book(*, plan: InfusionPlan, by=None, choices: Sequence[Choice] = ()) -> list[InfusionSession]:
    """Book every remaining course of the plan, all or nothing, at the chosen times where given."""
    if plan.status in (PlanStatus.CANCELLED, PlanStatus.COMPLETED):
        raise BookingError(f"The plan is {plan.get_status_display().lower()}.", field="status")
    courses = remaining_courses(plan)
    if not courses:
        raise SlotConflict([], "Every course of this plan is already booked.")
    picks = _checked_choices(plan, courses, choices)
    dose = _dose(plan)
    center = plan.center
    first = courses[0][1]
    last = max(
        [courses[-1][1] + dt.timedelta(days=plan.window_days + COURSE_SPAN_SLACK)]
        # The days after a chosen one must be locked too.
        + [c.start.astimezone(center.zone).date() + dt.timedelta(days=COURSE_SPAN_SLACK) for c in picks]
    )
    _lock(patients=[plan.patient_id], center=center, first=first - dt.timedelta(days=1), last=last)
    # Days past the lock are only read, for the alternatives offered when a course fails.
    ledger = Ledger(
        center,
        first - dt.timedelta(days=1),
        last + dt.timedelta(days=ALTERNATIVE_DAYS),
        patient_ids={plan.patient_id},
    )
    chair_time = ChairTime.of(dose, center)
    start_of_series = dt.datetime.combine(first, dt.time.min, tzinfo=center.zone)
    history = _history(plan.patient, plan, start_of_series)
    placer = Placer(ledger, _series_spec(plan, last_day=last), chair_time.minutes, LONG_GAP)
    placements, conflicts = [], []
    for course, anchor in courses:
        chosen = {c.day: c for c in picks if c.course == course}
        if chosen:
            result = _place_chosen(placer, course, anchor, history, chosen)
        else:
            result = placer.place_course(course, anchor, history)
        if isinstance(result, Conflict):
            conflicts.append(result)
            continue
        placer.commit(result)
        placements += result
        history = History(result[-1].end)
    if conflicts:
        raise SeriesConflict(conflicts)
    sessions = [
        _save(
            InfusionSession(
                patient=plan.patient,
                plan=plan,
                center=center,
                chair_id=p.chair_id,
                start=p.start,
                end=p.end,
                course=p.course,
                day=p.day,
                chair_minutes=chair_time.minutes(p.long_observation),
                **_dose_fields(dose),
            )
        )
        for p in placements
    ]
    # One "booked" message for the series (its first session), upcoming reminders for each.
    for index, session in enumerate(sessions):
        reminders_plan(session, notice=ReminderKind.BOOKED if index == 0 else None)
    if plan.status == PlanStatus.DRAFT:
        plan.status = PlanStatus.ACTIVE
        plan.save(update_fields=["status", "updated_at"])
    return sessions


# -- chosen times ---------------------------------------------------------------


def _checked_choices(
    plan: InfusionPlan, courses: list[tuple[int, dt.date]], choices: Sequence[Choice]
) -> list[Choice]:
    """The choices with UTC starts, or a BookingError (400) naming the first bad one."""
    anchors = dict(courses)
    checked: dict[tuple[int, int], Choice] = {}
    for choice in choices:
        if (choice.course, choice.day) in checked:
            raise BookingError(f"Course {choice.course}, day {choice.day} is chosen twice.", field="choices")
        checked[(choice.course, choice.day)] = _checked_choice(plan, anchors, choice)
    _check_day_order(checked, plan.center)
    return list(checked.values())


def _checked_choice(plan: InfusionPlan, anchors: dict[int, dt.date], choice: Choice) -> Choice:
    """One choice, checked against the plan and the center, with its start in UTC.

    A chosen day must fall between its course's interval date and as far as
    the window, the course's other days and the alternatives offered reach, so
    a choice can never make the booking lock an unbounded range of days.
    """
    where = f"Course {choice.course}, day {choice.day}"
    if choice.course not in anchors:
        raise BookingError(f"{where}: course {choice.course} is not left to book.", field="choices")
    if not 1 <= choice.day <= plan.days_per_course:
        raise BookingError(
            f"{where}: the plan's courses last {plan.days_per_course} day(s).", field="choices"
        )
    if choice.chair.center_id != plan.center_id or not choice.chair.is_active:
        raise BookingError(f"{where}: that chair is not an active chair of this center.", field="choices")
    try:
        start = _check_start(choice.start, plan.center)
    except BookingError as exc:
        raise BookingError(f"{where}: {exc}", field="choices") from exc
    anchor = anchors[choice.course]
    latest = anchor + dt.timedelta(days=plan.window_days + COURSE_SPAN_SLACK + ALTERNATIVE_DAYS)
    if not anchor <= start.astimezone(plan.center.zone).date() <= latest:
        raise BookingError(
            f"{where}: choose a day from {anchor.isoformat()} to {latest.isoformat()}.", field="choices"
        )
    return replace(choice, start=start)


def _check_day_order(checked: dict[tuple[int, int], Choice], center: Center) -> None:
    """The chosen days of one course must follow each other in the calendar."""
    for (course, day), choice in checked.items():
        later = [c for (n, d), c in checked.items() if n == course and d > day]
        date = choice.start.astimezone(center.zone).date()
        if any(c.start.astimezone(center.zone).date() <= date for c in later):
            raise BookingError(
                f"Course {course}: each chosen day must fall on a later date than day {day}.",
                field="choices",
            )


def _place_chosen(
    placer: Placer, course: int, anchor: dt.date, history: History, chosen: dict[int, Choice]
) -> list[Placement] | Conflict:
    """A course with chosen days: those exactly as chosen, the others placed around them as usual."""
    placed: list[Placement] = []
    trial = history
    for number in range(1, placer.spec.days_per_course + 1):
        if number in chosen:
            found = _at_choice(placer, chosen[number], trial)
        else:
            found = _around_choices(placer, course, number, anchor, placed, chosen, trial)
        if isinstance(found, Conflict):
            for p in placed:
                placer.ledger.remove(_booking(placer, p))
            return found
        placed.append(found)
        placer.ledger.add(_booking(placer, found))
        trial = History(found.end)
    return placed


def _at_choice(placer: Placer, choice: Choice, history: History) -> Placement | Conflict:
    """The chosen start and chair, or a conflict with fresh alternatives when it no longer fits."""
    ledger = placer.ledger
    long = history.long_observation(choice.start, placer.long_gap)
    end = choice.start + dt.timedelta(minutes=placer.minutes_for(long))
    reasons = ledger.reasons(
        chair_id=choice.chair.pk, patient_id=placer.spec.patient_id, start=choice.start, end=end
    )
    if reasons:
        date = ledger.local_date(choice.start)
        return Conflict(choice.course, choice.day, date, reasons, placer.alternatives(date, history))
    return Placement(choice.course, choice.day, choice.chair.pk, choice.start, end, long)


def _around_choices(
    placer: Placer,
    course: int,
    number: int,
    anchor: dt.date,
    placed: list[Placement],
    chosen: dict[int, Choice],
    history: History,
) -> Placement | Conflict:
    """A day that was not chosen: day 1 within the window, later days on the next open day,
    always before the course's next chosen day."""
    ledger, spec = placer.ledger, placer.spec
    if placed:
        after = ledger.local_date(placed[-1].start)
        days, date = [ledger.next_open_day(after)], after + dt.timedelta(days=1)
    else:
        days, date = ledger.open_days(anchor, anchor + dt.timedelta(days=spec.window_days)), anchor
    before = min((ledger.local_date(c.start) for d, c in chosen.items() if d > number), default=None)
    days = [
        d for d in days if d is not None and d.date <= spec.last_day and (before is None or d.date < before)
    ]
    for day in days:
        found = placer.best(day, history, spread=spec.flexibility)
        if found is not None:
            return Placement(course, number, found.chair_id, found.start, found.end, found.long_observation)
    if not days:
        return Conflict(course, number, date, [CENTER_CLOSED], placer.alternatives(date, history))
    first = days[0]
    return Conflict(
        course,
        number,
        first.date,
        placer.blocking_reasons(first, history),
        placer.alternatives(first.date, history),
    )


def _booking(placer: Placer, p: Placement) -> Booking:
    return Booking(p.chair_id, placer.spec.patient_id, placer.ledger.center.pk, p.start, p.end)


def _series_spec(plan: InfusionPlan, *, last_day: dt.date) -> SeriesSpec:
    previous = plan.patient.sessions.live().order_by("-start").values_list("chair_id", flat=True).first()
    return SeriesSpec(
        patient_id=plan.patient_id,
        preferred=plan.preferred_start_time,
        flexibility=dt.timedelta(minutes=plan.time_flexibility_minutes),
        window_days=plan.window_days,
        days_per_course=plan.days_per_course,
        previous_chair_id=previous,
        last_day=last_day,
    )


# -- one session ---------------------------------------------------------------


def _check_start(start: dt.datetime, center: Center) -> dt.datetime:
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
    _lock(patients=patients, center=center, first=day - dt.timedelta(days=1), last=day + dt.timedelta(days=1))
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
    start = _check_start(start, center)
    if plan is not None and plan.patient_id != patient.pk:
        raise BookingError("The plan belongs to another patient.", field="plan")
    dose = _dose(plan) if plan is not None else None
    ledger = _ledger_around(center, start, [patient.pk])
    if dose is not None:
        long = _history(patient, plan, start).long_observation(start, LONG_GAP)
        chair_minutes = ChairTime.of(dose, center).minutes(long)
    if not chair_minutes:
        raise BookingError("Give chair_minutes for a session without a plan.", field="chair_minutes")
    end = start + dt.timedelta(minutes=chair_minutes)
    previous = patient.sessions.live().order_by("-start").values_list("chair_id", flat=True).first()
    chosen = _choose_chair(
        ledger, patient_id=patient.pk, start=start, end=end, chair=chair, previous_chair_id=previous
    )
    session = _save(
        InfusionSession(
            patient=patient,
            plan=plan,
            center=center,
            chair=chosen,
            start=start,
            end=end,
            chair_minutes=chair_minutes,
            **_dose_fields(dose),
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
    start = _check_start(start, center) if start is not None else session.start
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
    _save(session)
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
