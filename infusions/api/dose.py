"""`POST /api/v1/dose-calculations/`: a day's dose, vials, ladder and chair time."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from infusions import dosing
from infusions.calculations import Contraindicated, PatientFacts, calculate_dose, facts_of
from infusions.models import Center, DosingWeightMethod, Indication, Product, Protocol
from patients.models import IgAStatus, Patient, Sex
from patients.roles import Role, RoleAccessMixin

PATIENT_FIELDS = ("weight_kg", "height_cm", "sex")


def number(**kwargs) -> serializers.DecimalField:
    """Decimal input: refuses NaN and infinity, unlike FloatField."""
    return serializers.DecimalField(max_digits=9, decimal_places=4, **kwargs)


class DoseCalculationRequest(serializers.Serializer):
    product = serializers.SlugRelatedField(slug_field="code", queryset=Product.objects.all())
    indication = serializers.SlugRelatedField(slug_field="code", queryset=Indication.objects.all())
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all(), required=False)
    weight_kg = number(required=False, help_text="Actual weight, when no patient is given.")
    height_cm = number(required=False, min_value=Decimal("50"), max_value=Decimal("250"))
    sex = serializers.ChoiceField(choices=Sex.choices, required=False)
    thrombosis_risk = serializers.BooleanField(default=False)
    renal_risk = serializers.BooleanField(default=False)
    max_rate_mg_kg_min = number(required=False, min_value=Decimal("0.1"), max_value=Decimal("20"))
    iga_status = serializers.ChoiceField(choices=IgAStatus.choices, default=IgAStatus.NORMAL)
    diabetes = serializers.BooleanField(default=False)
    first_infusion = serializers.BooleanField(default=False)
    dose_g_per_kg = number()
    days = serializers.IntegerField(min_value=1, max_value=5)
    dosing_weight_method = serializers.ChoiceField(
        choices=DosingWeightMethod.choices, default=DosingWeightMethod.ACTUAL
    )
    center = serializers.PrimaryKeyRelatedField(queryset=Center.objects.all(), required=False)

    def validate_weight_kg(self, value: Decimal) -> Decimal:
        if not Decimal("0") < value <= Decimal("350"):
            raise serializers.ValidationError("The weight must be above 0 and at most 350 kg.")
        return value

    def validate_dose_g_per_kg(self, value: Decimal) -> Decimal:
        if not Decimal("0") < value <= Decimal("3"):
            raise serializers.ValidationError("The dose must be above 0 and at most 3 g/kg per course.")
        return value

    def validate(self, attrs: dict) -> dict:
        if ("patient" in attrs) == ("weight_kg" in attrs):
            raise serializers.ValidationError({"patient": "Give either a patient or a weight_kg, not both."})
        product, indication = attrs["product"], attrs["indication"]
        if not product.is_active:
            raise serializers.ValidationError(
                {"product": f"{product.name} is inactive: the center has not confirmed its rate ladder."}
            )
        protocol = (
            Protocol.objects.filter(product=product, indication=indication).prefetch_related("steps").first()
        )
        if protocol is None:
            raise serializers.ValidationError(
                {"indication": f"{product.name} has no protocol for {indication.name}."}
            )
        if not protocol.ladder_confirmed:
            raise serializers.ValidationError(
                {"indication": f"The {product.name} ladder for {indication.name} is not confirmed yet."}
            )
        attrs["protocol"] = protocol
        return attrs

    def facts(self) -> PatientFacts:
        data = self.validated_data
        if "patient" in data:
            return facts_of(data["patient"], protocol=data["protocol"])
        cap = data.get("max_rate_mg_kg_min")
        height = data.get("height_cm")
        return PatientFacts(
            weight_kg=float(data["weight_kg"]),
            height_cm=float(height) if height is not None else None,
            sex=data.get("sex"),
            at_risk=data["thrombosis_risk"] or data["renal_risk"],
            tolerated_cap=float(cap) if cap is not None else None,
            long_observation=data["first_infusion"],
            iga_status=data["iga_status"],
            diabetes=data["diabetes"],
        )


class VialSerializer(serializers.Serializer):
    grams = serializers.FloatField()
    count = serializers.IntegerField()


class StepSerializer(serializers.Serializer):
    start_minute = serializers.FloatField()
    minutes = serializers.FloatField()
    rate_mg_kg_min = serializers.FloatField()
    rate_ml_per_hour = serializers.FloatField()


class DoseCalculationResponse(serializers.Serializer):
    dosing_weight_kg = serializers.FloatField()
    grams_per_day_exact = serializers.FloatField()
    grams_per_day = serializers.FloatField()
    vials = VialSerializer(many=True)
    volume_ml_per_day = serializers.FloatField()
    max_rate_mg_kg_min = serializers.FloatField()
    max_rate_ml_per_hour = serializers.FloatField()
    steps = StepSerializer(many=True)
    infusion_minutes = serializers.FloatField()
    chair_minutes = serializers.IntegerField()
    warnings = serializers.ListField(child=serializers.CharField())


def dose_json(result: dosing.DoseResult) -> dict:
    """The result as JSON numbers: minutes to 0.01, mL/h to 0.1, grams to 0.01."""
    minutes, ml_h = dosing.display_minutes, dosing.display_ml_per_hour
    return {
        "dosing_weight_kg": round(result.dosing_weight_kg, 2),
        "grams_per_day_exact": round(result.grams_per_day_exact, 2),
        "grams_per_day": round(result.grams_per_day, 2),
        "vials": [{"grams": v.grams, "count": v.count} for v in result.vials],
        "volume_ml_per_day": round(result.volume_ml_per_day, 1),
        "max_rate_mg_kg_min": round(result.max_rate_mg_kg_min, 4),
        "max_rate_ml_per_hour": ml_h(result.max_rate_ml_per_hour),
        "steps": [
            {
                "start_minute": minutes(s.start_minute),
                "minutes": minutes(s.minutes),
                "rate_mg_kg_min": round(s.rate_mg_kg_min, 4),
                "rate_ml_per_hour": ml_h(s.rate_ml_per_hour),
            }
            for s in result.steps
        ],
        "infusion_minutes": minutes(result.infusion_minutes),
        "chair_minutes": result.chair_minutes,
        "warnings": list(result.warnings),
    }


class DoseCalculationView(RoleAccessMixin, APIView):
    """Compute one day's dose for a product and indication, from a patient or a weight.

    Refuses (400) an inactive product, an unconfirmed ladder, IgA-containing
    products for a patient with anti-IgA antibodies, and out-of-range input.
    """

    write_roles = (Role.SCHEDULER, Role.NURSE, Role.PHARMACIST, Role.ADMIN)

    @extend_schema(request=DoseCalculationRequest, responses={200: DoseCalculationResponse})
    def post(self, request: Request) -> Response:
        serializer = DoseCalculationRequest(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            result = calculate_dose(
                protocol=data["protocol"],
                facts=serializer.facts(),
                dose_g_per_kg=float(data["dose_g_per_kg"]),
                days=data["days"],
                method=data["dosing_weight_method"],
                center=data.get("center"),
            )
        except Contraindicated as exc:
            raise serializers.ValidationError({"product": [str(exc)]}) from exc
        except dosing.DosingError as exc:
            field = "patient" if "patient" in data and exc.field in PATIENT_FIELDS else exc.field
            raise serializers.ValidationError({field: [str(exc)]}) from exc
        return Response(dose_json(result))
