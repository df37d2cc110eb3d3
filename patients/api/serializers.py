from __future__ import annotations

import datetime as dt

from django.utils import timezone
from rest_framework import serializers

from patients.models import Patient, PatientWeight, ReminderChannel


class PatientSerializer(serializers.ModelSerializer):
    latest_weight_kg = serializers.DecimalField(
        max_digits=4, decimal_places=1, read_only=True, allow_null=True, coerce_to_string=False
    )
    latest_weight_on = serializers.DateField(read_only=True, allow_null=True)
    height_cm = serializers.DecimalField(
        max_digits=4,
        decimal_places=1,
        min_value=100,
        max_value=250,
        allow_null=True,
        required=False,
        coerce_to_string=False,
    )
    quiet_hours_start = serializers.TimeField(format="%H:%M", allow_null=True, required=False)
    quiet_hours_end = serializers.TimeField(format="%H:%M", allow_null=True, required=False)
    tolerated_max_rate_mg_kg_min = serializers.DecimalField(
        max_digits=6, decimal_places=3, read_only=True, allow_null=True, coerce_to_string=False
    )

    class Meta:
        model = Patient
        fields = [
            "id",
            "mrn",
            "given_name",
            "family_name",
            "date_of_birth",
            "sex",
            "height_cm",
            "time_zone",
            "email",
            "phone",
            "reminder_channel",
            "quiet_hours_start",
            "quiet_hours_end",
            "iga_status",
            "thrombosis_risk",
            "renal_risk",
            "diabetes",
            "tolerated_max_rate_mg_kg_min",
            "latest_weight_kg",
            "latest_weight_on",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def validate_mrn(self, value: str) -> str:
        value = value.strip()
        others = Patient.objects.filter(mrn__iexact=value)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError("Another patient already has this MRN.")
        return value

    def validate_date_of_birth(self, value: dt.date) -> dt.date:
        if value > timezone.localdate():
            raise serializers.ValidationError("The date of birth is in the future.")
        if value.year < 1900:
            raise serializers.ValidationError("The date of birth is before 1900.")
        return value

    def validate(self, attrs: dict) -> dict:
        start = attrs.get("quiet_hours_start", getattr(self.instance, "quiet_hours_start", None))
        end = attrs.get("quiet_hours_end", getattr(self.instance, "quiet_hours_end", None))
        if (start is None) != (end is None):
            raise serializers.ValidationError(
                {"quiet_hours_end": "Give both ends of the quiet hours, or neither."}
            )
        channel = attrs.get(
            "reminder_channel", getattr(self.instance, "reminder_channel", ReminderChannel.EMAIL)
        )
        email = attrs.get("email", getattr(self.instance, "email", ""))
        phone = attrs.get("phone", getattr(self.instance, "phone", ""))
        if channel in ("email", "both") and not email:
            raise serializers.ValidationError({"email": "Email reminders need an email address."})
        if channel in ("sms", "both") and not phone:
            raise serializers.ValidationError({"phone": "SMS reminders need a phone number."})
        return attrs


class PatientWeightSerializer(serializers.ModelSerializer):
    weight_kg = serializers.DecimalField(
        max_digits=4, decimal_places=1, min_value=1, max_value=350, coerce_to_string=False
    )
    measured_on = serializers.DateField(required=False)

    class Meta:
        model = PatientWeight
        fields = ["id", "weight_kg", "measured_on", "created_at"]
        read_only_fields = ["created_at"]

    def validate_measured_on(self, value: dt.date) -> dt.date:
        if value > timezone.localdate() + dt.timedelta(days=1):
            raise serializers.ValidationError("A weight cannot be measured in the future.")
        return value


class PreferencesSerializer(PatientSerializer):
    """What a patient may change about their own reminders."""

    quiet_hours_start = serializers.TimeField(format="%H:%M", allow_null=True, required=False)
    quiet_hours_end = serializers.TimeField(format="%H:%M", allow_null=True, required=False)

    class Meta:
        model = Patient
        fields = ["reminder_channel", "quiet_hours_start", "quiet_hours_end", "phone", "email"]


class CalendarFeedSerializer(serializers.Serializer):
    url = serializers.URLField(
        read_only=True,
        help_text="The private address a calendar app subscribes to; anyone holding it sees the appointments.",
    )
