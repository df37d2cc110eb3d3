"""Hostile input to the write endpoints: every refusal is a 4xx with a message, and nothing changes.

Bodies that are not JSON objects, times without a UTC offset, megabyte strings,
negative numbers, NaN and infinity (as JSON literals and as strings), unknown
ids in paths and in foreign keys. Each test first shows that the endpoint takes
the untouched body (so a refusal is the hostile part's doing), then that the
hostile one is refused with a `detail` or a field error and that every row the
endpoint could write is as it was.

The regressions at the end are what fuzzing the schema found (tests/api/test_fuzz.py).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace

import pytest
import time_machine
import yaml
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from infusions.chairside import vitals_record
from infusions.models import (
    InfusionPlan,
    InfusionSession,
    LotUse,
    Premedication,
    RateChange,
    Reaction,
    Reminder,
    VitalSigns,
)
from infusions.scheduling.booking import session_book
from patients.models import Patient, PatientWeight
from tests.chairside_support import START, at, follow_the_ladder, make_center, running_session
from tests.factories import PatientFactory, PatientWeightFactory, PlanFactory, UserFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"
MEGABYTE = "x" * 1_000_000
UNKNOWN = 999_999
WRITTEN = (
    Patient,
    PatientWeight,
    InfusionPlan,
    InfusionSession,
    RateChange,
    VitalSigns,
    Reaction,
    Premedication,
    LotUse,
    Reminder,
    Token,
)


def state() -> dict[str, list[dict]]:
    """Every row a write endpoint could touch, as plain values."""
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in WRITTEN}


@contextmanager
def nothing_changes():
    before = state()
    yield
    assert state() == before


def assert_refused(response, status: int = 400, field: str | None = None) -> None:
    """A 4xx whose JSON body says why: the `field`'s messages, or a `detail`, or field errors."""
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert isinstance(body, dict) and body, body
    if field is not None:
        assert body.get(field), body
    else:
        assert body.get("detail") or all(isinstance(v, list | dict) and v for v in body.values()), body


# -- the world: a running session with records, a booked one, an unbooked plan ------------------


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def world(clock) -> SimpleNamespace:
    """The clock stands 61 minutes into patient's infusion (Monday 4 January 2027, New York);
    other is booked next Monday and has a two-course plan from February, not yet booked."""
    fast = {"password": None}  # hashing a password costs a third of a second, per user
    patient = PatientFactory(user=UserFactory(username="portal", role="patient", **fast))
    PatientWeightFactory(patient=patient, weight_kg=Decimal("70.0"))
    other = PatientFactory()
    PatientWeightFactory(patient=other, weight_kg=Decimal("80.0"))
    center = make_center()
    running = running_session(clock, patient, center=center)
    follow_the_ladder(clock, running, until=60)
    clock.move_to(at(61, running.started_at))
    booked = session_book(
        patient=other,
        center=center,
        start=dt.datetime.fromisoformat("2027-01-11T09:00:00-05:00"),
        chair_minutes=120,
    )
    return SimpleNamespace(
        patient=patient,
        other=other,
        center=center,
        chair=center.chairs.order_by("pk").first(),
        running=running,
        booked=booked,
        plan=PlanFactory(patient=other, center=center, start_date=dt.date(2027, 2, 1), course_count=2),
        scheduler=UserFactory(username="desk", role="scheduler", **fast),
        nurse=UserFactory(username="ward", role="nurse", **fast),
        admin=UserFactory(username="boss", is_superuser=True, is_staff=True, **fast),
    )


@dataclass(frozen=True)
class Endpoint:
    method: str
    url: Callable[[SimpleNamespace], str]
    caller: str | None  # the world's user who may write here; None: anonymous
    body: Callable[[SimpleNamespace], dict]

    def client(self, world: SimpleNamespace) -> APIClient:
        client = APIClient()
        if self.caller == "patient":
            client.force_authenticate(world.patient.user)
        elif self.caller is not None:
            client.force_authenticate(getattr(world, self.caller))
        return client

    def send(self, world: SimpleNamespace, body: object = None, **changes: object):
        """The endpoint's own body with `changes`, or `body` as it is, sent as JSON."""
        payload = {**self.body(world), **changes} if body is None else body
        return getattr(self.client(world), self.method)(self.url(world), payload, format="json")

    def send_raw(self, world: SimpleNamespace, raw: str, content_type: str):
        return getattr(self.client(world), self.method)(self.url(world), raw, content_type=content_type)


