"""Real delivery parts for tests: booked sessions, a Celery worker process, a
private redis-server, the project's Celery app pointed at a test broker, and
readers for what the worker's file backends wrote."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import celery
import kombu.pools
from celery import Celery
from django.db import connection

from infusions.scheduling.booking import session_book
from tests.factories import CenterFactory, ChairFactory, PatientFactory, PatientWeightFactory

ROOT = Path(__file__).resolve().parents[1]
NEW_YORK = ZoneInfo("America/New_York")
NO_QUIET_HOURS = {"quiet_hours_start": dt.time(0), "quiet_hours_end": dt.time(0)}


def session_start(days_ahead: int = 30) -> dt.datetime:
    """09:00 New York on a weekday about a month ahead: inside the factory's opening hours."""
    start = (dt.datetime.now(NEW_YORK) + dt.timedelta(days=days_ahead)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    while start.weekday() > 4:
        start += dt.timedelta(days=1)
    return start


def delivery_center():
    # No quiet hours: a "booked" notice is due at once at any hour of the day,
    # so a test run at 22:00 in New York does not wait for 08:00.
    return CenterFactory(short_name="Northside", default_nurses_on_duty=20, **NO_QUIET_HOURS)


def book_sessions(count: int, channel: str = "email") -> list:
    center = delivery_center()
    chairs = [ChairFactory(center=center, name=f"C{n}") for n in range(count)]
    start = session_start()
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


# -- Celery worker -------------------------------------------------------------


@dataclass
class Worker:
    """A `celery worker` process; its output goes to a file, so a chatty worker never blocks on a pipe."""

    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def start_worker(
    broker: str, tmp_path: Path, *, name: str = "delivery", env: dict[str, str] | None = None
) -> Worker:
    """A solo worker writing email to `tmp_path/mail` and SMS to `tmp_path/sms.jsonl`."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker,
        "EMAIL_URL": "filemail://",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        "SMS_BACKEND": "file",
        "SMS_FILE_PATH": str(tmp_path / "sms.jsonl"),
        **(env or {}),
    }
    log = tmp_path / f"{name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                f"--hostname={name}-{os.getpid()}@localhost",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Worker(process, log)


def stop(worker: Worker) -> str:
    worker.process.terminate()
    try:
        worker.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.process.kill()
        worker.process.wait()
    return worker.output()


def wait_until(condition: Callable[[], bool], seconds: float = 60, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def client_for(broker: str) -> Celery:
    """A bare Celery client on `broker`, as beat is: it only sends task names.

    Not made the current app: the tasks' `shared_task` proxies (`send_reminders.delay`)
    publish with whichever app is current, and must keep publishing with the project's.
    """
    client = Celery("probe", broker=broker, set_as_current=False)
    client.conf.broker_connection_timeout = 2
    client.conf.task_publish_retry_policy = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
    return client


@contextlib.contextmanager
def project_app_on(broker: str) -> Iterator[None]:
    """Point the project's Celery app, which `send_reminders.delay` publishes with, at `broker`.

    Celery reads CELERY_BROKER_URL from the environment before any broker it is
    configured with, and keeps its producer pool once made; both are reset on
    the way in and out. kombu keeps every pool in a registry by broker URL, so
    the pools are closed and dropped there too: a later broker on the same port
    would otherwise be handed a closed pool.
    """
    from config.celery import app

    if celery.current_app._get_current_object() is not app:
        raise AssertionError(
            f"Celery's current app is {celery.current_app.main!r}, not the project's: the tasks "
            "would publish with it. Make probe apps with Celery(..., set_as_current=False)."
        )

    def forget_connections() -> None:
        kombu.pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    saved = os.environ.get("CELERY_BROKER_URL")
    os.environ["CELERY_BROKER_URL"] = broker
    forget_connections()
    try:
        yield
    finally:
        forget_connections()
        if saved is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved


# -- a private redis-server ------------------------------------------------------


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


# -- what the worker's file backends wrote -------------------------------------


def emails_delivered(*folders: Path) -> list[str]:
    """The recipient of every message Django's file email backend wrote.

    The backend names its files by the second and an object id, so two sends
    can share one file: count the messages in the files, not the files.
    """
    recipients = []
    for folder in folders:
        for path in sorted(folder.glob("*")) if folder.exists() else ():
            recipients += re.findall(r"^To: (.+?)\r?$", path.read_text(errors="replace"), re.MULTILINE)
    return recipients


def sms_delivered(*paths: Path) -> list[str]:
    """The number every SMS the file backend wrote went to."""
    numbers = []
    for path in paths:
        if path.exists():
            numbers += [json.loads(line)["to"] for line in path.read_text().splitlines() if line.strip()]
    return numbers
