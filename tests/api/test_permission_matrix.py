"""Who may call every /api/v1/ operation: one row per (path, method) of the OpenAPI schema.

The table below is the README's "The API" and "Chairside documentation" tables
(and patients/roles.py) written as data. Each row names the roles that succeed;
for an object of patient A, patient B is "out of scope" and gets 404 (its
existence does not leak). Every other signed-in role gets 403 and an anonymous
caller 401. A route added to the API without a row here fails
`test_every_schema_operation_has_a_row`.

One world (a center, two patients with portal accounts, plans, sessions in
every state the status actions need, chairside records, reminders, a lot) is
built once for the module; each case runs in its own savepoint, so a write in
one case is never seen by the next.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from django.urls import URLResolver, get_resolver
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from infusions.chairside import (
    lot_record,
    premedication_record,
    rate_change_record,
    reaction_record,
    vitals_record,
)
from infusions.models import InfusionSession, Reminder
from infusions.scheduling.booking import session_book, session_transition
from patients.models import Patient
from tests.factories import (
    CenterFactory,
    ChairFactory,
    PatientFactory,
    PatientWeightFactory,
    PlanFactory,
    UserFactory,
)

# -- who ----------------------------------------------------------------------------------------

ANON, PATIENT_A, PATIENT_B = "anonymous", "patient_a", "patient_b"
NURSE, SCHEDULER, PHARMACIST, ADMIN = "nurse", "scheduler", "pharmacist", "admin"
ROLES = (ANON, PATIENT_A, PATIENT_B, NURSE, SCHEDULER, PHARMACIST, ADMIN)

STAFF = frozenset({NURSE, SCHEDULER, PHARMACIST, ADMIN})
PATIENTS = frozenset({PATIENT_A, PATIENT_B})
SCHEDULERS = frozenset({SCHEDULER, ADMIN})
CLINICAL = frozenset({SCHEDULER, NURSE, ADMIN})  # chairside record readers
RECORD_WRITERS = frozenset({NURSE, ADMIN})


@dataclass(frozen=True)
class Rule:
    """`allowed` get `ok`; `not_found` get 404 (outside their scope); other roles 403, anonymous 401."""

    allowed: frozenset[str]
    ok: int = 200
    not_found: frozenset[str] = field(default_factory=frozenset)


def staff_and_own(ok: int = 200) -> Rule:
    """Staff, and patient A on an object of patient A's; patient B is told it does not exist."""
    return Rule(STAFF | {PATIENT_A}, ok, not_found=frozenset({PATIENT_B}))


