"""Reminder dispatch throughput: 1,000 and 10,000 due reminders through the locmem backends.

Prints reminders per second and database queries per reminder for each batch;
the goal is queries per reminder that do not grow with the batch, and at least
500 reminders a second on this machine.

    .venv/bin/python bench/reminders.py [--postgres postgres://postgres@127.0.0.1:5432/postgres]
        [--workers N] [--celery redis://127.0.0.1:6379/13]

With --celery (and --postgres) the sweeps enqueue one task per chunk of reminders on that
broker and a real Celery worker (prefork, --workers processes) sends them through
backends that keep nothing (Django's dummy mail backend, SMS to /dev/null); the
worker's resident memory is sampled when half the batch is sent and at the end.
"""

from __future__ import annotations

import datetime as dt
import logging
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import arguments, bench_database

GOAL_PER_SECOND = 500
ROWS_PER_SESSION = (
    ("booked", 0, "email"),
    ("booked", 0, "sms"),
    ("upcoming", 72, "email"),
    ("upcoming", 24, "sms"),
)


def make_due_reminders(count: int, tag: str) -> None:
    from django.utils import timezone

    from infusions.models import Center, Chair, InfusionSession, OpeningHours, Reminder
    from patients.models import Patient

    center = Center.objects.create(name=f"Bench {tag}", short_name=f"B{tag}")
    OpeningHours.objects.bulk_create(
        [OpeningHours(center=center, weekday=d, opens=dt.time(8), closes=dt.time(18)) for d in range(7)]
    )
    chair = Chair.objects.create(center=center, name="C1")
    sessions_needed = count // len(ROWS_PER_SESSION)
    patients = Patient.objects.bulk_create(
        [
            Patient(
                mrn=f"BENCH-{tag}-{n}",
                given_name="Bench",
                family_name=f"P{n}",
                date_of_birth=dt.date(1970, 1, 1),
                sex="female",
                email=f"p{n}@example.invalid",
                phone=f"+1202{n:07d}",
                reminder_channel="both",
            )
            for n in range(sessions_needed)
        ]
    )
    start = timezone.now() + dt.timedelta(days=5)
    sessions = InfusionSession.objects.bulk_create(
        [
            InfusionSession(
                patient=p,
                center=center,
                chair=chair,
                start=start + dt.timedelta(hours=2 * n),
                end=start + dt.timedelta(hours=2 * n + 1),
                chair_minutes=60,
            )
            for n, p in enumerate(patients)
        ]
    )
    now = timezone.now()
    Reminder.objects.bulk_create(
        [
            Reminder(
                session=s,
                session_version=1,
                kind=kind,
                offset_hours=hours,
                channel=channel,
                due_at=now,
                send_after=now,
            )
            for s in sessions
            for kind, hours, channel in ROWS_PER_SESSION
        ]
    )


def dispatch_all(limit: int = 1000) -> tuple[int, int, float]:
    from django.db import connection

    from infusions.reminders.dispatch import reminders_dispatch, reminders_send

    count = [0]

    def counted(execute, sql, params, many, context):
        count[0] += 1
        return execute(sql, params, many, context)

    sent = 0
    with connection.execute_wrapper(counted):
        began = time.perf_counter()
        while claimed := reminders_dispatch(enqueue=reminders_send, limit=limit):
            sent += claimed
        seconds = time.perf_counter() - began
    return sent, count[0], seconds


def dispatch_in_processes(workers: int) -> tuple[int, int, float]:
    """As `dispatch_all`, in `workers` processes sweeping at once, like a worker with --concurrency."""
    import multiprocessing

    from django.db import connections

    from infusions.models import Reminder

    connections.close_all()  # each process opens its own connection
    began = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        results = pool.map(_sweep_until_empty, range(workers))
    seconds = time.perf_counter() - began
    return Reminder.objects.filter(status="sent").count(), sum(results), seconds


def start_worker(broker: str, processes: int):
    """A Celery worker like the Procfile's, with `processes` pool processes, on the bench database."""
    import os
    import subprocess

    from config.celery import app

    app.control.purge()  # nothing left over from an earlier run
    environment = {
        **os.environ,
        "CELERY_BROKER_URL": broker,
        # Backends that keep nothing: the locmem ones keep every message in the worker's
        # memory (nobody reads them there), which would show as growth; delivery is
        # counted from the rows.
        "EMAIL_URL": "dummymail://",
        "SMS_BACKEND": "file",
        "SMS_FILE_PATH": os.devnull,
        "LOG_LEVEL": "WARNING",
        "DEBUG": "false",  # as in production
        "SECRET_KEY": "bench-only-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=prefork",
            f"--concurrency={processes}",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        env=environment,
        cwd=Path(__file__).resolve().parent.parent,
    )
    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=0.5):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("The Celery worker did not start.")
    return worker


def worker_memory_mb(worker) -> dict[str, float]:
    """Resident memory (now and peak) of the worker's busiest process, from /proc."""

    def status(pid: int) -> dict[str, float]:
        fields = {}
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) / 1024
        return fields

    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
    figures = [status(int(pid)) for pid in [worker.pid, *children]]
    return max(figures, key=lambda f: f["VmHWM"])


