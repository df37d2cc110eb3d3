"""Infusion plans: a patient's series of IVIG courses."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from infusions.models.catalogue import Protocol
from infusions.models.centers import Center
from patients.models import Patient


class Interval(models.TextChoices):
    BIWEEKLY = "biweekly", "Every 2 weeks"
    EVERY_4_WEEKS = "every_4_weeks", "Every 4 weeks"
    MONTHLY = "monthly", "Monthly (same day of month)"
    EVERY_N_DAYS = "every_n_days", "Every N days"


class DosingWeightMethod(models.TextChoices):
    ACTUAL = "actual", "Actual weight"
    IDEAL = "ideal", "Ideal body weight (Devine), not above actual"
    ADJUSTED = "adjusted", "Adjusted body weight, not above actual"
    AUTO = "auto", "Adjusted when BMI ≥ 30 or > 120% of IBW, else actual"


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class InfusionPlanQuerySet(models.QuerySet):
    def visible_to(self, user) -> InfusionPlanQuerySet:
        from patients.roles import is_staff_member

        if is_staff_member(user):
            return self
        if user.is_authenticated:
            return self.filter(patient__user=user)
        return self.none()


class InfusionPlan(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="plans")
    protocol = models.ForeignKey(Protocol, on_delete=models.PROTECT, related_name="plans")
    center = models.ForeignKey(Center, on_delete=models.PROTECT, related_name="plans")
    dose_g_per_kg = models.DecimalField("dose per course (g/kg)", max_digits=4, decimal_places=2)
    days_per_course = models.PositiveSmallIntegerField(default=1)
    interval = models.CharField(max_length=16, choices=Interval.choices, default=Interval.EVERY_4_WEEKS)
    interval_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Only for every N days: 7 to 84."
    )
    start_date = models.DateField()
    course_count = models.PositiveSmallIntegerField()
    preferred_start_time = models.TimeField(default=dt.time(9, 0), help_text="Center-local time.")
    time_flexibility_minutes = models.PositiveSmallIntegerField(default=60)
    window_days = models.PositiveSmallIntegerField(
        default=3, help_text="How many days a course may move to find room."
    )
    dosing_weight_method = models.CharField(
        max_length=8, choices=DosingWeightMethod.choices, default=DosingWeightMethod.ACTUAL
    )
    premedication = models.JSONField(
        default=list,
        blank=True,
        help_text='Orders: [{"drug", "dose", "route", "minutes_before"}].',
    )
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = InfusionPlanQuerySet.as_manager()

    class Meta:
        ordering = ["-start_date", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(dose_g_per_kg__gt=0, dose_g_per_kg__lte=3), name="plan_dose_0_to_3_g_per_kg"
            ),
            models.CheckConstraint(
                condition=Q(days_per_course__gte=1, days_per_course__lte=5),
                name="plan_days_per_course_1_to_5",
            ),
            models.CheckConstraint(
                condition=Q(course_count__gte=1, course_count__lte=52), name="plan_course_count_1_to_52"
            ),
            models.CheckConstraint(
                # interval_days IS NOT NULL too: a NULL would make the check "unknown", which passes.
                condition=(
                    Q(interval="every_n_days")
                    & Q(interval_days__isnull=False, interval_days__gte=7, interval_days__lte=84)
                )
                | (~Q(interval="every_n_days") & Q(interval_days__isnull=True)),
                name="plan_interval_days_only_for_every_n_days",
            ),
            models.CheckConstraint(condition=Q(interval__in=Interval.values), name="plan_interval_valid"),
            models.CheckConstraint(condition=Q(status__in=PlanStatus.values), name="plan_status_valid"),
            models.CheckConstraint(
                condition=Q(dosing_weight_method__in=DosingWeightMethod.values),
                name="plan_dosing_weight_method_valid",
            ),
            models.CheckConstraint(condition=Q(window_days__lte=14), name="plan_window_at_most_14_days"),
            models.CheckConstraint(
                condition=Q(time_flexibility_minutes__lte=720), name="plan_flexibility_at_most_12_hours"
            ),
        ]

    def __str__(self) -> str:
        return f"Plan {self.pk}: {self.patient.mrn}, {self.protocol}"

    @property
    def product(self):
        return self.protocol.product

    @property
    def indication(self):
        return self.protocol.indication

    @property
    def interval_length_days(self) -> int | None:
        """Days between course starts; None for monthly (calendar months)."""
        return {
            Interval.BIWEEKLY: 14,
            Interval.EVERY_4_WEEKS: 28,
            Interval.EVERY_N_DAYS: self.interval_days,
        }.get(self.interval)

    def clean(self) -> None:
        if self.interval == Interval.EVERY_N_DAYS and self.interval_days is None:
            raise ValidationError({"interval_days": "Every N days needs interval_days (7 to 84)."})
        if self.interval != Interval.EVERY_N_DAYS and self.interval_days is not None:
            raise ValidationError({"interval_days": "Only an every-N-days plan takes interval_days."})
        if self.dose_g_per_kg is not None and not Decimal("0") < self.dose_g_per_kg <= Decimal("3"):
            raise ValidationError(
                {"dose_g_per_kg": "The dose per course must be above 0 and at most 3 g/kg."}
            )
