"""A year of demo data for three centers, bulk-created for load benchmarks.

Three centers in three zones (New York, Chicago, Los Angeles), each open
Monday to Friday 08:00–18:00 with 8 chairs and the default staffing of
2 nurses × 4 patients, so nurse capacity (8 at once) is never the limit
while each chair holds one patient at a time. Each center has 150 synthetic
patients with a weight history and one active plan on one of four regimens
(the mix below), dosed by `calculate_dose` from their latest weight, so
chair minutes, grams, volume and the rate ladder are what booking would
plan (chair time is 3 to 6 hours a day).

Every weekday of the 52 weeks around today, the patients whose course falls
on that day are laid into the chairs longest first, each into the fullest
chair it still fits before closing (best-fit decreasing), back to back from
opening with a quarter-hour stagger between chairs. A patient has at most one
session a day and a chair's sessions follow one another, so no chair and no
patient is ever double-booked; on PostgreSQL the exclusion constraints check
that as the rows go in. A session that fits no chair is left out and
counted (`DemoYear.unplaced`).

Statuses follow the clock: past sessions are completed, with a few no-shows
and cancellations; the ones running now are in progress; future ones are
scheduled, confirmed when they are less than three days away, and a few
cancelled. Rows are bulk-created, so there is no audit history and no
reminder rows: what the benchmarks read does not need them.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from infusions.calculations import PatientFacts, calculate_dose
from infusions.dosing import DoseResult
from infusions.models import (
    Center,
    Chair,
    InfusionPlan,
    InfusionSession,
    Interval,
    OpeningHours,
    PlanStatus,
    Protocol,
    SessionStatus,
)
from infusions.scheduling.dates import local_instant
from patients.models import IgAStatus, Patient, PatientWeight, ReminderChannel

SEED = 20261201
CENTERS = (
    ("Northeast Infusion Center", "Northeast IC", "America/New_York"),
    ("Midwest Infusion Center", "Midwest IC", "America/Chicago"),
    ("Pacific Infusion Center", "Pacific IC", "America/Los_Angeles"),
)
CHAIRS = 8
NURSES = 2
PATIENTS_PER_NURSE = 4
OPENS, CLOSES = dt.time(8, 0), dt.time(18, 0)
OPEN_MINUTES = 600
WEEKS_EACH_SIDE = 26
CONFIRM_AHEAD = dt.timedelta(days=3)
GIVEN_NAMES = ("Alex", "Blair", "Casey", "Dana", "Eden", "Finley", "Gray", "Harper", "Indy", "Jules")
FAMILY_NAMES = ("Ashby", "Brook", "Carver", "Dale", "Ellis", "Frost", "Grant", "Hale", "Irwin", "Joyce")


@dataclass(frozen=True)
class Regimen:
    """A plan shape: protocol, dose per course, days per course, and how often a course comes."""

    product: str
    indication: str
    dose_g_per_kg: Decimal
    days: int
    interval: str
    interval_days: int | None
    patients: int  # per center

    @property
    def period(self) -> int:
        """Open days from one course start to the next: five a week, as no center closes a weekday."""
        calendar_days = (
            self.interval_days or {Interval.BIWEEKLY: 14, Interval.EVERY_4_WEEKS: 28}[self.interval]
        )
        return calendar_days // 7 * 5


# 150 patients a center; about 18 sessions a weekday, 2.3 a chair. Chair time a day in the comments.
REGIMENS = (
    # Dermatomyositis, 2 g/kg over 2 days every 4 weeks: 6 h (4 mg/kg/min maximum).
    Regimen("octagam-10", "dermatomyositis", Decimal("2.00"), 2, Interval.EVERY_4_WEEKS, None, 24),
    # Dermatomyositis, 2 g/kg over 5 days every 4 weeks: 3.5 h.
    Regimen("octagam-10", "dermatomyositis", Decimal("2.00"), 5, Interval.EVERY_4_WEEKS, None, 36),
    # CIDP maintenance, 1 g/kg over 2 days every 3 weeks: 3.25 h.
    Regimen("panzyga", "cidp", Decimal("1.00"), 2, Interval.EVERY_N_DAYS, 21, 30),
    # Primary immunodeficiency, 0.4 g/kg every 4 weeks: 3 h.
    Regimen("panzyga", "primary_immunodeficiency", Decimal("0.40"), 1, Interval.EVERY_4_WEEKS, None, 60),
)


@dataclass(frozen=True)
class Enrolment:
    """A patient on a regimen, its plan, the day's dose, and the open day its first course starts."""

    patient: Patient
    plan: InfusionPlan
    regimen: Regimen
    dose: DoseResult
    offset: int

    def due(self, day_index: int) -> tuple[int, int] | None:
        """(course, day of course) on the `day_index`-th open day, or None."""
        if day_index < self.offset:
            return None
        course, day = divmod(day_index - self.offset, self.regimen.period)
        if course >= self.plan.course_count or day >= self.regimen.days:
            return None
        return course + 1, day + 1


