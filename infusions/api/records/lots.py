"""The lot recall: every patient and session that received a lot."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import generics, serializers

from infusions import chairside
from infusions.api.records.serializers import _decimal
from infusions.models import LotUse
from patients.roles import Role, RoleAccessMixin

RECALL_READERS = (Role.PHARMACIST, Role.ADMIN)


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