def dispatch_through_celery(worker, count: int) -> tuple[int, int, float, dict, dict]:
    """Sweeps in this process enqueue one task per chunk; the worker sends them."""
    from django.db import connection

    from infusions.models import Reminder
    from infusions.reminders.dispatch import reminders_dispatch
    from infusions.tasks import send_reminders

    queries = [0]

    def counted(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    halfway = None
    began = time.perf_counter()
    with connection.execute_wrapper(counted):
        while reminders_dispatch(enqueue=send_reminders.delay):
            pass
    print(f"  (sweeps claimed and enqueued {count} in {time.perf_counter() - began:.2f} s)")
    deadline = time.monotonic() + 600
    while (sent := Reminder.objects.filter(status="sent").count()) < count:
        if halfway is None and sent >= count // 2:
            halfway = worker_memory_mb(worker)
        if time.monotonic() > deadline or worker.poll() is not None:
            raise SystemExit(f"Only {sent} of {count} reminders were sent.")
        time.sleep(0.05)
    seconds = time.perf_counter() - began
    return sent, queries[0], seconds, halfway or worker_memory_mb(worker), worker_memory_mb(worker)


def _sweep_until_empty(_: int) -> int:
    # Small claims, so that the processes share the work as workers share queued sends.
    return dispatch_all(limit=50)[1]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    import os

    args = arguments(__doc__.splitlines()[0], workers=True)
    if args.celery:
        if not args.postgres:
            raise SystemExit("--celery needs --postgres: the worker is another process on the same database.")
        os.environ["CELERY_BROKER_URL"] = args.celery
    with bench_database(args.postgres) as label:
        from django.conf import settings
        from django.core import mail

        from infusions.models import Reminder, ReminderAttempt
        from infusions.reminders import sms

        settings.DEBUG = False  # as in production: no per-query debug log
        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        settings.SMS_BACKEND = "locmem"
        logging.getLogger("infusions").setLevel(logging.WARNING)  # one line per send is not the point here
        how = (
            f"a Celery worker with {args.workers} process(es) on {args.celery}"
            if args.celery
            else (f"{args.workers} process(es) sending in turn after each sweep")
        )
        print(f"Database: {label}; sending: {how}")
        print(
            f"{'batch':>8} {'sent':>7} {'queries':>8} {'queries/reminder':>17} {'seconds':>8} {'reminders/s':>12}"
        )
        worker = start_worker(args.celery, args.workers) if args.celery else None
        rates, per_reminder, memory = [], [], []
        try:
            for count in (1_000, 10_000):
                Reminder.objects.all().delete()
                make_due_reminders(count, tag=str(count))
                mail.outbox, sms.outbox[:] = [], []
                if worker:
                    sent, queries, seconds, halfway, end = dispatch_through_celery(worker, count)
                    memory.append((count, halfway, end))
                elif args.workers > 1:
                    sent, queries, seconds = dispatch_in_processes(args.workers)
                else:
                    sent, queries, seconds = dispatch_all()
                    assert len(mail.outbox) + len(sms.outbox) == count
                assert sent == count == Reminder.objects.filter(status="sent").count(), (
                    "each sent exactly once"
                )
                assert ReminderAttempt.objects.count() == count
                rates.append(sent / seconds)
                per_reminder.append(queries / sent)
                print(
                    f"{count:>8} {sent:>7} {queries:>8} {queries / sent:>17.2f} {seconds:>8.2f} "
                    f"{sent / seconds:>12.0f}"
                )
        finally:
            if worker:
                worker.terminate()
                worker.wait(timeout=30)
        if worker:
            print("(queries counted in the sweeping process only; the worker's sends are not counted)")
            for count, halfway, end in memory:
                print(
                    f"worker memory, {count} batch: {halfway['VmRSS']:.0f} MB resident at half, "
                    f"{end['VmRSS']:.0f} MB at the end, peak {end['VmHWM']:.0f} MB"
                )
            peak = max(end["VmHWM"] for _, _, end in memory)
            growth = memory[-1][2]["VmRSS"] - memory[-1][1]["VmRSS"]
            verdict = "PASS" if peak < 200 and growth <= 5 else "FAIL"
            print(
                f"{verdict}  worker memory under 200 MB ({peak:.0f} MB) and not growing in the second half "
                f"of the 10,000 batch ({growth:+.0f} MB)"
            )
        else:
            print(f"peak resident memory of this process: {peak_rss_mb():.0f} MB")
        print(
            f"queries per reminder, 10,000 / 1,000: {per_reminder[1] / per_reminder[0]:.2f} (goal: 1.00, no growth)"
        )
        # The goal is set for the 10,000 batch; the 1,000 batch also pays for warming up.
        verdict = "PASS" if rates[-1] >= GOAL_PER_SECOND else "FAIL"
        print(f"{verdict}  throughput >= {GOAL_PER_SECOND}/s for 10,000 reminders: {rates[-1]:.0f}/s")


if __name__ == "__main__":
    main()
