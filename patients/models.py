"""Patients, their weight history, contact and reminder preferences."""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from decimal import Decimal
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from simple_history.models import HistoricalRecords

E164 = RegexValidator(r"^\+[1-9]\d{6,14}$", "Enter the phone number in E.164 form, e.g. +12125550100.")


def validate_time_zone(value: str) -> None:
    if value not in _time_zones():
        # Quote no more than a zone name's length: the message goes back to whoever sent a megabyte.
        raise ValidationError(f"{value[:64]!r} is not an IANA time zone such as America/New_York.")


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def default_time_zone() -> str:
    return settings.CHAIRSIDE_DEFAULT_TIME_ZONE


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"


class IgAStatus(models.TextChoices):
    NORMAL = "none", "No known IgA deficiency"
    DEFICIENT = "deficient", "IgA deficient"
    ANTI_IGA = "anti_iga", "IgA deficient with anti-IgA antibodies"


class ReminderChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    BOTH = "both", "Email and SMS"
    NONE = "none", "No reminders"


# secrets.token_urlsafe(32): 256 random bits in 43 URL-safe characters.
CALENDAR_TOKEN_BYTES = 32
CALENDAR_TOKEN_LENGTH = 64


class PatientQuerySet(models.QuerySet):
    def visible_to(self, user) -> PatientQuerySet:
        """Staff see every patient; a patient only their own record."""
        from patients.roles import is_staff_member

        if is_staff_member(user):
            return self
        if user.is_authenticated:
            return self.filter(user=user)
        return self.none()

    def search(self, text: str) -> PatientQuerySet:
        text = text.strip()
        if not text:
            return self
        return self.filter(
            Q(mrn__iexact=text) | Q(family_name__icontains=text) | Q(given_name__icontains=text)
        )

    def by_calendar_token(self, token: str) -> Patient | None:
        """The patient whose calendar feed `token` opens, while their portal account is active."""
        if not token or len(token) > CALENDAR_TOKEN_LENGTH:
            return None
        patient = self.filter(calendar_token=token, user__is_active=True).first()
        # The database may compare without regard to case (MySQL collations do);
        # the token is a secret, so the final check is exact and constant-time.
        if patient is None or not constant_time_compare(patient.calendar_token, token):
            return None
        return patient

    def with_latest_weight(self) -> PatientQuerySet:
        latest = PatientWeight.objects.filter(patient=models.OuterRef("pk")).order_by("-measured_on", "-id")
        return self.annotate(
            latest_weight_kg=models.Subquery(latest.values("weight_kg")[:1]),
            latest_weight_on=models.Subquery(latest.values("measured_on")[:1]),
        )