def _records(kind: str) -> Callable[[SimpleNamespace], str]:
    return lambda w: f"{API}/sessions/{w.running.pk}/{kind}/"


ENDPOINTS = {
    "patients": Endpoint(
        "post",
        lambda w: f"{API}/patients/",
        "scheduler",
        lambda w: {
            "mrn": "MRN-4242",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "date_of_birth": "1970-05-17",
            "sex": "female",
            "height_cm": 165,
            "time_zone": "America/New_York",
            "email": "ada@example.test",
        },
    ),
    "patient": Endpoint(
        "patch", lambda w: f"{API}/patients/{w.other.pk}/", "scheduler", lambda w: {"family_name": "Byron"}
    ),
    "weights": Endpoint(
        "post", lambda w: f"{API}/patients/{w.other.pk}/weights/", "nurse", lambda w: {"weight_kg": "81.5"}
    ),
    "dose-calculations": Endpoint(
        "post",
        lambda w: f"{API}/dose-calculations/",
        "nurse",
        lambda w: {
            "product": "octagam-10",
            "indication": "dermatomyositis",
            "weight_kg": "70",
            "height_cm": "165",
            "max_rate_mg_kg_min": "2",
            "dose_g_per_kg": "2",
            "days": 2,
        },
    ),
    "plans": Endpoint(
        "post",
        lambda w: f"{API}/plans/",
        "scheduler",
        lambda w: {
            "patient": w.other.pk,
            "product": "octagam-10",
            "indication": "dermatomyositis",
            "dose_g_per_kg": "2",
            "days_per_course": 2,
            "start_date": "2027-03-01",
            "course_count": 6,
            "center": w.center.pk,
            "premedication": [{"drug": "Cetirizine", "dose": "10 mg", "route": "oral", "minutes_before": 30}],
        },
    ),
    "plan": Endpoint(
        "patch", lambda w: f"{API}/plans/{w.plan.pk}/", "scheduler", lambda w: {"course_count": 3}
    ),
    "book": Endpoint("post", lambda w: f"{API}/plans/{w.plan.pk}/book/", "scheduler", lambda w: {}),
    "book-choices": Endpoint(
        "post",
        lambda w: f"{API}/plans/{w.plan.pk}/book/",
        "scheduler",
        lambda w: {
            "choices": [{"course": 1, "day": 1, "start": "2027-02-01T10:00:00-05:00", "chair": w.chair.pk}]
        },
    ),
    "sessions": Endpoint(
        "post",
        lambda w: f"{API}/sessions/",
        "scheduler",
        lambda w: {
            "patient": w.other.pk,
            "center": w.center.pk,
            "start": "2027-01-18T09:00:00-05:00",
            "chair_minutes": 120,
        },
    ),
    "reschedule": Endpoint(
        "patch",
        lambda w: f"{API}/sessions/{w.booked.pk}/",
        "scheduler",
        lambda w: {"start": "2027-01-12T09:00:00-05:00"},
    ),
    "rate-changes": Endpoint(
        "post", _records("rate-changes"), "nurse", lambda w: {"rate_ml_per_hour": "84.0"}
    ),
    "vitals": Endpoint(
        "post",
        _records("vitals"),
        "nurse",
        lambda w: {"systolic": 118, "diastolic": 76, "temperature_c": "36.8", "spo2": 98},
    ),
    "reactions": Endpoint(
        "post",
        _records("reactions"),
        "nurse",
        lambda w: {"severity": "mild", "symptoms": ["headache"], "action": "slowed"},
    ),
    "premedications": Endpoint(
        "post",
        _records("premedications"),
        "nurse",
        lambda w: {"drug": "Acetaminophen", "dose": "650 mg", "route": "oral"},
    ),
    "lots": Endpoint(
        "post",
        _records("lots"),
        "nurse",
        lambda w: {
            "product": "octagam-10",
            "lot_number": "B0123",
            "expiry": "2027-06-30",
            "vial_grams": "10",
            "count": 7,
        },
    ),
    "clear-tolerated-cap": Endpoint(
        "post",
        lambda w: f"{API}/patients/{w.patient.pk}/clear-tolerated-cap/",
        "admin",
        lambda w: {"reason": "Tolerated the full ladder at the infusion clinic."},
    ),
    "preferences": Endpoint(
        "patch",
        lambda w: f"{API}/patients/me/preferences/",
        "patient",
        lambda w: {"reminder_channel": "both", "phone": "+12125550123"},
    ),
    "auth-token": Endpoint(
        "post", lambda w: f"{API}/auth/token/", None, lambda w: {"username": "desk", "password": "pw"}
    ),
}


