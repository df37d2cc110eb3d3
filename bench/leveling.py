"""Leveling benchmark: Chairside's placement against a naive first-fit at the preferred time.

Four weeks of a 12-chair, 3-nurse center (4 patients per nurse, Mon–Fri
08:00–18:00, America/New_York) and 120 dermatomyositis patients, each with one
2-day course of Octagam 10% (1 g/kg per course), course starts spread over the
weekdays of the four weeks, preferred times 09:00–10:30. The same plans are
booked twice on the same data: by `plan_book` (levelled), then, after deleting
those sessions, by first-fit (the preferred time, then later and earlier
alternately in 15-minute steps within the same ±60 minutes, the first chair
that fits). Both go through the same Ledger rules and the same day logic, so
they differ only in the choice among feasible places.

    .venv/bin/python bench/leveling.py [--postgres postgres://postgres@127.0.0.1:5432/postgres]

Prints a report; never fails the process on a missed goal.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

# The project root, so that `bench` and the apps import when run as `python bench/<name>.py`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import arguments, bench_database

SEED = 20261125
CHAIRS = 12
NURSES = 3
PATIENTS_PER_NURSE = 4
PATIENTS = 120
FIRST_MONDAY = dt.date(2027, 1, 4)  # four weeks with no daylight-saving change and no holiday closures
WEEKS = 4
OPEN_WEEKDAYS = range(5)
PREFERRED_TIMES = [dt.time(9, 0), dt.time(9, 30), dt.time(10, 0), dt.time(10, 30)]
DOSE_G_PER_KG = Decimal("1.00")  # per course, over 2 days: 0.5 g/kg a day, about 4 hours in the chair
START_WINDOW = dt.timedelta(minutes=30)
STARTS_GOAL = 0.67


@dataclass(frozen=True)
class Figures:
    plans_placed: int
    sessions: int
    peak_starts: int
    peak_running: int
    mean_minutes_moved: float
    sessions_moved_days: int
    mean_days_moved: float
    seconds: float


# -- data -----------------------------------------------------------------------


def build_center():
    """The center, its plans (booking order = creation order), and nothing booked."""
    from infusions.models import Center, Chair, InfusionPlan, OpeningHours, Protocol
    from patients.models import Patient, PatientWeight

    rng = random.Random(SEED)
    center = Center.objects.create(
        name="Bench Leveling Center",
        short_name="Bench",
        time_zone="America/New_York",
        default_nurses_on_duty=NURSES,
        patients_per_nurse=PATIENTS_PER_NURSE,
    )
    OpeningHours.objects.bulk_create(
        OpeningHours(center=center, weekday=w, opens=dt.time(8), closes=dt.time(18)) for w in OPEN_WEEKDAYS
    )
    Chair.objects.bulk_create(Chair(center=center, name=f"Chair {n:02d}") for n in range(1, CHAIRS + 1))
    protocol = Protocol.objects.get(product__code="octagam-10", indication__code="dermatomyositis")
    weekdays = [
        FIRST_MONDAY + dt.timedelta(days=n)
        for n in range(7 * WEEKS)
        if (FIRST_MONDAY + dt.timedelta(days=n)).weekday() in OPEN_WEEKDAYS
    ]
    plans = []
    for number in range(1, PATIENTS + 1):
        patient = Patient.objects.create(
            mrn=f"BENCH{number:04d}",
            given_name=f"Given{number}",
            family_name="Benchpatient",
            date_of_birth=dt.date(1960 + number % 30, 1 + number % 12, 1 + number % 28),
            sex=rng.choice(["female", "male"]),
            height_cm=Decimal(rng.randrange(150, 191)),
            time_zone="America/New_York",
        )
        PatientWeight.objects.create(
            patient=patient,
            weight_kg=Decimal(f"{rng.uniform(55, 110):.1f}"),
            measured_on=FIRST_MONDAY - dt.timedelta(days=7),
        )
        plans.append(
            InfusionPlan.objects.create(
                patient=patient,
                protocol=protocol,
                center=center,
                dose_g_per_kg=DOSE_G_PER_KG,
                days_per_course=2,
                interval="every_4_weeks",
                start_date=rng.choice(weekdays),
                course_count=1,
                preferred_start_time=rng.choice(PREFERRED_TIMES),
            )
        )
    return center, plans


# -- Chairside ------------------------------------------------------------------


def book_with_chairside(plans) -> int:
    """plan_book every plan; returns how many were refused as a whole."""
    from infusions.scheduling.booking import SeriesConflict
    from infusions.scheduling.series import plan_book

    refused = 0
    for plan in plans:
        try:
            plan_book(plan=plan)
        except SeriesConflict:
            refused += 1
    return refused


# -- first-fit ------------------------------------------------------------------


def first_fit_placer_class():
    from infusions.scheduling.dates import NonexistentLocalTime, local_instant
    from infusions.scheduling.placement import Placement, Placer

    class FirstFitPlacer(Placer):
        """Chairside's day logic and rules, with the first feasible place instead of the levelled one."""

        def best(self, day, history, *, spread):
            for start in self.first_fit_times(day, spread):
                long = history.long_observation(start, self.long_gap)
                end = start + dt.timedelta(minutes=self.minutes_for(long))
                for chair in self.ledger.chairs:
                    if not self.ledger.reasons(
                        chair_id=chair.pk, patient_id=self.spec.patient_id, start=start, end=end
                    ):
                        return Placement(None, None, chair.pk, start, end, long)
            return None

        def first_fit_times(self, day, spread) -> list[dt.datetime]:
            """The preferred time, then later and earlier alternately, one slot (15 min) at a time."""
            try:
                centre = local_instant(day.date, self.spec.preferred, self.ledger.zone).astimezone(dt.UTC)
            except NonexistentLocalTime:
                return []
            times, step = [centre], self.ledger.slot
            while step <= spread:
                times += [centre + step, centre - step]
                step += self.ledger.slot
            return [t for t in times if self.ledger.local_date(t) == day.date]

    return FirstFitPlacer


