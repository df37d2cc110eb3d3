"""Sessions: booking, rescheduling, the status machine, listing and availability."""

from __future__ import annotations

import datetime as dt

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from infusions.chairside import session_complete
from infusions.models import Center, Chair, InfusionPlan, InfusionSession
from infusions.scheduling.availability import free_windows
from infusions.scheduling.booking import (
    BookingError,
    InvalidTransition,
    SlotConflict,
    session_book,
    session_reschedule,
    session_transition,
)
from patients.models import Patient
from patients.roles import EVERY_ROLE, STAFF_ROLES, Role, RoleAccessMixin

SCHEDULERS = (Role.SCHEDULER, Role.ADMIN)
# Who may take each status action. Patients confirm or cancel their own sessions.
ACTION_ROLES = {
    "confirm": (*SCHEDULERS, Role.NURSE, Role.PATIENT),
    "check_in": (*SCHEDULERS, Role.NURSE),
    "start": (Role.NURSE, Role.ADMIN),
    "complete": (Role.NURSE, Role.ADMIN),
    "cancel": (*SCHEDULERS, Role.PATIENT),
    "no_show": (*SCHEDULERS, Role.NURSE),
}

Conflict409 = inline_serializer(
    "SessionConflict",
    fields={
        "detail": serializers.CharField(),
        "reasons": serializers.ListField(child=serializers.CharField()),
    },
)


# The years the API plans and records in. Outside them, converting an instant to UTC or to a
# center's zone, or counting days on from a date, overflows Python's date range (year 1 to 9999).
PLANNING_YEARS = range(2000, 2100)


def in_planning_years(value: dt.date) -> None:
    """A validator for serializer and filter fields alike (hence Django's ValidationError)."""
    if value.year not in PLANNING_YEARS:
        raise DjangoValidationError(f"Give a date from {PLANNING_YEARS.start} to {PLANNING_YEARS.stop - 1}.")


class OffsetDateTimeField(serializers.DateTimeField):
    """An instant with its UTC offset, kept as sent (DRF would convert it, and make a naive one
    aware), in `PLANNING_YEARS`."""

    def enforce_timezone(self, value: dt.datetime) -> dt.datetime:
        if timezone.is_naive(value):
            raise serializers.ValidationError(
                "Give the time with its UTC offset, e.g. 2027-01-04T09:00:00-05:00."
            )
        in_planning_years(value)
        return value


class SessionSerializer(serializers.ModelSerializer):
    start = serializers.SerializerMethodField()
    end = serializers.SerializerMethodField()
    # Null for a session booked by hand without a plan: there is no dose to plan.
    grams = serializers.DecimalField(
        max_digits=6, decimal_places=2, coerce_to_string=False, read_only=True, allow_null=True
    )
    volume_ml = serializers.DecimalField(
        max_digits=7, decimal_places=1, coerce_to_string=False, read_only=True, allow_null=True
    )

    class Meta:
        model = InfusionSession
        fields = [
            "id",
            "patient",
            "plan",
            "center",
            "chair",
            "start",
            "end",
            "status",
            "version",
            "course",
            "day",
            "grams",
            "volume_ml",
            "chair_minutes",
        ]
        read_only_fields = fields

    @staticmethod
    def _local(value: dt.datetime, session: InfusionSession) -> str:
        return value.astimezone(session.center.zone).isoformat()

    def get_start(self, session: InfusionSession) -> str:
        """ISO 8601 in the center's zone, with its offset."""
        return self._local(session.start, session)

    def get_end(self, session: InfusionSession) -> str:
        """ISO 8601 in the center's zone, with its offset."""
        return self._local(session.end, session)


class SessionCompletedSerializer(SessionSerializer):
    """A completed session with what the rate log says went in (the `complete` action)."""

    # A plain string here: sharing the status enum with a second component breaks its schema name.
    status = serializers.CharField(read_only=True)
    grams_infused = serializers.DecimalField(
        max_digits=6, decimal_places=2, coerce_to_string=False, read_only=True, allow_null=True
    )
    infusion_warnings = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta(SessionSerializer.Meta):
        fields = [*SessionSerializer.Meta.fields, "grams_infused", "infusion_warnings"]
        read_only_fields = fields