def endpoint_cases(*names: str, fields: dict[str, tuple[str, ...]] | None = None):
    """pytest params: one per endpoint, or one per (endpoint, field) with `fields`."""
    if fields is None:
        return [pytest.param(ENDPOINTS[name], id=name) for name in names]
    return [
        pytest.param(ENDPOINTS[name], field, id=f"{name}-{field}")
        for name, names_fields in fields.items()
        for field in names_fields
    ]


@pytest.mark.parametrize("endpoint", endpoint_cases(*ENDPOINTS))
def test_each_endpoint_takes_its_untouched_body(world, endpoint):
    """The baseline the hostile variants start from: without this, a refusal proves nothing."""
    if endpoint is ENDPOINTS["auth-token"]:
        world.scheduler.set_password("pw")
        world.scheduler.save()

    response = endpoint.send(world)

    assert response.status_code in (200, 201), response.content[:500]


# -- bodies that are not JSON objects -----------------------------------------------------------


@pytest.mark.parametrize("endpoint", endpoint_cases(*ENDPOINTS))
def test_a_plain_text_body_is_refused_as_an_unsupported_media_type(world, endpoint):
    with nothing_changes():
        response = endpoint.send_raw(world, "course_count=3", content_type="text/plain")

    assert_refused(response, 415)
    assert "text/plain" in response.json()["detail"]


@pytest.mark.parametrize("endpoint", endpoint_cases(*ENDPOINTS))
def test_malformed_json_is_refused_with_the_parse_error(world, endpoint):
    with nothing_changes():
        response = endpoint.send_raw(world, '{"course_count": 3,', content_type="application/json")

    assert_refused(response, 400)
    assert "JSON parse error" in response.json()["detail"]


@pytest.mark.parametrize("raw", ["[]", '[{"course_count": 3}]', '"course_count"', "42", "null"])
@pytest.mark.parametrize("endpoint", endpoint_cases(*ENDPOINTS))
def test_json_that_is_not_an_object_is_refused(world, endpoint, raw):
    with nothing_changes():
        response = endpoint.send_raw(world, raw, content_type="application/json")

    assert_refused(response, 400, "non_field_errors")


# -- times without a UTC offset -------------------------------------------------------------------

NAIVE = "2027-01-18T09:00:00"


@pytest.mark.parametrize(
    "endpoint, change",
    [
        pytest.param(ENDPOINTS["sessions"], {"start": NAIVE}, id="book-a-session"),
        pytest.param(ENDPOINTS["reschedule"], {"start": NAIVE}, id="reschedule"),
        pytest.param(ENDPOINTS["rate-changes"], {"at": "2027-01-04T10:15:00"}, id="rate-change-at"),
        pytest.param(ENDPOINTS["vitals"], {"at": "2027-01-04T10:15:00"}, id="vitals-at"),
    ],
)
def test_a_time_without_its_utc_offset_is_refused(world, endpoint, change):
    with nothing_changes():
        response = endpoint.send(world, **change)

    (field,) = change
    assert_refused(response, 400, field)
    assert "UTC offset" in response.json()[field][0]


def test_a_chosen_course_day_without_its_utc_offset_is_refused(world):
    endpoint = ENDPOINTS["book-choices"]
    choice = {"course": 1, "day": 1, "start": "2027-02-01T10:00:00", "chair": world.chair.pk}

    with nothing_changes():
        response = endpoint.send(world, choices=[choice])

    assert_refused(response, 400, "choices")
    assert "UTC offset" in json.dumps(response.json()["choices"])