P = "/api/v1"
# (path in the schema, method) → who succeeds. Objects in {id} belong to patient A unless noted.
MATRIX: dict[tuple[str, str], Rule] = {
    (f"{P}/auth/token/", "POST"): Rule(frozenset(ROLES)),  # anyone who has a password
    # patients: schedulers and admins write; staff read; a patient reads only their own
    (f"{P}/patients/", "GET"): Rule(STAFF | PATIENTS),
    (f"{P}/patients/", "POST"): Rule(SCHEDULERS, 201),
    (f"{P}/patients/{{id}}/", "GET"): staff_and_own(),
    (f"{P}/patients/{{id}}/", "PUT"): Rule(SCHEDULERS),
    (f"{P}/patients/{{id}}/", "PATCH"): Rule(SCHEDULERS),
    (f"{P}/patients/{{id}}/", "DELETE"): Rule(SCHEDULERS, 204),  # a patient with no sessions
    # weights: staff read, and a patient their own (tests/api/test_patients_api.py);
    # schedulers, nurses and admins add
    (f"{P}/patients/{{id}}/weights/", "GET"): staff_and_own(),
    (f"{P}/patients/{{id}}/weights/", "POST"): Rule(frozenset({SCHEDULER, NURSE, ADMIN}), 201),
    (f"{P}/patients/{{patient_id}}/clear-tolerated-cap/", "POST"): Rule(frozenset({ADMIN})),
    # a patient's own reminder preferences; staff have none (404 on GET, 403 on PATCH)
    (f"{P}/patients/me/preferences/", "GET"): Rule(PATIENTS, not_found=STAFF),
    (f"{P}/patients/me/preferences/", "PATCH"): Rule(PATIENTS),
    (f"{P}/patients/me/calendar-feed/", "POST"): Rule(PATIENTS),
    (f"{P}/patients/me/calendar-feed/", "DELETE"): Rule(PATIENTS, 204),
    # catalogue: staff read; pharmacists edit in the admin, not the API
    (f"{P}/products/", "GET"): Rule(STAFF),
    (f"{P}/products/{{code}}/", "GET"): Rule(STAFF),
    (f"{P}/protocols/", "GET"): Rule(STAFF),
    (f"{P}/protocols/{{id}}/", "GET"): Rule(STAFF),
    # centers and chairs: staff read; admins write
    (f"{P}/centers/", "GET"): Rule(STAFF),
    (f"{P}/centers/", "POST"): Rule(frozenset({ADMIN}), 201),
    (f"{P}/centers/{{id}}/", "GET"): Rule(STAFF),
    (f"{P}/centers/{{id}}/", "PUT"): Rule(frozenset({ADMIN})),
    (f"{P}/centers/{{id}}/", "PATCH"): Rule(frozenset({ADMIN})),
    (f"{P}/centers/{{id}}/", "DELETE"): Rule(frozenset({ADMIN}), 204),
    (f"{P}/chairs/", "GET"): Rule(STAFF),
    (f"{P}/chairs/", "POST"): Rule(frozenset({ADMIN}), 201),
    (f"{P}/chairs/{{id}}/", "GET"): Rule(STAFF),
    (f"{P}/chairs/{{id}}/", "PUT"): Rule(frozenset({ADMIN})),
    (f"{P}/chairs/{{id}}/", "PATCH"): Rule(frozenset({ADMIN})),
    (f"{P}/chairs/{{id}}/", "DELETE"): Rule(frozenset({ADMIN}), 204),
    # dosing and availability: staff
    (f"{P}/dose-calculations/", "POST"): Rule(STAFF),
    (f"{P}/availability/", "GET"): Rule(STAFF),
    # plans: schedulers and admins write; staff read; a patient reads their own
    (f"{P}/plans/", "GET"): Rule(STAFF | PATIENTS),
    (f"{P}/plans/", "POST"): Rule(SCHEDULERS, 201),
    (f"{P}/plans/{{id}}/", "GET"): staff_and_own(),
    (f"{P}/plans/{{id}}/", "PUT"): Rule(SCHEDULERS),
    (f"{P}/plans/{{id}}/", "PATCH"): Rule(SCHEDULERS),
    (f"{P}/plans/{{id}}/", "DELETE"): Rule(SCHEDULERS, 204),
    (f"{P}/plans/{{id}}/book/", "POST"): Rule(SCHEDULERS, 201),
    # sessions: schedulers and admins book and reschedule; staff read; a patient reads their own
    (f"{P}/sessions/", "GET"): Rule(STAFF | PATIENTS),
    (f"{P}/sessions/", "POST"): Rule(SCHEDULERS, 201),
    (f"{P}/sessions/{{id}}/", "GET"): staff_and_own(),
    (f"{P}/sessions/{{id}}/", "PATCH"): Rule(SCHEDULERS),
    # the status machine (README "Booking"): a patient may confirm or cancel their own
    (f"{P}/sessions/{{id}}/confirm/", "POST"): Rule(
        frozenset({SCHEDULER, NURSE, ADMIN, PATIENT_A}), not_found=frozenset({PATIENT_B})
    ),
    (f"{P}/sessions/{{id}}/check-in/", "POST"): Rule(frozenset({SCHEDULER, NURSE, ADMIN})),
    (f"{P}/sessions/{{id}}/start/", "POST"): Rule(RECORD_WRITERS),
    (f"{P}/sessions/{{id}}/complete/", "POST"): Rule(RECORD_WRITERS),
    (f"{P}/sessions/{{id}}/cancel/", "POST"): Rule(
        frozenset({SCHEDULER, ADMIN, PATIENT_A}), not_found=frozenset({PATIENT_B})
    ),
    (f"{P}/sessions/{{id}}/no-show/", "POST"): Rule(frozenset({SCHEDULER, NURSE, ADMIN})),
    # chairside records: nurses and admins write; schedulers, nurses and admins read;
    # patients (even for their own sessions) and pharmacists get 403 before any lookup
    **{
        key: rule
        for kind in ("rate-changes", "vitals", "reactions", "premedications", "lots")
        for key, rule in (
            ((f"{P}/sessions/{{session_id}}/{kind}/", "GET"), Rule(CLINICAL)),
            ((f"{P}/sessions/{{session_id}}/{kind}/", "POST"), Rule(RECORD_WRITERS, 201)),
            ((f"{P}/sessions/{{session_id}}/{kind}/{{id}}/", "GET"), Rule(CLINICAL)),
        )
    },
    (f"{P}/sessions/{{session_id}}/timeline/", "GET"): Rule(CLINICAL),
    (f"{P}/sessions/{{session_id}}/fhir/", "GET"): Rule(CLINICAL),
    (f"{P}/lots/{{lot_number}}/recipients/", "GET"): Rule(frozenset({PHARMACIST, ADMIN})),
    (f"{P}/flagged-sessions/", "GET"): Rule(CLINICAL),
    # the reminder outbox: staff
    (f"{P}/reminders/", "GET"): Rule(STAFF),
    (f"{P}/reminders/{{id}}/", "GET"): Rule(STAFF),
}

# Corrections ("amends") are POSTs on the record lists: the same writers.
AMENDS = ("rate-changes", "vitals", "reactions", "premedications", "lots")

