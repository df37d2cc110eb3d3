"""Nothing clinical or identifying leaves Chairside through logs, task arguments or messages.

Log lines, Celery task arguments, emails and SMS travel to places the clinical
record does not (log aggregation, the broker, mail and SMS providers). The
README promises that messages hold "no name, drug, dose or diagnosis", and
DESIGN/known-traps that tasks take ids because task arguments are logged.

Each test captures every log record at DEBUG from every logger, every argument
given to `send_reminders` (however it is enqueued), and every email and SMS,
while a distinctive patient (Ysolde Zebulonova, 83 kg, Octagam 10% for
dermatomyositis) is booked, reminded, refused and failed; then it looks for
her name, MRN, product, indication and dose in all of it. It also checks that
something was captured, so a capture that silently broke cannot pass.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from io import BytesIO, StringIO
from urllib.parse import unquote_plus, urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from infusions import tasks
from infusions.models import ClosedDate, InfusionPlan, InfusionSession, Protocol, Reminder, ReminderAttempt
from infusions.reminders.links import link_url
from infusions.reminders.sms import SmsError
from tests.factories import CenterFactory, ChairFactory, PatientFactory, PatientWeightFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
T0 = dt.datetime(2027, 3, 1, 8, 0, tzinfo=NEW_YORK)  # a Monday morning
GIVEN, FAMILY, MRN = "Ysolde", "Zebulonova", "ZQX-48151"
WEIGHT_KG = Decimal("83.0")  # at 1 g/kg for one day: an 83 g dose

# Test-data builders log what they build; the SQL echo (only with DEBUG) logs the rows themselves.
NOT_OURS = ("factory", "faker", "django.db.backends")


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def center(db):
    center = CenterFactory(short_name="Eastside IC")
    for n in (1, 2, 3):
        ChairFactory(center=center, name=f"C{n}")
    center.opening_hours.update(opens=dt.time(7))
    return center


@pytest.fixture
def ysolde(db):
    patient = PatientFactory(
        mrn=MRN,
        given_name=GIVEN,
        family_name=FAMILY,
        email="p48151@example.test",
        phone="+12025550199",
        reminder_channel="both",
    )
    PatientWeightFactory(patient=patient, weight_kg=WEIGHT_KG, measured_on=dt.date(2027, 2, 20))
    return patient


@pytest.fixture
def staff(db):
    return {
        "scheduler": UserFactory(username="sched", role="scheduler", email="frontdesk@example.test"),
        "nurse": UserFactory(username="nurse", role="nurse"),
    }


@pytest.fixture
def protocol(db) -> Protocol:
    return Protocol.objects.select_related("product", "indication").get(
        product__code="octagam-10", indication__code="dermatomyositis"
    )


# -- what must never appear ---------------------------------------------------------------------


def forbidden(
    patient, protocol: Protocol, grams: Decimal | None = None, volume_ml: Decimal | None = None
) -> list[re.Pattern]:
    """Her name, MRN, the product and its maker, the indication, and her day's dose (grams, mL)."""
    words = [
        patient.given_name,
        patient.family_name,
        patient.full_name,
        patient.mrn,
        "Octagam",
        protocol.product.name,
        protocol.product.manufacturer,
        "dermatomyositis",
        protocol.indication.name,
        "immunoglobulin",
        "IVIG",
        "g/kg",
        "mL/h",
    ]
    patterns = [re.compile(re.escape(word), re.IGNORECASE) for word in words if word]
    for amount in {Decimal("83"), grams} - {None}:
        number = re.escape(f"{amount.normalize():f}")
        patterns.append(re.compile(rf"(?<![\d.]){number}(\.0+)?\s*(g|grams?)\b", re.IGNORECASE))
        patterns.append(re.compile(rf"(?<![\d.]){re.escape(f'{amount:.2f}')}(?![\d])"))
    if volume_ml is not None:
        number = re.escape(f"{volume_ml.normalize():f}")
        patterns.append(re.compile(rf"(?<![\d.]){number}(\.0+)?\s*mL\b", re.IGNORECASE))
    return patterns


def leaks(texts: dict[str, str], patterns: list[re.Pattern]) -> list[tuple[str, str, str]]:
    return [
        (where, pattern.pattern, text[:200])
        for where, text in texts.items()
        for pattern in patterns
        if pattern.search(text)
    ]


# -- capture ------------------------------------------------------------------------------------


@contextmanager
def everything_logged(caplog) -> Iterator[list[logging.LogRecord]]:
    """Every record at DEBUG from every logger (including ones that do not propagate)."""
    loggers = [logging.getLogger(name) for name in list(logging.Logger.manager.loggerDict)]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    detached = [logger for logger in loggers if not logger.propagate]
    previous_disable = logging.root.manager.disable
    logging.disable(logging.NOTSET)
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    for logger in detached:
        logger.addHandler(caplog.handler)
    try:
        yield caplog.records
    finally:
        for logger in detached:
            logger.removeHandler(caplog.handler)
        for logger, level, disabled in saved:
            logger.setLevel(level)
            logger.disabled = disabled
        logging.disable(previous_disable)