# -- a megabyte where a name or a note goes --------------------------------------------------------

HUGE = {
    "patients": ("mrn", "given_name", "family_name", "email", "time_zone"),
    "patient": ("family_name", "phone"),
    "premedications": ("drug", "dose"),
    "reactions": ("symptom_notes",),
    "rate-changes": ("reason",),
    "lots": ("lot_number", "reason"),
    "clear-tolerated-cap": ("reason",),
    "preferences": ("phone", "email"),
    "auth-token": ("username",),
}


@pytest.mark.parametrize("endpoint, field", endpoint_cases(fields=HUGE))
def test_a_megabyte_string_is_refused(world, endpoint, field):
    with nothing_changes():
        response = endpoint.send(world, **{field: MEGABYTE})

    assert_refused(response, 400)
    assert len(response.content) < 10_000  # the refusal does not echo the megabyte back


def test_a_megabyte_premedication_order_in_a_plan_is_refused(world):
    order = {"drug": MEGABYTE, "dose": "10 mg", "route": "oral", "minutes_before": 30}

    with nothing_changes():
        response = ENDPOINTS["plans"].send(world, premedication=[order])

    assert_refused(response, 400, "premedication")


# -- negative numbers ------------------------------------------------------------------------------

NEGATIVE = {
    "weights": {"weight_kg": "-81.5"},
    "dose-calculations": {
        "weight_kg": "-70",
        "dose_g_per_kg": "-2",
        "height_cm": "-165",
        "max_rate_mg_kg_min": "-2",
        "days": -2,
    },
    "plans": {"dose_g_per_kg": "-2", "course_count": -6, "days_per_course": -1, "window_days": -3},
    "plan": {"course_count": -3, "time_flexibility_minutes": -60},
    "patients": {"height_cm": -165},
    "sessions": {"chair_minutes": -120},
    "rate-changes": {"rate_ml_per_hour": "-84.0"},
    "vitals": {"systolic": -118, "heart_rate": -70, "temperature_c": "-36.8", "spo2": -98},
    "lots": {"vial_grams": "-10", "count": -7},
}


@pytest.mark.parametrize(
    "endpoint, field",
    endpoint_cases(fields={name: tuple(values) for name, values in NEGATIVE.items()}),
)
def test_a_negative_number_is_refused(world, endpoint, field):
    name = next(n for n, e in ENDPOINTS.items() if e is endpoint)

    with nothing_changes():
        response = endpoint.send(world, **{field: NEGATIVE[name][field]})

    assert_refused(response, 400, field)


def test_a_negative_course_in_a_chosen_course_day_is_refused(world):
    choice = {"course": -1, "day": 1, "start": "2027-02-01T10:00:00-05:00", "chair": world.chair.pk}

    with nothing_changes():
        response = ENDPOINTS["book-choices"].send(world, choices=[choice])

    assert_refused(response, 400, "choices")


# -- NaN and infinity --------------------------------------------------------------------------

NUMBERS = {
    "weights": ("weight_kg",),
    "dose-calculations": ("weight_kg", "dose_g_per_kg", "height_cm", "max_rate_mg_kg_min"),
    "plans": ("dose_g_per_kg",),
    "patients": ("height_cm",),
    "rate-changes": ("rate_ml_per_hour",),
    "vitals": ("temperature_c", "systolic", "spo2"),
    "lots": ("vial_grams",),
}


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "inf", "1e999"])
@pytest.mark.parametrize("endpoint, field", endpoint_cases(fields=NUMBERS))
def test_nan_and_infinity_as_strings_are_refused(world, endpoint, field, text):
    with nothing_changes():
        response = endpoint.send(world, **{field: text})

    assert_refused(response, 400, field)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("endpoint, field", endpoint_cases(fields=NUMBERS))
def test_nan_and_infinity_as_json_numbers_are_refused(world, endpoint, field, literal):
    body = json.dumps({**endpoint.body(world), field: 0}).replace(f'"{field}": 0', f'"{field}": {literal}')

    with nothing_changes():
        response = endpoint.send_raw(world, body, content_type="application/json")

    assert_refused(response, 400)
    assert "JSON parse error" in response.json()["detail"]


