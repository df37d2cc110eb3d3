"""Faults between a booking and the patient's reminder, with real parts:
PostgreSQL, a private redis-server, Celery worker processes, a local mail server.

- Redis stopped while beat sweeps: the sweep returns normally and gives every
  row it claimed back (`pending`, never stuck `queued`); nothing is sent; once
  Redis is back the next sweep delivers each reminder once. Booking through the
  API meanwhile answers 201, since booking only writes rows (the service path:
  tests/infusions/test_reminder_delivery.py).
- A worker killed in the middle of a send: the row stays `sending` (not sent,
  not lost, not resent early); after the ten-minute stale limit a sweep hands
  it to a healthy worker, which delivers it. Killed before the mail server took
  the message: one delivery; killed after it took it (the documented window):
  one extra delivery, never more, and one `sent` row either way. A send task
  carries a chunk of rows and records them when it ends, so a kill in the
  middle of a chunk resends what that chunk had sent, each message once more.
- The database restarted between two sweeps (every connection terminated): the
  web answers 200 on its next request and the same worker delivers the second
  sweep's reminders, because Django's connection health check and Celery's
  per-task close replace dead connections instead of failing on them.
- The database restarted while a message is being sent: the patient gets it
  once and the row ends `sent` with one attempt, so the stale sweep does not
  send it a second time.
- Two beats sweeping at once from two processes, two workers sending: each row
  is claimed by one sweep (a conditional UPDATE) and delivered once.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import signal
import socketserver
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path
from wsgiref.util import setup_testing_defaults

import psycopg
import pytest
from django.db import connection
from django.db.models import F
from rest_framework.authtoken.models import Token

from config.wsgi import application
from infusions.models import Reminder, ReminderAttempt
from infusions.reminders.dispatch import STALE_AFTER
from infusions.tasks import dispatch_due_reminders
from tests.delivery_support import (
    ROOT,
    Worker,
    book_sessions,
    database_url,
    delivery_center,
    emails_delivered,
    free_port,
    project_app_on,
    session_start,
    sms_delivered,
    start_redis,
    start_worker,
    stop,
    wait_until,
)
from tests.factories import ChairFactory, PatientFactory, PatientWeightFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SESSIONS = "/api/v1/sessions/"


# -- parts ----------------------------------------------------------------------


class PrivateRedis:
    """A redis-server of this test's own, so that it can be stopped and started again."""

    def __init__(self, folder: Path):
        self.port = free_port()
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.server: subprocess.Popen | None = None

    def start(self) -> None:
        self.server = start_redis(self.port, self.folder)

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            self.server.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path: Path):
    redis = PrivateRedis(tmp_path)
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
def workers(tmp_path: Path):
    """`workers(broker, name, **env)` starts a worker writing under tmp_path/name; all are stopped after."""
    started: list[Worker] = []

    def start(broker: str, name: str = "worker", **env: str) -> Worker:
        worker = start_worker(broker, tmp_path / name, name=name, env=env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            stop(worker)


class _SmtpSession(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        sink: SmtpSink = self.server  # type: ignore[assignment]
        mode = sink.mode
        sink.connections += 1
        number = sink.connections
        if mode == "silent":
            self.rfile.read()  # never a greeting; returns when the client goes away
            return
        if mode == "held":
            sink.release.wait(timeout=30)  # the sender waits for the greeting until the test says so
        self.say("220 sink.test ESMTP")
        recipients: list[str] = []
        for line in self.rfile:
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"RCPT":
                recipients += re.findall(r"<([^>]*)>", line.decode())
                self.say("250 ok")
            elif verb == b"DATA":
                self.say("354 end with <CRLF>.<CRLF>")
                while self.rfile.readline() not in (b".\r\n", b""):
                    pass
                sink.accepted += recipients
                recipients = []
                self.say("250 accepted")
            elif verb == b"QUIT":
                if mode == "hang_after_accept" and number >= sink.hang_from:
                    self.rfile.read()  # the message is taken; the sender waits here for ever
                    return
                self.say("221 bye")
                return
            else:
                self.say("250 ok")

    def say(self, reply: str) -> None:
        self.wfile.write(reply.encode() + b"\r\n")


class SmtpSink(socketserver.ThreadingTCPServer):
    """A mail server on a free local port, recording the recipients of each message it accepts.

    `mode` applies to connections opened after it is set: "normal"; "silent"
    accepts the connection and never answers; "held" greets only once
    `release` is set, then behaves normally; "hang_after_accept" takes the
    message (250) and never answers QUIT, so the sender blocks after delivery
    (from the `hang_from`-th connection on; the ones before end normally).
    """

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpSession)
        self.mode = "normal"
        self.release = threading.Event()
        self.connections = 0
        self.hang_from = 1
        self.accepted: list[str] = []

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def smtp():
    sink = SmtpSink()
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    yield sink
    sink.release.set()  # a sender still held would keep its worker from stopping
    sink.shutdown()
    sink.server_close()


def wsgi(method: str, path: str, token: str, payload: dict | None = None) -> tuple[int, bytes]:
    """One request through the WSGI application, as gunicorn hands it over.

    Not Django's test client: that one disconnects close_old_connections for the
    request, so it skips what a server does at the start of every request: drop
    a database connection that is no longer usable.
    """
    body = json.dumps(payload).encode() if payload is not None else b""
    environ: dict = {}
    setup_testing_defaults(environ)
    environ.update(
        REQUEST_METHOD=method,
        PATH_INFO=path,
        HTTP_HOST="testserver",
        SERVER_NAME="testserver",
        HTTP_AUTHORIZATION=f"Token {token}",
        CONTENT_TYPE="application/json",
        CONTENT_LENGTH=str(len(body)),
        **{"wsgi.input": io.BytesIO(body)},
    )
    statuses: list[str] = []
    result = application(environ, lambda status, headers, exc_info=None: statuses.append(status))
    try:
        content = b"".join(result)
    finally:
        result.close()  # request_finished, as a server sends it
    return int(statuses[0].split()[0]), content


def terminate_other_connections() -> set[int]:
    """What every client of the test database sees when PostgreSQL restarts; returns the pids ended."""
    with psycopg.connect(database_url(), autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pid, pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return {pid for pid, ended in rows if ended}


def booked(**filters) -> list[Reminder]:
    return list(Reminder.objects.filter(kind="booked", **filters).order_by("id"))


def statuses() -> list[str]:
    return [r.status for r in booked()]


def patient(n: int, channel: str):
    person = PatientFactory(reminder_channel=channel, phone=f"+1202555{n:04d}")
    PatientWeightFactory(patient=person, weight_kg=Decimal("70"))
    return person


# -- 1. Redis stopped while beat sweeps -------------------------------------------


def test_redis_down_during_a_sweep_loses_nothing_and_each_reminder_goes_out_once_it_is_back(
    private_redis, workers, client_for, scheduler
):
    center = delivery_center()
    for n in range(3):
        ChairFactory(center=center, name=f"C{n}")
    patients = [patient(n, "both") for n in range(3)]
    private_redis.stop()

    api = client_for(scheduler)
    for person in patients:
        body = {"patient": person.pk, "center": center.pk, "start": session_start().isoformat()}
        response = api.post(SESSIONS, {**body, "chair_minutes": 60}, format="json")
        assert response.status_code == 201, response.json()  # booking never needs the broker
    assert statuses() == ["pending"] * 6

    with project_app_on(private_redis.url):
        assert dispatch_due_reminders() == 6  # what beat runs every minute: claimed, but the broker is down
        assert statuses() == ["pending"] * 6  # given back at once, not stuck `queued`
        assert all(r.claim is None and r.claimed_at is None for r in booked())
        assert not ReminderAttempt.objects.exists()

        private_redis.start()
        worker = workers(private_redis.url)
        assert dispatch_due_reminders() == 6
        delivered = wait_until(lambda: statuses() == ["sent"] * 6)
    assert delivered, worker.output()

    outbox = worker.log.parent
    assert sorted(emails_delivered(outbox / "mail")) == sorted(p.email for p in patients)
    assert sorted(sms_delivered(outbox / "sms.jsonl")) == sorted(p.phone for p in patients)
    assert list(ReminderAttempt.objects.values_list("outcome", flat=True)) == ["sent"] * 6


# -- 2. A worker killed in the middle of a send -------------------------------------


@pytest.mark.parametrize(
    ("killed", "deliveries"),
    [("silent", 1), ("hang_after_accept", 2)],
    ids=["before-the-mail-server-took-it", "after-the-mail-server-took-it"],
)
def test_a_worker_killed_while_sending_leaves_the_row_sending_and_a_later_sweep_delivers_it(
    private_redis, workers, smtp, killed, deliveries
):
    [session] = book_sessions(1)
    [reminder] = booked()
    smtp.mode = killed

    with project_app_on(private_redis.url):
        doomed = workers(private_redis.url, "doomed", EMAIL_URL=smtp.url)
        assert dispatch_due_reminders() == 1
        in_the_send = wait_until(
            lambda: (
                statuses() == ["sending"]
                and (smtp.accepted if killed == "hang_after_accept" else smtp.connections)
            )
        )
        assert in_the_send, doomed.output()
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.process.wait(timeout=10)

        reminder.refresh_from_db()
        assert (reminder.status, reminder.sent_at, reminder.attempts) == ("sending", None, 0)
        assert not ReminderAttempt.objects.exists()
        assert dispatch_due_reminders() == 0  # not stale yet: nobody sends it again early

        # Ten minutes later the claim is stale.
        Reminder.objects.filter(pk=reminder.pk).update(
            claimed_at=F("claimed_at") - STALE_AFTER - dt.timedelta(minutes=1)
        )
        smtp.mode = "normal"
        healthy = workers(private_redis.url, "healthy", EMAIL_URL=smtp.url)
        assert dispatch_due_reminders() == 1
        delivered = wait_until(lambda: statuses() == ["sent"])
    assert delivered, healthy.output()

    assert smtp.accepted == [session.patient.email] * deliveries  # at most one extra: the documented window
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == ("sent", 1)
    assert list(reminder.attempt_log.values_list("outcome", flat=True)) == ["sent"]


def test_a_worker_killed_in_the_middle_of_a_chunk_resends_only_that_chunk_each_message_once_more(
    private_redis, workers, smtp
):
    sessions = book_sessions(3)  # one chunk of three rows, one task
    smtp.mode, smtp.hang_from = "hang_after_accept", 2  # the first message goes through, the second hangs

    with project_app_on(private_redis.url):
        doomed = workers(private_redis.url, "doomed", EMAIL_URL=smtp.url)
        assert dispatch_due_reminders() == 3
        assert wait_until(lambda: statuses() == ["sending"] * 3 and len(smtp.accepted) == 2), doomed.output()
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.process.wait(timeout=10)
        assert not ReminderAttempt.objects.exists()  # the chunk's record never happened

        Reminder.objects.filter(kind="booked").update(
            claimed_at=F("claimed_at") - STALE_AFTER - dt.timedelta(minutes=1)
        )
        smtp.mode = "normal"
        healthy = workers(private_redis.url, "healthy", EMAIL_URL=smtp.url)
        assert dispatch_due_reminders() == 3
        delivered = wait_until(lambda: statuses() == ["sent"] * 3)
    assert delivered, healthy.output()

    emails = [s.patient.email for s in sessions]
    # The two the chunk had handed over before the kill go out twice, once each again; the third once.
    assert sorted(smtp.accepted) == sorted([emails[0], emails[1], *emails])
    assert all(r.attempts == 1 for r in booked())


# -- 3. The database restarted between two sweeps ----------------------------------


def test_after_a_database_restart_the_web_answers_and_the_same_worker_sends_the_next_sweep(
    private_redis, workers, scheduler
):
    first = book_sessions(2)
    token = Token.objects.create(user=scheduler).key
    late = patient(9, "email")

    with project_app_on(private_redis.url):
        worker = workers(private_redis.url)
        dispatch_due_reminders.delay()  # as beat sends it: the worker sweeps
        assert wait_until(lambda: statuses() == ["sent"] * 2), worker.output()

        web_backend = connection.connection.info.backend_pid
        ended = terminate_other_connections()
        assert web_backend in ended

        status, content = wsgi("GET", SESSIONS, token)
        assert status == 200, content[:2000]
        assert json.loads(content)["count"] == 2
        status, content = wsgi(
            "POST",
            SESSIONS,
            token,
            {
                "patient": late.pk,
                "center": first[0].center_id,
                "start": (session_start() + dt.timedelta(hours=3)).isoformat(),
                "chair_minutes": 60,
            },
        )
        assert status == 201, content[:2000]

        dispatch_due_reminders.delay()
        delivered = wait_until(lambda: statuses() == ["sent"] * 3)
    assert delivered, worker.output()
    assert worker.process.poll() is None  # the same worker process sent both sweeps
    outbox = worker.log.parent / "mail"
    assert sorted(emails_delivered(outbox)) == sorted([s.patient.email for s in first] + [late.email])


def test_a_database_restart_while_a_message_is_being_sent_neither_loses_nor_repeats_it(
    private_redis, workers, smtp
):
    [session] = book_sessions(1)
    smtp.mode = "held"

    with project_app_on(private_redis.url):
        worker = workers(private_redis.url, EMAIL_URL=smtp.url)
        dispatch_due_reminders()
        assert wait_until(lambda: statuses() == ["sending"] and smtp.connections), worker.output()
        ended = terminate_other_connections()  # the worker's connection, mid-send, and this process's
        connection.close()  # what this process's next request would do with its dead connection
        assert len(ended) >= 2
        smtp.release.set()
        assert wait_until(lambda: smtp.accepted, 30), worker.output()
        recorded = wait_until(lambda: statuses() == ["sent"], 10)
    # Else the row stays `sending` and the stale sweep sends the message again ten minutes later.
    assert recorded, f"The mail server took the message but the row is {statuses()}.\n{worker.output()}"
    [reminder] = booked()
    assert list(reminder.attempt_log.values_list("outcome", flat=True)) == ["sent"]
    assert smtp.accepted == [session.patient.email]


# -- 4. Two beats sweeping at once ----------------------------------------------------

RACER = """
import pathlib, sys, time
import django
django.setup()
from django.db import connection
from infusions.tasks import dispatch_due_reminders
ready, go = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
connection.ensure_connection()
ready.touch()
deadline = time.monotonic() + 30
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.001)
print(dispatch_due_reminders())
"""


def start_racer(broker: str, ready: Path, go: Path) -> subprocess.Popen:
    """A process that runs beat's sweep the moment `go` exists."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker,
    }
    return subprocess.Popen(
        [sys.executable, "-c", RACER, str(ready), str(go)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_two_beats_sweeping_at_once_deliver_each_reminder_once(private_redis, workers, tmp_path):
    sessions = book_sessions(20, channel="both")
    senders = [workers(private_redis.url, f"sender{n}") for n in (1, 2)]
    ready, go = [tmp_path / "ready1", tmp_path / "ready2"], tmp_path / "go"
    racers = [start_racer(private_redis.url, path, go) for path in ready]
    poised = wait_until(
        lambda: all(path.exists() for path in ready) or any(r.poll() is not None for r in racers), 30
    )
    go.touch()
    results = [racer.communicate(timeout=60) for racer in racers]
    assert poised and all(r.returncode == 0 for r in racers), [err.decode()[-2000:] for _, err in results]

    claimed = [int(out.split()[-1]) for out, _ in results]
    assert sum(claimed) == 40  # each row claimed by exactly one of the two sweeps
    delivered = wait_until(lambda: statuses() == ["sent"] * 40)
    assert delivered, [s.output() for s in senders]

    outboxes = [s.log.parent for s in senders]
    assert sorted(emails_delivered(*(o / "mail" for o in outboxes))) == sorted(
        s.patient.email for s in sessions
    )
    assert sorted(sms_delivered(*(o / "sms.jsonl" for o in outboxes))) == sorted(
        s.patient.phone for s in sessions
    )
    assert ReminderAttempt.objects.filter(outcome="sent").count() == ReminderAttempt.objects.count() == 40
