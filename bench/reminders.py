"""Reminder dispatch throughput: 1,000 and 10,000 due reminders through the locmem backends.

Prints reminders per second and database queries per reminder for each batch;
the goal is queries per reminder that do not grow with the batch, and at least
500 reminders a second on this machine.

    .venv/bin/python bench/reminders.py [--postgres postgres://postgres@127.0.0.1:5432/postgres]
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

    from infusions.reminders.dispatch import reminder_send, reminders_dispatch

    count = [0]

    def counted(execute, sql, params, many, context):
        count[0] += 1
        return execute(sql, params, many, context)

    sent = 0
    with connection.execute_wrapper(counted):
        began = time.perf_counter()
        while claimed := reminders_dispatch(enqueue=reminder_send, limit=limit):
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


def _sweep_until_empty(_: int) -> int:
    # Small claims, so that the processes share the work as workers share queued sends.
    return dispatch_all(limit=50)[1]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    args = arguments(__doc__.splitlines()[0], workers=True)
    with bench_database(args.postgres) as label:
        from django.conf import settings
        from django.core import mail

        from infusions.models import Reminder, ReminderAttempt
        from infusions.reminders import sms

        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        settings.SMS_BACKEND = "locmem"
        logging.getLogger("infusions").setLevel(logging.WARNING)  # one line per send is not the point here
        print(f"Database: {label}; sending processes: {args.workers}")
        print(
            f"{'batch':>8} {'sent':>7} {'queries':>8} {'queries/reminder':>17} {'seconds':>8} {'reminders/s':>12}"
        )
        rates = []
        per_reminder = []
        for count in (1_000, 10_000):
            Reminder.objects.all().delete()
            make_due_reminders(count, tag=str(count))
            mail.outbox, sms.outbox[:] = [], []
            if args.workers > 1:
                sent, queries, seconds = dispatch_in_processes(args.workers)
            else:
                sent, queries, seconds = dispatch_all()
                assert len(mail.outbox) + len(sms.outbox) == count
            assert sent == count == Reminder.objects.filter(status="sent").count(), "each sent exactly once"
            assert ReminderAttempt.objects.count() == count
            rates.append(sent / seconds)
            per_reminder.append(queries / sent)
            print(
                f"{count:>8} {sent:>7} {queries:>8} {queries / sent:>17.2f} {seconds:>8.2f} {sent / seconds:>12.0f}"
            )
        print(f"peak resident memory of this process: {peak_rss_mb():.0f} MB")
        print(
            f"queries per reminder, 10,000 / 1,000: {per_reminder[1] / per_reminder[0]:.2f} (goal: 1.00, no growth)"
        )
        # The goal is set for the 10,000 batch; the 1,000 batch also pays for warming up.
        verdict = "PASS" if rates[-1] >= GOAL_PER_SECOND else "FAIL"
        print(f"{verdict}  throughput >= {GOAL_PER_SECOND}/s for 10,000 reminders: {rates[-1]:.0f}/s")


if __name__ == "__main__":
    main()