# A walk-in booked as they sit down may start a little before the booking is typed.
LATEST_LATE_START = dt.timedelta(minutes=15)


def not_in_the_past(value: dt.datetime) -> dt.datetime:
    if value < timezone.now() - LATEST_LATE_START:
        minutes = LATEST_LATE_START // dt.timedelta(minutes=1)
        raise serializers.ValidationError(
            f"This start is in the past; give a start from now on (at most {minutes} minutes ago)."
        )
    return value


class SessionBookSerializer(serializers.Serializer):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    center = serializers.PrimaryKeyRelatedField(queryset=Center.objects.all())
    start = OffsetDateTimeField(
        help_text="ISO 8601 with its offset, e.g. 2027-01-04T09:00:00-05:00; from now on "
        f"(at most {LATEST_LATE_START // dt.timedelta(minutes=1)} minutes ago).",
        validators=[not_in_the_past],
    )
    plan = serializers.PrimaryKeyRelatedField(queryset=InfusionPlan.objects.all(), required=False)
    chair = serializers.PrimaryKeyRelatedField(queryset=Chair.objects.all(), required=False)
    chair_minutes = serializers.IntegerField(min_value=15, max_value=720, required=False)


class SessionRescheduleSerializer(serializers.Serializer):
    start = OffsetDateTimeField(required=False, validators=[not_in_the_past])
    chair = serializers.PrimaryKeyRelatedField(queryset=Chair.objects.all(), required=False)

    def validate(self, attrs: dict) -> dict:
        if not attrs:
            raise serializers.ValidationError("Give a new start, a new chair, or both.")
        return attrs


