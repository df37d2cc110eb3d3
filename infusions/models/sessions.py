"""Infusion sessions: one chair booking for one day of one course."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from infusions.models.centers import Center, Chair
from infusions.models.plans import InfusionPlan
from patients.models import Patient


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CONFIRMED = "confirmed", "Confirmed"
    CHECKED_IN = "checked_in", "Checked in"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No show"


# Cancelled and no-show sessions free their chair; every other status holds it.
RELEASED_STATUSES = (SessionStatus.CANCELLED, SessionStatus.NO_SHOW)

# The status machine: action -> (statuses it may start from, status it leads to).
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "confirm": (frozenset({SessionStatus.SCHEDULED}), SessionStatus.CONFIRMED),
    "check_in": (frozenset({SessionStatus.SCHEDULED, SessionStatus.CONFIRMED}), SessionStatus.CHECKED_IN),
    "start": (frozenset({SessionStatus.CHECKED_IN}), SessionStatus.IN_PROGRESS),
    "complete": (frozenset({SessionStatus.IN_PROGRESS}), SessionStatus.COMPLETED),
    "cancel": (
        frozenset({SessionStatus.SCHEDULED, SessionStatus.CONFIRMED, SessionStatus.CHECKED_IN}),
        SessionStatus.CANCELLED,
    ),
    "no_show": (frozenset({SessionStatus.SCHEDULED, SessionStatus.CONFIRMED}), SessionStatus.NO_SHOW),
}
ACTION_WORDS = {
    "confirm": "confirmed",
    "check_in": "checked in",
    "start": "started",
    "complete": "completed",
    "cancel": "cancelled",
    "no_show": "marked a no-show",
}
# The moment each action happened is kept on the session: chairside entries are
# checked against it (nothing before check-in, nothing after completion).
ACTION_TIMESTAMPS = {"check_in": "checked_in_at", "start": "started_at", "complete": "completed_at"}
RESCHEDULABLE = frozenset({SessionStatus.SCHEDULED, SessionStatus.CONFIRMED})
# What the day board reads of a session, its patient and its chair (`for_board()`).
BOARD_COLUMNS = (
    *("id", "status", "needs_rebooking", "start", "end", "center_id", "chair_id", "patient_id"),
    *("patient__family_name", "patient__given_name", "patient__mrn"),
    *("chair__name", "chair__is_active", "chair__center_id"),
)


class InfusionSessionQuerySet(models.QuerySet):
    def visible_to(self, user) -> InfusionSessionQuerySet:
        from patients.roles import is_staff_member

        if is_staff_member(user):
            return self
        if user.is_authenticated:
            return self.filter(patient__user=user)
        return self.none()

    def live(self) -> InfusionSessionQuerySet:
        """Sessions that hold their chair (not cancelled, not a no-show)."""
        return self.exclude(status__in=RELEASED_STATUSES)

    def needing_rebooking(self) -> InfusionSessionQuerySet:
        """Booked sessions whose re-planned chair time (after a reaction) no longer fits."""
        return self.filter(
            needs_rebooking=True, status__in=(SessionStatus.SCHEDULED, SessionStatus.CONFIRMED)
        )

    def overlapping(self, start: dt.datetime, end: dt.datetime) -> InfusionSessionQuerySet:
        """Half-open [start, end): a session ending at 10:00 does not overlap one starting then."""
        return self.filter(start__lt=end, end__gt=start)

    def for_board(self) -> InfusionSessionQuerySet:
        """With the patient and chair the day board shows, and only the columns it reads."""
        return self.select_related("patient", "chair").only(*BOARD_COLUMNS)

    def on_day(self, day: dt.date, center: Center) -> InfusionSessionQuerySet:
        """Sessions of `center` starting on `day` in the center's own calendar."""
        begin = dt.datetime.combine(day, dt.time.min, tzinfo=center.zone)
        finish = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=center.zone)
        return self.filter(center=center, start__gte=begin, start__lt=finish)


