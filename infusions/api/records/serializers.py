"""The chairside records' serializers: what each record shows, and what a new entry takes."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from infusions import chairside
from infusions.api.sessions import OffsetDateTimeField
from infusions.models import (
    SYMPTOM_CODES,
    LotUse,
    Premedication,
    PremedicationRoute,
    Product,
    RateChange,
    Reaction,
    ReactionAction,
    ReactionSeverity,
    VitalSigns,
)

MAX_ID = 2**63 - 1

# `status` is a plain string in these outputs: the session-status enum belongs to the Session
# component, and sharing it with more components breaks drf-spectacular's enum naming.
SESSION_STATUS_TEXT = "The session's status, as in Session.status."
# What the method fields below answer: null when there is nothing to say (no correction yet,
# no ladder position for a superseded rate).
NULLABLE_INT = serializers.IntegerField(allow_null=True)
NULLABLE_FLOAT = serializers.FloatField(allow_null=True)


# -- output --------------------------------------------------------------------------------


class EntrySerializer(serializers.ModelSerializer):
    """What every record shows; `at` in the center's time zone, with its offset."""

    KIND = ""
    kind = serializers.SerializerMethodField()
    at = serializers.SerializerMethodField()
    # Null once the user is deleted (SET_NULL), and for entries written without a user.
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    amended_by = serializers.SerializerMethodField()
    superseded = serializers.SerializerMethodField()

    class Meta:
        fields = [
            "kind",
            "id",
            "session",
            "at",
            "amends",
            "amended_by",
            "superseded",
            "reason",
            "recorded_by",
        ]
        read_only_fields = fields

    def get_kind(self, entry) -> str:
        return self.KIND

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_at(self, entry) -> str:
        return entry.at.astimezone(entry.session.center.zone).isoformat()

    @extend_schema_field(NULLABLE_INT)
    def get_amended_by(self, entry) -> int | None:
        newer = getattr(entry, "amended_by", None)
        return newer.pk if newer is not None else None

    def get_superseded(self, entry) -> bool:
        """True when a later correction replaced this entry."""
        return getattr(entry, "amended_by", None) is not None


def _decimal(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(coerce_to_string=False, read_only=True, **kwargs)


class RateChangeSerializer(EntrySerializer):
    KIND = "rate_change"
    rate_ml_per_hour = _decimal(max_digits=5, decimal_places=1)
    rate_mg_kg_min = _decimal(max_digits=7, decimal_places=4)
    dosing_weight_kg = _decimal(max_digits=5, decimal_places=1)
    restart = serializers.SerializerMethodField()
    ladder_minute = serializers.SerializerMethodField()
    planned_rate_mg_kg_min = serializers.SerializerMethodField()
    planned_rate_ml_per_hour = serializers.SerializerMethodField()

    class Meta(EntrySerializer.Meta):
        model = RateChange
        fields = [
            *EntrySerializer.Meta.fields,
            "rate_ml_per_hour",
            "rate_mg_kg_min",
            "dosing_weight_kg",
            "restart",
            "ladder_minute",
            "planned_rate_mg_kg_min",
            "planned_rate_ml_per_hour",
        ]
        read_only_fields = fields

    def _position(self, entry: RateChange) -> chairside.LadderPosition | None:
        return self.context.get("positions", {}).get(entry.pk)

    @extend_schema_field(serializers.BooleanField(allow_null=True))
    def get_restart(self, entry: RateChange) -> bool | None:
        """The first rate after a pause: the ladder clock starts again here."""
        position = self._position(entry)
        return position.restart if position else None

    @extend_schema_field(NULLABLE_FLOAT)
    def get_ladder_minute(self, entry: RateChange) -> float | None:
        """Minutes since the start of the infusion, or since the last restart."""
        position = self._position(entry)
        return round(position.elapsed_minutes, 2) if position else None

    @extend_schema_field(NULLABLE_FLOAT)
    def get_planned_rate_mg_kg_min(self, entry: RateChange) -> float | None:
        """The planned ladder rate at this moment (null for a superseded entry)."""
        position = self._position(entry)
        return position.planned_mg_kg_min if position else None

    @extend_schema_field(NULLABLE_FLOAT)
    def get_planned_rate_ml_per_hour(self, entry: RateChange) -> float | None:
        position = self._position(entry)
        if position is None:
            return None
        return chairside.planned_rate_ml_per_hour(
            entry.session, position.planned_mg_kg_min, float(entry.dosing_weight_kg)
        )


class VitalSignsSerializer(EntrySerializer):
    KIND = "vitals"
    temperature_c = _decimal(max_digits=3, decimal_places=1, allow_null=True)

    class Meta(EntrySerializer.Meta):
        model = VitalSigns
        fields = [
            *EntrySerializer.Meta.fields,
            "systolic",
            "diastolic",
            "heart_rate",
            "temperature_c",
            "spo2",
            "respiratory_rate",
        ]
        read_only_fields = fields


class ReactionSerializer(EntrySerializer):
    KIND = "reaction"
    symptoms = serializers.ListField(child=serializers.ChoiceField(choices=SYMPTOM_CODES), read_only=True)
    cap_set_mg_kg_min = _decimal(max_digits=6, decimal_places=3, allow_null=True)

    class Meta(EntrySerializer.Meta):
        model = Reaction
        fields = [
            *EntrySerializer.Meta.fields,
            "severity",
            "symptoms",
            "symptom_notes",
            "action",
            "cap_set_mg_kg_min",
        ]
        read_only_fields = fields


class PremedicationSerializer(EntrySerializer):
    KIND = "premedication"
    # The same plain choice list as the plan's premedication order: one enum in the schema.
    route = serializers.ChoiceField(choices=PremedicationRoute.values, read_only=True)

    class Meta(EntrySerializer.Meta):
        model = Premedication
        fields = [*EntrySerializer.Meta.fields, "drug", "dose", "route"]
        read_only_fields = fields


class LotUseSerializer(EntrySerializer):
    KIND = "lot"
    product = serializers.SlugRelatedField(slug_field="code", read_only=True)
    vial_grams = _decimal(max_digits=5, decimal_places=2)

    class Meta(EntrySerializer.Meta):
        model = LotUse
        fields = [*EntrySerializer.Meta.fields, "product", "lot_number", "expiry", "vial_grams", "count"]
        read_only_fields = fields


ReactionConsequences = inline_serializer(
    "ReactionConsequences",
    fields={
        "paused": serializers.BooleanField(help_text="The infusion is paused; the next rate restarts it."),
        "session_completed": serializers.BooleanField(
            help_text="Stopped for good: the session was completed."
        ),
        "tolerated_cap_mg_kg_min": serializers.FloatField(
            allow_null=True, help_text="The patient's new tolerated cap, when this reaction set one."
        ),
        "replanned_sessions": serializers.ListField(child=serializers.IntegerField()),
        "flagged_sessions": serializers.ListField(
            child=serializers.IntegerField(), help_text="Later sessions that no longer fit their booking."
        ),
    },
)


class ReactionRecordedSerializer(ReactionSerializer):
    consequences = serializers.SerializerMethodField()

    class Meta(ReactionSerializer.Meta):
        fields = [*ReactionSerializer.Meta.fields, "consequences"]
        read_only_fields = fields

    @extend_schema_field(ReactionConsequences)
    def get_consequences(self, reaction: Reaction) -> dict:
        outcome: chairside.ReactionOutcome = self.context["outcome"]
        replanning = outcome.replanning or chairside.Replanning([], [])
        cap = outcome.tolerated_cap_mg_kg_min
        return {
            "paused": outcome.paused,
            "session_completed": outcome.session_completed,
            "tolerated_cap_mg_kg_min": float(cap) if cap is not None else None,
            "replanned_sessions": replanning.replanned,
            "flagged_sessions": replanning.flagged,
        }


# -- input --------------------------------------------------------------------------------


class EntryInput(serializers.Serializer):
    at = OffsetDateTimeField(required=False, help_text="When it happened, with its UTC offset; default now.")
    reason = serializers.CharField(
        max_length=500,
        required=False,
        default="",
        allow_blank=True,
        help_text="Required with `amends`, and for a lot of another product than planned.",
    )
    amends = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        default=None,
        help_text="The id of the entry of the same kind and session that this one corrects.",
    )


