"""After a reaction: the sessions flagged for rebooking, and the admin's reset of a
patient's tolerated cap."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from infusions import chairside
from infusions.api.records.entries import RECORD_READERS, _refused
from infusions.api.records.serializers import SESSION_STATUS_TEXT
from infusions.models import InfusionSession
from patients.models import Patient
from patients.roles import Role, RoleAccessMixin


class FlaggedSessionSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text=SESSION_STATUS_TEXT)
    patient_mrn = serializers.CharField(source="patient.mrn", read_only=True)
    booked_minutes = serializers.SerializerMethodField()

    class Meta:
        model = InfusionSession
        fields = [
            "id",
            "patient",
            "patient_mrn",
            "center",
            "chair",
            "start",
            "end",
            "status",
            "booked_minutes",
            "chair_minutes",
            "rebooking_reason",
        ]
        read_only_fields = fields

    def get_booked_minutes(self, session: InfusionSession) -> int:
        return round((session.end - session.start).total_seconds() / 60)


class FlaggedSessionsView(RoleAccessMixin, generics.ListAPIView):
    """Booked sessions whose re-planned chair minutes no longer fit: reschedule them
    (rescheduling books the new chair minutes)."""

    read_roles = RECORD_READERS
    serializer_class = FlaggedSessionSerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[InfusionSession]:
        return InfusionSession.objects.needing_rebooking().select_related("patient").order_by("start", "id")


class CapClearInput(serializers.Serializer):
    reason = serializers.CharField(max_length=200, help_text="Why the cap is lifted (kept in the history).")


class CapClearedSerializer(serializers.Serializer):
    patient = serializers.IntegerField()
    previous_cap_mg_kg_min = serializers.FloatField(allow_null=True)
    tolerated_max_rate_mg_kg_min = serializers.FloatField(allow_null=True)
    replanned_sessions = serializers.ListField(child=serializers.IntegerField())
    flagged_sessions = serializers.ListField(child=serializers.IntegerField())


class ToleratedCapClearView(RoleAccessMixin, APIView):
    """An admin lifts a patient's tolerated cap; their later sessions are re-planned."""

    read_roles = (Role.ADMIN,)  # an admin's GET is a 405: there is nothing to read here
    write_roles = (Role.ADMIN,)

    @extend_schema(request=CapClearInput, responses={200: CapClearedSerializer})
    def post(self, request: Request, patient_id: int) -> Response:
        patient = get_object_or_404(Patient, pk=patient_id)
        payload = CapClearInput(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            previous, replanning = chairside.tolerated_cap_clear(
                patient=patient, reason=payload.validated_data["reason"], by=request.user
            )
        except chairside.EntryRefused as exc:
            raise _refused(exc) from exc
        body = {
            "patient": patient.pk,
            "previous_cap_mg_kg_min": float(previous) if previous is not None else None,
            "tolerated_max_rate_mg_kg_min": None,
            "replanned_sessions": replanning.replanned,
            "flagged_sessions": replanning.flagged,
        }
        return Response(CapClearedSerializer(body).data)