# Methods the schema does not offer on a path: never a 2xx for anyone. The role is checked before
# the method, so the roles named here (those the view lets through) get 405, the others 403.
# Records are append-only (README: PUT, PATCH and DELETE answer 405 on every list and entry).
REFUSED_METHODS: dict[tuple[str, str], frozenset[str]] = {
    **{
        (f"{P}/sessions/{{session_id}}/{kind}/{suffix}", method): RECORD_WRITERS
        for kind in AMENDS
        for suffix in ("", "{id}/")
        for method in ("PUT", "PATCH", "DELETE")
    },
    (f"{P}/sessions/{{id}}/", "PUT"): SCHEDULERS,
    (f"{P}/sessions/{{id}}/", "DELETE"): SCHEDULERS,
    (f"{P}/products/", "POST"): frozenset({ADMIN}),
    (f"{P}/products/{{code}}/", "PATCH"): frozenset({ADMIN}),
    (f"{P}/products/{{code}}/", "DELETE"): frozenset({ADMIN}),
    (f"{P}/protocols/{{id}}/", "PUT"): frozenset({ADMIN}),
    (f"{P}/reminders/{{id}}/", "PATCH"): frozenset({ADMIN}),
    (f"{P}/reminders/{{id}}/", "DELETE"): frozenset({ADMIN}),
    (f"{P}/patients/{{patient_id}}/clear-tolerated-cap/", "GET"): frozenset({ADMIN}),
    (f"{P}/patients/me/calendar-feed/", "GET"): PATIENTS | STAFF,  # a read: every role passes, then 405
}


def expected_status(rule: Rule, role: str) -> int:
    if role in rule.allowed:
        return rule.ok
    if role == ANON:
        return 401
    if role in rule.not_found:
        return 404
    return 403


# -- the world ----------------------------------------------------------------------------------

NEW_YORK = ZoneInfo("America/New_York")
DAY = dt.date(2027, 1, 4)  # a Monday
NOW = dt.datetime.combine(DAY, dt.time(10, 15), tzinfo=NEW_YORK)  # during the running infusions
PASSWORD = "pw-for-tests"  # every UserFactory user's password


def _local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NEW_YORK)


def _book(patient, center, plan, start: dt.datetime, *actions: str) -> InfusionSession:
    session = session_book(patient=patient, center=center, start=start, plan=plan)
    for action in actions:
        session = session_transition(session=session, action=action)
    return session