# -- unknown ids --------------------------------------------------------------------------------

UNKNOWN_IN_PATH = [
    ("get", f"{API}/patients/{UNKNOWN}/"),
    ("patch", f"{API}/patients/{UNKNOWN}/"),
    ("delete", f"{API}/patients/{UNKNOWN}/"),
    ("post", f"{API}/patients/{UNKNOWN}/weights/"),
    ("post", f"{API}/patients/{UNKNOWN}/clear-tolerated-cap/"),
    ("patch", f"{API}/plans/{UNKNOWN}/"),
    ("delete", f"{API}/plans/{UNKNOWN}/"),
    ("post", f"{API}/plans/{UNKNOWN}/book/"),
    ("patch", f"{API}/sessions/{UNKNOWN}/"),
    *(
        ("post", f"{API}/sessions/{UNKNOWN}/{action}/")
        for action in ("confirm", "check-in", "start", "complete", "cancel", "no-show")
    ),
    *(
        ("post", f"{API}/sessions/{UNKNOWN}/{kind}/")
        for kind in ("rate-changes", "vitals", "reactions", "premedications", "lots")
    ),
    ("get", f"{API}/sessions/{UNKNOWN}/timeline/"),
    # Not a number at all: no route matches, and the answer is still JSON.
    ("patch", f"{API}/patients/abc/"),
    ("post", f"{API}/plans/1.5/book/"),
    ("post", f"{API}/sessions/null/cancel/"),
    ("post", f"{API}/sessions/-1/rate-changes/"),
]


@pytest.mark.parametrize("method, url", UNKNOWN_IN_PATH, ids=[f"{m}-{u}" for m, u in UNKNOWN_IN_PATH])
def test_an_unknown_id_in_the_path_is_not_found(world, method, url):
    client = APIClient()
    client.force_authenticate(world.admin)

    with nothing_changes():
        response = getattr(client, method)(url, {"rate_ml_per_hour": "42.0"}, format="json")

    assert_refused(response, 404)
    assert response["Content-Type"] == "application/json"


def test_an_unknown_entry_of_a_known_session_is_not_found(world):
    client = APIClient()
    client.force_authenticate(world.nurse)

    response = client.get(f"{API}/sessions/{world.running.pk}/rate-changes/{UNKNOWN}/")

    assert_refused(response, 404)


UNKNOWN_IN_BODY = {
    "sessions": {"patient": UNKNOWN, "center": UNKNOWN, "chair": UNKNOWN, "plan": UNKNOWN},
    "plans": {"patient": UNKNOWN, "center": UNKNOWN, "product": "no-such-product", "indication": "no-such"},
    "dose-calculations": {"product": "no-such-product", "indication": "no-such", "center": UNKNOWN},
    "reschedule": {"chair": UNKNOWN},
    "lots": {"product": "no-such-product"},
}


@pytest.mark.parametrize(
    "endpoint, field",
    endpoint_cases(fields={name: tuple(values) for name, values in UNKNOWN_IN_BODY.items()}),
)
def test_an_unknown_foreign_key_is_refused(world, endpoint, field):
    name = next(n for n, e in ENDPOINTS.items() if e is endpoint)

    with nothing_changes():
        response = endpoint.send(world, **{field: UNKNOWN_IN_BODY[name][field]})

    assert_refused(response, 400, field)


def test_an_unknown_patient_for_a_dose_is_refused(world):
    body = {**ENDPOINTS["dose-calculations"].body(world), "patient": UNKNOWN}
    del body["weight_kg"]

    with nothing_changes():
        response = ENDPOINTS["dose-calculations"].send(world, body)

    assert_refused(response, 400, "patient")


def test_an_unknown_chair_in_a_chosen_course_day_is_refused(world):
    choice = {"course": 1, "day": 1, "start": "2027-02-01T10:00:00-05:00", "chair": UNKNOWN}

    with nothing_changes():
        response = ENDPOINTS["book-choices"].send(world, choices=[choice])

    assert_refused(response, 400, "choices")


