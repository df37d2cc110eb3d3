"""Chairside records under /api/v1/sessions/{session_id}/, the lot recall, the sessions
flagged for rebooking and the admin's reset of a patient's tolerated cap.

Records are append-only: each kind has a list (GET, POST) and a detail (GET);
PUT, PATCH and DELETE answer 405. Nurses and admins write; schedulers, nurses
and admins read; patients and pharmacists see none of it (403, before any
lookup, so a patient cannot learn which sessions exist). Pharmacists and admins
read a lot's recipients.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from infusions import chairside, fhir
from infusions.api.sessions import OffsetDateTimeField
from infusions.models import (
    SYMPTOM_CODES,
    InfusionSession,
    LotUse,
    Premedication,
    PremedicationRoute,
    Product,
    RateChange,
    Reaction,
    ReactionAction,
    ReactionSeverity,
    SessionStatus,
    VitalSigns,
)
from patients.models import Patient
from patients.roles import Role, RoleAccessMixin

RECORD_READERS = (Role.SCHEDULER, Role.NURSE, Role.ADMIN)
RECORD_WRITERS = (Role.NURSE, Role.ADMIN)
RECALL_READERS = (Role.PHARMACIST, Role.ADMIN)
MAX_ID = 2**63 - 1


def _refused(exc: chairside.EntryRefused) -> ValidationError:
    return ValidationError({exc.field: [str(exc)]})


# -- output --------------------------------------------------------------------------------


class EntrySerializer(serializers.ModelSerializer):
    """What every record shows; `at` in the center's time zone, with its offset."""

    KIND = ""
    kind = serializers.SerializerMethodField()
    at = serializers.SerializerMethodField()
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
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

    @extend_schema_field(OpenApiTypes.INT)
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

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_restart(self, entry: RateChange) -> bool | None:
        """The first rate after a pause: the ladder clock starts again here."""
        position = self._position(entry)
        return position.restart if position else None

    @extend_schema_field(OpenApiTypes.FLOAT)
    def get_ladder_minute(self, entry: RateChange) -> float | None:
        """Minutes since the start of the infusion, or since the last restart."""
        position = self._position(entry)
        return round(position.elapsed_minutes, 2) if position else None

    @extend_schema_field(OpenApiTypes.FLOAT)
    def get_planned_rate_mg_kg_min(self, entry: RateChange) -> float | None:
        """The planned ladder rate at this moment (null for a superseded entry)."""
        position = self._position(entry)
        return position.planned_mg_kg_min if position else None

    @extend_schema_field(OpenApiTypes.FLOAT)
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


# -- one session's records ---------------------------------------------------------------------


class SessionScopedMixin(RoleAccessMixin):
    read_roles = RECORD_READERS
    write_roles = RECORD_WRITERS

    def target_session(self) -> InfusionSession:
        if not hasattr(self, "_target_session"):
            sessions = InfusionSession.objects.visible_to(self.request.user).select_related(
                "center", "patient", "plan__protocol__product", "plan__protocol__indication"
            )
            self._target_session = get_object_or_404(sessions, pk=self.kwargs["session_id"])
        return self._target_session