def book_with_first_fit(center, plans) -> int:
    """Place every plan first-fit on one in-memory Ledger, then store the sessions; returns refusals."""
    from infusions.calculations import LONG_GAP, plan_dose
    from infusions.models import InfusionSession
    from infusions.scheduling.booking import ChairTime
    from infusions.scheduling.ledger import Booking, Ledger
    from infusions.scheduling.placement import ALTERNATIVE_DAYS, Conflict, History, SeriesSpec
    from infusions.scheduling.series import COURSE_SPAN_SLACK, remaining_courses

    placer_class = first_fit_placer_class()
    courses = {plan.pk: remaining_courses(plan) for plan in plans}
    anchors = [anchor for plan_courses in courses.values() for _, anchor in plan_courses]
    slack = dt.timedelta(days=max(p.window_days for p in plans) + COURSE_SPAN_SLACK + ALTERNATIVE_DAYS)
    ledger = Ledger(center, min(anchors) - dt.timedelta(days=1), max(anchors) + slack)
    sessions, refused = [], 0
    for plan in plans:
        dose = plan_dose(plan)
        chair_time = ChairTime.of(dose, center)
        spec = SeriesSpec(
            patient_id=plan.patient_id,
            preferred=plan.preferred_start_time,
            flexibility=dt.timedelta(minutes=plan.time_flexibility_minutes),
            window_days=plan.window_days,
            days_per_course=plan.days_per_course,
            # As plan_book: nothing after the last course's window and slack (the days it would lock).
            last_day=courses[plan.pk][-1][1] + dt.timedelta(days=plan.window_days + COURSE_SPAN_SLACK),
        )
        placer = placer_class(ledger, spec, chair_time.minutes, LONG_GAP)
        # Every patient is new: no earlier infusion, so day 1 has the long observation, as in plan_book.
        history, placed, failed = History(None), [], False
        for course, anchor in courses[plan.pk]:
            result = placer.place_course(course, anchor, history)
            if isinstance(result, Conflict):
                failed = True
                break
            placed += result
            history = History(result[-1].end)
        if failed:
            # All or nothing, as plan_book: take back the courses placed before the failed one.
            for p in placed:
                ledger.remove(Booking(p.chair_id, plan.patient_id, center.pk, p.start, p.end))
            refused += 1
            continue
        sessions += [
            InfusionSession(
                patient_id=plan.patient_id,
                plan=plan,
                center=center,
                chair_id=p.chair_id,
                start=p.start,
                end=p.end,
                course=p.course,
                day=p.day,
                chair_minutes=chair_time.minutes(p.long_observation),
            )
            for p in placed
        ]
    InfusionSession.objects.bulk_create(sessions)
    return refused


# -- figures ----------------------------------------------------------------------


def nth_open_day(anchor: dt.date, n: int) -> dt.date:
    """The n-th open day counting `anchor` as the first (no closures in this benchmark)."""
    day = anchor
    while day.weekday() not in OPEN_WEEKDAYS:
        day += dt.timedelta(days=1)
    for _ in range(n - 1):
        day += dt.timedelta(days=1)
        while day.weekday() not in OPEN_WEEKDAYS:
            day += dt.timedelta(days=1)
    return day


def open_days_between(a: dt.date, b: dt.date) -> int:
    first, last = min(a, b), max(a, b)
    return sum(
        1
        for n in range(1, (last - first).days + 1)
        if (first + dt.timedelta(days=n)).weekday() in OPEN_WEEKDAYS
    )


def peak_starts(starts: list[dt.datetime]) -> int:
    """Most starts in any 30-minute window [t, t + 30 min); the peak window always begins at a start."""
    starts = sorted(starts)
    peak, low = 0, 0
    for high, start in enumerate(starts):
        while starts[low] <= start - START_WINDOW:
            low += 1
        peak = max(peak, high - low + 1)
    return peak