def _build_world(clock) -> SimpleNamespace:
    users = {
        SCHEDULER: UserFactory(username="sched", role="scheduler"),
        NURSE: UserFactory(username="nurse", role="nurse"),
        PHARMACIST: UserFactory(username="pharm", role="pharmacist"),
        ADMIN: UserFactory(username="root", is_superuser=True, is_staff=True),
    }
    patient_a = PatientFactory(
        user=UserFactory(username="patient-a", role="patient"),
        given_name="Ada",
        family_name="Aardvarkson",
    )
    patient_b = PatientFactory(
        user=UserFactory(username="patient-b", role="patient"), given_name="Bea", family_name="Bumblebyte"
    )
    users[PATIENT_A], users[PATIENT_B] = patient_a.user, patient_b.user
    for patient in (patient_a, patient_b):
        PatientWeightFactory(patient=patient)
    deletable_patient = PatientFactory(family_name="Nosessions")

    center = CenterFactory()
    chairs = [ChairFactory(center=center, name=f"C{n}") for n in (1, 2, 3)]
    empty_center = CenterFactory(weekdays=[])
    spare_chair = ChairFactory(center=CenterFactory(weekdays=[]), name="Spare")

    plan_a = PlanFactory(
        patient=patient_a,
        center=center,
        start_date=DAY,
        course_count=1,
        days_per_course=1,
        dose_g_per_kg=Decimal("1.00"),
    )
    plan_b = PlanFactory(
        patient=patient_b,
        center=center,
        start_date=DAY,
        course_count=1,
        days_per_course=1,
        dose_g_per_kg=Decimal("1.00"),
    )
    draft_a = PlanFactory(
        patient=patient_a,
        center=center,
        start_date=dt.date(2027, 2, 1),
        course_count=1,
        days_per_course=1,
        dose_g_per_kg=Decimal("1.00"),
    )

    clock.move_to(NOW - dt.timedelta(days=14))
    sessions = SimpleNamespace(
        a_running=_book(patient_a, center, plan_a, _local(DAY, 9)),
        b_running=_book(patient_b, center, plan_b, _local(DAY, 9, 30)),
        a_checked_in=_book(patient_a, center, plan_a, _local(DAY + dt.timedelta(days=1), 9)),
        a_scheduled=_book(patient_a, center, plan_a, _local(DAY + dt.timedelta(days=7), 9)),
        b_scheduled=_book(patient_b, center, plan_b, _local(DAY + dt.timedelta(days=7), 10)),
    )
    clock.move_to(_local(DAY, 9, 5))
    for session in (sessions.a_running, sessions.a_checked_in):
        session_transition(session=session, action="check_in")
    clock.move_to(_local(DAY, 9, 15))
    session_transition(session=sessions.a_running, action="start")
    clock.move_to(_local(DAY, 9, 35))
    session_transition(session=sessions.b_running, action="check_in")
    session_transition(session=sessions.b_running, action="start")

    clock.move_to(_local(DAY, 9, 50))
    a_run = InfusionSession.objects.get(pk=sessions.a_running.pk)
    entries = {
        "rate-changes": rate_change_record(session=a_run, rate_ml_per_hour=Decimal("42.0")),
        "vitals": vitals_record(session=a_run, systolic=118, diastolic=76, heart_rate=72),
        "reactions": reaction_record(
            session=a_run, severity="mild", symptoms=["headache"], action="slowed"
        ).reaction,
        "premedications": premedication_record(
            session=a_run, drug="Acetaminophen", dose="650 mg", route="oral"
        ),
        "lots": lot_record(
            session=a_run,
            product=plan_a.protocol.product,
            lot_number="A0001",
            expiry=dt.date(2027, 6, 30),
            vial_grams=Decimal("10"),
            count=7,
        ),
    }
    b_run = InfusionSession.objects.get(pk=sessions.b_running.pk)
    b_entries = {
        "vitals": vitals_record(session=b_run, systolic=121, diastolic=79),
        "lots": lot_record(
            session=b_run,
            product=plan_b.protocol.product,
            lot_number="B0002",
            expiry=dt.date(2027, 6, 30),
            vial_grams=Decimal("10"),
            count=7,
        ),
    }
    # A tolerated cap for the admin to clear (set after booking: it lengthens the chair time).
    Patient.objects.filter(pk=patient_a.pk).update(tolerated_max_rate_mg_kg_min=Decimal("3.000"))
    clock.move_to(NOW)
    return SimpleNamespace(
        users=users,
        patient_a=patient_a,
        patient_b=patient_b,
        deletable_patient=deletable_patient,
        center=center,
        chairs=chairs,
        empty_center=empty_center,
        spare_chair=spare_chair,
        plan_a=plan_a,
        plan_b=plan_b,
        draft_a=draft_a,
        sessions=sessions,
        entries=entries,
        b_entries=b_entries,
        reminder_a=Reminder.objects.filter(session=sessions.a_scheduled).first(),
        reminder_b=Reminder.objects.filter(session=sessions.b_scheduled).first(),
        product=plan_a.protocol.product,
        protocol=plan_a.protocol,
    )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once, inside a transaction that is rolled back when the module is done."""
    with django_db_blocker.unblock(), time_machine.travel(NOW, tick=False) as clock:
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield _build_world(clock)
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def call_as(world, db):
    """`call_as(role)`: an API client signed in as that role (anonymous: no one)."""

    def client(role: str) -> APIClient:
        api = APIClient()
        if role != ANON:
            api.force_authenticate(world.users[role])
        return api

    return client


# -- how each operation is called ---------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    url: str
    body: dict | None = None
    query: dict | None = None


def _patient_body(**changes) -> dict:
    return {
        "mrn": "MATRIX0001",
        "given_name": "Matrix",
        "family_name": "Newpatient",
        "date_of_birth": "1970-05-17",
        "sex": "female",
        "time_zone": "America/New_York",
        "email": "matrix@example.test",
        **changes,
    }


def _center_body(**changes) -> dict:
    return {"name": "Matrix Center", "short_name": "MX", "time_zone": "America/New_York", **changes}


def _plan_body(w, **changes) -> dict:
    return {
        "patient": w.patient_a.pk,
        "product": w.product.code,
        "indication": w.protocol.indication.code,
        "dose_g_per_kg": 1,
        "days_per_course": 1,
        "interval": "every_4_weeks",
        "start_date": "2027-03-01",
        "course_count": 1,
        "preferred_start_time": "09:00",
        "center": w.center.pk,
        **changes,
    }


ENTRY_BODIES = {
    "rate-changes": {"rate_ml_per_hour": "42.0"},
    "vitals": {"systolic": 118, "diastolic": 76, "heart_rate": 72},
    "reactions": {"severity": "mild", "symptoms": ["headache"], "action": "slowed"},
    "premedications": {"drug": "Acetaminophen", "dose": "650 mg", "route": "oral"},
    "lots": {
        "product": "octagam-10",
        "lot_number": "c0003",
        "expiry": "2027-06-30",
        "vial_grams": 10,
        "count": 7,
    },
}


def _entry_calls() -> dict[tuple[str, str], Callable]:
    calls: dict[tuple[str, str], Callable] = {}
    for kind, body in ENTRY_BODIES.items():
        base = f"{P}/sessions/{{session_id}}/{kind}/"
        calls[(base, "GET")] = lambda w, kind=kind: Call(f"{P}/sessions/{w.sessions.a_running.pk}/{kind}/")
        calls[(base, "POST")] = lambda w, kind=kind, body=body: Call(
            f"{P}/sessions/{w.sessions.a_running.pk}/{kind}/", body
        )
        calls[(f"{base}{{id}}/", "GET")] = lambda w, kind=kind: Call(
            f"{P}/sessions/{w.sessions.a_running.pk}/{kind}/{w.entries[kind].pk}/"
        )
    return calls


CALLS: dict[tuple[str, str], Callable[[SimpleNamespace], Call]] = {
    (f"{P}/auth/token/", "POST"): lambda w: Call(
        f"{P}/auth/token/", {"username": "nurse", "password": PASSWORD}
    ),
    (f"{P}/patients/", "GET"): lambda w: Call(f"{P}/patients/"),
    (f"{P}/patients/", "POST"): lambda w: Call(f"{P}/patients/", _patient_body()),
    (f"{P}/patients/{{id}}/", "GET"): lambda w: Call(f"{P}/patients/{w.patient_a.pk}/"),
    (f"{P}/patients/{{id}}/", "PUT"): lambda w: Call(
        f"{P}/patients/{w.patient_a.pk}/", _patient_body(mrn=w.patient_a.mrn, family_name="Renamed")
    ),
    (f"{P}/patients/{{id}}/", "PATCH"): lambda w: Call(
        f"{P}/patients/{w.patient_a.pk}/", {"renal_risk": True}
    ),
    (f"{P}/patients/{{id}}/", "DELETE"): lambda w: Call(f"{P}/patients/{w.deletable_patient.pk}/"),
    (f"{P}/patients/{{id}}/weights/", "GET"): lambda w: Call(f"{P}/patients/{w.patient_a.pk}/weights/"),
    (f"{P}/patients/{{id}}/weights/", "POST"): lambda w: Call(
        f"{P}/patients/{w.patient_a.pk}/weights/", {"weight_kg": "69.5"}
    ),
    (f"{P}/patients/{{patient_id}}/clear-tolerated-cap/", "POST"): lambda w: Call(
        f"{P}/patients/{w.patient_a.pk}/clear-tolerated-cap/", {"reason": "Tolerated the full rate twice."}
    ),
    (f"{P}/patients/me/preferences/", "GET"): lambda w: Call(f"{P}/patients/me/preferences/"),
    (f"{P}/patients/me/preferences/", "PATCH"): lambda w: Call(
        f"{P}/patients/me/preferences/", {"quiet_hours_start": "22:00", "quiet_hours_end": "07:00"}
    ),
    (f"{P}/patients/me/calendar-feed/", "POST"): lambda w: Call(f"{P}/patients/me/calendar-feed/"),
    (f"{P}/patients/me/calendar-feed/", "DELETE"): lambda w: Call(f"{P}/patients/me/calendar-feed/"),
    (f"{P}/products/", "GET"): lambda w: Call(f"{P}/products/"),
    (f"{P}/products/{{code}}/", "GET"): lambda w: Call(f"{P}/products/{w.product.code}/"),
    (f"{P}/protocols/", "GET"): lambda w: Call(f"{P}/protocols/"),
    (f"{P}/protocols/{{id}}/", "GET"): lambda w: Call(f"{P}/protocols/{w.protocol.pk}/"),
    (f"{P}/centers/", "GET"): lambda w: Call(f"{P}/centers/"),
    (f"{P}/centers/", "POST"): lambda w: Call(f"{P}/centers/", _center_body()),
    (f"{P}/centers/{{id}}/", "GET"): lambda w: Call(f"{P}/centers/{w.center.pk}/"),
    (f"{P}/centers/{{id}}/", "PUT"): lambda w: Call(
        f"{P}/centers/{w.center.pk}/", _center_body(name=w.center.name, short_name="TCX")
    ),
    (f"{P}/centers/{{id}}/", "PATCH"): lambda w: Call(f"{P}/centers/{w.center.pk}/", {"short_name": "TCY"}),
    (f"{P}/centers/{{id}}/", "DELETE"): lambda w: Call(f"{P}/centers/{w.empty_center.pk}/"),
    (f"{P}/chairs/", "GET"): lambda w: Call(f"{P}/chairs/"),
    (f"{P}/chairs/", "POST"): lambda w: Call(f"{P}/chairs/", {"center": w.center.pk, "name": "C9"}),
    (f"{P}/chairs/{{id}}/", "GET"): lambda w: Call(f"{P}/chairs/{w.chairs[0].pk}/"),
    (f"{P}/chairs/{{id}}/", "PUT"): lambda w: Call(
        f"{P}/chairs/{w.chairs[2].pk}/", {"center": w.center.pk, "name": "C3", "is_active": True}
    ),
    (f"{P}/chairs/{{id}}/", "PATCH"): lambda w: Call(f"{P}/chairs/{w.chairs[2].pk}/", {"name": "C3b"}),
    (f"{P}/chairs/{{id}}/", "DELETE"): lambda w: Call(f"{P}/chairs/{w.spare_chair.pk}/"),
    (f"{P}/dose-calculations/", "POST"): lambda w: Call(
        f"{P}/dose-calculations/",
        {
            "product": w.product.code,
            "indication": w.protocol.indication.code,
            "weight_kg": 70,
            "dose_g_per_kg": 2,
            "days": 2,
        },
    ),
    (f"{P}/availability/", "GET"): lambda w: Call(
        f"{P}/availability/", query={"center": w.center.pk, "date": "2027-01-12", "minutes": 120}
    ),
    (f"{P}/plans/", "GET"): lambda w: Call(f"{P}/plans/"),
    (f"{P}/plans/", "POST"): lambda w: Call(f"{P}/plans/", _plan_body(w)),
    (f"{P}/plans/{{id}}/", "GET"): lambda w: Call(f"{P}/plans/{w.plan_a.pk}/"),
    (f"{P}/plans/{{id}}/", "PUT"): lambda w: Call(f"{P}/plans/{w.draft_a.pk}/", _plan_body(w)),
    (f"{P}/plans/{{id}}/", "PATCH"): lambda w: Call(f"{P}/plans/{w.draft_a.pk}/", {"window_days": 2}),
    (f"{P}/plans/{{id}}/", "DELETE"): lambda w: Call(f"{P}/plans/{w.draft_a.pk}/"),
    (f"{P}/plans/{{id}}/book/", "POST"): lambda w: Call(f"{P}/plans/{w.draft_a.pk}/book/", {}),
    (f"{P}/sessions/", "GET"): lambda w: Call(f"{P}/sessions/"),
    (f"{P}/sessions/", "POST"): lambda w: Call(
        f"{P}/sessions/",
        {
            "patient": w.patient_a.pk,
            "center": w.center.pk,
            "plan": w.plan_a.pk,
            "start": "2027-01-18T09:00:00-05:00",
        },
    ),
    (f"{P}/sessions/{{id}}/", "GET"): lambda w: Call(f"{P}/sessions/{w.sessions.a_scheduled.pk}/"),
    (f"{P}/sessions/{{id}}/", "PATCH"): lambda w: Call(
        f"{P}/sessions/{w.sessions.a_scheduled.pk}/", {"start": "2027-01-12T09:00:00-05:00"}
    ),
    (f"{P}/sessions/{{id}}/confirm/", "POST"): lambda w: Call(
        f"{P}/sessions/{w.sessions.a_scheduled.pk}/confirm/"
    ),
    (f"{P}/sessions/{{id}}/check-in/", "POST"): lambda w: Call(
        f"{P}/sessions/{w.sessions.a_scheduled.pk}/check-in/"
    ),
    (f"{P}/sessions/{{id}}/start/", "POST"): lambda w: Call(
        f"{P}/sessions/{w.sessions.a_checked_in.pk}/start/"
    ),
    (f"{P}/sessions/{{id}}/complete/", "POST"): lambda w: Call(
        f"{P}/sessions/{w.sessions.a_running.pk}/complete/"
    ),
    (f"{P}/sessions/{{id}}/cancel/", "POST"): lambda w: Call(
        f"{P}/sessions/{w.sessions.a_scheduled.pk}/cancel/"
    ),
    (f"{P}/sessions/{{id}}/no-show/", "POST"): lambda w: Call(
        f"{P}/sessions/{w.sessions.a_scheduled.pk}/no-show/"
    ),
    **_entry_calls(),
    (f"{P}/sessions/{{session_id}}/timeline/", "GET"): lambda w: Call(
        f"{P}/sessions/{w.sessions.a_running.pk}/timeline/"
    ),
    (f"{P}/sessions/{{session_id}}/fhir/", "GET"): lambda w: Call(
        f"{P}/sessions/{w.sessions.a_running.pk}/fhir/"
    ),
    (f"{P}/lots/{{lot_number}}/recipients/", "GET"): lambda w: Call(f"{P}/lots/a0001/recipients/"),
    (f"{P}/flagged-sessions/", "GET"): lambda w: Call(f"{P}/flagged-sessions/"),
    (f"{P}/reminders/", "GET"): lambda w: Call(f"{P}/reminders/"),
    (f"{P}/reminders/{{id}}/", "GET"): lambda w: Call(f"{P}/reminders/{w.reminder_a.pk}/"),
}


def _fill(template: str, w) -> str:
    """A concrete URL for a path template (for the refused methods): patient A's objects."""
    kind = next((kind for kind in AMENDS if f"/{kind}/" in template), None)
    if kind is not None:
        object_id = w.entries[kind].pk
    elif "/protocols/" in template:
        object_id = w.protocol.pk
    elif "/reminders/" in template:
        object_id = w.reminder_a.pk
    else:
        object_id = w.sessions.a_scheduled.pk
    return template.format(
        id=object_id,
        session_id=w.sessions.a_running.pk,
        code=w.product.code,
        patient_id=w.patient_a.pk,
        lot_number="A0001",
    )


