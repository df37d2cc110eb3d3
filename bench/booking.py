"""Booking cost benchmark: queries and time for one series against a full or an empty center.

Three 40-chair centers hold 5,000, 500 and 50 sessions spread over the year
before and the year after 2026-11-30 (valid, non-overlapping, bulk-created).
At each, a new patient's 13-course plan (2-day courses every 4 weeks from
2026-11-30, so its dates lie inside the existing sessions' range) is booked
with `plan_book`, counting the database queries and the milliseconds. The
booking is repeated (its sessions deleted in between) and the median time is
printed. All centers share one database, so the table is the same size for
every measurement and only the center's own sessions differ.

    .venv/bin/python bench/booking.py [--postgres postgres://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

# The project root, so that `bench` and the apps import when run as `python bench/<name>.py`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import arguments, bench_database

SIZES = (5000, 500, 50)
REPEATS = 5
CHAIRS = 40
NURSES = 10  # 10 x 4 patients = 40 running at once: as many as chairs
REFERENCE = dt.date(2026, 11, 30)  # a Monday; existing sessions run a year either side
SESSION_MINUTES = 240
# Two sessions a chair a day, starts staggered over four slots so no slot has more than NURSES starts.
DAY_STARTS = (dt.time(8, 0), dt.time(13, 0))
POOL = 100  # patients holding a center's existing sessions: one patient's sessions are days apart
COURSES = 13


# -- data -----------------------------------------------------------------------


def make_center(name: str):
    from infusions.models import Center, Chair, OpeningHours

    center = Center.objects.create(
        name=name,
        short_name=name[:30],
        time_zone="America/New_York",
        default_nurses_on_duty=NURSES,
        patients_per_nurse=4,
    )
    OpeningHours.objects.bulk_create(
        OpeningHours(center=center, weekday=w, opens=dt.time(8), closes=dt.time(18)) for w in range(5)
    )
    Chair.objects.bulk_create(Chair(center=center, name=f"Chair {n:02d}") for n in range(1, CHAIRS + 1))
    return center


def make_patient(mrn: str):
    from patients.models import Patient, PatientWeight

    patient = Patient.objects.create(
        mrn=mrn,
        given_name="Bench",
        family_name=mrn,
        date_of_birth=dt.date(1970, 1, 1),
        sex="female",
        height_cm=Decimal("165.0"),
        time_zone="America/New_York",
    )
    PatientWeight.objects.create(patient=patient, weight_kg=Decimal("70.0"), measured_on=REFERENCE)
    return patient


def existing_slots(center) -> list[tuple[dt.datetime, int]]:
    """Every (start, chair) a pre-existing session could take, in time order."""
    from infusions.scheduling.dates import local_instant

    chairs = list(center.chairs.order_by("name").values_list("pk", flat=True))
    slots = []
    day = REFERENCE - dt.timedelta(days=365)
    while day <= REFERENCE + dt.timedelta(days=365):
        if day.weekday() < 5:
            for base in DAY_STARTS:
                for index, chair in enumerate(chairs):
                    # Whole hours and quarters: never a time skipped by daylight saving.
                    stagger = dt.timedelta(minutes=15 * (index % 4))
                    start = local_instant(day, base, center.zone).astimezone(dt.UTC) + stagger
                    slots.append((start, chair))
        day += dt.timedelta(days=1)
    return slots


def fill(center, count: int, patients: list) -> None:
    """Bulk-create `count` sessions spread evenly over the two years."""
    from infusions.models import InfusionSession, SessionStatus

    slots = existing_slots(center)
    reference = dt.datetime.combine(REFERENCE, dt.time.min, tzinfo=center.zone)
    sessions = []
    for k in range(count):
        start, chair = slots[k * len(slots) // count]
        status = SessionStatus.COMPLETED if start < reference else SessionStatus.SCHEDULED
        if k % 25 == 0:
            status = SessionStatus.CANCELLED  # released: the ledger must leave these out
        sessions.append(
            InfusionSession(
                patient=patients[k % len(patients)],
                center=center,
                chair_id=chair,
                start=start,
                end=start + dt.timedelta(minutes=SESSION_MINUTES),
                status=status,
                chair_minutes=SESSION_MINUTES,
            )
        )
    InfusionSession.objects.bulk_create(sessions, batch_size=500)


def new_plan(center, patient):
    from infusions.models import InfusionPlan, Protocol

    return InfusionPlan.objects.create(
        patient=patient,
        protocol=Protocol.objects.get(product__code="octagam-10", indication__code="dermatomyositis"),
        center=center,
        dose_g_per_kg=Decimal("2.00"),
        days_per_course=2,
        interval="every_4_weeks",
        start_date=REFERENCE,
        course_count=COURSES,
        preferred_start_time=dt.time(9, 0),
    )


# -- measuring ---------------------------------------------------------------------


def book_once(plan) -> tuple[list[str], float, int]:
    """plan_book under a query counter: (the SQL, milliseconds, sessions booked)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from infusions.scheduling.series import plan_book

    with CaptureQueriesContext(connection) as captured:
        began = time.perf_counter()
        sessions = plan_book(plan=plan)
        elapsed = (time.perf_counter() - began) * 1000
    return [q["sql"] for q in captured.captured_queries], elapsed, len(sessions)