class InfusionSession(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="sessions")
    plan = models.ForeignKey(
        InfusionPlan, on_delete=models.PROTECT, null=True, blank=True, related_name="sessions"
    )
    center = models.ForeignKey(Center, on_delete=models.PROTECT, related_name="sessions")
    chair = models.ForeignKey(Chair, on_delete=models.PROTECT, related_name="sessions")
    start = models.DateTimeField(help_text="Stored in UTC; planned in the center's local time.")
    end = models.DateTimeField()
    status = models.CharField(max_length=12, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED)
    version = models.PositiveIntegerField(default=1, help_text="Grows by one on every reschedule.")
    course = models.PositiveSmallIntegerField(null=True, blank=True)
    day = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Day of the course, 1 to 5.")
    grams = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    volume_ml = models.DecimalField(max_digits=7, decimal_places=1, null=True, blank=True)
    chair_minutes = models.PositiveSmallIntegerField()
    ladder = models.JSONField(
        default=list, blank=True, help_text="Snapshot of the planned rate ladder at booking."
    )
    checked_in_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="When the infusion started.")
    completed_at = models.DateTimeField(null=True, blank=True)
    # Chairside outcomes (infusions/chairside/): what went in, and what the
    # scheduler must look at after a reaction changed the patient's cap.
    grams_infused = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="From the rate log at completion: the integral of the rate × concentration.",
    )
    infusion_warnings = models.JSONField(
        default=list,
        blank=True,
        help_text="Warnings recorded at completion, e.g. grams off the plan by > 5%.",
    )
    needs_rebooking = models.BooleanField(
        default=False, help_text="Re-planned after a cap change, the chair time no longer fits the booking."
    )
    rebooking_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = InfusionSessionQuerySet.as_manager()

    class Meta:
        ordering = ["start", "chair_id"]
        indexes = [
            models.Index(fields=["center", "start"], name="session_center_start"),
            models.Index(fields=["chair", "start"], name="session_chair_start"),
            models.Index(fields=["patient", "start"], name="session_patient_start"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="session_end_after_start"),
            models.CheckConstraint(condition=Q(version__gte=1), name="session_version_positive"),
            models.CheckConstraint(condition=Q(chair_minutes__gt=0), name="session_chair_minutes_positive"),
            models.CheckConstraint(
                condition=Q(day__isnull=True) | Q(day__gte=1, day__lte=5), name="session_day_1_to_5"
            ),
            models.CheckConstraint(
                condition=Q(course__isnull=True) | Q(course__gte=1), name="session_course_positive"
            ),
            models.CheckConstraint(
                condition=Q(grams__isnull=True) | Q(grams__gt=0), name="session_grams_positive"
            ),
            models.CheckConstraint(
                condition=Q(volume_ml__isnull=True) | Q(volume_ml__gt=0), name="session_volume_positive"
            ),
            models.CheckConstraint(condition=Q(status__in=SessionStatus.values), name="session_status_valid"),
        ]

    def __str__(self) -> str:
        return f"Session {self.pk} {self.start:%Y-%m-%d %H:%M} UTC, {self.chair}"

    def next_status(self, action: str) -> str | None:
        """The status `action` leads to from this one, or None if the machine forbids it."""
        sources, target = TRANSITIONS[action]
        return target if self.status in sources else None

    def allowed_actions(self) -> list[str]:
        return [action for action, (sources, _) in TRANSITIONS.items() if self.status in sources]

    def can_reschedule(self) -> bool:
        return self.status in RESCHEDULABLE

    @property
    def is_live(self) -> bool:
        return self.status not in RELEASED_STATUSES

    @property
    def local_start(self) -> dt.datetime:
        return self.start.astimezone(self.center.zone)

    @property
    def local_end(self) -> dt.datetime:
        return self.end.astimezone(self.center.zone)