@pytest.mark.parametrize("kind", ["rate-changes", "vitals", "premedications"])
def test_a_correction_of_an_unknown_entry_is_refused(world, kind):
    with nothing_changes():
        response = ENDPOINTS[kind].send(world, amends=UNKNOWN, reason="Typed into the wrong row.")

    assert_refused(response, 400, "amends")


# -- status actions that the session's status does not allow -------------------------------------


@pytest.mark.parametrize(
    "session, action",
    [
        ("running", "confirm"),
        ("running", "check-in"),
        ("running", "cancel"),
        ("running", "no-show"),
        ("running", "start"),
        ("booked", "start"),
        ("booked", "complete"),
    ],
)
def test_a_status_action_the_status_does_not_allow_is_a_conflict(world, session, action):
    client = APIClient()
    client.force_authenticate(world.admin)

    with nothing_changes():
        response = client.post(
            f"{API}/sessions/{getattr(world, session).pk}/{action}/", "junk", content_type="text/plain"
        )

    assert_refused(response, 409)


# -- callers and bodies the patient's own endpoints refuse ------------------------------------------


def test_preferences_refuse_quiet_hours_that_are_not_times(world):
    with nothing_changes():
        response = ENDPOINTS["preferences"].send(world, quiet_hours_start="25:99", quiet_hours_end="NaN")

    assert_refused(response, 400)
    assert {"quiet_hours_start", "quiet_hours_end"} <= set(response.json())


def test_preferences_refuse_a_channel_that_does_not_exist(world):
    with nothing_changes():
        response = ENDPOINTS["preferences"].send(world, reminder_channel="carrier-pigeon")

    assert_refused(response, 400, "reminder_channel")


@pytest.mark.parametrize("method", ["post", "delete"])
def test_staff_have_no_calendar_feed_to_change(world, method):
    client = APIClient()
    client.force_authenticate(world.admin)

    with nothing_changes():
        response = getattr(client, method)(f"{API}/patients/me/calendar-feed/")

    assert_refused(response, 403)


def test_the_calendar_feed_reads_no_body_so_junk_in_one_changes_nothing_else(world):
    """It takes no body (the schema says so): a junk one is ignored, not parsed, and only the
    patient's own feed address is issued."""
    client = ENDPOINTS["preferences"].client(world)
    others = state()
    others.pop("Patient")

    response = client.post(f"{API}/patients/me/calendar-feed/", "{not json", content_type="application/json")

    assert response.status_code == 200
    world.patient.refresh_from_db()
    assert response.json()["url"].endswith(f"/{world.patient.calendar_token}.ics")
    after = state()
    after.pop("Patient")
    assert after == others


@pytest.mark.parametrize(
    "body",
    [
        {"username": ["desk"], "password": "pw"},
        {"username": {"$ne": None}, "password": {"$ne": None}},
        {"username": "desk"},
        {"username": "desk", "password": None},
        {"username": "desk", "password": MEGABYTE},
    ],
    ids=["list", "operator-object", "no-password", "null-password", "megabyte-password"],
)
def test_the_token_endpoint_refuses_bodies_that_are_not_credentials(world, body):
    with nothing_changes():
        response = ENDPOINTS["auth-token"].send(world, body)

    assert_refused(response, 400)


def test_the_token_endpoint_throttles_a_guesser_with_a_message(world):
    endpoint = ENDPOINTS["auth-token"]
    statuses = [endpoint.send(world, password=f"guess-{n}").status_code for n in range(10)]

    with nothing_changes():
        response = endpoint.send(world, password="guess-10")

    assert statuses == [400] * 10
    assert_refused(response, 429)


# -- regressions: what fuzzing the schema found -------------------------------------------------


def served_schema(world) -> dict:
    client = APIClient()
    client.force_authenticate(world.admin)
    return yaml.safe_load(client.get("/api/schema/").content)


