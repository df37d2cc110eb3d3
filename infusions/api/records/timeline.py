"""A session's whole record: the timeline beside the planned ladder, and the FHIR Bundle."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from infusions import chairside, fhir
from infusions.api.records.entries import SessionScopedMixin
from infusions.api.records.serializers import (
    SESSION_STATUS_TEXT,
    LotUseSerializer,
    PremedicationSerializer,
    RateChangeSerializer,
    ReactionSerializer,
    VitalSignsSerializer,
    _decimal,
)
from infusions.models import InfusionSession, LotUse, Premedication, RateChange, Reaction, VitalSigns

# -- timeline -----------------------------------------------------------------------------------

TimelineEntry = PolymorphicProxySerializer(
    component_name="TimelineEntry",
    serializers={
        "rate_change": RateChangeSerializer,
        "vitals": VitalSignsSerializer,
        "reaction": ReactionSerializer,
        "premedication": PremedicationSerializer,
        "lot": LotUseSerializer,
    },
    resource_type_field_name="kind",
    many=True,
)


class PlannedStepSerializer(serializers.Serializer):
    start_minute = serializers.FloatField()
    minutes = serializers.FloatField(
        allow_null=True, help_text="Null for the last step: until the dose is in."
    )
    starts_at = serializers.DateTimeField(allow_null=True, help_text="From the start of the infusion.")
    rate_mg_kg_min = serializers.FloatField()
    rate_ml_per_hour = serializers.FloatField(allow_null=True)


class TimelineSessionSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text=SESSION_STATUS_TEXT)
    grams = _decimal(max_digits=6, decimal_places=2, allow_null=True)
    grams_infused = _decimal(max_digits=6, decimal_places=2, allow_null=True)
    tolerated_cap_mg_kg_min = _decimal(
        max_digits=6, decimal_places=3, allow_null=True, source="patient.tolerated_max_rate_mg_kg_min"
    )

    class Meta:
        model = InfusionSession
        fields = [
            "id",
            "status",
            "checked_in_at",
            "started_at",
            "completed_at",
            "grams",
            "grams_infused",
            "infusion_warnings",
            "needs_rebooking",
            "rebooking_reason",
            "tolerated_cap_mg_kg_min",
        ]
        read_only_fields = fields


@extend_schema_view(
    get=extend_schema(
        responses=inline_serializer(
            "Timeline",
            fields={
                "session": TimelineSessionSerializer(),
                "dosing_weight_kg": serializers.FloatField(allow_null=True),
                "planned_ladder": PlannedStepSerializer(many=True),
                "entries": TimelineEntry,
            },
        )
    )
)
class TimelineView(SessionScopedMixin, APIView):
    """Every record of the session in time order, superseded entries included, each rate beside
    the planned ladder rate for that moment."""

    OUTPUTS = (
        (RateChange, RateChangeSerializer),
        (VitalSigns, VitalSignsSerializer),
        (Reaction, ReactionSerializer),
        (Premedication, PremedicationSerializer),
        (LotUse, LotUseSerializer),
    )

    def get(self, request: Request, session_id: int) -> Response:
        session = self.target_session()
        lists = {}
        for model, _ in self.OUTPUTS:
            entries = model.objects.filter(session=session).select_related("recorded_by", "amended_by")
            if model is LotUse:
                entries = entries.select_related("product")
            lists[model] = list(entries)
            for entry in lists[model]:
                entry.session = session
        positions = chairside.positions_by_entry(session, lists[RateChange], lists[Reaction])
        rows = []
        for model, output in self.OUTPUTS:
            data = output(lists[model], many=True, context={"positions": positions}).data
            rows += [(entry.at, entry.created_at, row) for entry, row in zip(lists[model], data, strict=True)]
        rates = chairside.in_force(lists[RateChange])
        weight = float(max(rates, key=lambda r: (r.at, r.pk)).dosing_weight_kg) if rates else None
        body = {
            "session": TimelineSessionSerializer(session).data,
            "dosing_weight_kg": weight,
            "planned_ladder": PlannedStepSerializer(
                chairside.planned_ladder_rows(session, weight), many=True
            ).data,
            "entries": [row for _, _, row in sorted(rows, key=lambda r: (r[0], r[1]))],
        }
        return Response(body)


# -- FHIR -----------------------------------------------------------------------------------


class FhirBundleView(SessionScopedMixin, APIView):
    @extend_schema(
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="A FHIR R4B Bundle (type collection): Patient, Appointment, Medication per "
                "product and lot, MedicationAdministration per rate period, vital-sign Observations, "
                "AdverseEvent per reaction.",
            )
        }
    )
    def get(self, request: Request, session_id: int) -> Response:
        """The session's chairside record as a FHIR R4B Bundle."""
        session = fhir.session_for_fhir(self.target_session().pk)
        return Response(fhir.validated(fhir.session_bundle(session)))
