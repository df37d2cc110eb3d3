from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from config.api_docs import ERRORS
from infusions.reminders.planning import reminders_refresh_for_patient
from patients.api.serializers import (
    CalendarFeedSerializer,
    PatientSerializer,
    PatientWeightSerializer,
    PreferencesSerializer,
)
from patients.models import Patient
from patients.roles import EVERY_ROLE, Role, RoleAccessMixin

REMINDER_FIELDS = {"reminder_channel", "quiet_hours_start", "quiet_hours_end", "phone", "email", "time_zone"}


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("search", str, description="Name or MRN.")]),
)
class PatientViewSet(RoleAccessMixin, viewsets.ModelViewSet):
    """Patients. Schedulers and admins write; staff read; a patient reads only their own record."""

    serializer_class = PatientSerializer
    read_roles = EVERY_ROLE
    write_roles = (Role.SCHEDULER, Role.ADMIN)
    action_write_roles = {
        "weights": (Role.SCHEDULER, Role.NURSE, Role.ADMIN),
        "preferences": (Role.PATIENT,),
        "calendar_feed": (Role.PATIENT,),
    }
    filterset_fields = ["sex", "iga_status", "thrombosis_risk", "renal_risk", "diabetes"]

    def perform_update(self, serializer: PatientSerializer) -> None:
        patient = serializer.save()
        if REMINDER_FIELDS & set(serializer.validated_data):
            reminders_refresh_for_patient(patient)

    @extend_schema(methods=["GET"], responses={200: PreferencesSerializer, 404: ERRORS["404"]})
    @extend_schema(methods=["PATCH"], request=PreferencesSerializer, responses=PreferencesSerializer)
    @action(
        detail=False,
        methods=["get", "patch"],
        url_path="me/preferences",
        serializer_class=PreferencesSerializer,
    )
    def preferences(self, request: Request) -> Response:
        """A patient's own reminder channel, quiet hours (HH:MM), phone and email."""
        patient = Patient.objects.filter(user=request.user).first()
        if patient is None:
            raise NotFound("Only a patient account has reminder preferences.")
        if request.method == "GET":
            return Response(PreferencesSerializer(patient).data)
        serializer = PreferencesSerializer(patient, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            serializer.save()
            reminders_refresh_for_patient(patient)
        return Response(serializer.data)

    @extend_schema(methods=["POST"], request=None, responses=CalendarFeedSerializer)
    @extend_schema(methods=["DELETE"], request=None, responses={204: None})
    @action(
        detail=False,
        methods=["post", "delete"],
        url_path="me/calendar-feed",
        serializer_class=CalendarFeedSerializer,
    )
    def calendar_feed(self, request: Request) -> Response:
        """A patient's private calendar subscription address (iCalendar).

        POST issues a new address, and the previous one stops working; DELETE
        turns the feed off. The address needs no login, so it is the secret:
        only the patient can read or change it.
        """
        patient = Patient.objects.filter(user=request.user).first()
        if patient is None:
            raise NotFound("Only a patient account has a calendar feed.")
        if request.method == "DELETE":
            patient.revoke_calendar_token()
            return Response(status=status.HTTP_204_NO_CONTENT)
        patient.issue_calendar_token()
        url = request.build_absolute_uri(patient.calendar_feed_path())
        return Response(CalendarFeedSerializer({"url": url}).data)

    def get_queryset(self) -> QuerySet[Patient]:
        patients = Patient.objects.visible_to(self.request.user).with_latest_weight()
        return patients.search(self.request.query_params.get("search", ""))

    @extend_schema(methods=["GET"], responses=PatientWeightSerializer(many=True))
    @extend_schema(
        methods=["POST"], request=PatientWeightSerializer, responses={201: PatientWeightSerializer}
    )
    @action(detail=True, methods=["get", "post"], serializer_class=PatientWeightSerializer)
    def weights(self, request: Request, pk: str | None = None) -> Response:
        """A patient's weight history, newest first; nurses, schedulers and admins add weights."""
        patient = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(patient.weights.all())
            return self.get_paginated_response(PatientWeightSerializer(page, many=True).data)
        serializer = PatientWeightSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        weight = serializer.save(
            patient=patient,
            recorded_by=request.user,
            measured_on=serializer.validated_data.get("measured_on") or patient.today(),
        )
        return Response(PatientWeightSerializer(weight).data, status=status.HTTP_201_CREATED)