def unbook(plan) -> None:
    """Delete the booked sessions and make the plan a draft again, as before the first booking."""
    from infusions.models import InfusionPlan, InfusionSession, PlanStatus

    InfusionSession.objects.filter(plan=plan).delete()
    InfusionPlan.objects.filter(pk=plan.pk).update(status=PlanStatus.DRAFT)


def in_ledger_range(center, plan) -> int:
    """Live sessions of the center inside the dates plan_book loads (first course - 1 day to last + slack)."""
    from infusions.models import InfusionSession
    from infusions.scheduling.series import COURSE_SPAN_SLACK

    first = plan.start_date - dt.timedelta(days=1)
    last = plan.start_date + dt.timedelta(days=28 * (COURSES - 1) + plan.window_days + COURSE_SPAN_SLACK + 1)
    begin = dt.datetime.combine(first, dt.time.min, tzinfo=center.zone)
    end = dt.datetime.combine(last, dt.time.min, tzinfo=center.zone)
    return InfusionSession.objects.live().filter(center=center).overlapping(begin, end).count()


def kinds(queries: list[str]) -> str:
    counted = Counter(sql.split(None, 1)[0].upper() for sql in queries)
    return ", ".join(f"{kind} {n}" for kind, n in counted.most_common())


def measure(size: int) -> dict:
    from infusions.models import InfusionPlan

    center = make_center(f"Bench {size} sessions")
    # Each center its own patients: shared ones would be double-booked across centers.
    fill(center, size, [make_patient(f"P{size:05d}-{n:03d}") for n in range(POOL)])
    plan = new_plan(center, make_patient(f"NEW{size:05d}"))
    counts, times = [], []
    for _ in range(REPEATS):
        # A fresh instance each time, as a request would load it: nothing cached from the last run.
        queries, ms, booked = book_once(InfusionPlan.objects.get(pk=plan.pk))
        counts.append(len(queries))
        times.append(ms)
        unbook(plan)
    return {
        "size": size,
        "in_range": in_ledger_range(center, plan),
        "queries": counts[0],
        "steady": len(set(counts)) == 1,
        "ms": statistics.median(times),
        "ms_min": min(times),
        "booked": booked,
        "kinds": kinds(queries),
    }


def warm_up() -> None:
    """One booking at an empty center first, so imports and caches do not land on the first figure."""
    plan = new_plan(make_center("Bench warm-up"), make_patient("WARMUP"))
    book_once(plan)
    unbook(plan)


# -- report ------------------------------------------------------------------------


def report(results: list[dict]) -> None:
    print(
        f"{'existing sessions':>18}{'in ledger range':>17}{'queries':>9}{'ms (median)':>13}{'ms (min)':>10}"
    )
    for r in results:
        steady = "" if r["steady"] else "  (query count varied between repeats)"
        print(
            f"{r['size']:>18}{r['in_range']:>17}{r['queries']:>9}{r['ms']:>13.1f}{r['ms_min']:>10.1f}{steady}"
        )
    by_size = {r["size"]: r["queries"] for r in results}
    grows = by_size[max(by_size)] > by_size[min(by_size)]
    print(f"\nqueries grow with existing sessions: {'yes' if grows else 'no'}")
    for r in results:
        print(f"  {r['size']:>5} existing, {r['booked']} sessions booked; queries by kind: {r['kinds']}")


def main() -> None:
    args = arguments("Queries and time for plan_book as a center fills up.")
    with bench_database(args.postgres) as label:
        print(f"Database: {label}")
        print(
            f"Each center: {CHAIRS} chairs, {NURSES} nurses x 4, Mon-Fri 08:00-18:00 America/New_York; "
            f"new plan: {COURSES} 2-day courses every 4 weeks from {REFERENCE}, booked {REPEATS} times\n"
        )
        warm_up()
        report([measure(size) for size in SIZES])


if __name__ == "__main__":
    main()
