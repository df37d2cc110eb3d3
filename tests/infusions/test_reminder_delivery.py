"""Delivery with real parts: PostgreSQL, Redis and a Celery worker process.

The worker shares the test database, so these run on PostgreSQL only; CI runs
them against its own Redis, and one test starts a Redis of its own to stop it.
"""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connections

from infusions.models import Reminder
from infusions.reminders.dispatch import reminders_dispatch, reminders_send
from tests.conftest import redis_url
from tests.delivery_support import (
    book_sessions,
    client_for,
    free_port,
    start_redis,
    start_worker,
    stop,
    wait_until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def all_sent(sessions) -> bool:
    return not Reminder.objects.filter(session__in=sessions, kind="booked").exclude(status="sent").exists()


def test_two_concurrent_sweeps_send_each_reminder_once():
    sessions = book_sessions(12)
    barrier = threading.Barrier(2)

    def sweep() -> None:
        try:
            barrier.wait()
            reminders_dispatch(enqueue=reminders_send)
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
    reminders_dispatch(enqueue=lambda chunk: client.send_task("infusions.send_reminders", args=[chunk]))
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
