"""Infusion centers: their hours, closures, chairs and nurse staffing."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from patients.models import default_time_zone, validate_time_zone


def default_reminder_offsets() -> list[int]:
    return [72, 24]


class Center(models.Model):
    name = models.CharField(max_length=120, unique=True)
    short_name = models.CharField(
        max_length=30, help_text="Used in patient messages, which carry nothing clinical."
    )
    time_zone = models.CharField(max_length=64, default=default_time_zone, validators=[validate_time_zone])
    slot_minutes = models.PositiveSmallIntegerField(default=15)
    buffer_before_minutes = models.PositiveSmallIntegerField(
        default=30, help_text="Check-in, vitals, IV access and premedication."
    )
    buffer_after_minutes = models.PositiveSmallIntegerField(default=30, help_text="Observation after.")
    buffer_after_first_minutes = models.PositiveSmallIntegerField(
        default=60,
        help_text="Observation after a first infusion, a product switch or a gap of more than 8 weeks.",
    )
    default_nurses_on_duty = models.PositiveSmallIntegerField(
        default=2, help_text="Nurses on duty on a day with no staffing entry."
    )
    patients_per_nurse = models.PositiveSmallIntegerField(default=4)
    reminder_offsets_hours = models.JSONField(
        default=default_reminder_offsets, help_text="Hours before the start, e.g. [72, 24]."
    )
    quiet_hours_start = models.TimeField(default=dt.time(21, 0))
    quiet_hours_end = models.TimeField(default=dt.time(8, 0))

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(slot_minutes__gte=5, slot_minutes__lte=60), name="center_slot_5_to_60"
            ),
            models.CheckConstraint(condition=Q(patients_per_nurse__gte=1), name="center_patients_per_nurse"),
            models.CheckConstraint(
                condition=Q(buffer_after_first_minutes__gte=F("buffer_after_minutes")),
                name="center_first_buffer_not_shorter",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def clean(self) -> None:
        offsets = self.reminder_offsets_hours
        if not isinstance(offsets, list) or not all(
            isinstance(h, int) and not isinstance(h, bool) and 1 <= h <= 24 * 14 for h in offsets
        ):
            raise ValidationError(
                {"reminder_offsets_hours": "Give whole hours between 1 and 336, e.g. [72, 24]."}
            )


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class OpeningHours(models.Model):
    """A weekday the center is open; a weekday with no row is closed."""

    center = models.ForeignKey(Center, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["center", "weekday"]
        verbose_name_plural = "opening hours"
        constraints = [
            models.UniqueConstraint(fields=["center", "weekday"], name="opening_hours_one_per_weekday"),
            models.CheckConstraint(condition=Q(closes__gt=F("opens")), name="opening_hours_close_after_open"),
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="opening_hours_weekday"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"


class ClosedDate(models.Model):
    center = models.ForeignKey(Center, on_delete=models.CASCADE, related_name="closed_dates")
    date = models.DateField()
    reason = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["center", "date"]
        constraints = [models.UniqueConstraint(fields=["center", "date"], name="closed_date_unique")]

    def __str__(self) -> str:
        return f"{self.date} {self.reason}".strip()


class Chair(models.Model):
    center = models.ForeignKey(Center, on_delete=models.PROTECT, related_name="chairs")
    name = models.CharField(max_length=40)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["center", "name"]
        constraints = [
            models.UniqueConstraint(fields=["center", "name"], name="chair_name_unique_per_center")
        ]

    def __str__(self) -> str:
        return f"{self.center.short_name} {self.name}"


class StaffingDay(models.Model):
    """Nurses on duty at a center on one local date.

    Booking locks this row (`select_for_update`) to check nurse capacity, so
    it also serialises bookings for a center's day; booking creates it, with
    no figure of its own, when the day has none.
    """

    center = models.ForeignKey(Center, on_delete=models.CASCADE, related_name="staffing_days")
    date = models.DateField()
    nurses_on_duty = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Blank: the center's default."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["center", "date"]
        constraints = [models.UniqueConstraint(fields=["center", "date"], name="staffing_day_unique")]

    def __str__(self) -> str:
        nurses = "default" if self.nurses_on_duty is None else self.nurses_on_duty
        return f"{self.date}: {nurses} nurses"

    @property
    def nurses(self) -> int:
        return self.center.default_nurses_on_duty if self.nurses_on_duty is None else self.nurses_on_duty
