from __future__ import annotations

from rest_framework import serializers

from infusions.models import Center, Chair, ClosedDate, OpeningHours, Product, Protocol, ProtocolStep


def rate_field(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=7, decimal_places=4, coerce_to_string=False, **kwargs)


class ProtocolStepSerializer(serializers.ModelSerializer):
    rate_mg_kg_min = rate_field()

    class Meta:
        model = ProtocolStep
        fields = ["position", "rate_mg_kg_min", "minutes"]


class ProtocolSerializer(serializers.ModelSerializer):
    product = serializers.SlugRelatedField(slug_field="code", read_only=True)
    indication = serializers.SlugRelatedField(slug_field="code", read_only=True)
    indication_name = serializers.CharField(source="indication.name", read_only=True)
    start_rate_mg_kg_min = rate_field()
    max_rate_mg_kg_min = rate_field()
    steps = ProtocolStepSerializer(many=True, read_only=True)

    class Meta:
        model = Protocol
        fields = [
            "id",
            "product",
            "indication",
            "indication_name",
            "start_rate_mg_kg_min",
            "max_rate_mg_kg_min",
            "ladder_confirmed",
            "steps",
            "usual_dose",
            "source",
        ]


class ProductSerializer(serializers.ModelSerializer):
    iga_ug_per_ml = serializers.DecimalField(
        max_digits=6, decimal_places=1, coerce_to_string=False, allow_null=True
    )
    risk_cap_mg_kg_min = rate_field(allow_null=True)
    vial_sizes_g = serializers.ListField(child=serializers.FloatField())
    protocols = ProtocolSerializer(many=True, read_only=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "code",
            "name",
            "manufacturer",
            "concentration_mg_per_ml",
            "vial_sizes_g",
            "iga_ug_per_ml",
            "contains_maltose",
            "risk_cap_mg_kg_min",
            "is_active",
            "protocols",
        ]


class OpeningHoursSerializer(serializers.ModelSerializer):
    class Meta:
        model = OpeningHours
        fields = ["weekday", "opens", "closes"]


class ClosedDateSerializer(serializers.ModelSerializer):
    class Meta:
        model = ClosedDate
        fields = ["date", "reason"]


class CenterSerializer(serializers.ModelSerializer):
    opening_hours = OpeningHoursSerializer(many=True, read_only=True)
    closed_dates = ClosedDateSerializer(many=True, read_only=True)
    reminder_offsets_hours = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=336), max_length=5, required=False
    )
    slot_minutes = serializers.IntegerField(min_value=5, max_value=60, required=False)
    patients_per_nurse = serializers.IntegerField(min_value=1, max_value=20, required=False)

    class Meta:
        model = Center
        fields = [
            "id",
            "name",
            "short_name",
            "time_zone",
            "slot_minutes",
            "buffer_before_minutes",
            "buffer_after_minutes",
            "buffer_after_first_minutes",
            "default_nurses_on_duty",
            "patients_per_nurse",
            "reminder_offsets_hours",
            "quiet_hours_start",
            "quiet_hours_end",
            "opening_hours",
            "closed_dates",
        ]

    def validate(self, attrs: dict) -> dict:
        after = attrs.get("buffer_after_minutes", getattr(self.instance, "buffer_after_minutes", 30))
        first = attrs.get(
            "buffer_after_first_minutes", getattr(self.instance, "buffer_after_first_minutes", 60)
        )
        if first < after:
            raise serializers.ValidationError(
                {"buffer_after_first_minutes": "Observation after a first infusion cannot be shorter."}
            )
        return attrs


class ChairSerializer(serializers.ModelSerializer):
    class Meta:
        model = Chair
        fields = ["id", "center", "name", "is_active"]
        validators = [
            serializers.UniqueTogetherValidator(
                queryset=Chair.objects.all(),
                fields=["center", "name"],
                message="This center already has a chair with that name.",
            )
        ]