@dataclass(frozen=True)
class Due:
    enrolment: Enrolment
    course: int
    day: int

    @property
    def minutes(self) -> int:
        return self.enrolment.dose.chair_minutes


@dataclass(frozen=True)
class DemoYear:
    centers: list[Center]
    first: dt.date
    last: dt.date
    patients: int
    sessions: int
    unplaced: int


def build(*, now: dt.datetime | None = None) -> DemoYear:
    """Create the three centers, their patients and plans, and a year of sessions."""
    now = now or timezone.now()
    rng = random.Random(SEED)
    days = open_days(timezone.localdate(now, timezone=dt.UTC))
    protocols = {
        (p.product.code, p.indication.code): p
        for p in Protocol.objects.select_related("product", "indication").prefetch_related("steps")
    }
    centers, patients, sessions, unplaced = [], 0, 0, 0
    for number, (name, short_name, zone) in enumerate(CENTERS, start=1):
        center = make_center(name, short_name, zone)
        enrolments = enrol(center, number, days, protocols, rng)
        rows, left_out = lay_out(center, enrolments, days, now, rng)
        InfusionSession.objects.bulk_create(rows, batch_size=1000)
        centers.append(center)
        patients += len(enrolments)
        sessions += len(rows)
        unplaced += left_out
    return DemoYear(centers, days[0], days[-1], patients, sessions, unplaced)


def open_days(today: dt.date) -> list[dt.date]:
    """Every weekday of the 52 weeks around today: 26 weeks before this week's Monday, 26 from it."""
    monday = today - dt.timedelta(days=today.weekday()) - dt.timedelta(weeks=WEEKS_EACH_SIDE)
    every_day = (monday + dt.timedelta(days=n) for n in range(2 * WEEKS_EACH_SIDE * 7))
    return [day for day in every_day if day.weekday() < 5]


# -- centers, patients, plans -------------------------------------------------------


def make_center(name: str, short_name: str, zone: str) -> Center:
    center = Center.objects.create(
        name=name,
        short_name=short_name,
        time_zone=zone,
        default_nurses_on_duty=NURSES,
        patients_per_nurse=PATIENTS_PER_NURSE,
    )
    OpeningHours.objects.bulk_create(
        OpeningHours(center=center, weekday=weekday, opens=OPENS, closes=CLOSES) for weekday in range(5)
    )
    Chair.objects.bulk_create(Chair(center=center, name=f"Chair {n}") for n in range(1, CHAIRS + 1))
    return center


