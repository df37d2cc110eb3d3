"""`/api/v1/plans/`: infusion plans, each with its computed day dose."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from infusions import dosing
from infusions.api.dose import DoseCalculationResponse, dose_json
from infusions.api.sessions import OffsetDateTimeField, SessionSerializer, in_planning_years
from infusions.calculations import (
    Contraindicated,
    contraindication_check,
    plan_dose,
    with_dose_inputs,
)
from infusions.models import Chair, Indication, InfusionPlan, Interval, Product, Protocol
from infusions.scheduling.booking import BookingError, SeriesConflict, SlotConflict
from infusions.scheduling.placement import Conflict
from infusions.scheduling.series import Choice, plan_book
from patients.models import Patient
from patients.roles import EVERY_ROLE, Role, RoleAccessMixin


class PremedicationOrderSerializer(serializers.Serializer):
    drug = serializers.CharField(max_length=80)
    dose = serializers.CharField(max_length=40)
    route = serializers.ChoiceField(choices=["oral", "iv", "im", "sc"])
    minutes_before = serializers.IntegerField(min_value=0, max_value=180)


class PlanSerializer(serializers.ModelSerializer):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    product = serializers.SlugRelatedField(
        slug_field="code", queryset=Product.objects.all(), source="protocol.product"
    )
    indication = serializers.SlugRelatedField(
        slug_field="code", queryset=Indication.objects.all(), source="protocol.indication"
    )
    dose_g_per_kg = serializers.DecimalField(
        max_digits=4,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("3"),
        coerce_to_string=False,
    )
    days_per_course = serializers.IntegerField(min_value=1, max_value=5, default=1)
    course_count = serializers.IntegerField(min_value=1, max_value=52)
    interval_days = serializers.IntegerField(min_value=7, max_value=84, required=False, allow_null=True)
    start_date = serializers.DateField(validators=[in_planning_years])
    window_days = serializers.IntegerField(min_value=0, max_value=14, default=3)
    time_flexibility_minutes = serializers.IntegerField(min_value=0, max_value=720, default=60)
    premedication = PremedicationOrderSerializer(many=True, required=False)
    dose = serializers.SerializerMethodField()

    class Meta:
        model = InfusionPlan
        fields = [
            "id",
            "patient",
            "product",
            "indication",
            "dose_g_per_kg",
            "days_per_course",
            "interval",
            "interval_days",
            "start_date",
            "course_count",
            "preferred_start_time",
            "time_flexibility_minutes",
            "center",
            "window_days",
            "dosing_weight_method",
            "premedication",
            "status",
            "dose",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    @extend_schema_field(DoseCalculationResponse(allow_null=True))
    def get_dose(self, plan: InfusionPlan) -> dict | None:
        """The day's dose for the patient as they are now; null when it cannot be computed."""
        try:
            return dose_json(plan_dose(plan))
        except (dosing.DosingError, Contraindicated):
            return None

    def validate_premedication(self, orders: list[dict]) -> list[dict]:
        """Each order whole, on a PATCH too: DRF makes a nested serializer's fields optional in a
        partial update, and an order stored without its dose could not be shown again."""
        whole = PremedicationOrderSerializer(data=orders, many=True)
        whole.is_valid(raise_exception=True)
        return whole.validated_data

    def validate(self, attrs: dict) -> dict:
        protocol_data = attrs.pop("protocol", None)
        if protocol_data is not None or self.instance is None:
            attrs["protocol"] = self._protocol(protocol_data or {})
        patient = attrs.get("patient") or self.instance.patient
        protocol = attrs.get("protocol") or self.instance.protocol
        try:
            contraindication_check(product=protocol.product, iga_status=patient.iga_status)
        except Contraindicated as exc:
            raise serializers.ValidationError({"product": str(exc)}) from exc
        interval = attrs.get("interval", getattr(self.instance, "interval", Interval.EVERY_4_WEEKS))
        interval_days = attrs.get("interval_days", getattr(self.instance, "interval_days", None))
        if interval == Interval.EVERY_N_DAYS and interval_days is None:
            raise serializers.ValidationError(
                {"interval_days": "Every N days needs interval_days (7 to 84)."}
            )
        if interval != Interval.EVERY_N_DAYS and interval_days is not None:
            raise serializers.ValidationError(
                {"interval_days": "Only an every-N-days plan takes interval_days."}
            )
        return attrs

    def _protocol(self, data: dict) -> Protocol:
        product = data.get("product") or (self.instance and self.instance.protocol.product)
        indication = data.get("indication") or (self.instance and self.instance.protocol.indication)
        if product is None or indication is None:
            raise serializers.ValidationError({"product": "Give both product and indication."})
        if not product.is_active:
            raise serializers.ValidationError(
                {"product": f"{product.name} is inactive: the center has not confirmed its rate ladder."}
            )
        protocol = Protocol.objects.filter(
            product=product, indication=indication, ladder_confirmed=True
        ).first()
        if protocol is None:
            raise serializers.ValidationError(
                {"indication": f"{product.name} has no confirmed protocol for {indication.name}."}
            )
        return protocol