def send(client: APIClient, method: str, call: Call):
    if method == "GET":
        return client.get(call.url, call.query or {})
    return getattr(client, method.lower())(call.url, call.body, format="json")


# -- the matrix ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema_operations() -> set[tuple[str, str]]:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return {
        (path, method.upper())
        for path, item in json.loads(response.content)["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


def _routes(patterns, prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern)


def resolver_paths() -> set[str]:
    """Every /api/v1/ route Django answers, written the way the schema writes paths."""
    paths = set()
    for route in _routes(get_resolver().url_patterns):
        route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route.replace("^", "").replace("$", ""))
        route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route).replace("{pk}", "{id}")
        if route.startswith("api/v1/"):
            paths.add(f"/{route}")
    return paths


def test_every_schema_operation_has_a_row(schema_operations):
    assert schema_operations - set(MATRIX) == set(), "a route with no row in MATRIX"
    assert set(MATRIX) - schema_operations == set(), "a row for a route the schema does not have"
    assert set(CALLS) == set(MATRIX)


def test_every_route_django_answers_is_in_the_schema(schema_operations):
    """A route left out of the schema would also escape the matrix."""
    assert resolver_paths() == {path for path, _ in schema_operations}


def test_refused_methods_are_not_in_the_schema(schema_operations):
    assert set(REFUSED_METHODS) & schema_operations == set()