def enrol(
    center: Center, number: int, days: list[dt.date], protocols: dict, rng: random.Random
) -> list[Enrolment]:
    """Patients, their weights and one active plan each, regimen by regimen."""
    shapes = [regimen for regimen in REGIMENS for _ in range(regimen.patients)]
    patients = Patient.objects.bulk_create(
        synthetic_patient(center, f"C{number}{n:04d}", n, rng) for n in range(1, len(shapes) + 1)
    )
    weights = PatientWeight.objects.bulk_create(
        weight for patient in patients for weight in weight_history(patient, days[0], rng)
    )
    latest = {w.patient_id: w for w in weights if w.measured_on == latest_weighing(days[0])}
    enrolments, seen = [], {}
    for patient, regimen in zip(patients, shapes, strict=True):
        # Course starts spread evenly over the interval, so every open day is about as busy.
        offset = seen.setdefault(regimen, 0) * regimen.period // regimen.patients
        seen[regimen] += 1
        protocol = protocols[regimen.product, regimen.indication]
        dose = day_dose(patient, float(latest[patient.pk].weight_kg), protocol, regimen, center)
        plan = new_plan(patient, protocol, center, regimen, days, offset)
        enrolments.append(Enrolment(patient, plan, regimen, dose, offset))
    InfusionPlan.objects.bulk_create(e.plan for e in enrolments)
    return enrolments


def synthetic_patient(center: Center, mrn: str, n: int, rng: random.Random) -> Patient:
    return Patient(
        mrn=mrn,
        given_name=GIVEN_NAMES[n % len(GIVEN_NAMES)],
        family_name=f"{FAMILY_NAMES[n // len(GIVEN_NAMES) % len(FAMILY_NAMES)]}-{n:03d}",
        date_of_birth=dt.date(1945, 1, 1) + dt.timedelta(days=rng.randrange(55 * 365)),
        sex="female" if n % 3 else "male",
        height_cm=Decimal(rng.randrange(150, 192)),
        time_zone=center.time_zone,
        email=f"{mrn.lower()}@example.invalid",
        phone=f"+1202555{n:04d}",
        reminder_channel=rng.choice(list(ReminderChannel)),
        diabetes=rng.random() < 0.12,
        thrombosis_risk=rng.random() < 0.05,
        renal_risk=rng.random() < 0.03,
        iga_status=IgAStatus.DEFICIENT if rng.random() < 0.02 else IgAStatus.NORMAL,
    )


def latest_weighing(first: dt.date) -> dt.date:
    """Two weeks before this week's Monday."""
    return first + dt.timedelta(weeks=WEEKS_EACH_SIDE - 2)


def weight_history(patient: Patient, first: dt.date, rng: random.Random) -> Iterator[PatientWeight]:
    """Two weighings: a week before the year's first day, and the latest, two weeks before this week."""
    weight = Decimal(rng.randrange(500, 1200)) / 10
    yield PatientWeight(
        patient=patient, weight_kg=weight + Decimal("1.5"), measured_on=first - dt.timedelta(days=7)
    )
    yield PatientWeight(patient=patient, weight_kg=weight, measured_on=latest_weighing(first))


def day_dose(
    patient: Patient, weight_kg: float, protocol: Protocol, regimen: Regimen, center: Center
) -> DoseResult:
    facts = PatientFacts(
        weight_kg=weight_kg,
        height_cm=float(patient.height_cm),
        sex=patient.sex,
        at_risk=patient.at_thrombosis_or_renal_risk,
        iga_status=patient.iga_status,
        diabetes=patient.diabetes,
    )
    return calculate_dose(
        protocol=protocol,
        facts=facts,
        dose_g_per_kg=float(regimen.dose_g_per_kg),
        days=regimen.days,
        center=center,
    )


def new_plan(
    patient: Patient, protocol: Protocol, center: Center, regimen: Regimen, days: list[dt.date], offset: int
) -> InfusionPlan:
    """The plan's courses are those whose every day lies inside the year."""
    course_count = (len(days) - offset - regimen.days) // regimen.period + 1
    return InfusionPlan(
        patient=patient,
        protocol=protocol,
        center=center,
        dose_g_per_kg=regimen.dose_g_per_kg,
        days_per_course=regimen.days,
        interval=regimen.interval,
        interval_days=regimen.interval_days,
        start_date=days[offset],
        course_count=course_count,
        preferred_start_time=OPENS,
        status=PlanStatus.ACTIVE,
    )


# -- sessions -------------------------------------------------------------------------


