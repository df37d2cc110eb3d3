"""The reminder outbox: rows and due instants, sweeps, transports and failures."""

from __future__ import annotations

import datetime as dt
import smtplib
from collections.abc import Callable
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.db.models import F
from django.test import TestCase

from infusions.models import InfusionSession, Reminder, ReminderAttempt
from infusions.reminders.dispatch import MAX_ATTEMPTS, SEND_CHUNK, reminders_dispatch, reminders_send
from infusions.reminders.messages import render_email, render_sms
from infusions.reminders.planning import outside_quiet_hours
from infusions.reminders.sms import SmsError
from infusions.scheduling.booking import session_book, session_reschedule, session_transition
from tests.factories import CenterFactory, ChairFactory, PatientFactory, PatientWeightFactory, PlanFactory

NEW_YORK = ZoneInfo("America/New_York")
NOW = dt.datetime(2027, 3, 1, 15, 0, tzinfo=dt.UTC)  # Monday 10:00 in New York
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def center(db):
    center = CenterFactory(short_name="Eastside IC")
    for n in (1, 2):
        ChairFactory(center=center, name=f"C{n}")
    center.opening_hours.update(opens=dt.time(7))
    return center


def patient(channel: str = "email", **fields):
    p = PatientFactory(reminder_channel=channel, phone="+12025550123", **fields)
    PatientWeightFactory(patient=p, weight_kg=Decimal("70"))
    return p


def book(center, who, day: str, time: str = "09:00", minutes: int = 120):
    start = dt.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=NEW_YORK)
    return session_book(patient=who, center=center, start=start, chair_minutes=minutes)


def rows(session) -> dict[tuple[str, int, str], Reminder]:
    return {
        (r.kind, r.offset_hours, r.channel): r
        for r in session.reminders.filter(session_version=session.version)
    }