CASES = [(path, method, role) for (path, method) in MATRIX for role in ROLES]


@pytest.mark.parametrize(("path", "method", "role"), CASES, ids=[f"{m} {p} {r}" for p, m, r in CASES])
def test_who_may_call_what(world, call_as, path, method, role):
    rule = MATRIX[(path, method)]
    response = send(call_as(role), method, CALLS[(path, method)](world))

    expected = expected_status(rule, role)
    assert response.status_code == expected, (response.status_code, _body(response))
    if role in PATIENTS:
        _assert_nothing_of_the_other_patient(world, role, response)


REFUSED_CASES = [(path, method, role) for (path, method) in REFUSED_METHODS for role in ROLES]


@pytest.mark.parametrize(
    ("path", "method", "role"), REFUSED_CASES, ids=[f"{m} {p} {r}" for p, m, r in REFUSED_CASES]
)
def test_methods_the_api_does_not_offer_are_refused(world, call_as, path, method, role):
    response = send(call_as(role), method, Call(_fill(path, world), {}))

    if role == ANON:
        assert response.status_code == 401
    else:
        assert response.status_code == (405 if role in REFUSED_METHODS[(path, method)] else 403)


AMEND_CASES = [(kind, role) for kind in AMENDS for role in ROLES]


@pytest.mark.parametrize(("kind", "role"), AMEND_CASES, ids=[f"amend {k} {r}" for k, r in AMEND_CASES])
def test_who_may_amend_a_chairside_record(world, call_as, kind, role):
    entry = world.entries[kind]
    body = {**ENTRY_BODIES[kind], "amends": entry.pk, "reason": "Typed into the wrong field."}
    response = call_as(role).post(f"{P}/sessions/{world.sessions.a_running.pk}/{kind}/", body, format="json")

    rule = Rule(RECORD_WRITERS, 201)
    assert response.status_code == expected_status(rule, role), _body(response)
    if response.status_code == 201:
        assert response.json()["amends"] == entry.pk


