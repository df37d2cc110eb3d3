"""Delivery with real parts: PostgreSQL, Redis and a Celery worker process.

The worker shares the test database, so these run on PostgreSQL only; CI runs
them against its own Redis, and one test starts a Redis of its own to stop it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from celery import Celery
from django.core import mail
from django.db import connection, connections

from infusions.models import Reminder
from infusions.reminders.dispatch import reminder_send, reminders_dispatch
from infusions.scheduling.booking import session_book
from tests.conftest import redis_url
from tests.factories import CenterFactory, ChairFactory, PatientFactory, PatientWeightFactory

ROOT = Path(__file__).resolve().parents[2]
NEW_YORK = ZoneInfo("America/New_York")
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def book_sessions(count: int, channel: str = "email") -> list:
    center = CenterFactory(short_name="Northside", default_nurses_on_duty=20)
    chairs = [ChairFactory(center=center, name=f"C{n}") for n in range(count)]
    start = (dt.datetime.now(NEW_YORK) + dt.timedelta(days=30)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    while start.weekday() > 4:
        start += dt.timedelta(days=1)
    sessions = []
    for n, chair in enumerate(chairs):
        patient = PatientFactory(reminder_channel=channel, phone=f"+1202555{n:04d}")
        PatientWeightFactory(patient=patient, weight_kg=Decimal("70"))
        sessions.append(
            session_book(patient=patient, center=center, chair=chair, start=start, chair_minutes=60)
        )
    return sessions


def database_url() -> str:
    s = connection.settings_dict
    return (
        f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    )


def start_worker(broker: str, tmp_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker,
        "EMAIL_URL": "filemail://",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        "SMS_BACKEND": "file",
        "SMS_FILE_PATH": str(tmp_path / "sms.jsonl"),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            f"--hostname=delivery-{os.getpid()}@localhost",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen) -> str:
    process.terminate()
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output.decode(errors="replace")[-4000:]


def wait_until(condition, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def client_for(broker: str) -> Celery:
    client = Celery("probe", broker=broker)
    client.conf.broker_connection_timeout = 2
    client.conf.task_publish_retry_policy = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
    return client


def all_sent(sessions) -> bool:
    return not Reminder.objects.filter(session__in=sessions, kind="booked").exclude(status="sent").exists()


def test_two_concurrent_sweeps_send_each_reminder_once():
    sessions = book_sessions(12)
    barrier = threading.Barrier(2)

    def sweep() -> None:
        try:
            barrier.wait()
            reminders_dispatch(enqueue=reminder_send)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert all_sent(sessions)
    assert len(mail.outbox) == 12
    assert sorted(m.to[0] for m in mail.outbox) == sorted(s.patient.email for s in sessions)


@pytest.mark.redis
def test_a_real_worker_on_redis_delivers_a_due_reminder(tmp_path, monkeypatch):
    [session] = book_sessions(1, channel="both")
    broker = redis_url()
    monkeypatch.setenv("CELERY_BROKER_URL", broker)  # Celery prefers it to any broker it is given
    worker = start_worker(broker, tmp_path)
    try:
        # What beat does every minute: ask a worker to sweep; it queues one send per row.
        client_for(broker).send_task("infusions.dispatch_due_reminders")
        delivered = wait_until(
            lambda: all_sent([session]) and Reminder.objects.filter(status="sent").count() == 2
        )
    finally:
        log = stop(worker)
    assert delivered, log
    [sms] = (tmp_path / "sms.jsonl").read_text().splitlines()
    assert "Northside" in sms
    mails = list((tmp_path / "mail").iterdir())
    assert len(mails) == 1 and "Northside" in mails[0].read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(port: int, tmp_path: Path) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert wait_until(lambda: _answers(port), 10), "redis-server did not start"
    return server


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.mark.redis
def test_with_redis_stopped_booking_succeeds_and_the_reminder_goes_out_once_it_is_back(tmp_path, monkeypatch):
    port = free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    monkeypatch.setenv("CELERY_BROKER_URL", broker)  # Celery prefers it to any broker it is given
    redis = start_redis(port, tmp_path)
    redis.terminate()
    redis.wait(timeout=10)

    [session] = book_sessions(1)  # booking never needs the broker
    assert session.pk and Reminder.objects.get(session=session, kind="booked").status == "pending"

    client = client_for(broker)
    reminders_dispatch(
        enqueue=lambda reminder_id: client.send_task("infusions.send_reminder", args=[reminder_id])
    )
    assert Reminder.objects.get(session=session, kind="booked").status == "pending"  # given back, not lost

    redis = start_redis(port, tmp_path)
    worker = start_worker(broker, tmp_path)
    try:
        client_for(broker).send_task("infusions.dispatch_due_reminders")
        delivered = wait_until(lambda: all_sent([session]))
    finally:
        log = stop(worker)
        redis.terminate()
        redis.wait(timeout=10)
    assert delivered, log
    assert len(list((tmp_path / "mail").iterdir())) == 1