def test_an_api_address_no_route_matches_is_a_json_not_found(world):
    """An id that is not a number matched no route and got Django's HTML 404 page."""
    client = APIClient()
    client.force_authenticate(world.admin)

    response = client.get(f"{API}/sessions/0.5/timeline/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_a_page_address_no_route_matches_is_still_the_html_not_found_page(world):
    response = APIClient().get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_times_of_day_are_documented_as_they_are_sent(world):
    """Opening hours ("08:00:00") and quiet hours ("22:00") have no UTC offset; JSON Schema's
    `time` format requires one, so the schema described every one of them as invalid."""
    schemas = served_schema(world)["components"]["schemas"]
    client = APIClient()
    client.force_authenticate(world.admin)
    center = client.get(f"{API}/centers/{world.center.pk}/").json()

    opens = schemas["OpeningHours"]["properties"]["opens"]
    assert "format" not in opens
    assert all(re.fullmatch(opens["pattern"], hours["opens"]) for hours in center["opening_hours"])
    assert schemas["Patient"]["properties"]["quiet_hours_start"]["pattern"] == opens["pattern"]


def test_a_patient_accounts_preferences_document_not_found_for_everyone_else(world):
    """GET patients/me/preferences/ answers 404 to staff; the schema did not say so."""
    operation = served_schema(world)["paths"][f"{API}/patients/me/preferences/"]["get"]
    client = APIClient()
    client.force_authenticate(world.admin)

    response = client.get(f"{API}/patients/me/preferences/")

    assert_refused(response, 404)
    assert "404" in operation["responses"]


def test_an_entry_whose_recorder_left_shows_a_null_recorder_as_documented(world):
    """`recorded_by` is null once the user is deleted, and `amended_by` until a correction."""
    vitals = vitals_record(session=world.running, systolic=118, diastolic=76, by=world.nurse)
    User.objects.filter(pk=world.nurse.pk).delete()
    client = APIClient()
    client.force_authenticate(world.admin)

    entry = client.get(f"{API}/sessions/{world.running.pk}/vitals/{vitals.pk}/").json()

    properties = served_schema(world)["components"]["schemas"]["VitalSigns"]["properties"]
    assert entry["recorded_by"] is None and properties["recorded_by"]["nullable"]
    assert entry["amended_by"] is None and properties["amended_by"]["nullable"]


def test_booking_a_plan_answers_a_plain_list_as_documented(world):
    """The 201 was documented as a paginated page; the answer is the list of the series."""
    response = ENDPOINTS["book"].send(world)

    assert response.status_code == 201, response.content[:500]
    assert isinstance(response.json(), list) and len(response.json()) == 4
    created = served_schema(world)["paths"][f"{API}/plans/{{id}}/book/"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["type"] == "array"


def test_a_session_booked_without_a_plan_shows_null_grams_as_documented(world):
    """A hand booking has no dose: `grams` and `volume_ml` are null, which the schema did not allow."""
    client = APIClient()
    client.force_authenticate(world.scheduler)

    session = client.get(f"{API}/sessions/{world.booked.pk}/").json()

    properties = served_schema(world)["components"]["schemas"]["Session"]["properties"]
    assert session["grams"] is None and properties["grams"]["nullable"]
    assert session["volume_ml"] is None and properties["volume_ml"]["nullable"]


def test_a_patch_with_an_incomplete_premedication_order_is_refused(world):
    """A PATCH made the order's fields optional: an order without its dose was stored, and
    every later read of the plan was a 500."""
    order = {"drug": "Cetirizine", "route": "oral", "minutes_before": 30}

    with nothing_changes():
        response = ENDPOINTS["plan"].send(world, {"premedication": [order]})

    assert_refused(response, 400, "premedication")
    assert response.json()["premedication"] == {"0": {"dose": ["This field is required."]}}
    assert ENDPOINTS["plan"].client(world).get(f"{API}/plans/{world.plan.pk}/").status_code == 200


def test_a_complete_premedication_order_is_still_taken_by_a_patch(world):
    order = {"drug": "Cetirizine", "dose": "10 mg", "route": "oral", "minutes_before": 30}

    response = ENDPOINTS["plan"].send(world, {"premedication": [order]})

    assert response.status_code == 200, response.content
    world.plan.refresh_from_db()
    assert world.plan.premedication == [order]


@pytest.mark.parametrize("limit", ["9223372036854775808", "88967783880990638080"])
def test_a_page_larger_than_the_database_counts_is_capped(world, limit):
    """An unbounded `limit` reached SQL as LIMIT n: a 409 on SQLite, a 500 on PostgreSQL."""
    client = APIClient()
    client.force_authenticate(world.admin)

    response = client.get(f"{API}/products/", {"limit": limit})

    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == response.json()["count"]


@pytest.mark.parametrize(
    "endpoint, change",
    [
        pytest.param(ENDPOINTS["sessions"], {"start": "0001-01-01T00:00:00+14:00"}, id="book-year-1"),
        pytest.param(ENDPOINTS["sessions"], {"start": "9999-12-31T23:00:00-05:00"}, id="book-year-9999"),
        pytest.param(ENDPOINTS["reschedule"], {"start": "9999-12-31T23:00:00-05:00"}, id="reschedule"),
        pytest.param(ENDPOINTS["rate-changes"], {"at": "0001-01-01T00:00:00+05:00"}, id="rate-change-at"),
        pytest.param(ENDPOINTS["plans"], {"start_date": "9999-12-01"}, id="plan-start"),
        pytest.param(ENDPOINTS["plans"], {"start_date": "0001-01-01"}, id="plan-start-year-1"),
    ],
)
def test_a_date_outside_the_planning_years_is_refused(world, endpoint, change):
    """Year 1 and year 9999 overflowed Python's dates when converted to UTC or counted on from: 500s."""
    with nothing_changes():
        response = endpoint.send(world, **change)

    (field,) = change
    assert_refused(response, 400, field)
    assert response.json()[field] == ["Give a date from 2000 to 2099."]


@pytest.mark.parametrize("url", [f"{API}/availability/", f"{API}/sessions/"])
@pytest.mark.parametrize("day", ["0001-01-01", "1839-03-15", "9999-12-31"])
def test_a_day_outside_the_planning_years_is_refused_in_a_query(world, url, day):
    """Year 9999 overflowed (500); 1839 gave New York's -04:56:02 offset, not a valid date-time."""
    client = APIClient()
    client.force_authenticate(world.scheduler)

    response = client.get(url, {"center": world.center.pk, "date": day, "minutes": 60})

    assert_refused(response, 400, "date")


def test_a_username_longer_than_any_users_is_refused_before_the_failed_login_is_logged(world):
    """django-axes logs a failed login in a varchar(255): PostgreSQL refused a longer username (500)."""
    with nothing_changes():
        response = ENDPOINTS["auth-token"].send(world, username="u" * 256)

    assert_refused(response, 400, "username")


def test_writes_that_read_a_body_document_an_unsupported_media_type(world):
    paths = served_schema(world)["paths"]

    assert "415" in paths[f"{API}/plans/"]["post"]["responses"]
    assert "415" in paths[f"{API}/sessions/{{session_id}}/vitals/"]["post"]["responses"]
    assert "415" not in paths[f"{API}/sessions/{{id}}/cancel/"]["post"]["responses"]


def test_a_megabyte_in_a_choice_field_is_refused_without_echoing_it(world):
    with nothing_changes():
        response = ENDPOINTS["preferences"].send(world, reminder_channel=MEGABYTE)

    assert_refused(response, 400, "reminder_channel")
    [message] = response.json()["reminder_channel"]
    assert len(message) < 200 and message.endswith("is not a valid choice.")


def test_a_body_over_the_upload_limit_is_a_json_refusal_that_says_so(world, settings):
    client = APIClient()
    client.force_authenticate(world.scheduler)
    body = json.dumps({"family_name": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})

    with nothing_changes():
        response = client.patch(f"{API}/patients/{world.patient.pk}/", body, content_type="application/json")

    assert_refused(response, 400)
    assert response.json() == {"detail": "The request body is larger than the 2.5 MB this API accepts."}


def test_a_form_with_too_many_fields_is_a_json_refusal(world, settings):
    client = APIClient()
    client.force_authenticate(world.scheduler)
    fields = {f"f{n}": "x" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}

    with nothing_changes():
        response = client.post(f"{API}/patients/", fields, format="multipart")

    assert_refused(response, 400)
    assert response.json() == {"detail": "The request has more fields than this API accepts."}


def test_a_body_over_the_limit_outside_the_api_still_gets_the_html_page(world, settings):
    response = Client().post(
        "/accounts/login/", {"username": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}
    )

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