class SessionFilter(django_filters.FilterSet):
    date = django_filters.DateFilter(
        method="on_date",
        label="Date in the center's local calendar (needs center)",
        validators=[in_planning_years],
    )

    class Meta:
        model = InfusionSession
        fields = ["center", "patient", "status", "chair", "plan"]

    def on_date(self, queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        center = self.form.cleaned_data.get("center")
        if center is None:
            raise ValidationError({"date": ["Filtering by date needs a center: dates are in its calendar."]})
        return queryset.on_day(value, center)


def _conflict(exc: SlotConflict) -> Response:
    return Response({"detail": str(exc), "reasons": exc.reasons}, status=status.HTTP_409_CONFLICT)


def _bad(exc: BookingError) -> ValidationError:
    return ValidationError({exc.field: [str(exc)]})


class SessionViewSet(
    RoleAccessMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Sessions. Schedulers book and reschedule; the status actions follow the status machine.

    A patient sees only their own sessions and may confirm or cancel them.
    """

    serializer_class = SessionSerializer
    read_roles = EVERY_ROLE
    write_roles = SCHEDULERS
    action_write_roles = ACTION_ROLES
    filterset_class = SessionFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[InfusionSession]:
        sessions = (
            InfusionSession.objects.visible_to(self.request.user)
            .select_related("center")
            .order_by("start", "id")
        )
        if self.action == "list":
            # A list only reads what it serializes; the rate ladder and the completion record
            # (JSON decoded per row) and the center's other columns are dead weight there. Not
            # for the other actions: their services save the session they are given.
            sessions = sessions.only(*SessionSerializer.Meta.fields, "center__time_zone")
        return sessions

    @extend_schema(
        request=SessionBookSerializer,
        responses={201: SessionSerializer, 409: OpenApiResponse(Conflict409, description="Cannot go there.")},
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        """Book one session at an exact time; the chair is chosen when not given."""
        payload = SessionBookSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            session = session_book(**payload.validated_data, by=request.user)
        except BookingError as exc:
            raise _bad(exc) from exc
        except SlotConflict as exc:
            return _conflict(exc)
        return Response(SessionSerializer(session).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=SessionRescheduleSerializer,
        responses={200: SessionSerializer, 409: OpenApiResponse(Conflict409, description="Cannot go there.")},
    )
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        """Reschedule: a new start and/or chair, under the booking checks; version grows by one."""
        session = self.get_object()
        payload = SessionRescheduleSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            session = session_reschedule(session=session, **payload.validated_data, by=request.user)
        except BookingError as exc:
            raise _bad(exc) from exc
        except SlotConflict as exc:
            return _conflict(exc)
        except InvalidTransition as exc:
            return Response({"detail": str(exc), "reasons": []}, status=status.HTTP_409_CONFLICT)
        return Response(SessionSerializer(session).data)

    @extend_schema(request=None, responses={200: SessionSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str | None = None) -> Response:
        """Scheduled → confirmed (staff, or the patient)."""
        return self._transition(request, "confirm")

    @extend_schema(request=None, responses={200: SessionSerializer})
    @action(detail=True, methods=["post"], url_path="check-in", url_name="check-in")
    def check_in(self, request: Request, pk: str | None = None) -> Response:
        """Scheduled or confirmed → checked in."""
        return self._transition(request, "check_in")

    @extend_schema(request=None, responses={200: SessionSerializer})
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str | None = None) -> Response:
        """Checked in → in progress (nurses)."""
        return self._transition(request, "start")

    @extend_schema(request=None, responses={200: SessionCompletedSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str | None = None) -> Response:
        """In progress → completed (nurses); records the grams infused from the rate log, and a
        warning when they differ from the plan by more than 5%."""
        session = self.get_object()
        try:
            session = session_complete(session=session, by=request.user)
        except InvalidTransition as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(SessionCompletedSerializer(session).data)

    @extend_schema(request=None, responses={200: SessionSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Scheduled, confirmed or checked in → cancelled; frees the chair."""
        return self._transition(request, "cancel")

    @extend_schema(request=None, responses={200: SessionSerializer})
    @action(detail=True, methods=["post"], url_path="no-show", url_name="no-show")
    def no_show(self, request: Request, pk: str | None = None) -> Response:
        """Scheduled or confirmed → no-show; frees the chair."""
        return self._transition(request, "no_show")

    def _transition(self, request: Request, name: str) -> Response:
        session = self.get_object()
        try:
            session = session_transition(session=session, action=name, by=request.user)
        except InvalidTransition as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(SessionSerializer(session).data)


class AvailabilityView(RoleAccessMixin, APIView):
    """Free windows per chair on a center's local date for a session of `minutes`, within nurse capacity."""

    read_roles = tuple(STAFF_ROLES)

    @extend_schema(
        parameters=[
            OpenApiParameter("center", int, required=True),
            OpenApiParameter("date", dt.date, required=True, description="The center's local date."),
            OpenApiParameter("minutes", int, required=True, description="Chair minutes wanted (15 to 720)."),
            OpenApiParameter(
                "session",
                int,
                description="A session being rescheduled: its own time counts as free and its "
                "patient's other sessions as taken.",
            ),
        ],
        responses={
            200: inline_serializer(
                "Availability",
                fields={
                    "center": serializers.IntegerField(),
                    "date": serializers.DateField(),
                    "minutes": serializers.IntegerField(),
                    "time_zone": serializers.CharField(),
                    "chairs": inline_serializer(
                        "ChairWindows",
                        fields={
                            "chair": serializers.IntegerField(),
                            "name": serializers.CharField(),
                            "windows": inline_serializer(
                                "Window",
                                fields={
                                    "start": serializers.DateTimeField(),
                                    "end": serializers.DateTimeField(),
                                },
                                many=True,
                            ),
                        },
                        many=True,
                    ),
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        query = AvailabilityQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        center, day, minutes = (query.validated_data[k] for k in ("center", "date", "minutes"))
        moving = query.validated_data.get("session")
        return Response(
            {
                "center": center.pk,
                "date": day.isoformat(),
                "minutes": minutes,
                "time_zone": center.time_zone,
                "chairs": free_windows(center=center, day=day, minutes=minutes, moving=moving),
            }
        )


class AvailabilityQuery(serializers.Serializer):
    center = serializers.PrimaryKeyRelatedField(queryset=Center.objects.all())
    date = serializers.DateField(validators=[in_planning_years])
    minutes = serializers.IntegerField(min_value=15, max_value=720)
    session = serializers.PrimaryKeyRelatedField(queryset=InfusionSession.objects.all(), required=False)
