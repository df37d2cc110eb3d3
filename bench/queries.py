"""Query counts: every API list endpoint and every dashboard and portal page at 10 and at 1,000 rows.

One center (America/New_York, open every day 08:00-18:00) is built so that
each list or page shows about 10 rows, each target is requested once to warm
up and once under a query counter, then every kind of row is grown to about
1,000 and each target is counted again. The rows that grow:

- patients, each with a weight and a plan, and one session each on the
  board's day (tomorrow, scheduled, flagged for rebooking, so they fill the
  day board, the week load, the sessions API, flagged sessions and the
  "unconfirmed" and "flagged" alerts), each with a failed reminder (the
  reminders API and the alerts) and one use of the recall lot;
- one chair per such session (the chairs API and the board's rows);
- products with a confirmed protocol, and centers with opening hours;
- for one patient (who has the portal account and the calendar feed): weights,
  plans, confirmed sessions of one plan, hour by hour from the day after the
  board's day, and one completed session yesterday holding rate changes,
  vitals, reactions, premedications and lot uses (every tenth one corrected).

Rows are bulk-created: no chair and no patient has two sessions at once, so
PostgreSQL's exclusion constraints accept them. API lists are paginated
(PAGE_SIZE 100): at 1,000 rows they serialize a page of 100, which is
expected. The goal is the same count at both sizes (ratio 1.00); a target
that grows is listed on the last line, and the script still exits 0. A
response other than 200 stops it with exit status 1.

    .venv/bin/python bench/queries.py [--postgres URL]
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

# The project root, so that `bench` and the apps import when run as `python bench/<name>.py`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import arguments, bench_database

SMALL, LARGE = 10, 1000
ZONE = "America/New_York"
OPENS, CLOSES = dt.time(8), dt.time(18)
BOARD_SESSION_MINUTES = 120
PATIENT_SESSIONS_A_DAY = 10  # hourly, 08:00 to 18:00
RECALL_LOT = "RECALL-1"


class BenchError(Exception):
    """A target did not answer 200."""


@dataclass
class World:
    """The fixed rows every target is asked about."""

    center: object
    chair: object
    patient: object  # the one with the portal account, the plan with sessions and the documented session
    plan: object
    session: object  # completed yesterday, with the chairside records
    protocol: object
    users: dict
    board_day: dt.date
    token: str
    dose: object


# -- fixed rows -------------------------------------------------------------------------


def local(day: dt.date, time: dt.time, center) -> dt.datetime:
    from infusions.scheduling.dates import local_instant

    return local_instant(day, time, center.zone).astimezone(dt.UTC)


def make_users() -> dict:
    from django.contrib.auth.models import Group, User

    users = {}
    for role in ("scheduler", "nurse", "pharmacist", "patient"):
        user = User.objects.create_user(f"bench-{role}")
        user.groups.add(Group.objects.get(name=role))
        users[role] = user
    return users


def make_center(name: str):
    from infusions.models import Center, OpeningHours

    center = Center.objects.create(name=name, short_name=name[:30], time_zone=ZONE)
    OpeningHours.objects.bulk_create(
        OpeningHours(center=center, weekday=w, opens=OPENS, closes=CLOSES) for w in range(7)
    )
    return center


def patient_row(mrn: str, n: int):
    from patients.models import Patient

    return Patient(
        mrn=mrn,
        given_name=f"Given{n}",
        family_name=f"Bench{n:05d}",
        date_of_birth=dt.date(1970, 1, 1),
        sex="female",
        height_cm=Decimal("165.0"),
        time_zone=ZONE,
        email=f"{mrn.lower()}@example.invalid",
    )


def plan_row(patient, protocol, center):
    from infusions.models import InfusionPlan

    return InfusionPlan(
        patient=patient,
        protocol=protocol,
        center=center,
        dose_g_per_kg=Decimal("2.00"),
        days_per_course=2,
        interval="every_4_weeks",
        start_date=dt.date(2026, 12, 7),
        course_count=6,
    )


def ladder(dose) -> list[dict]:
    return [
        {"start_minute": s.start_minute, "minutes": s.minutes, "rate_mg_kg_min": s.rate_mg_kg_min}
        for s in dose.steps
    ]


def build_world() -> World:
    from django.utils import timezone

    from infusions.calculations import PatientFacts, calculate_dose
    from infusions.models import Chair, InfusionSession, Protocol, SessionStatus
    from patients.models import PatientWeight

    users = make_users()
    center = make_center("Bench Infusion Center")
    chair = Chair.objects.create(center=center, name="Chair A")
    protocol = Protocol.objects.get(product__code="octagam-10", indication__code="dermatomyositis")
    patient = patient_row("PORTAL0001", 0)
    patient.user = users["patient"]
    patient.save()
    PatientWeight.objects.create(patient=patient, weight_kg=Decimal("70.0"), measured_on=dt.date(2026, 1, 1))
    token = patient.issue_calendar_token()
    plan = plan_row(patient, protocol, center)
    plan.save()
    dose = calculate_dose(
        protocol=protocol,
        facts=PatientFacts(weight_kg=70.0, height_cm=165.0, sex="female"),
        dose_g_per_kg=1.0,
        days=2,
        center=center,
    )
    today = timezone.localdate(timezone=center.zone)
    yesterday = today - dt.timedelta(days=1)
    start, end = local(yesterday, OPENS, center), local(yesterday, CLOSES, center)
    session = InfusionSession.objects.create(
        patient=patient,
        plan=plan,
        center=center,
        chair=chair,
        start=start,
        end=end,
        status=SessionStatus.COMPLETED,
        course=1,
        day=1,
        grams=Decimal(str(dose.grams_per_day)).quantize(Decimal("0.01")),
        volume_ml=Decimal(str(dose.volume_ml_per_day)).quantize(Decimal("0.1")),
        chair_minutes=int((end - start).total_seconds() // 60),
        ladder=ladder(dose),
        checked_in_at=start + dt.timedelta(minutes=5),
        started_at=start + dt.timedelta(minutes=30),
        completed_at=end - dt.timedelta(minutes=15),
    )
    return World(
        center=center,
        chair=chair,
        patient=patient,
        plan=plan,
        session=session,
        protocol=protocol,
        users=users,
        board_day=today + dt.timedelta(days=1),
        token=token,
        dose=dose,
    )


# -- rows that grow ---------------------------------------------------------------------


def grow(world: World, lo: int, hi: int) -> None:
    """Add rows number lo to hi - 1 of every kind."""
    add_patients_and_board(world, lo, hi)
    add_catalogue_and_centers(lo, hi)
    add_patient_history(world, lo, hi)
    add_records(world, lo, hi)


def add_patients_and_board(world: World, lo: int, hi: int) -> None:
    from infusions.models import (
        Chair,
        InfusionPlan,
        InfusionSession,
        LotUse,
        Reminder,
        ReminderAttempt,
        SessionStatus,
    )
    from patients.models import Patient, PatientWeight

    center = world.center
    patients = Patient.objects.bulk_create(patient_row(f"BENCH{n:05d}", n + 1) for n in range(lo, hi))
    PatientWeight.objects.bulk_create(
        PatientWeight(patient=p, weight_kg=Decimal("60.0") + n % 40, measured_on=dt.date(2026, 1, 1))
        for n, p in enumerate(patients)
    )
    InfusionPlan.objects.bulk_create(plan_row(p, world.protocol, center) for p in patients)
    chairs = Chair.objects.bulk_create(Chair(center=center, name=f"Chair {n:04d}") for n in range(lo, hi))
    sessions = []
    for n, (patient, chair) in enumerate(zip(patients, chairs, strict=True), start=lo):
        # One session per chair and per patient; starts staggered by quarter-hours.
        start = local(world.board_day, OPENS, center) + dt.timedelta(minutes=15 * (n % 8))
        sessions.append(
            InfusionSession(
                patient=patient,
                center=center,
                chair=chair,
                start=start,
                end=start + dt.timedelta(minutes=BOARD_SESSION_MINUTES),
                status=SessionStatus.SCHEDULED,
                chair_minutes=BOARD_SESSION_MINUTES,
                needs_rebooking=True,
                rebooking_reason="Re-planned chair time no longer fits.",
            )
        )
    sessions = InfusionSession.objects.bulk_create(sessions)
    reminders = Reminder.objects.bulk_create(
        Reminder(
            session=s,
            session_version=1,
            kind="upcoming",
            offset_hours=24,
            channel="email",
            status="failed",
            due_at=s.start - dt.timedelta(hours=24),
            send_after=s.start - dt.timedelta(hours=24),
            attempts=5,
            last_error="Mailbox unavailable.",
        )
        for s in sessions
    )
    ReminderAttempt.objects.bulk_create(
        ReminderAttempt(reminder=r, at=r.due_at, outcome="permanent", error="Mailbox unavailable.")
        for r in reminders
    )
    LotUse.objects.bulk_create(
        LotUse(
            session=s,
            product=world.protocol.product,
            lot_number=RECALL_LOT,
            expiry=dt.date(2030, 1, 1),
            vial_grams=Decimal("10"),
            count=2,
            at=s.start + dt.timedelta(minutes=40),
        )
        for s in sessions
    )


def add_catalogue_and_centers(lo: int, hi: int) -> None:
    from infusions.models import Center, Indication, OpeningHours, Product, Protocol, ProtocolStep

    indication = Indication.objects.get(code="dermatomyositis")
    products = Product.objects.bulk_create(
        Product(
            code=f"bench-{n:04d}",
            name=f"Bench product {n:04d}",
            manufacturer="Bench",
            vial_sizes_g=[5, 10],
            iga_ug_per_ml=Decimal(n % 100),
        )
        for n in range(lo, hi)
    )
    protocols = Protocol.objects.bulk_create(
        Protocol(
            product=p,
            indication=indication,
            start_rate_mg_kg_min=Decimal("0.5"),
            max_rate_mg_kg_min=Decimal("4"),
        )
        for p in products
    )
    ProtocolStep.objects.bulk_create(
        ProtocolStep(protocol=p, position=k, rate_mg_kg_min=Decimal(rate), minutes=30)
        for p in protocols
        for k, rate in enumerate(("0.5", "1", "2"))
    )
    centers = Center.objects.bulk_create(
        Center(name=f"Bench center {n:04d}", short_name=f"BC{n:04d}", time_zone=ZONE) for n in range(lo, hi)
    )
    OpeningHours.objects.bulk_create(
        OpeningHours(center=c, weekday=w, opens=OPENS, closes=CLOSES) for c in centers for w in range(5)
    )


def add_patient_history(world: World, lo: int, hi: int) -> None:
    """The portal patient's weights, plans and the booked sessions of their first plan."""
    from infusions.models import InfusionPlan, InfusionSession, SessionStatus
    from patients.models import PatientWeight

    patient, center, dose = world.patient, world.center, world.dose
    PatientWeight.objects.bulk_create(
        PatientWeight(
            patient=patient,
            weight_kg=Decimal("70.0") + Decimal(n % 10) / 10,
            measured_on=dt.date(2025, 12, 31) - dt.timedelta(days=n),
        )
        for n in range(lo, hi)
    )
    InfusionPlan.objects.bulk_create(plan_row(patient, world.protocol, center) for _ in range(lo, hi))
    sessions = []
    for n in range(lo, hi):
        # Hour by hour on Chair A: one patient, one chair, never two at once.
        day = world.board_day + dt.timedelta(days=1 + n // PATIENT_SESSIONS_A_DAY)
        start = local(day, OPENS, center) + dt.timedelta(hours=n % PATIENT_SESSIONS_A_DAY)
        sessions.append(
            InfusionSession(
                patient=patient,
                plan=world.plan,
                center=center,
                chair=world.chair,
                start=start,
                end=start + dt.timedelta(minutes=60),
                status=SessionStatus.CONFIRMED,
                course=1 + n // 2,
                day=1 + n % 2,
                grams=Decimal(str(dose.grams_per_day)).quantize(Decimal("0.01")),
                volume_ml=Decimal(str(dose.volume_ml_per_day)).quantize(Decimal("0.1")),
                chair_minutes=60,
                ladder=ladder(dose),
            )
        )
    InfusionSession.objects.bulk_create(sessions)


def add_records(world: World, lo: int, hi: int) -> None:
    """Chairside records on the completed session, every tenth entry corrected by the next."""
    from infusions.models import LotUse, Premedication, RateChange, Reaction, VitalSigns

    session = world.session
    origin = session.started_at
    kinds: list[tuple[type, Callable[[int], dict]]] = [
        (
            RateChange,
            lambda n: {
                "rate_ml_per_hour": Decimal(42 + n % 100),
                "rate_mg_kg_min": Decimal("1.0000"),
                "dosing_weight_kg": Decimal("70.0"),
            },
        ),
        (VitalSigns, lambda n: {"systolic": 120, "diastolic": 80, "heart_rate": 70 + n % 20}),
        (Reaction, lambda n: {"severity": "mild", "symptoms": ["headache"], "action": "slowed"}),
        (Premedication, lambda n: {"drug": "Paracetamol", "dose": "1 g", "route": "oral"}),
        (
            LotUse,
            lambda n: {
                "product": world.protocol.product,
                "lot_number": f"LOT{n % 5}",
                "expiry": dt.date(2030, 1, 1),
                "vial_grams": Decimal("10"),
                "count": 1,
            },
        ),
    ]
    for model, fields in kinds:
        rows = model.objects.bulk_create(
            model(session=session, at=origin + dt.timedelta(seconds=30 * n), **fields(n))
            for n in range(lo, hi)
        )
        # Every tenth entry is corrected by a new one at the same instant.
        model.objects.bulk_create(
            model(session=session, at=row.at, amends=row, reason="Typed in error.", **fields(lo + k))
            for k, row in enumerate(rows)
            if k % 10 == 0
        )


# -- measuring ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    role: str  # whose login; "" for the calendar feed, which the token alone opens
    api: bool


def targets(world: World) -> list[Target]:
    from infusions.api.records import ENTRY_ROUTES

    center, day = world.center.pk, f"{world.board_day:%Y-%m-%d}"
    s, p = world.session.pk, world.patient.pk
    api = [
        ("patients/", "scheduler"),
        ("plans/", "scheduler"),
        (f"sessions/?center={center}&date={day}", "scheduler"),
        ("sessions/", "scheduler"),
        ("reminders/", "scheduler"),
        ("products/", "scheduler"),
        ("protocols/", "scheduler"),
        ("centers/", "scheduler"),
        ("chairs/", "scheduler"),
        ("flagged-sessions/", "scheduler"),
        *((f"sessions/{s}/{segment}/", "nurse") for segment, _, _ in ENTRY_ROUTES),
        (f"sessions/{s}/timeline/", "nurse"),
        (f"lots/{RECALL_LOT}/recipients/", "pharmacist"),
        (f"patients/{p}/weights/", "scheduler"),
    ]
    pages = [
        (f"/board/?center={center}&date={day}", "scheduler"),
        (f"/load/?center={center}&week={day}", "scheduler"),
        ("/patients/", "scheduler"),
        (f"/patients/{p}/", "nurse"),
        (f"/plans/{world.plan.pk}/", "scheduler"),
        (f"/sessions/{s}/", "nurse"),
        ("/alerts/", "scheduler"),
        ("/portal/", "patient"),
        (f"/portal/calendar/{world.token}.ics", ""),
    ]
    return [Target(f"GET /api/v1/{path}", f"/api/v1/{path}", role, True) for path, role in api] + [
        Target(f"GET {path.replace(world.token, '<token>')}", path, role, False) for path, role in pages
    ]


def client_for(target: Target, world: World):
    """A client logged in as the target's role, made before counting: the login's queries are not the page's."""
    from django.contrib.auth.models import User
    from django.test import Client
    from rest_framework.test import APIClient

    # A fresh user each time, as each real request loads one: nothing cached on it (roles).
    user = User.objects.get(pk=world.users[target.role].pk) if target.role else None
    if target.api:
        client = APIClient(HTTP_ACCEPT="application/json")
        client.force_authenticate(user)
        return client
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def count(target: Target, world: World) -> int:
    """Queries of one request, after a warm-up request (first-use caches such as content types)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client_for(target, world).get(target.path)
    client = client_for(target, world)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(target.path)
    if response.status_code != 200:
        raise BenchError(f"{target.name} answered {response.status_code}: {response.content[:300]!r}")
    return len(captured.captured_queries)


def measure(world: World) -> dict[str, int]:
    return {t.name: count(t, world) for t in targets(world)}


# -- report ---------------------------------------------------------------------------------


def report(small: dict[str, int], large: dict[str, int]) -> None:
    width = max(len(name) for name in small)
    print(f"{'target':<{width}}  {'at ' + str(SMALL):>7}  {'at ' + f'{LARGE:,}':>8}  {'ratio':>6}")
    for name, few in small.items():
        print(f"{name:<{width}}  {few:>7}  {large[name]:>8}  {large[name] / few:>6.2f}")
    print(
        "\nAPI lists are paginated (PAGE_SIZE 100): at 1,000 rows they serialize one page of 100, as expected;"
        "\nso is the /patients/ page. The other pages and the timeline show every row."
    )
    grew = [name for name in small if large[name] != small[name]]
    print("PASS all equal" if not grew else f"FAIL: {', '.join(grew)}")


def main() -> None:
    args = arguments("Database queries of every API list and every page at 10 and at 1,000 rows.")
    with bench_database(args.postgres) as label:
        # Each force_login is logged by django-axes; the table is what matters here.
        logging.getLogger("axes").setLevel(logging.WARNING)
        print(f"Database: {label}\n")
        world = build_world()
        grow(world, 0, SMALL)
        small = measure(world)
        grow(world, SMALL, LARGE)
        large = measure(world)
        report(small, large)


if __name__ == "__main__":
    try:
        main()
    except BenchError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        sys.exit(1)