def _body(response) -> object:
    try:
        return response.json()
    except (TypeError, ValueError):
        return response.content[:300]


def _assert_nothing_of_the_other_patient(w, role: str, response) -> None:
    other = w.patient_b if role == PATIENT_A else w.patient_a
    text = response.content.decode(errors="replace")
    for marker in (other.mrn, other.family_name, other.email):
        assert marker not in text, f"{role} sees {marker!r} of the other patient"


# -- nothing leaks through a list ---------------------------------------------------------------


def _ids(response) -> set[int]:
    assert response.status_code == 200, _body(response)
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return {row["id"] for row in rows}


def _session_ids(patient) -> set[int]:
    return set(InfusionSession.objects.filter(patient=patient).values_list("pk", flat=True))


def _me_and_other(w, role: str) -> tuple[Patient, Patient]:
    return (w.patient_a, w.patient_b) if role == PATIENT_A else (w.patient_b, w.patient_a)


@pytest.mark.parametrize("role", [PATIENT_A, PATIENT_B])
def test_a_patient_lists_only_their_own_patient_plan_and_session_rows(world, call_as, role):
    me, other = _me_and_other(world, role)
    client = call_as(role)

    assert _ids(client.get(f"{P}/patients/")) == {me.pk}
    assert _ids(client.get(f"{P}/plans/")) == set(me.plans.values_list("pk", flat=True))
    assert _ids(client.get(f"{P}/sessions/")) == _session_ids(me)
    assert _session_ids(other)  # there was something to leak


@pytest.mark.parametrize("role", [PATIENT_A, PATIENT_B])
def test_filters_and_search_do_not_reach_the_other_patients_rows(world, call_as, role):
    me, other = _me_and_other(world, role)
    client = call_as(role)

    assert _ids(client.get(f"{P}/patients/", {"search": other.family_name})) == set()
    assert _ids(client.get(f"{P}/patients/", {"search": other.mrn})) == set()
    assert _ids(client.get(f"{P}/plans/", {"patient": other.pk})) == set()
    assert _ids(client.get(f"{P}/sessions/", {"patient": other.pk})) == set()
    on_day = InfusionSession.objects.on_day(DAY, world.center).values_list("pk", flat=True)
    found = _ids(client.get(f"{P}/sessions/", {"center": world.center.pk, "date": DAY.isoformat()}))
    assert found == _session_ids(me) & set(on_day)


