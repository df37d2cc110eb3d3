"""Series booking: every remaining course of a plan, all or nothing, optionally at chosen times.

It locks and checks as every booking does (see `booking`); if any course cannot
be placed, nothing is booked and the conflicts say why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from django.db import transaction

from infusions.calculations import LONG_GAP
from infusions.models import Center, Chair, InfusionPlan, InfusionSession, PlanStatus, ReminderKind
from infusions.reminders.planning import reminders_plan
from infusions.scheduling.booking import (
    BookingError,
    ChairTime,
    SeriesConflict,
    SlotConflict,
    bookable_dose,
    checked_start,
    dose_fields,
    lock_for_booking,
    patient_history,
    save_or_conflict,
)
from infusions.scheduling.dates import course_start_dates
from infusions.scheduling.ledger import CENTER_CLOSED, Booking, Ledger
from infusions.scheduling.placement import (
    ALTERNATIVE_DAYS,
    Conflict,
    History,
    Placement,
    Placer,
    SeriesSpec,
)

# Room after a course's interval date for the window, its following days and weekends.
COURSE_SPAN_SLACK = 10


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
    dose = bookable_dose(plan)
    center = plan.center
    first = courses[0][1]
    last = max(
        [courses[-1][1] + dt.timedelta(days=plan.window_days + COURSE_SPAN_SLACK)]
        # The days after a chosen one must be locked too.
        + [c.start.astimezone(center.zone).date() + dt.timedelta(days=COURSE_SPAN_SLACK) for c in picks]
    )
    lock_for_booking(patients=[plan.patient_id], center=center, first=first - dt.timedelta(days=1), last=last)
    # Days past the lock are only read, for the alternatives offered when a course fails.
    ledger = Ledger(
        center,
        first - dt.timedelta(days=1),
        last + dt.timedelta(days=ALTERNATIVE_DAYS),
        patient_ids={plan.patient_id},
    )
    chair_time = ChairTime.of(dose, center)
    start_of_series = dt.datetime.combine(first, dt.time.min, tzinfo=center.zone)
    history = patient_history(plan.patient, plan, start_of_series)
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
        save_or_conflict(
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
                **dose_fields(dose),
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
        start = checked_start(choice.start, plan.center)
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
