"""The reminder outbox: one row per (session, version, kind, offset, channel).

Reminders are rows, never timers: a periodic sweep claims the rows that are
due with a conditional UPDATE, so a lost broker message, a restarted worker or
a second beat can neither lose nor double a reminder.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q

from infusions.models.sessions import InfusionSession

__all__ = [
    "LinkUse",
    "Reminder",
    "ReminderAttempt",
    "ReminderChannelKind",
    "ReminderKind",
    "ReminderStatus",
]


class ReminderKind(models.TextChoices):
    BOOKED = "booked", "Booked"
    UPCOMING = "upcoming", "Upcoming"
    RESCHEDULED = "rescheduled", "Rescheduled"
    CANCELLED = "cancelled", "Cancelled"


class ReminderChannelKind(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class ReminderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    SKIPPED = "skipped", "Skipped"


OPEN_STATUSES = (ReminderStatus.PENDING, ReminderStatus.QUEUED)


class ReminderQuerySet(models.QuerySet):
    def due(self, now: dt.datetime) -> ReminderQuerySet:
        return self.filter(status=ReminderStatus.PENDING, send_after__lte=now)

    def open(self) -> ReminderQuerySet:
        """Not yet handed to a transport: these can still be cancelled or re-dated."""
        return self.filter(status__in=OPEN_STATUSES)

    def stale(self, before: dt.datetime) -> ReminderQuerySet:
        """Claimed but not finished since `before`: the worker or its message was lost."""
        return self.filter(status__in=[ReminderStatus.QUEUED, ReminderStatus.SENDING], claimed_at__lt=before)


class Reminder(models.Model):
    session = models.ForeignKey(InfusionSession, on_delete=models.CASCADE, related_name="reminders")
    session_version = models.PositiveIntegerField()
    kind = models.CharField(max_length=12, choices=ReminderKind.choices)
    offset_hours = models.PositiveSmallIntegerField(
        default=0, help_text="Hours before the start, for upcoming reminders; 0 otherwise."
    )
    channel = models.CharField(max_length=5, choices=ReminderChannelKind.choices)
    status = models.CharField(max_length=10, choices=ReminderStatus.choices, default=ReminderStatus.PENDING)
    due_at = models.DateTimeField(help_text="When it is meant to go out (UTC), after quiet hours.")
    send_after = models.DateTimeField(
        help_text="Not before this instant: the due time, or a retry's backoff."
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim = models.UUIDField(null=True, blank=True, help_text="The sweep, then the send, that claimed it.")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ReminderQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["status", "send_after"], name="reminder_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "session_version", "kind", "offset_hours", "channel"],
                name="reminder_once_per_session_version_kind_channel",
            ),
            models.CheckConstraint(condition=Q(kind__in=ReminderKind.values), name="reminder_kind_valid"),
            models.CheckConstraint(
                condition=Q(channel__in=ReminderChannelKind.values), name="reminder_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ReminderStatus.values), name="reminder_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind="upcoming", offset_hours__gt=0) | (~Q(kind="upcoming") & Q(offset_hours=0)),
                name="reminder_offset_only_for_upcoming",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.channel} for session {self.session_id} v{self.session_version}: {self.status}"
        )


class ReminderAttempt(models.Model):
    """One try at handing a reminder to its transport."""

    class Outcome(models.TextChoices):
        SENT = "sent", "Sent"
        TRANSIENT = "transient", "Transient error"
        PERMANENT = "permanent", "Permanent error"

    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    error = models.CharField(max_length=300, blank=True)
    provider_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["reminder", "at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.outcome}"


class LinkUse(models.Model):
    """A reminder link that has been used: each works once."""

    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token.")
    session = models.ForeignKey(InfusionSession, on_delete=models.CASCADE, related_name="link_uses")
    action = models.CharField(max_length=12)
    used_at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True, help_text="The patient's reason or wished-for times.")

    class Meta:
        ordering = ["-used_at"]

    def __str__(self) -> str:
        return f"{self.action} on session {self.session_id} at {self.used_at:%Y-%m-%d %H:%M}"
