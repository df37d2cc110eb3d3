"""Sending what is due: claim rows, hand each to its transport, record the attempt.

A sweep (beat every 60 s, or `manage.py dispatch_reminders`) returns stale
claims to the queue, then claims due rows with a conditional UPDATE under a
claim token, so two sweeps never claim one row; the send claims the row again
(queued -> sending), so a message delivered twice by the broker sends once.
The one window for a duplicate: a worker killed after the provider accepted a
message but before the row was marked sent; ten minutes later the row is
returned to the queue and sent again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable

from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from infusions.models import Reminder, ReminderAttempt, ReminderKind, ReminderStatus
from infusions.reminders.transports import TransportError, transport_for

logger = logging.getLogger(__name__)

STALE_AFTER = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 5
FIRST_BACKOFF = dt.timedelta(minutes=1)  # then 2, 4, 8 minutes
BATCH = 1000
RECORD_TRIES = 6  # after a send, about 6 s of reconnecting before giving the row to the stale sweep
RECORD_PAUSE = 0.2
# What a send reads: the message needs the center and the time, the transport an address.
SEND_FIELDS = (
    "id",
    "kind",
    "channel",
    "attempts",
    "session_version",
    "session__id",
    "session__version",
    "session__status",
    "session__start",
    "session__end",
    "session__center__short_name",
    "session__center__time_zone",
    "session__patient__email",
    "session__patient__phone",
)


def reminders_requeue_stale(now: dt.datetime) -> int:
    count = Reminder.objects.stale(now - STALE_AFTER).update(
        status=ReminderStatus.PENDING, claim=None, claimed_at=None
    )
    if count:
        logger.warning("Returned %d stale reminder claims to the queue.", count)
    return count


def reminders_claim_due(now: dt.datetime, *, limit: int = BATCH) -> list[int]:
    """Claim up to `limit` due rows for this sweep alone; returns their ids."""
    token = uuid.uuid4()
    ids = list(Reminder.objects.due(now).order_by("send_after", "id").values_list("id", flat=True)[:limit])
    if not ids:
        return []
    # WHERE status = 'pending' again: of two sweeps that read the same ids, the
    # second one's UPDATE finds them queued and changes nothing.
    Reminder.objects.filter(pk__in=ids, status=ReminderStatus.PENDING).update(
        status=ReminderStatus.QUEUED, claim=token, claimed_at=now
    )
    return list(Reminder.objects.filter(claim=token).order_by("id").values_list("id", flat=True))


def reminders_dispatch(
    *, enqueue: Callable[[int], object], now: dt.datetime | None = None, limit: int = BATCH
) -> int:
    """One sweep; `enqueue(id)` runs after the claim commits. Returns how many were claimed."""
    now = now or timezone.now()
    reminders_requeue_stale(now)
    with transaction.atomic():
        ids = reminders_claim_due(now, limit=limit)
        transaction.on_commit(lambda: _enqueue_all(ids, enqueue))
    return len(ids)


def _enqueue_all(ids: list[int], enqueue: Callable[[int], object]) -> None:
    for reminder_id in ids:
        try:
            enqueue(reminder_id)
        except (BrokerError, OSError) as exc:
            # The broker is down: give the row back now rather than wait for the stale sweep.
            Reminder.objects.filter(pk=reminder_id, status=ReminderStatus.QUEUED).update(
                status=ReminderStatus.PENDING, claim=None, claimed_at=None
            )
            logger.warning(
                "Broker unavailable (%s); reminder %s returned to the queue.", type(exc).__name__, reminder_id
            )


def reminder_send(reminder_id: int) -> str:
    """Send one claimed reminder; returns what became of it."""
    now = timezone.now()
    if not Reminder.objects.filter(pk=reminder_id, status=ReminderStatus.QUEUED).update(
        status=ReminderStatus.SENDING, claimed_at=now
    ):
        return "not claimed"  # already sent, cancelled, or being sent: a duplicate message
    reminder = (
        Reminder.objects.select_related("session__center", "session__patient")
        .only(*SEND_FIELDS)
        .get(pk=reminder_id)
    )
    if _outdated(reminder):
        Reminder.objects.filter(pk=reminder_id).update(status=ReminderStatus.CANCELLED)
        return ReminderStatus.CANCELLED
    try:
        provider_id = transport_for(reminder.channel).send(reminder)
    except TransportError as exc:
        return _record_failure(reminder, exc, now)

    def record_sent() -> None:
        # The attempt first, then the row: a crash between the two leaves the row
        # `sending`, which the stale sweep resends (the documented duplicate window)
        # and records as a second attempt. No transaction needed, so none is paid for.
        _record(reminder, ReminderAttempt.Outcome.SENT, now, provider_id=provider_id)
        Reminder.objects.filter(pk=reminder_id).update(
            status=ReminderStatus.SENT, sent_at=now, attempts=reminder.attempts + 1, last_error=""
        )

    _outlasting_reconnects(record_sent)
    logger.info("Reminder %s sent (%s).", reminder_id, reminder.channel)
    return ReminderStatus.SENT


def _outlasting_reconnects(write: Callable[[], None]) -> None:
    """Run `write` once the provider has the message: if the database dropped the
    connection meanwhile (a restart or failover), reconnect and write again rather
    than leave the row `sending` to be sent a second time."""
    for attempt in range(RECORD_TRIES):
        try:
            write()
            return
        except (OperationalError, InterfaceError):
            if attempt == RECORD_TRIES - 1 or connection.in_atomic_block:
                raise
            logger.warning("Database connection lost while recording a sent reminder; reconnecting.")
            connection.close()  # the next query opens a new connection
            time.sleep(RECORD_PAUSE * 2**attempt)


def _outdated(reminder: Reminder) -> bool:
    session = reminder.session
    if reminder.kind == ReminderKind.CANCELLED:
        return False
    return reminder.session_version != session.version or not session.is_live


def _record(
    reminder: Reminder, outcome: str, now: dt.datetime, *, error: str = "", provider_id: str = ""
) -> None:
    ReminderAttempt.objects.create(
        reminder=reminder, at=now, outcome=outcome, error=error[:300], provider_id=(provider_id or "")[:100]
    )


def _record_failure(reminder: Reminder, exc: TransportError, now: dt.datetime) -> str:
    attempts = reminder.attempts + 1
    error = str(exc)[:300]
    if exc.permanent or attempts >= MAX_ATTEMPTS:
        _record(
            reminder,
            ReminderAttempt.Outcome.PERMANENT if exc.permanent else ReminderAttempt.Outcome.TRANSIENT,
            now,
            error=error,
        )
        Reminder.objects.filter(pk=reminder.pk).update(
            status=ReminderStatus.FAILED, attempts=attempts, last_error=error, claim=None
        )
        logger.warning("Reminder %s failed for good after %d attempt(s).", reminder.pk, attempts)
        return ReminderStatus.FAILED
    _record(reminder, ReminderAttempt.Outcome.TRANSIENT, now, error=error)
    Reminder.objects.filter(pk=reminder.pk).update(
        status=ReminderStatus.PENDING,
        attempts=attempts,
        last_error=error,
        send_after=now + FIRST_BACKOFF * 2 ** (attempts - 1),
        claim=None,
        claimed_at=None,
    )
    logger.info("Reminder %s will be retried (attempt %d).", reminder.pk, attempts)
    return ReminderStatus.PENDING