def log_texts(records: list[logging.LogRecord]) -> dict[str, str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return {
        f"log #{n} {record.name}": formatter.format(record)
        for n, record in enumerate(records)
        if not record.name.startswith(NOT_OURS)
    }


class TaskArguments:
    """Stands in for `send_reminders.apply_async` (which `.delay` calls): records what would
    go to the broker, proves it serializes, then runs the task here."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple, dict]] = []

    def __call__(self, args=None, kwargs=None, **options):
        args, kwargs = tuple(args or ()), dict(kwargs or {})
        self.calls.append((args, kwargs))
        json.dumps([args, kwargs, {k: str(v) for k, v in options.items()}])
        return tasks.send_reminders.apply(args=args, kwargs=kwargs)

    def texts(self) -> dict[str, str]:
        return {f"task call #{n}": repr(call) for n, call in enumerate(self.calls)}


@pytest.fixture
def task_arguments(monkeypatch) -> TaskArguments:
    recorder = TaskArguments()
    monkeypatch.setattr(tasks.send_reminders, "apply_async", recorder)
    return recorder


def _content(value) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def mail_texts() -> dict[str, str]:
    texts = {}
    for n, email in enumerate(mail.outbox):
        texts[f"email #{n} subject"] = email.subject
        texts[f"email #{n} body"] = email.body
        texts[f"email #{n} to/from/headers"] = repr((email.to, email.from_email, email.extra_headers))
        for k, (content, _mimetype) in enumerate(email.alternatives):
            texts[f"email #{n} alternative {k}"] = _content(content)
        for k, attachment in enumerate(email.attachments):
            texts[f"email #{n} attachment {k}"] = _content(attachment[1])
    return texts


def sms_texts(messages: list[dict[str, str]]) -> dict[str, str]:
    return {f"sms #{n}": f"{m['to']} {m['body']}" for n, m in enumerate(messages)}


def outbox_row_texts() -> dict[str, str]:
    """What staff see of a failure (`last_error`, attempt errors): never message text."""
    texts = {f"reminder {r.pk} last_error": r.last_error for r in Reminder.objects.all()}
    for attempt in ReminderAttempt.objects.all():
        texts[f"attempt {attempt.pk}"] = f"{attempt.error} {attempt.provider_id}"
    return texts


def assert_nothing_leaked(texts: dict[str, str], patterns: list[re.Pattern]) -> None:
    found = leaks(texts, patterns)
    assert found == [], "\n".join(f"{where}: /{pattern}/ in {text!r}" for where, pattern, text in found)


# -- the journey: booking, refusals, sweeps, a cancellation --------------------------------------


def test_booking_reminding_and_refusing_log_and_send_nothing_that_identifies_or_treats_her(
    api,
    clock,
    center,
    ysolde,
    staff,
    protocol,
    caplog,
    task_arguments,
    sms_outbox,
    django_capture_on_commit_callbacks,
):
    ClosedDate.objects.bulk_create(
        [ClosedDate(center=center, date=dt.date(2027, 5, 3) + dt.timedelta(days=n)) for n in range(7)]
    )
    closed_plan = InfusionPlan.objects.create(
        patient=ysolde, protocol=protocol, center=center, dose_g_per_kg=Decimal("1.00"),
        start_date=dt.date(2027, 5, 3), course_count=1,
    )  # fmt: skip
    scheduler, nurse = staff["scheduler"], staff["nurse"]

    def committed():
        """Run what the step left for after its commit (tests never commit)."""
        return django_capture_on_commit_callbacks(execute=True)

    with everything_logged(caplog) as records:
        api.force_authenticate(scheduler)
        with committed():
            plan = api.post(
                "/api/v1/plans/",
                {
                    "patient": ysolde.pk,
                    "product": "octagam-10",
                    "indication": "dermatomyositis",
                    "dose_g_per_kg": 1,
                    "days_per_course": 1,
                    "interval": "every_4_weeks",
                    "start_date": "2027-03-08",
                    "course_count": 2,
                    "preferred_start_time": "09:00",
                    "center": center.pk,
                },
                format="json",
            )
            assert plan.status_code == 201, plan.json()
            series = api.post(f"/api/v1/plans/{plan.json()['id']}/book/", {}, format="json")
            assert series.status_code == 201, series.json()
        with committed():
            single = api.post(
                "/api/v1/sessions/",
                {"patient": ysolde.pk, "center": center.pk, "plan": plan.json()["id"], "start": "2027-03-01T09:00:00-05:00"},
                format="json",
            )  # fmt: skip
            assert single.status_code == 201, single.json()

        # Refusals: a double booking (409), a series that cannot be placed (409).
        with committed():
            twice = api.post(
                "/api/v1/sessions/",
                {"patient": ysolde.pk, "center": center.pk, "plan": plan.json()["id"], "start": "2027-03-01T10:00:00-05:00"},
                format="json",
            )  # fmt: skip
            assert twice.status_code == 409, twice.json()
            assert api.post(f"/api/v1/plans/{closed_plan.pk}/book/", {}, format="json").status_code == 409

        # Beat's sweep through Celery, then one send_reminders per chunk of rows: the booking messages.
        with committed():
            tasks.dispatch_due_reminders.apply()
        assert len(mail.outbox) == len(sms_outbox) == 2

        # At the chair: a rate above her maximum is refused (400).
        api.force_authenticate(nurse)
        today = single.json()["id"]
        clock.move_to(T0 + dt.timedelta(minutes=65))
        assert api.post(f"/api/v1/sessions/{today}/check-in/").status_code == 200
        clock.move_to(T0 + dt.timedelta(minutes=75))
        assert api.post(f"/api/v1/sessions/{today}/start/").status_code == 200
        clock.move_to(T0 + dt.timedelta(minutes=76))
        with committed():
            too_fast = api.post(
                f"/api/v1/sessions/{today}/rate-changes/", {"rate_ml_per_hour": "500.0"}, format="json"
            )
        assert too_fast.status_code == 400, too_fast.json()

        # She cancels the first course from her reminder's link, in her own words; the
        # schedulers are told.
        first_course = InfusionSession.objects.get(pk=series.json()[0]["id"])
        api.force_authenticate(None)
        with committed():
            cancel = api.post(
                urlsplit(link_url(first_course, "cancel")).path,
                {"note": f"{GIVEN} {FAMILY}: dermatomyositis flare, Octagam makes my head ache"},
            )
        assert cancel.status_code == 200

        # Later: the cancellation notice by the in-process sweep, then the second course's
        # reminders through Celery.
        clock.move_to(dt.datetime(2027, 3, 1, 11, 0, tzinfo=NEW_YORK))
        out = StringIO()
        with committed():
            call_command("dispatch_reminders", stdout=out)
        clock.move_to(dt.datetime(2027, 4, 2, 10, 0, tzinfo=NEW_YORK))
        with committed():
            tasks.dispatch_due_reminders.apply()

    grams, volume = (Decimal(str(single.json()[key])) for key in ("grams", "volume_ml"))
    assert grams == Decimal("83")  # 1 g/kg at 83 kg: the number the checks below look for
    kinds_sent = set(Reminder.objects.filter(status="sent").values_list("kind", "channel"))
    assert {
        ("booked", "email"),
        ("booked", "sms"),
        ("cancelled", "email"),
        ("cancelled", "sms"),
        ("upcoming", "email"),
        ("upcoming", "sms"),
    } <= kinds_sent
    assert task_arguments.calls, "the sweep queued nothing: the task capture saw nothing"
    assert all(
        kwargs == {} and len(args) == 1 and all(isinstance(i, int) for i in args[0])
        for args, kwargs in task_arguments.calls
    ), task_arguments.calls  # ids only
    assert any(e.to == ["frontdesk@example.test"] for e in mail.outbox), "the schedulers were not told"
    messages = [record.getMessage() for record in records]
    assert any("sent (email)" in m for m in messages) and any("sent (sms)" in m for m in messages)
    assert any(m.startswith("Bad Request: /api/v1/sessions/") for m in messages)
    assert any(m.startswith("Conflict: /api/v1/") for m in messages)
    assert any("Schedulers told" in m for m in messages)

    assert_nothing_leaked(
        {
            **log_texts(records),
            **task_arguments.texts(),
            **mail_texts(),
            **sms_texts(sms_outbox),
            **outbox_row_texts(),
            "dispatch_reminders output": out.getvalue(),
        },
        forbidden(ysolde, protocol, grams, volume),
    )


# -- failures -----------------------------------------------------------------------------------


class FailingSms:
    """An SMS provider that fails as told, and keeps what it was asked to send."""

    failures: list[SmsError] = []
    asked: list[dict[str, str]] = []

    def send(self, to: str, body: str) -> str:
        FailingSms.asked.append({"to": to, "body": body})
        if FailingSms.failures:
            raise FailingSms.failures.pop(0)
        return "failing-sms-ok"


def _book_by_api(api, scheduler, patient, center) -> int:
    api.force_authenticate(scheduler)
    response = api.post(
        "/api/v1/sessions/",
        {"patient": patient.pk, "center": center.pk, "start": "2027-03-11T09:00:00-05:00", "chair_minutes": 240},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    return response.json()["id"]


@pytest.mark.parametrize(
    ("failure", "status", "logged"),
    [
        (SmsError("Twilio unreachable: TimeoutError", permanent=False), "pending", "will be retried"),
        (SmsError("Twilio answered 400 (error 21211)", permanent=True), "failed", "failed for good"),
    ],
    ids=["transient", "permanent"],
)
def test_a_failed_sms_logs_and_records_no_name_drug_or_dose(
    api, clock, center, ysolde, staff, protocol, caplog, task_arguments, settings,
    django_capture_on_commit_callbacks, failure, status, logged,
):  # fmt: skip
    ysolde.reminder_channel = "sms"
    ysolde.save(update_fields=["reminder_channel"])
    settings.SMS_BACKEND = f"{__name__}.FailingSms"
    FailingSms.failures, FailingSms.asked = [failure], []

    with everything_logged(caplog) as records, django_capture_on_commit_callbacks(execute=True):
        _book_by_api(api, staff["scheduler"], ysolde, center)
        tasks.dispatch_due_reminders.apply()

    row = Reminder.objects.get(kind="booked", channel="sms")
    assert (row.status, row.attempts) == (status, 1)
    assert FailingSms.asked, "the provider was never asked"
    assert any(logged in record.getMessage() for record in records)
    assert_nothing_leaked(
        {
            **log_texts(records),
            **task_arguments.texts(),
            **sms_texts(FailingSms.asked),
            **outbox_row_texts(),
        },
        forbidden(ysolde, protocol),
    )


def test_twilio_refusing_the_number_logs_and_records_no_message_text(
    api, clock, center, ysolde, staff, protocol, caplog, settings, monkeypatch,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    """Twilio's error body echoes the number and the request carried the body: neither is kept."""
    ysolde.reminder_channel = "sms"
    ysolde.save(update_fields=["reminder_channel"])
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "0" * 32, "secret-token"
    settings.TWILIO_FROM_NUMBER = "+12025550100"
    requests: list[str] = []

    def twilio_says_no(request, timeout=None):
        requests.append(unquote_plus(request.data.decode()))
        body = json.dumps({"code": 21211, "message": f"The 'To' number {ysolde.phone} is not valid."})
        raise urllib.error.HTTPError(request.full_url, 400, "Bad Request", {}, BytesIO(body.encode()))

    monkeypatch.setattr("infusions.reminders.sms.urllib.request.urlopen", twilio_says_no)

    with everything_logged(caplog) as records, django_capture_on_commit_callbacks(execute=True):
        _book_by_api(api, staff["scheduler"], ysolde, center)
        call_command("dispatch_reminders", stdout=StringIO())

    row = Reminder.objects.get(kind="booked", channel="sms")
    assert (row.status, row.last_error) == ("failed", "Twilio answered 400 (error 21211)")
    assert requests and any("failed for good" in r.getMessage() for r in records)
    assert_nothing_leaked(
        {**log_texts(records), **outbox_row_texts(), **{f"twilio request #{n}": r for n, r in enumerate(requests)}},
        forbidden(ysolde, protocol),
    )  # fmt: skip


# -- a database refusal -------------------------------------------------------------------------


def test_an_integrity_error_answers_409_and_logs_no_row_values(
    api, ysolde, staff, protocol, caplog, monkeypatch, django_capture_on_commit_callbacks
):
    """Two registrations of one new MRN at once: both pass the serializer's uniqueness check,
    the other one is saved first, and the unique constraint refuses this one. A database's
    message may hold the row's values (PostgreSQL: "Key (mrn)=(...) already exists")."""
    from patients.api.serializers import PatientSerializer
    from patients.models import Patient

    checked = PatientSerializer.validate

    def the_other_registration_wins(self, attrs):
        attrs = checked(self, attrs)
        Patient.objects.create(
            mrn=attrs["mrn"], given_name=GIVEN, family_name=FAMILY, date_of_birth=dt.date(1970, 5, 17)
        )
        return attrs

    monkeypatch.setattr(PatientSerializer, "validate", the_other_registration_wins)
    api.force_authenticate(staff["scheduler"])
    body = {
        "mrn": "ZQX-62342",
        "given_name": GIVEN,
        "family_name": FAMILY,
        "date_of_birth": "1970-05-17",
        "sex": "female",
        "time_zone": "America/New_York",
        "email": "p62342@example.test",
    }

    with everything_logged(caplog) as records, django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/patients/", body, format="json")

    assert response.status_code == 409, response.content
    assert "ZQX-62342" not in response.content.decode() and FAMILY not in response.content.decode()
    messages = [record.getMessage() for record in records]
    assert "Integrity error answered with 409: IntegrityError" in messages
    assert_nothing_leaked(log_texts(records), [*forbidden(ysolde, protocol), re.compile("ZQX-62342")])