def peak_running(spans: list[tuple[dt.datetime, dt.datetime]]) -> int:
    """Most sessions running at once; half-open, so an end and a start at the same instant do not overlap."""
    events = sorted([(end, -1) for _, end in spans] + [(start, 1) for start, _ in spans])
    peak = running = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def measure(center, plans, seconds: float) -> Figures:
    """The same figures for either run, from the stored sessions."""
    from infusions.models import InfusionSession

    by_plan = {plan.pk: plan for plan in plans}
    rows = list(
        InfusionSession.objects.live().filter(center=center).values_list("plan_id", "day", "start", "end")
    )
    minutes_moved, days_moved = [], []
    for plan_id, day, start, _ in rows:
        plan = by_plan[plan_id]
        local = start.astimezone(center.zone)
        asked = plan.preferred_start_time
        minutes_moved.append(abs((local.hour * 60 + local.minute) - (asked.hour * 60 + asked.minute)))
        days_moved.append(open_days_between(nth_open_day(plan.start_date, day), local.date()))
    count = len(rows)
    return Figures(
        plans_placed=len({row[0] for row in rows}),
        sessions=count,
        peak_starts=peak_starts([row[2] for row in rows]),
        peak_running=peak_running([(row[2], row[3]) for row in rows]),
        mean_minutes_moved=sum(minutes_moved) / count if count else 0.0,
        sessions_moved_days=sum(1 for d in days_moved if d),
        mean_days_moved=sum(days_moved) / count if count else 0.0,
        seconds=seconds,
    )


def chair_minutes_range(center) -> tuple[int, int]:
    from django.db.models import Max, Min

    from infusions.models import InfusionSession

    found = InfusionSession.objects.filter(center=center).aggregate(
        low=Min("chair_minutes"), high=Max("chair_minutes")
    )
    return found["low"], found["high"]


# -- report ----------------------------------------------------------------------


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def report(chairside: Figures, first_fit: Figures) -> None:
    rows = [
        ("plans placed (of 120)", "plans_placed", "{:d}"),
        ("sessions placed", "sessions", "{:d}"),
        ("peak starts in any 30 min", "peak_starts", "{:d}"),
        ("peak running infusions", "peak_running", "{:d}"),
        ("mean minutes from preferred time", "mean_minutes_moved", "{:.1f}"),
        ("sessions moved to another day", "sessions_moved_days", "{:d}"),
        ("mean open days moved", "mean_days_moved", "{:.3f}"),
        ("booking time (s)", "seconds", "{:.2f}"),
    ]
    print(f"{'':34}{'Chairside':>11}{'first-fit':>11}{'Chairside/first-fit':>21}")
    for label, name, fmt in rows:
        a, b = getattr(chairside, name), getattr(first_fit, name)
        print(f"{label:34}{fmt.format(a):>11}{fmt.format(b):>11}{ratio(a, b):>21}")
    print(
        "\nMinutes from the preferred time are time-of-day only (|local start - preferred|, whatever the "
        "day);\nday moves are reported separately, in open days from the asked day (day 2 asked on the "
        "open day\nafter the course's interval date)."
    )
    limit = STARTS_GOAL * first_fit.peak_starts
    goals = [
        (
            f"as many placed: {chairside.sessions} >= {first_fit.sessions} sessions",
            chairside.sessions >= first_fit.sessions,
        ),
        (
            f"peak starts <= {STARTS_GOAL} x first-fit: {chairside.peak_starts} <= {limit:.2f}",
            chairside.peak_starts <= limit,
        ),
        (
            f"peak running no higher: {chairside.peak_running} <= {first_fit.peak_running}",
            chairside.peak_running <= first_fit.peak_running,
        ),
    ]
    print("\nGoals")
    for text, met in goals:
        print(f"  {'PASS' if met else 'FAIL'}  {text}")


def main() -> None:
    args = arguments("Chairside's levelled placement against first-fit at the preferred time.")
    with bench_database(args.postgres) as label:
        from infusions.models import InfusionSession

        print(f"Database: {label}")
        center, plans = build_center()
        print(
            f"Center: {CHAIRS} chairs, {NURSES} nurses x {PATIENTS_PER_NURSE} patients, Mon-Fri 08:00-18:00 "
            f"{center.time_zone}; {PATIENTS} plans, 2-day courses from {FIRST_MONDAY} for {WEEKS} weeks; "
            f"seed {SEED}"
        )
        began = time.perf_counter()
        first_fit_refused = book_with_first_fit(center, plans)
        first_fit = measure(center, plans, time.perf_counter() - began)
        low, high = chair_minutes_range(center)
        InfusionSession.objects.filter(center=center).delete()
        began = time.perf_counter()
        chairside_refused = book_with_chairside(plans)
        chairside = measure(center, plans, time.perf_counter() - began)
        print(
            f"Chair minutes per session: {low}-{high}; refused plans: Chairside {chairside_refused}, "
            f"first-fit {first_fit_refused}\n"
        )
        report(chairside, first_fit)


if __name__ == "__main__":
    main()