class EntryListView(SessionScopedMixin, generics.ListCreateAPIView):
    """A kind's entries in time order (GET) and a new entry (POST)."""

    model: type = RateChange
    input_class: type[serializers.Serializer] = RateChangeInput

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        session = self.target_session()
        entries = self.model.objects.filter(session=session).select_related("recorded_by", "amended_by")
        if self.model is LotUse:
            entries = entries.select_related("product")
        return entries.order_by("at", "id")

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), **self.extra_context()}

    def extra_context(self) -> dict:
        return {}

    def list(self, request: Request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        session = self.target_session()
        for entry in page:
            entry.session = session  # the output reads the center's zone and plan from it
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def create(self, request: Request, *args, **kwargs) -> Response:
        payload = self.input_class(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            result = self.record(self.target_session(), payload.validated_data, request.user)
        except chairside.EntryRefused as exc:
            raise _refused(exc) from exc
        return Response(self.created(result), status=status.HTTP_201_CREATED)

    def record(self, session: InfusionSession, data: dict, user):
        raise NotImplementedError

    def created(self, entry) -> dict:
        return self.get_serializer(self.reloaded(entry)).data

    def reloaded(self, entry):
        return self.model.objects.select_related("recorded_by", "amended_by", "session__center").get(
            pk=entry.pk
        )


class EntryDetailView(SessionScopedMixin, generics.RetrieveAPIView):
    """One entry; entries are never changed (405 on PUT, PATCH and DELETE)."""

    model: type = RateChange

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        return self.model.objects.filter(session=self.target_session()).select_related(
            "recorded_by", "amended_by", "session__center"
        )


def _write_schema(input_class, output, description: str):
    return extend_schema_view(
        post=extend_schema(request=input_class, responses={201: output}, description=description)
    )


def _rate_context(view: SessionScopedMixin) -> dict:
    session = view.target_session()
    rates = list(session.rate_changes.all())
    return {"positions": chairside.positions_by_entry(session, rates, session.reactions.all())}


@_write_schema(
    RateChangeInput,
    RateChangeSerializer,
    "Log a pump rate (0 pauses). Refused (400) above the patient's effective maximum or earlier "
    "than the ladder allows, with the limit in mL/h and mg/kg/min.",
)
class RateChangeListView(EntryListView):
    model, input_class, serializer_class = RateChange, RateChangeInput, RateChangeSerializer

    def extra_context(self) -> dict:
        return {} if getattr(self, "swagger_fake_view", False) else _rate_context(self)

    def record(self, session, data, user):
        return chairside.rate_change_record(session=session, **data, by=user)

    def created(self, entry) -> dict:
        return RateChangeSerializer(self.reloaded(entry), context=_rate_context(self)).data


class RateChangeDetailView(EntryDetailView):
    model, serializer_class = RateChange, RateChangeSerializer

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        return context if getattr(self, "swagger_fake_view", False) else {**context, **_rate_context(self)}


@_write_schema(
    VitalSignsInput, VitalSignsSerializer, "Record vital signs (from check-in); at least one value."
)
class VitalSignsListView(EntryListView):
    model, input_class, serializer_class = VitalSigns, VitalSignsInput, VitalSignsSerializer

    def record(self, session, data, user):
        return chairside.vitals_record(session=session, **data, by=user)


class VitalSignsDetailView(EntryDetailView):
    model, serializer_class = VitalSigns, VitalSignsSerializer


@_write_schema(
    ReactionInput,
    ReactionRecordedSerializer,
    "Record a reaction. Paused: the next rate restarts the ladder. Stopped (always for severe): "
    "the session is completed early. Moderate or severe: the patient's tolerated cap drops to the "
    "highest rate given without a reaction and later sessions are re-planned.",
)
class ReactionListView(EntryListView):
    model, input_class, serializer_class = Reaction, ReactionInput, ReactionSerializer

    def record(self, session, data, user):
        return chairside.reaction_record(session=session, **data, by=user)

    def created(self, outcome: chairside.ReactionOutcome) -> dict:
        reaction = self.reloaded(outcome.reaction)
        return ReactionRecordedSerializer(reaction, context={"outcome": outcome}).data


class ReactionDetailView(EntryDetailView):
    model, serializer_class = Reaction, ReactionSerializer


@_write_schema(PremedicationInput, PremedicationSerializer, "Record a premedication given (from check-in).")
class PremedicationListView(EntryListView):
    model, input_class, serializer_class = Premedication, PremedicationInput, PremedicationSerializer

    def record(self, session, data, user):
        return chairside.premedication_record(session=session, **data, by=user)


class PremedicationDetailView(EntryDetailView):
    model, serializer_class = Premedication, PremedicationSerializer


@_write_schema(
    LotUseInput,
    LotUseSerializer,
    "Record vials of a product lot. Refused: an expired lot; a lot of another product than planned "
    "without a reason.",
)
class LotUseListView(EntryListView):
    model, input_class, serializer_class = LotUse, LotUseInput, LotUseSerializer

    def record(self, session, data, user):
        return chairside.lot_record(session=session, **data, by=user)

    def reloaded(self, entry):
        return LotUse.objects.select_related("recorded_by", "amended_by", "session__center", "product").get(
            pk=entry.pk
        )


class LotUseDetailView(EntryDetailView):
    model, serializer_class = LotUse, LotUseSerializer

    def get_queryset(self) -> QuerySet:
        return super().get_queryset().select_related("product")


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


# `status` is a plain string in these outputs: the session-status enum belongs to the Session
# component, and sharing it with more components breaks drf-spectacular's enum naming.
SESSION_STATUS_TEXT = "The session's status, as in Session.status."


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


# -- lot recall, flagged sessions, the tolerated cap ----------------------------------------------------


class LotRecipientSerializer(serializers.ModelSerializer):
    product = serializers.SlugRelatedField(slug_field="code", read_only=True)
    vial_grams = _decimal(max_digits=5, decimal_places=2)
    patient = inline_serializer(
        "LotPatient",
        fields={
            "id": serializers.IntegerField(),
            "mrn": serializers.CharField(),
            "name": serializers.CharField(source="full_name"),
        },
        source="session.patient",
        read_only=True,
    )
    session = inline_serializer(
        "LotSession",
        fields={
            "id": serializers.IntegerField(),
            "start": serializers.DateTimeField(),
            "status": serializers.CharField(),
        },
        read_only=True,
    )

    class Meta:
        model = LotUse
        fields = ["id", "lot_number", "product", "expiry", "vial_grams", "count", "at", "patient", "session"]
        read_only_fields = fields


@extend_schema_view(
    get=extend_schema(
        parameters=[OpenApiParameter("product", str, description="Only lots of this product code.")]
    )
)
class LotRecipientsView(RoleAccessMixin, generics.ListAPIView):
    """Every patient and session that received a lot (entries in force), for a recall."""

    read_roles = RECALL_READERS
    serializer_class = LotRecipientSerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[LotUse]:
        number = chairside.normalized_lot_number(self.kwargs.get("lot_number", ""))
        lots = LotUse.objects.filter(lot_number=number, amended_by__isnull=True)
        product = self.request.query_params.get("product")
        if product:
            lots = lots.filter(product__code=product)
        return lots.select_related("product", "session__patient").order_by("session__start", "id")


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
        return (
            InfusionSession.objects.filter(
                needs_rebooking=True, status__in=(SessionStatus.SCHEDULED, SessionStatus.CONFIRMED)
            )
            .select_related("patient")
            .order_by("start", "id")
        )


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


# -- routes -------------------------------------------------------------------------------------

ENTRY_ROUTES = (
    ("rate-changes", RateChangeListView, RateChangeDetailView),
    ("vitals", VitalSignsListView, VitalSignsDetailView),
    ("reactions", ReactionListView, ReactionDetailView),
    ("premedications", PremedicationListView, PremedicationDetailView),
    ("lots", LotUseListView, LotUseDetailView),
)

urlpatterns = [
    *(
        route
        for segment, listing, detail in ENTRY_ROUTES
        for route in (
            path(f"sessions/<int:session_id>/{segment}/", listing.as_view(), name=f"session-{segment}"),
            path(
                f"sessions/<int:session_id>/{segment}/<int:pk>/",
                detail.as_view(),
                name=f"session-{segment}-detail",
            ),
        )
    ),
    path("sessions/<int:session_id>/timeline/", TimelineView.as_view(), name="session-timeline"),
    path("sessions/<int:session_id>/fhir/", FhirBundleView.as_view(), name="session-fhir"),
    path("lots/<str:lot_number>/recipients/", LotRecipientsView.as_view(), name="lot-recipients"),
    path("flagged-sessions/", FlaggedSessionsView.as_view(), name="flagged-sessions"),
    path(
        "patients/<int:patient_id>/clear-tolerated-cap/",
        ToleratedCapClearView.as_view(),
        name="patient-clear-tolerated-cap",
    ),
]
