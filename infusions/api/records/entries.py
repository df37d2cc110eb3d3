"""One session's records: a list (GET, POST) and a detail (GET) per kind of entry."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from infusions import chairside
from infusions.api.records.serializers import (
    LotUseInput,
    LotUseSerializer,
    PremedicationInput,
    PremedicationSerializer,
    RateChangeInput,
    RateChangeSerializer,
    ReactionInput,
    ReactionRecordedSerializer,
    ReactionSerializer,
    VitalSignsInput,
    VitalSignsSerializer,
)
from infusions.models import InfusionSession, LotUse, Premedication, RateChange, Reaction, VitalSigns
from patients.roles import Role, RoleAccessMixin

RECORD_READERS = (Role.SCHEDULER, Role.NURSE, Role.ADMIN)
RECORD_WRITERS = (Role.NURSE, Role.ADMIN)


def _refused(exc: chairside.EntryRefused) -> ValidationError:
    return ValidationError({exc.field: [str(exc)]})


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
        session = self.target_session()  # an unknown session is a 404, whatever the body
        payload = self.input_class(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            result = self.record(session, payload.validated_data, request.user)
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