def _conflict_json(conflict: Conflict) -> dict:
    return {
        "course": conflict.course,
        "day": conflict.day,
        "date": conflict.date.isoformat(),
        "reasons": conflict.reasons,
        "alternatives": [
            {"start": a["start"].isoformat(), "chair": a["chair"]} for a in conflict.alternatives
        ],
    }


SeriesConflictSerializer = inline_serializer(
    "SeriesConflict",
    fields={
        "detail": serializers.CharField(),
        "conflicts": inline_serializer(
            "CourseConflict",
            fields={
                "course": serializers.IntegerField(),
                "day": serializers.IntegerField(),
                "date": serializers.DateField(),
                "reasons": serializers.ListField(child=serializers.CharField()),
                "alternatives": inline_serializer(
                    "Alternative",
                    fields={"start": serializers.DateTimeField(), "chair": serializers.IntegerField()},
                    many=True,
                ),
            },
            many=True,
        ),
    },
)


class BookChoiceSerializer(serializers.Serializer):
    course = serializers.IntegerField(min_value=1, max_value=52)
    day = serializers.IntegerField(min_value=1, max_value=5)
    start = OffsetDateTimeField(help_text="ISO 8601 with its offset, as an alternative gave it.")
    chair = serializers.PrimaryKeyRelatedField(queryset=Chair.objects.all())


class PlanBookRequest(serializers.Serializer):
    """An optional body for `book`: chosen times for course days that a 409 refused."""

    choices = BookChoiceSerializer(
        many=True,
        required=False,
        help_text="A start and chair for some course days, e.g. picked from a 409's alternatives; "
        "the other days are placed as usual, and the whole series is still booked or nothing.",
    )

    def choices_for_booking(self) -> list[Choice]:
        return [
            Choice(course=c["course"], day=c["day"], start=c["start"], chair=c["chair"])
            for c in self.validated_data.get("choices", [])
        ]


class PlanViewSet(RoleAccessMixin, viewsets.ModelViewSet):
    """Infusion plans. Schedulers and admins write; staff read; a patient reads their own."""

    serializer_class = PlanSerializer
    read_roles = EVERY_ROLE
    write_roles = (Role.SCHEDULER, Role.ADMIN)
    filterset_fields = ["patient", "center", "status", "interval"]

    def get_queryset(self) -> QuerySet[InfusionPlan]:
        return with_dose_inputs(InfusionPlan.objects.visible_to(self.request.user))

    def perform_create(self, serializer: PlanSerializer) -> None:
        serializer.save(created_by=self.request.user)

    @extend_schema(
        request=PlanBookRequest,
        responses={
            201: SessionSerializer(many=True),
            409: OpenApiResponse(
                SeriesConflictSerializer, description="Courses that cannot be placed; nothing booked."
            ),
        },
    )
    @action(detail=True, methods=["post"], pagination_class=None)  # answers the whole series
    def book(self, request: Request, pk: str | None = None) -> Response:
        """Book every remaining course of the plan into chairs, all or nothing.

        With no body, every day is placed; with `choices`, those course days go
        at the chosen start and chair. A choice that no longer fits is a 409
        with fresh alternatives; nothing is booked on any refusal.
        """
        plan = self.get_object()
        body = PlanBookRequest(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            sessions = plan_book(plan=plan, by=request.user, choices=body.choices_for_booking())
        except BookingError as exc:
            raise ValidationError({exc.field: [str(exc)]}) from exc
        except SlotConflict as exc:
            return Response({"detail": str(exc), "conflicts": []}, status=status.HTTP_409_CONFLICT)
        except SeriesConflict as exc:
            return Response(
                {"detail": str(exc), "conflicts": [_conflict_json(c) for c in exc.conflicts]},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(SessionSerializer(sessions, many=True).data, status=status.HTTP_201_CREATED)