class Patient(models.Model):
    mrn = models.CharField("MRN", max_length=32, unique=True, help_text="Medical record number.")
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=6, choices=Sex.choices, help_text="Sex for dosing (Devine IBW).")
    height_cm = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("100")), MaxValueValidator(Decimal("250"))],
    )
    time_zone = models.CharField(max_length=64, default=default_time_zone, validators=[validate_time_zone])
    email = models.EmailField(blank=True)
    phone = models.CharField(
        max_length=16, blank=True, validators=[E164], help_text="E.164, e.g. +12125550100."
    )
    reminder_channel = models.CharField(
        max_length=5, choices=ReminderChannel.choices, default=ReminderChannel.EMAIL
    )
    quiet_hours_start = models.TimeField(
        null=True, blank=True, help_text="No reminders from this local time; blank uses the center's."
    )
    quiet_hours_end = models.TimeField(null=True, blank=True, help_text="… until this local time.")
    iga_status = models.CharField("IgA", max_length=10, choices=IgAStatus.choices, default=IgAStatus.NORMAL)
    thrombosis_risk = models.BooleanField(default=False)
    renal_risk = models.BooleanField(default=False)
    diabetes = models.BooleanField(
        default=False, help_text="Maltose in some products falsely raises GDH-PQQ glucose-meter readings."
    )
    tolerated_max_rate_mg_kg_min = models.DecimalField(
        "tolerated maximum rate (mg/kg/min)",
        max_digits=6,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="The patient's own cap after a reaction; blank when none.",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="patient",
        help_text="The patient's portal account.",
    )
    calendar_token = models.CharField(
        max_length=CALENDAR_TOKEN_LENGTH,
        unique=True,
        null=True,
        blank=True,
        editable=False,
        help_text="The secret in the patient's calendar feed address; blank when the feed is off.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The feed token is a credential, not clinical data: kept out of the audit history.
    history = HistoricalRecords(excluded_fields=["calendar_token"])
    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["family_name", "given_name", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(mrn=""), name="patient_mrn_not_blank"),
            # Search matches MRNs whatever their case, so uniqueness must too.
            models.UniqueConstraint(Lower("mrn"), name="patient_mrn_unique_any_case"),
            models.CheckConstraint(
                condition=Q(height_cm__isnull=True) | Q(height_cm__gte=100, height_cm__lte=250),
                name="patient_height_plausible",
            ),
            models.CheckConstraint(
                condition=Q(tolerated_max_rate_mg_kg_min__isnull=True)
                | Q(tolerated_max_rate_mg_kg_min__gt=0),
                name="patient_tolerated_rate_positive",
            ),
            models.CheckConstraint(
                condition=Q(quiet_hours_start__isnull=True, quiet_hours_end__isnull=True)
                | Q(quiet_hours_start__isnull=False, quiet_hours_end__isnull=False),
                name="patient_quiet_hours_both_or_neither",
            ),
            models.CheckConstraint(condition=Q(sex__in=Sex.values), name="patient_sex_valid"),
            models.CheckConstraint(
                condition=Q(reminder_channel__in=ReminderChannel.values),
                name="patient_reminder_channel_valid",
            ),
            models.CheckConstraint(condition=Q(iga_status__in=IgAStatus.values), name="patient_iga_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name} ({self.mrn})"

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def at_thrombosis_or_renal_risk(self) -> bool:
        return self.thrombosis_risk or self.renal_risk

    def today(self) -> dt.date:
        """The date in the patient's own time zone."""
        return timezone.localdate(timezone=ZoneInfo(self.time_zone))

    def issue_calendar_token(self) -> str:
        """A new feed token; the previous address, if any, stops working."""
        self._set_calendar_token(secrets.token_urlsafe(CALENDAR_TOKEN_BYTES))
        return self.calendar_token

    def calendar_feed_path(self) -> str | None:
        """The feed's path, /portal/calendar/<token>.ics, or None while the feed is off."""
        if not self.calendar_token:
            return None
        return reverse("portal-calendar", args=[self.calendar_token])

    def revoke_calendar_token(self) -> None:
        self._set_calendar_token(None)

    def _set_calendar_token(self, token: str | None) -> None:
        # An UPDATE rather than save(): the token is kept out of the audit
        # history, so a history row would record a change it cannot show.
        Patient.objects.filter(pk=self.pk).update(calendar_token=token)
        self.calendar_token = token

    def latest_weight(self) -> PatientWeight | None:
        return self.weights.order_by("-measured_on", "-id").first()

    def clean(self) -> None:
        if (self.quiet_hours_start is None) != (self.quiet_hours_end is None):
            raise ValidationError("Give both ends of the quiet hours, or neither.")
        if self.date_of_birth and self.date_of_birth > timezone.localdate():
            raise ValidationError({"date_of_birth": "The date of birth is in the future."})


class PatientWeight(models.Model):
    """One measured weight. The dose uses the latest; the history is the trend."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="weights")
    weight_kg = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("1")), MaxValueValidator(Decimal("350"))],
    )
    measured_on = models.DateField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-measured_on", "-id"]
        get_latest_by = ["measured_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(weight_kg__gt=0, weight_kg__lte=350), name="weight_plausible"),
        ]

    def __str__(self) -> str:
        return f"{self.weight_kg} kg on {self.measured_on}"