class RateChangeInput(EntryInput):
    rate_ml_per_hour = serializers.DecimalField(
        max_digits=4, decimal_places=1, min_value=Decimal("0"), help_text="The pump rate; 0 pauses."
    )


class VitalSignsInput(EntryInput):
    systolic = serializers.IntegerField(required=False, allow_null=True, help_text="mmHg, 50–260.")
    diastolic = serializers.IntegerField(required=False, allow_null=True, help_text="mmHg, 20–160.")
    heart_rate = serializers.IntegerField(required=False, allow_null=True, help_text="/min, 20–250.")
    temperature_c = serializers.DecimalField(
        max_digits=4, decimal_places=1, required=False, allow_null=True, help_text="°C, 30–44."
    )
    spo2 = serializers.IntegerField(required=False, allow_null=True, help_text="%, 50–100.")
    respiratory_rate = serializers.IntegerField(required=False, allow_null=True, help_text="/min, 4–60.")


class ReactionInput(EntryInput):
    severity = serializers.ChoiceField(choices=ReactionSeverity.choices)
    symptoms = serializers.ListField(
        child=serializers.ChoiceField(choices=SYMPTOM_CODES),
        required=False,
        default=list,
        max_length=len(SYMPTOM_CODES),
        help_text="Codes from docs/clinical-practice.md; 'other' needs symptom_notes.",
    )
    symptom_notes = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)
    action = serializers.ChoiceField(
        choices=ReactionAction.choices, help_text="A moderate reaction pauses or stops; a severe one stops."
    )


class PremedicationInput(EntryInput):
    drug = serializers.CharField(max_length=80)
    dose = serializers.CharField(max_length=40)
    route = serializers.ChoiceField(choices=PremedicationRoute.values)


class LotUseInput(EntryInput):
    product = serializers.SlugRelatedField(slug_field="code", queryset=Product.objects.all())
    lot_number = serializers.CharField(max_length=40, help_text="Matched in capitals.")
    expiry = serializers.DateField()
    vial_grams = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=Decimal("0.01"))
    count = serializers.IntegerField(min_value=1, max_value=chairside.MAX_VIALS)