def lay_out(
    center: Center, enrolments: list[Enrolment], days: list[dt.date], now: dt.datetime, rng: random.Random
) -> tuple[list[InfusionSession], int]:
    chairs = list(center.chairs.order_by("name"))
    rows, unplaced = [], 0
    for index, day in enumerate(days):
        due = [Due(e, *course_day) for e in enrolments if (course_day := e.due(index)) is not None]
        chair_queues, left_out = pack(due, len(chairs))
        unplaced += left_out
        for position, queue in enumerate(chair_queues):
            rows.extend(chair_day(center, chairs[position], position, day, queue, now, rng))
    return rows, unplaced


def pack(due: list[Due], chairs: int) -> tuple[list[list[Due]], int]:
    """Longest first, each into the fullest chair it still fits before closing."""
    queues: list[list[Due]] = [[] for _ in range(chairs)]
    used = [0] * chairs
    unplaced = 0
    for item in sorted(due, key=lambda d: (-d.minutes, d.enrolment.patient.pk)):
        fitting = [c for c in range(chairs) if used[c] + item.minutes <= OPEN_MINUTES]
        if not fitting:
            unplaced += 1
            continue
        chair = max(fitting, key=lambda c: used[c])
        queues[chair].append(item)
        used[chair] += item.minutes
    return queues, unplaced


def chair_day(
    center: Center,
    chair: Chair,
    position: int,
    day: dt.date,
    queue: list[Due],
    now: dt.datetime,
    rng: random.Random,
) -> Iterator[InfusionSession]:
    """One chair's sessions back to back, the first delayed by a quarter-hour per chair (up to 45 min)."""
    spare = OPEN_MINUTES - sum(item.minutes for item in queue)
    minute = min(spare, 15 * (position % 4))
    opening = local_instant(day, OPENS, center.zone).astimezone(dt.UTC)
    for item in queue:
        start = opening + dt.timedelta(minutes=minute)
        minute += item.minutes
        yield session_row(center, chair, item, start, now, rng)


def session_row(
    center: Center, chair: Chair, item: Due, start: dt.datetime, now: dt.datetime, rng: random.Random
) -> InfusionSession:
    dose = item.enrolment.dose
    session = InfusionSession(
        patient=item.enrolment.patient,
        plan=item.enrolment.plan,
        center=center,
        chair=chair,
        start=start,
        end=start + dt.timedelta(minutes=dose.chair_minutes),
        course=item.course,
        day=item.day,
        grams=Decimal(str(dose.grams_per_day)).quantize(Decimal("0.01")),
        volume_ml=Decimal(str(dose.volume_ml_per_day)).quantize(Decimal("0.1")),
        chair_minutes=dose.chair_minutes,
        ladder=[
            {"start_minute": s.start_minute, "minutes": s.minutes, "rate_mg_kg_min": s.rate_mg_kg_min}
            for s in dose.steps
        ],
    )
    set_status(session, now, rng.random())
    return session


def set_status(session: InfusionSession, now: dt.datetime, draw: float) -> None:
    """The status the clock implies, with the timestamps a nurse would have recorded."""
    checked_in = session.start + dt.timedelta(minutes=5)
    started = session.start + dt.timedelta(minutes=session.center.buffer_before_minutes)
    if session.end <= now:
        if draw < 0.04:
            session.status = SessionStatus.NO_SHOW
        elif draw < 0.10:
            session.status = SessionStatus.CANCELLED
        else:
            session.status = SessionStatus.COMPLETED
            session.checked_in_at, session.started_at = checked_in, started
            session.completed_at = session.end - dt.timedelta(minutes=session.center.buffer_after_minutes)
            session.grams_infused = session.grams
    elif session.start <= now:
        session.status = SessionStatus.IN_PROGRESS if now >= started else SessionStatus.CHECKED_IN
        session.checked_in_at = min(checked_in, now)
        session.started_at = started if now >= started else None
    elif draw < 0.03:
        session.status = SessionStatus.CANCELLED
    elif session.start - now < CONFIRM_AHEAD and draw < 0.6:
        session.status = SessionStatus.CONFIRMED
    else:
        session.status = SessionStatus.SCHEDULED
