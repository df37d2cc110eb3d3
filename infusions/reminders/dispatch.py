"""Sending what is due: claim rows, hand each to its transport, record the attempt.

A sweep (beat every 60 s, or `manage.py dispatch_reminders`) returns stale
claims to the queue, then claims due rows with a conditional UPDATE under a
claim token, so two sweeps never claim one row, and hands them on in chunks
of up to SEND_CHUNK ids (one task each). The send claims its rows again
(queued -> sending), so a chunk delivered twice by the broker sends once, and
records the chunk's sent rows with their attempts together when it ends.
The one window for a duplicate: a worker killed after the provider accepted
a message but before its chunk was recorded; ten minutes later those rows are
returned to the queue and sent again, each once more at most.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable

from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from infusions.models import (
    InfusionSession,
    Reminder,
    ReminderAttempt,
    ReminderKind,
    ReminderStatus,
    SessionStatus,
)
from infusions.reminders.transports import TransportError, transport_for

logger = logging.getLogger(__name__)

STALE_AFTER = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 5
FIRST_BACKOFF = dt.timedelta(minutes=1)  # then 2, 4, 8 minutes
BATCH = 1000
# Ids per send task. Each task claims, reads and records its chunk in a few
# statements instead of four per reminder (on PostgreSQL each statement is a
# round trip, and each write a WAL flush); a chunk is also the most a killed
# worker can leave sent-but-unrecorded. 20 SMS through a provider at ~0.5 s
# each stay well inside the task's soft time limit.
SEND_CHUNK = 20
# A chunk that has been sending this long (a provider timing out on every
# message) gives its unsent rows back to the next sweep, well before the
# task's soft time limit (90 s) would interrupt it in the middle of a send.
CHUNK_SECONDS = 45
# A chunk sending for longer than this reads its sessions again before the next
# send, so a session cancelled or moved meanwhile is not reminded of.
RECHECK_SECONDS = 1.0
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
    *, enqueue: Callable[[list[int]], object], now: dt.datetime | None = None, limit: int = BATCH
) -> int:
    """One sweep; `enqueue(ids)` runs for each chunk after the claim commits. Returns how many were claimed."""
    now = now or timezone.now()
    reminders_requeue_stale(now)
    with transaction.atomic():
        ids = reminders_claim_due(now, limit=limit)
        transaction.on_commit(lambda: _enqueue_all(ids, enqueue))
    return len(ids)


def _enqueue_all(ids: list[int], enqueue: Callable[[list[int]], object]) -> None:
    for first in range(0, len(ids), SEND_CHUNK):
        chunk = ids[first : first + SEND_CHUNK]
        try:
            enqueue(chunk)
        except (BrokerError, OSError) as exc:
            # The broker is down: give the rows back now rather than wait for the stale sweep.
            Reminder.objects.filter(pk__in=chunk, status=ReminderStatus.QUEUED).update(
                status=ReminderStatus.PENDING, claim=None, claimed_at=None
            )
            logger.warning(
                "Broker unavailable (%s); %d reminder(s) returned to the queue.",
                type(exc).__name__,
                len(chunk),
            )


def reminders_send(reminder_ids: list[int]) -> dict[int, str]:
    """Send a chunk of claimed reminders; returns what became of each one sent for.

    Rows this call cannot claim (already sent, cancelled, or being sent by
    another delivery of the same task) are "not claimed" and left alone.
    """
    claim = uuid.uuid4()
    Reminder.objects.filter(pk__in=reminder_ids, status=ReminderStatus.QUEUED).update(
        status=ReminderStatus.SENDING, claim=claim, claimed_at=timezone.now()
    )
    reminders = list(
        Reminder.objects.filter(claim=claim)
        .select_related("session__center", "session__patient")
        .only(*SEND_FIELDS)
        .order_by("id")
    )
    outcomes = dict.fromkeys(reminder_ids, "not claimed")
    _cancel_outdated(reminders, outcomes)
    sent: list[ReminderAttempt] = []
    began = checked = time.monotonic()
    n = 0
    try:
        for n, reminder in enumerate(reminders):
            if n and time.monotonic() - began > CHUNK_SECONDS:  # each chunk sends at least one
                _give_back(reminders[n:], outcomes, claim, "Sending was slow")
                break
            if time.monotonic() - checked > RECHECK_SECONDS:
                # A slow chunk looks again: a session cancelled or moved meanwhile is not reminded.
                _cancel_outdated(reminders[n:], outcomes, reload=True)
                checked = time.monotonic()
            if outcomes[reminder.pk] != "not claimed":
                continue  # cancelled as outdated
            try:
                provider_id = transport_for(reminder.channel).send(reminder)
            except TransportError as exc:
                outcomes[reminder.pk] = _record_failure(reminder, exc, timezone.now())
                continue
            sent.append(
                _attempt(reminder, ReminderAttempt.Outcome.SENT, timezone.now(), provider_id=provider_id)
            )
            outcomes[reminder.pk] = ReminderStatus.SENT
    except BaseException:
        # A time limit or a bug: the row in hand may have reached its provider, so it waits
        # for the stale sweep; the rows not yet tried go back to the next sweep now.
        _give_back(reminders[n + 1 :], outcomes, claim, "Sending broke off")
        raise
    finally:
        # Whatever stopped the loop, what the providers took is recorded.
        if sent:
            _outlasting_reconnects(lambda: _record_sent(sent, claim))
            for attempt in sent:
                logger.info("Reminder %s sent (%s).", attempt.reminder_id, attempt.reminder.channel)
    return outcomes


def _cancel_outdated(reminders: list[Reminder], outcomes: dict[int, str], *, reload: bool = False) -> None:
    """Cancel the rows (not yet sent) whose session has moved on since they were planned."""
    waiting = [r for r in reminders if outcomes[r.pk] == "not claimed"]
    if reload:
        current = {
            pk: (version, status)
            for pk, version, status in InfusionSession.objects.filter(
                pk__in={r.session_id for r in waiting}
            ).values_list("pk", "version", "status")
        }
        # A session deleted meanwhile (booked in error) took its reminder rows with it: as good as cancelled.
        gone = (None, SessionStatus.CANCELLED)
        for reminder in waiting:
            reminder.session.version, reminder.session.status = current.get(reminder.session_id, gone)
    outdated = [r.pk for r in waiting if _outdated(r)]
    if outdated:
        Reminder.objects.filter(pk__in=outdated).update(status=ReminderStatus.CANCELLED)
        outcomes.update(dict.fromkeys(outdated, ReminderStatus.CANCELLED))


def _give_back(reminders: list[Reminder], outcomes: dict[int, str], claim: uuid.UUID, why: str) -> None:
    ids = [r.pk for r in reminders if outcomes[r.pk] == "not claimed"]
    if not ids:
        return
    # Only rows still under this claim: after ten minutes another sweep may have taken them.
    Reminder.objects.filter(pk__in=ids, status=ReminderStatus.SENDING, claim=claim).update(
        status=ReminderStatus.PENDING, claim=None, claimed_at=None
    )
    outcomes.update(dict.fromkeys(ids, ReminderStatus.PENDING))
    logger.warning("%s; %d reminder(s) returned to the queue for the next sweep.", why, len(ids))


def reminder_send(reminder_id: int) -> str:
    """Send one claimed reminder; returns what became of it."""
    return reminders_send([reminder_id])[reminder_id]


def _record_sent(attempts: list[ReminderAttempt], claim: uuid.UUID) -> None:
    # The attempts and the rows in one transaction: a crash before it commits
    # leaves the rows `sending`, which the stale sweep resends (the documented
    # duplicate window) and records then. A row another sweep has claimed since
    # (a worker paused for ten minutes) is that sweep's to record.
    with transaction.atomic():
        ReminderAttempt.objects.bulk_create(attempts)
        Reminder.objects.filter(pk__in=[a.reminder_id for a in attempts], claim=claim).update(
            status=ReminderStatus.SENT, sent_at=timezone.now(), attempts=F("attempts") + 1, last_error=""
        )


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


def _attempt(
    reminder: Reminder, outcome: str, at: dt.datetime, *, error: str = "", provider_id: str = ""
) -> ReminderAttempt:
    return ReminderAttempt(
        reminder=reminder, at=at, outcome=outcome, error=error[:300], provider_id=(provider_id or "")[:100]
    )


def _record(reminder: Reminder, outcome: str, now: dt.datetime, *, error: str = "") -> None:
    _attempt(reminder, outcome, now, error=error).save()


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