def sweep() -> None:
    """`manage.py dispatch_reminders`, with its after-commit sends run (tests never commit)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("dispatch_reminders", stdout=StringIO())


def dispatch(enqueue) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        reminders_dispatch(enqueue=enqueue)


# -- rows and due instants --------------------------------------------------------


def test_booking_creates_a_booked_row_and_one_per_center_offset(center):
    session = book(center, patient(), "2027-03-11")
    got = rows(session)

    assert set(got) == {("booked", 0, "email"), ("upcoming", 72, "email"), ("upcoming", 24, "email")}
    assert got[("booked", 0, "email")].due_at == NOW
    assert got[("upcoming", 72, "email")].due_at == session.start - dt.timedelta(hours=72)
    assert got[("upcoming", 24, "email")].due_at == session.start - dt.timedelta(hours=24)
    assert {r.status for r in got.values()} == {"pending"}


def test_due_instants_are_counted_in_real_hours_across_a_dst_change(center):
    # 09:00 EDT on Monday 15 March 2027 is 13:00 UTC; 72 real hours earlier is 13:00 UTC on
    # Friday 12 March, 08:00 EST: the clocks moved on the 14th.
    session = book(center, patient(), "2027-03-15")
    due = rows(session)[("upcoming", 72, "email")].due_at
    assert due == dt.datetime(2027, 3, 12, 13, tzinfo=dt.UTC)
    assert due.astimezone(NEW_YORK).strftime("%H:%M") == "08:00"


def test_a_reminder_in_quiet_hours_waits_for_their_end(center):
    session = book(center, patient(), "2027-03-11", "07:30")  # 24 h before: 07:30, quiet until 08:00
    due = rows(session)[("upcoming", 24, "email")].due_at
    assert due.astimezone(NEW_YORK) == dt.datetime(2027, 3, 10, 8, 0, tzinfo=NEW_YORK)


def test_a_reminder_that_would_wait_too_long_goes_before_the_quiet_hours(center):
    center.reminder_offsets_hours = [12]
    center.save()
    who = patient(quiet_hours_start=dt.time(20), quiet_hours_end=dt.time(7))
    # 12 h before 08:00 is 20:00, quiet; 07:00 would be 1 h before the session: too late.
    session = book(center, who, "2027-03-11", "08:00")
    due = rows(session)[("upcoming", 12, "email")].due_at
    assert due.astimezone(NEW_YORK) == dt.datetime(2027, 3, 10, 19, 45, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    ("local", "quiet", "expected"),
    [
        ("2027-03-10T23:00", (dt.time(21), dt.time(8)), "2027-03-11T08:00"),
        ("2027-03-11T02:00", (dt.time(21), dt.time(8)), "2027-03-11T08:00"),
        ("2027-03-11T12:00", (dt.time(21), dt.time(8)), "2027-03-11T12:00"),
        ("2027-03-11T13:30", (dt.time(13), dt.time(14)), "2027-03-11T14:00"),
        ("2027-03-11T21:00", (dt.time(21), dt.time(8)), "2027-03-12T08:00"),
    ],
)
def test_quiet_hours_cover_the_evening_the_night_and_the_day(local, quiet, expected):
    due = dt.datetime.fromisoformat(local).replace(tzinfo=NEW_YORK)
    start = dt.datetime(2027, 3, 20, 9, tzinfo=NEW_YORK)
    moved = outside_quiet_hours(due, zone=NEW_YORK, quiet=quiet, session_start=start)
    assert moved.astimezone(NEW_YORK) == dt.datetime.fromisoformat(expected).replace(tzinfo=NEW_YORK)


def test_quiet_hours_are_the_patients_own_zone(center):
    who = patient(time_zone="America/Los_Angeles")
    session = book(center, who, "2027-03-11", "09:00")  # 24 h before: 06:00 in Los Angeles
    due = rows(session)[("upcoming", 24, "email")].due_at
    assert due.astimezone(ZoneInfo("America/Los_Angeles")).strftime("%H:%M") == "08:00"


def test_a_reminder_already_past_when_booked_is_skipped_never_sent_late(center):
    session = book(center, patient(), "2027-03-02", "08:00")  # 22 h ahead
    got = rows(session)
    assert got[("upcoming", 72, "email")].status == "skipped"
    assert got[("upcoming", 24, "email")].status == "skipped"
    sweep()
    assert len(mail.outbox) == 1  # only "booked"
    assert Reminder.objects.filter(status="skipped", sent_at__isnull=False).count() == 0


@pytest.mark.parametrize(
    ("channel", "expected"), [("both", {"email", "sms"}), ("sms", {"sms"}), ("none", set())]
)
def test_rows_follow_the_patients_channel(center, channel, expected):
    session = book(center, patient(channel), "2027-03-11")
    assert {channel for (_, _, channel) in rows(session)} == expected


def test_a_channel_without_an_address_is_skipped_with_the_reason(center):
    who = patient("email")
    who.email = ""
    who.save()
    session = book(center, who, "2027-03-11")
    assert {(r.status, r.last_error) for r in rows(session).values()} == {("skipped", "No email address.")}


def test_a_series_sends_one_booked_message_and_reminds_of_each_session(center):
    plan = PlanFactory(
        patient=patient(), center=center, start_date=dt.date(2027, 3, 8), course_count=2, days_per_course=2
    )
    from infusions.scheduling.series import plan_book

    sessions = plan_book(plan=plan)
    kinds = Reminder.objects.filter(session__in=sessions).values_list("kind", flat=True)
    assert list(kinds).count("booked") == 1
    assert list(kinds).count("upcoming") == 8


# -- reschedule and cancel ----------------------------------------------------------


def test_a_reschedule_cancels_the_old_rows_and_announces_the_new_time(center):
    session = book(center, patient(), "2027-03-11")
    session = session_reschedule(session=session, start=dt.datetime(2027, 3, 12, 11, tzinfo=NEW_YORK))
    old = session.reminders.filter(session_version=1)
    new = rows(session)
    assert set(old.values_list("status", flat=True)) == {"cancelled"}
    assert set(new) == {("rescheduled", 0, "email"), ("upcoming", 72, "email"), ("upcoming", 24, "email")}
    assert new[("upcoming", 24, "email")].due_at == session.start - dt.timedelta(hours=24)
    sweep()
    assert [m.subject for m in mail.outbox] == [
        "Your appointment at Eastside IC has moved to Friday 12 March 2027, 11:00 EST"
    ]


def test_cancelling_cancels_pending_rows_and_says_so(center):
    session = book(center, patient(), "2027-03-11")
    session_transition(session=session, action="cancel")
    statuses = {(r.kind, r.offset_hours): r.status for r in session.reminders.all()}
    assert statuses == {
        ("booked", 0): "cancelled",
        ("upcoming", 72): "cancelled",
        ("upcoming", 24): "cancelled",
        ("cancelled", 0): "pending",
    }
    sweep()
    assert [m.subject for m in mail.outbox] == [
        "Your appointment at Eastside IC on Thursday 11 March 2027 is cancelled"
    ]


def test_a_no_show_cancels_pending_rows_without_a_message(center, frozen_now):
    session = book(center, patient(), "2027-03-11")
    session_transition(session=session, action="no_show")
    assert set(session.reminders.values_list("status", flat=True)) == {"cancelled"}


# -- sweeps -----------------------------------------------------------------------------


def test_two_sweeps_back_to_back_send_each_reminder_once(center, frozen_now):
    session = book(center, patient("both"), "2027-03-11")
    sweep()
    sweep()
    assert len(mail.outbox) == 1
    frozen_now.move_to(session.start - dt.timedelta(hours=24) + dt.timedelta(minutes=1))
    sweep()
    sweep()
    assert len(mail.outbox) == 3  # booked, 72 h, 24 h
    assert Reminder.objects.filter(status="sent").count() == 6  # and as many SMS


def test_each_send_is_recorded_as_an_attempt_with_the_providers_id(center, sms_outbox):
    book(center, patient("both"), "2027-03-11")
    sweep()
    attempts = {a.reminder.channel: a for a in ReminderAttempt.objects.select_related("reminder")}
    assert {a.outcome for a in attempts.values()} == {"sent"}
    assert attempts["email"].provider_id == mail.outbox[0].extra_headers["Message-ID"]
    assert attempts["sms"].provider_id == sms_outbox[0]["id"]


def test_a_sweep_sends_nothing_before_it_is_due(center, frozen_now):
    session = book(center, patient(), "2027-03-11")
    sweep()
    frozen_now.move_to(session.start - dt.timedelta(hours=72) - dt.timedelta(minutes=1))
    sweep()
    assert len(mail.outbox) == 1


def test_a_duplicated_broker_message_sends_once(center):
    book(center, patient(), "2027-03-11")
    chunks = []
    dispatch(chunks.append)
    [[reminder_id]] = chunks
    assert reminders_send([reminder_id]) == {reminder_id: "sent"}
    assert reminders_send([reminder_id]) == {reminder_id: "not claimed"}
    assert len(mail.outbox) == 1


def book_many(center, count: int) -> None:
    """`count` sessions of one hour, one patient each, booked a week ahead: a `booked` row each."""
    first = dt.datetime(2027, 3, 8, 7, 0, tzinfo=NEW_YORK)
    for n in range(count):
        start = first + dt.timedelta(days=n // 20, minutes=30 * (n % 20))
        session_book(patient=patient(), center=center, start=start, chair_minutes=30)


def test_a_sweep_hands_on_its_rows_in_chunks_each_row_once(center):
    book_many(center, SEND_CHUNK * 2 + 3)
    chunks = []
    dispatch(chunks.append)
    assert [len(chunk) for chunk in chunks] == [SEND_CHUNK, SEND_CHUNK, 3]
    ids = [reminder_id for chunk in chunks for reminder_id in chunk]
    assert sorted(ids) == sorted(Reminder.objects.filter(kind="booked").values_list("id", flat=True))
    assert set(Reminder.objects.filter(kind="booked").values_list("status", flat=True)) == {"queued"}


def test_a_chunk_costs_the_same_queries_whatever_its_size(center, django_assert_num_queries):
    book_many(center, SEND_CHUNK + 1)
    chunks = []
    dispatch(chunks.append)
    full, single = chunks
    # Claim, read, then the attempts and the rows in one transaction (a savepoint inside the test's).
    with django_assert_num_queries(6):
        outcomes = reminders_send(full)
    assert set(outcomes.values()) == {"sent"}
    with django_assert_num_queries(6):
        reminders_send(single)
    assert len(mail.outbox) == SEND_CHUNK + 1
    assert ReminderAttempt.objects.filter(outcome="sent").count() == SEND_CHUNK + 1


class BrokenEmail(BaseEmailBackend):
    """Takes two messages, then fails the way a bug would (not a delivery error)."""

    taken = 0

    def send_messages(self, messages):
        if BrokenEmail.taken == 2:
            raise RuntimeError("a bug in the backend")
        BrokenEmail.taken += 1
        mail.outbox.extend(messages)
        return len(messages)


def test_what_a_chunk_sent_before_it_broke_off_is_recorded_and_the_rest_waits(center, settings, frozen_now):
    settings.EMAIL_BACKEND = f"{__name__}.BrokenEmail"
    BrokenEmail.taken = 0
    book_many(center, 4)
    chunks = []
    dispatch(chunks.append)
    with pytest.raises(RuntimeError):
        reminders_send(chunks[0])
    statuses = list(Reminder.objects.filter(kind="booked").order_by("id").values_list("status", "attempts"))
    # The one in hand may have reached the provider: it waits for the stale sweep. The one
    # not tried goes straight back to the queue.
    assert statuses == [("sent", 1), ("sent", 1), ("sending", 0), ("pending", 0)]
    assert ReminderAttempt.objects.count() == 2
    # Ten minutes on, the stale sweep hands the two unsent rows to a working backend.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    frozen_now.shift(dt.timedelta(minutes=11))
    sweep()
    assert set(Reminder.objects.filter(kind="booked").values_list("status", flat=True)) == {"sent"}
    assert len(mail.outbox) == 4


def test_in_a_chunk_a_failure_fails_its_row_alone(center, settings):
    settings.SMS_BACKEND = f"{__name__}.FlakySms"
    FlakySms.failures = [SmsError("Twilio answered 400 (error 21211)", permanent=True)]
    for day in ("2027-03-11", "2027-03-12", "2027-03-15"):
        book(center, patient("sms"), day)
    sweep()
    rows = list(Reminder.objects.filter(kind="booked").order_by("id").values_list("status", "attempts"))
    assert rows == [("failed", 1), ("sent", 1), ("sent", 1)]
    assert list(ReminderAttempt.objects.order_by("reminder_id").values_list("outcome", flat=True)) == [
        "permanent",
        "sent",
        "sent",
    ]


def test_a_row_queued_before_its_session_was_cancelled_is_not_sent(center):
    session = book(center, patient(), "2027-03-11")
    chunks = []
    dispatch(chunks.append)
    session_transition(session=session, action="cancel", by=None)
    outcomes = reminders_send(chunks[0])
    booked = Reminder.objects.get(session=session, session_version=1, kind="booked")
    assert booked.status == "cancelled"
    assert outcomes[booked.pk] == "not claimed"
    assert not mail.outbox


def test_a_row_whose_session_changed_after_it_was_queued_is_cancelled_not_sent(center):
    session = book(center, patient(), "2027-03-11")
    chunks = []
    dispatch(chunks.append)
    # What a reschedule committing after the sweep and before the send looks like to the send.
    InfusionSession.objects.filter(pk=session.pk).update(version=F("version") + 1)
    outcomes = reminders_send(chunks[0])
    booked = Reminder.objects.get(session=session, kind="booked")
    assert outcomes[booked.pk] == booked.status == "cancelled"
    assert not mail.outbox


def test_a_claim_left_by_a_dead_worker_is_sent_after_ten_minutes(center, frozen_now):
    book(center, patient(), "2027-03-11")
    dispatch(lambda reminder_id: None)  # claimed, the message lost
    assert Reminder.objects.get(kind="booked").status == "queued"
    frozen_now.shift(dt.timedelta(minutes=5))
    sweep()
    assert len(mail.outbox) == 0
    frozen_now.shift(dt.timedelta(minutes=6))
    sweep()
    assert len(mail.outbox) == 1
    assert Reminder.objects.get(kind="booked").status == "sent"


def test_a_broker_that_is_down_gives_the_row_back_at_once(center):
    from kombu.exceptions import OperationalError

    book(center, patient(), "2027-03-11")

    def broker_down(reminder_id: int) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    dispatch(broker_down)
    assert Reminder.objects.get(kind="booked").status == "pending"
    sweep()
    assert len(mail.outbox) == 1


# -- transports and failures -----------------------------------------------------------------


class FlakySms:
    failures: list[SmsError] = []

    def send(self, to: str, body: str) -> str:
        if FlakySms.failures:
            raise FlakySms.failures.pop(0)
        return "ok-1"


class BouncingEmail(BaseEmailBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPRecipientsRefused({"x@example.test": (550, b"No such user")})


def test_a_transient_sms_error_retries_with_backoff_then_sends(center, settings, frozen_now):
    settings.SMS_BACKEND = f"{__name__}.FlakySms"
    FlakySms.failures = [SmsError("Twilio unreachable: TimeoutError", permanent=False)]
    book(center, patient("sms"), "2027-03-11")

    sweep()
    row = Reminder.objects.get(kind="booked")
    assert (row.status, row.attempts, row.send_after) == ("pending", 1, NOW + dt.timedelta(minutes=1))
    frozen_now.shift(dt.timedelta(minutes=1))
    sweep()

    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, "")
    assert list(row.attempt_log.values_list("outcome", flat=True)) == ["transient", "sent"]


def test_transient_errors_give_up_after_the_last_attempt(center, settings, frozen_now):
    settings.SMS_BACKEND = f"{__name__}.FlakySms"
    FlakySms.failures = [SmsError("Twilio answered 503", permanent=False) for _ in range(MAX_ATTEMPTS)]
    book(center, patient("sms"), "2027-03-11")
    for _ in range(MAX_ATTEMPTS):
        sweep()
        frozen_now.shift(dt.timedelta(hours=1))
    row = Reminder.objects.get(kind="booked")
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
    assert row.attempt_log.count() == MAX_ATTEMPTS


def test_an_invalid_number_fails_at_once_and_shows_why(center, settings):
    settings.SMS_BACKEND = f"{__name__}.FlakySms"
    FlakySms.failures = [SmsError("Twilio answered 400 (error 21211)", permanent=True)]
    book(center, patient("sms"), "2027-03-11")
    sweep()
    row = Reminder.objects.get(kind="booked")
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "Twilio answered 400 (error 21211)")
    assert ReminderAttempt.objects.get().outcome == "permanent"


def test_a_hard_bounce_fails_at_once(center, settings):
    settings.EMAIL_BACKEND = f"{__name__}.BouncingEmail"
    book(center, patient(), "2027-03-11")
    sweep()
    row = Reminder.objects.get(kind="booked")
    assert (row.status, row.last_error) == ("failed", "The mail server refused the address.")


def test_the_file_sms_backend_writes_json_lines(center, settings, tmp_path):
    import json

    settings.SMS_BACKEND, settings.SMS_FILE_PATH = "file", tmp_path / "sms.jsonl"
    book(center, patient("sms"), "2027-03-11")
    sweep()
    [line] = (tmp_path / "sms.jsonl").read_text().splitlines()
    assert json.loads(line)["to"] == "+12025550123"


# -- what messages say ----------------------------------------------------------------------------


def test_messages_carry_the_center_date_time_and_links_and_nothing_clinical(center, sms_outbox):
    who = patient("both", given_name="Wilhelmina", family_name="Zorndorfer")
    plan = PlanFactory(
        patient=who, center=center, start_date=dt.date(2027, 3, 11), course_count=1, days_per_course=2
    )
    session = session_book(
        patient=who, center=center, plan=plan, start=dt.datetime(2027, 3, 11, 9, tzinfo=NEW_YORK)
    )
    sweep()

    email = mail.outbox[0]
    ics = email.attachments[0][1]
    html = email.alternatives[0][0]
    texts = [
        email.subject,
        email.body,
        html,
        ics.decode() if isinstance(ics, bytes) else ics,
        sms_outbox[0]["body"],
    ]
    for text in texts:
        for secret in (
            "Octagam",
            "octagam",
            "ermatomyositis",
            "IVIG",
            "immunoglobulin",
            "g/kg",
            "Zorndorfer",
            "Wilhelmina",
            who.mrn,
            "70 g",
            "700 mL",
            "mL/h",
        ):
            assert secret not in text, (secret, text)
    assert (
        "Eastside IC" in email.subject
        and "Thursday 11 March 2027" in email.subject
        and "09:00 EST" in email.subject
    )
    assert "/r/" in email.body and "/r/" in sms_outbox[0]["body"]
    assert "BEGIN:VTIMEZONE" in texts[3] and "DTSTART;TZID=America/New_York:20270311T090000" in texts[3]
    assert session.pk


def test_the_templates_render_every_kind_for_both_channels(center):
    session = book(center, patient("both"), "2027-03-11")
    for kind in ("booked", "upcoming", "rescheduled", "cancelled"):
        row = Reminder(session=session, session_version=1, kind=kind, channel="email")
        message = render_email(row)
        assert message.subject and message.text and message.html
        assert "Eastside IC" in render_sms(row)
        assert ("/r/" in message.text) == (kind != "cancelled")


def test_a_single_reminder_task_queued_by_an_earlier_release_is_still_sent(center):
    from infusions import tasks

    book(center, patient(), "2027-03-11")
    chunks = []
    dispatch(chunks.append)
    [[reminder_id]] = chunks
    assert tasks.send_reminder.apply(args=[reminder_id]).get() == "sent"
    assert Reminder.objects.get(pk=reminder_id).status == "sent"
    assert len(mail.outbox) == 1


def test_a_slow_chunk_gives_its_unsent_rows_to_the_next_sweep(center, monkeypatch):
    from infusions.reminders import dispatch as dispatching

    monkeypatch.setattr(dispatching, "CHUNK_SECONDS", -1)  # over time after the first send
    book_many(center, 3)
    chunks = []
    dispatch(chunks.append)
    outcomes = reminders_send(chunks[0])
    assert list(outcomes.values()) == ["sent", "pending", "pending"]
    rows = list(Reminder.objects.filter(kind="booked").order_by("id").values_list("status", "claimed_at"))
    assert rows[0][0] == "sent" and rows[1:] == [("pending", None), ("pending", None)]
    monkeypatch.setattr(dispatching, "CHUNK_SECONDS", 45)
    sweep()
    assert len(mail.outbox) == 3


class MeanwhileEmail(BaseEmailBackend):
    """Delivers, and while the first message goes out someone changes another session."""

    meanwhile: Callable[[], object] | None = None

    def send_messages(self, messages):
        if MeanwhileEmail.meanwhile is not None:
            MeanwhileEmail.meanwhile()
            MeanwhileEmail.meanwhile = None
        mail.outbox.extend(messages)
        return len(messages)


def test_a_session_cancelled_while_its_chunk_is_sending_is_not_reminded(center, settings, monkeypatch):
    from infusions.reminders import dispatch as dispatching

    monkeypatch.setattr(dispatching, "RECHECK_SECONDS", -1)  # look again before every send
    settings.EMAIL_BACKEND = f"{__name__}.MeanwhileEmail"
    first = book(center, patient(), "2027-03-11")
    second = book(center, patient(), "2027-03-12")
    chunks = []
    dispatch(chunks.append)
    MeanwhileEmail.meanwhile = lambda: session_transition(session=second, action="cancel", by=None)

    outcomes = reminders_send(chunks[0])

    booked = {r.session_id: r for r in Reminder.objects.filter(kind="booked", session_version=1)}
    assert outcomes[booked[first.pk].pk] == "sent"
    assert outcomes[booked[second.pk].pk] == "cancelled"
    assert [m.to for m in mail.outbox] == [[first.patient.email]]


def test_a_session_deleted_while_its_chunk_is_sending_is_not_reminded(center, settings, monkeypatch):
    """An administrator may delete a session booked in error; its reminders go with it."""
    from infusions.reminders import dispatch as dispatching

    monkeypatch.setattr(dispatching, "RECHECK_SECONDS", -1)  # look again before every send
    settings.EMAIL_BACKEND = f"{__name__}.MeanwhileEmail"
    first = book(center, patient(), "2027-03-11")
    second = book(center, patient(), "2027-03-12")
    booked = {r.session_id: r.pk for r in Reminder.objects.filter(kind="booked", session_version=1)}
    kept, deleted = booked[first.pk], booked[second.pk]
    chunks = []
    dispatch(chunks.append)
    MeanwhileEmail.meanwhile = second.delete

    outcomes = reminders_send(chunks[0])

    assert outcomes[kept] == "sent"
    assert outcomes[deleted] == "cancelled"
    assert [m.to for m in mail.outbox] == [[first.patient.email]]
    assert Reminder.objects.get(pk=kept).status == "sent"
    assert not Reminder.objects.filter(pk=deleted).exists()