@pytest.mark.parametrize("role", [PATIENT_A, PATIENT_B])
def test_a_patient_may_not_list_reminders_records_lots_or_flags(world, call_as, role):
    client = call_as(role)
    for url in (
        f"{P}/reminders/",
        f"{P}/sessions/{world.sessions.a_running.pk}/vitals/",
        f"{P}/sessions/{world.sessions.b_running.pk}/vitals/",
        f"{P}/lots/A0001/recipients/",
        f"{P}/flagged-sessions/",
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert world.patient_a.mrn not in response.content.decode()


@pytest.mark.parametrize("role", sorted(STAFF))
def test_staff_list_both_patients_rows(world, call_as, role):
    client = call_as(role)

    assert _ids(client.get(f"{P}/patients/")) == set(Patient.objects.values_list("pk", flat=True))
    assert _ids(client.get(f"{P}/plans/")) == {world.plan_a.pk, world.plan_b.pk, world.draft_a.pk}
    assert _ids(client.get(f"{P}/sessions/")) == _session_ids(world.patient_a) | _session_ids(world.patient_b)
    assert _ids(client.get(f"{P}/reminders/")) == set(Reminder.objects.values_list("pk", flat=True))
    assert {world.reminder_a.pk, world.reminder_b.pk} <= set(Reminder.objects.values_list("pk", flat=True))


@pytest.mark.parametrize("role", sorted(CLINICAL))
def test_a_sessions_record_lists_hold_only_that_sessions_entries(world, call_as, role):
    client = call_as(role)
    a_run, b_run = world.sessions.a_running.pk, world.sessions.b_running.pk

    assert _ids(client.get(f"{P}/sessions/{a_run}/vitals/")) == {world.entries["vitals"].pk}
    assert _ids(client.get(f"{P}/sessions/{b_run}/vitals/")) == {world.b_entries["vitals"].pk}
    assert _ids(client.get(f"{P}/sessions/{a_run}/lots/")) == {world.entries["lots"].pk}
    # An entry of B's session is not found under A's session.
    response = client.get(f"{P}/sessions/{a_run}/vitals/{world.b_entries['vitals'].pk}/")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("role", "expected"),
    [(ANON, 401), (PATIENT_A, 403), (PATIENT_B, 403), (PHARMACIST, 403), (NURSE, 404), (SCHEDULER, 404)],
)
def test_records_of_a_session_that_does_not_exist_tell_a_refused_role_nothing(world, call_as, role, expected):
    """The role is checked before the lookup: a patient cannot probe which sessions exist."""
    missing = InfusionSession.objects.order_by("-pk").first().pk + 1000
    client = call_as(role)
    for url in (f"{P}/sessions/{missing}/vitals/", f"{P}/sessions/{missing}/timeline/"):
        assert client.get(url).status_code == expected, url


@pytest.mark.parametrize("role", [PHARMACIST, ADMIN])
def test_a_lot_recall_lists_only_that_lots_recipients(world, call_as, role):
    response = call_as(role).get(f"{P}/lots/a0001/recipients/")

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["patient"]["mrn"] for row in rows] == [world.patient_a.mrn]
    assert world.patient_b.mrn not in response.content.decode()


def test_the_patient_routes_under_me_answer_for_the_caller_only(world, call_as):
    a = call_as(PATIENT_A).patch(f"{P}/patients/me/preferences/", {"reminder_channel": "none"}, format="json")
    assert a.status_code == 200
    assert Patient.objects.get(pk=world.patient_a.pk).reminder_channel == "none"
    assert Patient.objects.get(pk=world.patient_b.pk).reminder_channel != "none"
    b = call_as(PATIENT_B).get(f"{P}/patients/me/preferences/")
    assert b.json()["email"] == world.patient_b.email


# -- the token endpoint's rate limit (the rest is in tests/api/test_auth.py) -------------------


def test_the_eleventh_wrong_password_from_one_address_is_refused_whatever_the_username(world, call_as):
    client = call_as(ANON)
    token = f"{P}/auth/token/"
    wrong = [
        client.post(
            token, {"username": f"guess{n}", "password": "nope"}, format="json", REMOTE_ADDR="192.0.2.4"
        )
        for n in range(10)
    ]
    assert [r.status_code for r in wrong] == [400] * 10

    eleventh = client.post(
        token, {"username": "patient-a", "password": "nope"}, format="json", REMOTE_ADDR="192.0.2.4"
    )
    assert eleventh.status_code == 429
    right = client.post(
        token, {"username": "patient-a", "password": PASSWORD}, format="json", REMOTE_ADDR="192.0.2.4"
    )
    assert right.status_code == 429
    assert "token" not in _body(right)


def test_signing_in_with_a_token_does_not_buy_more_guesses_from_the_same_address(world, call_as):
    """README: "10 attempts a minute per client address". A caller who holds any account's
    token (a patient's, say) must not get a fresh allowance by sending it along."""
    token = f"{P}/auth/token/"
    address = {"REMOTE_ADDR": "192.0.2.5"}
    client = call_as(ANON)
    for n in range(10):
        client.post(token, {"username": f"guess{n}", "password": "nope"}, format="json", **address)

    key = Token.objects.create(user=world.users[PATIENT_A]).key
    signed_in = call_as(ANON)
    signed_in.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    eleventh = signed_in.post(token, {"username": "nurse", "password": "nope"}, format="json", **address)

    assert eleventh.status_code == 429, _body(eleventh)
