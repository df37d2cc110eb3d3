"""Every operation in the OpenAPI schema, fuzzed in-process by schemathesis.

No answer may be a 5xx, and every answer must be one the schema documents: its
status code, its content type and its body. The caller is an admin; the
patient's own endpoints (`patients/me/...`) run a second time as the patient,
since an admin only ever gets their refusal.

The data is a center with chairs and opening hours, patients with weights, a
plan, a booked session, and a running session with every kind of chairside
record; the clock stands an hour into that infusion. Generated ids, codes and times are
swapped for real ones (or for numbers a form would hold) two times in three (the
hooks below), so that paths and foreign keys hit real rows and bookings, plans
and chairside entries get past validation.

Each example runs in a savepoint that is rolled back afterwards: a DELETE or a
booking in one example does not change what the next one finds, and on
PostgreSQL a refused write cannot leave the test's transaction aborted for the
examples after it. Bounded (`max_examples`, derandomized) to keep the whole
file to a few minutes on a 2-core machine.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal

import pytest
import schemathesis
import time_machine
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.meta import TestPhase
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from infusions.chairside import lot_record, premedication_record, reaction_record, vitals_record
from infusions.models import (
    Center,
    Chair,
    Indication,
    InfusionPlan,
    InfusionSession,
    LotUse,
    Premedication,
    Product,
    Protocol,
    RateChange,
    Reaction,
    Reminder,
    VitalSigns,
)
from infusions.scheduling.booking import session_book
from patients.models import Patient
from tests.chairside_support import START, at, follow_the_ladder, make_center, running_session
from tests.factories import PatientFactory, PatientWeightFactory, PlanFactory, UserFactory

# No examples phase: the schema has no examples, and that phase draws its cases at collection,
# before there is a database to find real rows in.
CONFIG = SchemathesisConfig.from_dict({"phases": {"examples": {"enabled": False}}})
schema = schemathesis.openapi.from_wsgi("/api/schema/", application, config=CONFIG)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ_SETTINGS = settings(
    max_examples=30,
    derandomize=True,
    database=None,
    deadline=None,
    # The data fixtures are built once per operation, not per example: the savepoint resets them.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- real values for generated ids, codes and times ----------------------------------------------


def _pks(model) -> Callable[[], list]:
    return lambda: sorted(model.objects.values_list("pk", flat=True))


def _codes(model, usual: str | None = None) -> Callable[[], list]:
    """Every code, with the one the data's plans use (`usual`) first and as likely as all the rest:
    most product and indication pairs have no confirmed protocol."""

    def codes() -> list:
        every = sorted(model.objects.values_list("code", flat=True))
        return [usual] * len(every) + every if usual in every else every

    return codes


def _lot_numbers() -> list[str]:
    return sorted(set(LotUse.objects.values_list("lot_number", flat=True)))


# The session runs on Monday 4 January 2027 from 09:00 (New York); the clock stands at 10:16.
STARTS = [
    "2027-01-11T09:00:00-05:00",  # the next Monday: free
    "2027-01-04T13:00:00-05:00",  # the patient is still in the chair
    "2027-01-09T09:00:00-05:00",  # a Saturday: closed
    "2027-01-12T22:00:00+00:00",  # 17:00 local: runs past closing
    "2026-11-02T09:00:00-05:00",  # in the past
]
ENTRY_TIMES = [
    "2027-01-04T10:10:00-05:00",
    "2027-01-04T09:20:00-05:00",
    "2027-01-04T08:00:00-05:00",  # before the infusion started
    "2027-01-04T12:00:00-05:00",  # in the future
]
DATES = ["2027-01-04", "2027-01-11", "2027-01-09"]
# Numbers a form would hold: random ones almost never have the decimal places a field takes.
NUMBERS = {
    "dose_g_per_kg": ["2.00", "0.4", "1"],
    "weight_kg": ["70.0", "92.5"],
    "height_cm": ["165.0"],
    "max_rate_mg_kg_min": ["2", "4"],
    "rate_ml_per_hour": ["0", "42.0", "84.0", "168.0", "400.0"],
    "systolic": [118, 300],
    "diastolic": [76],
    "heart_rate": [72],
    "temperature_c": ["36.8", "38.9"],
    "spo2": [98],
    "respiratory_rate": [16],
    "vial_grams": ["10", "5"],
}

# A field or query parameter's name → the rows it names.
ROWS_BY_NAME: dict[str, Callable[[], list]] = {
    "patient": _pks(Patient),
    "center": _pks(Center),
    "chair": _pks(Chair),
    "plan": _pks(InfusionPlan),
    "session": _pks(InfusionSession),
    "product": _codes(Product, "octagam-10"),
    "product__code": _codes(Product, "octagam-10"),
    "indication": _codes(Indication, "dermatomyositis"),
    "indication__code": _codes(Indication, "dermatomyositis"),
    "lot_number": _lot_numbers,
}
BY_NAME: dict[str, Callable[[], list]] = {
    **ROWS_BY_NAME,
    "start": lambda: STARTS,
    "at": lambda: ENTRY_TIMES,
    "date": lambda: DATES,
    "start_date": lambda: DATES,
    "expiry": lambda: ["2027-06-30", "2026-12-31"],
    **{name: (lambda values=values: values) for name, values in NUMBERS.items()},
}
# The path segment before `{id}` (or the parameter's own name) → the rows it names.
BY_SEGMENT: dict[str, Callable[[], list]] = {
    "centers": _pks(Center),
    "chairs": _pks(Chair),
    "patients": _pks(Patient),
    "plans": _pks(InfusionPlan),
    "protocols": _pks(Protocol),
    "reminders": _pks(Reminder),
    "sessions": _pks(InfusionSession),
    "products": _codes(Product),
    "rate-changes": _pks(RateChange),
    "vitals": _pks(VitalSigns),
    "reactions": _pks(Reaction),
    "premedications": _pks(Premedication),
    "lots": _pks(LotUse),
}
PARAMETER = re.compile(r"\{(\w+)\}")


def _swapped(values: object, real: dict[str, Callable[[], list]]) -> st.SearchStrategy:
    """`values` as generated, with each field that names a row swapped for a real one two times in
    three (in lists of objects too, e.g. a booking's `choices`); anything else as it is."""
    if isinstance(values, list) and values and all(isinstance(item, dict) for item in values):
        return st.tuples(*(_swapped(item, real) for item in values)).map(list)
    if not isinstance(values, dict):
        return st.just(values)
    swaps = {}
    for name, value in values.items():
        rows = real[name]() if name in real else []
        if rows:
            swaps[name] = st.sampled_from((False, True, True)).flatmap(
                lambda swap, rows=rows, value=value: st.sampled_from(rows) if swap else st.just(value)
            )
        elif isinstance(value, list):
            swaps[name] = _swapped(value, real)
    return st.fixed_dictionaries(swaps).map(lambda chosen: {**values, **chosen})


def _is_placeholder(value: object) -> bool:
    return (type(value) is int and value == 0) or value == "0"


def _placeholders_replaced(values: object, real: dict[str, Callable[[], list]]) -> object:
    """The coverage phase's cases are built at collection, before there are rows, and name every
    row 0: point those at the first real row, so that what they test gets past the lookup (its
    numbers, 0 included, stay as they are: they are what it tests)."""
    if not isinstance(values, dict):
        return values
    replaced = dict(values)
    for name, value in values.items():
        rows = real[name]() if name in real and _is_placeholder(value) else []
        if rows:
            replaced[name] = rows[0]
    return replaced


def _path_rows(path: str) -> dict[str, Callable[[], list]]:
    segments = path.strip("/").split("/")
    rows = {}
    for position, segment in enumerate(segments):
        match = PARAMETER.fullmatch(segment)
        if match is None:
            continue
        name = match.group(1)
        rows[name] = ROWS_BY_NAME.get(name) or BY_SEGMENT[segments[position - 1]]
    return rows


def _body_rows(path: str, by_name: dict[str, Callable[[], list]] = BY_NAME) -> dict[str, Callable[[], list]]:
    kind = path.strip("/").split("/")[-1]
    return {**by_name, "amends": BY_SEGMENT[kind]} if kind in BY_SEGMENT else by_name


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    return _swapped(path_parameters, _path_rows(context.operation.path))


@schema.hook
def flatmap_query(context, query):
    return _swapped(query, BY_NAME)


@schema.hook
def flatmap_body(context, body):
    return _swapped(body, _body_rows(context.operation.path))


# -- the data and the callers ----------------------------------------------------------------------


@pytest.fixture
def wsgi_in_test_transaction():
    """Django's test client does this too: a request's end must not close the connection that
    holds the test's transaction (it would, since autocommit is off inside it)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def rows(db, clock, wsgi_in_test_transaction) -> InfusionSession:
    """A running session with every kind of record; a second patient's session booked next
    Monday, and their plan, not yet booked; patients with weights. The clock then stands 61
    minutes into the infusion."""
    # No password: hashing one costs a third of a second, per operation.
    patient = PatientFactory(user=UserFactory(username="fuzz-patient", role="patient", password=None))
    PatientWeightFactory(patient=patient, weight_kg=Decimal("70.0"))
    other = PatientFactory(diabetes=True, iga_status="deficient")
    PatientWeightFactory(patient=other, weight_kg=Decimal("92.5"))
    center = make_center()
    session = running_session(clock, patient, center=center)
    follow_the_ladder(clock, session, until=60)
    clock.move_to(at(45, session.started_at))
    vitals_record(session=session, systolic=120, diastolic=80, heart_rate=70)
    premedication_record(session=session, drug="Acetaminophen", dose="650 mg", route="oral")
    lot_record(
        session=session,
        product=session.plan.protocol.product,
        lot_number="B0123",
        expiry=dt.date(2027, 6, 30),
        vial_grams=Decimal("10"),
        count=7,
    )
    reaction_record(session=session, severity="mild", symptoms=["headache"], action="slowed")
    PlanFactory(patient=other, center=center, start_date=dt.date(2027, 2, 1), course_count=2)
    session_book(patient=other, center=center, start=dt.datetime.fromisoformat(STARTS[0]), chair_minutes=120)
    clock.move_to(at(61, session.started_at))
    return session


def token_headers(user) -> dict[str, str]:
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


@pytest.fixture
def as_admin(rows) -> dict[str, str]:
    return token_headers(UserFactory(username="fuzz-admin", is_superuser=True, is_staff=True, password=None))


@pytest.fixture
def as_patient(rows) -> dict[str, str]:
    return token_headers(rows.patient.user)


def with_real_rows(case) -> None:
    if case.meta is not None and case.meta.phase.name == TestPhase.COVERAGE:
        path = case.operation.path
        case.path_parameters = _placeholders_replaced(case.path_parameters, _path_rows(path))
        case.query = _placeholders_replaced(case.query, ROWS_BY_NAME)
        case.body = _placeholders_replaced(case.body, _body_rows(path, ROWS_BY_NAME))


def call_and_check(case, headers: dict[str, str]) -> None:
    with_real_rows(case)
    with transaction.atomic():
        case.call_and_validate(headers=headers, checks=CHECKS)
        transaction.set_rollback(True)


# -- the tests ---------------------------------------------------------------------------------------


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_answers_an_admin_as_documented(case, as_admin):
    call_and_check(case, as_admin)


@schema.include(path_regex=r"^/api/v1/patients/me/").parametrize()
@FUZZ_SETTINGS
def test_the_patients_own_endpoints_answer_the_patient_as_documented(case, as_patient):
    call_and_check(case, as_patient)
