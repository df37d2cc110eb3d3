from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from rest_framework import viewsets

from infusions.api.serializers import (
    CenterSerializer,
    ChairSerializer,
    ProductSerializer,
    ProtocolSerializer,
)
from infusions.models import Center, Chair, Product, Protocol, ProtocolStep
from patients.roles import STAFF_ROLES, Role, RoleAccessMixin

STAFF = tuple(STAFF_ROLES)


def protocols_with_steps() -> QuerySet[Protocol]:
    return Protocol.objects.select_related("product", "indication").prefetch_related(
        Prefetch("steps", queryset=ProtocolStep.objects.order_by("position"))
    )


class ProductViewSet(RoleAccessMixin, viewsets.ReadOnlyModelViewSet):
    """The IVIG catalogue, lowest IgA content first. Pharmacists maintain it in the admin."""

    serializer_class = ProductSerializer
    read_roles = STAFF
    lookup_field = "code"
    filterset_fields = ["is_active", "contains_maltose"]

    def get_queryset(self) -> QuerySet[Product]:
        return Product.objects.by_iga_content().prefetch_related(
            Prefetch("protocols", queryset=protocols_with_steps())
        )


class ProtocolViewSet(RoleAccessMixin, viewsets.ReadOnlyModelViewSet):
    """Rate ladders and maxima per product and indication."""

    serializer_class = ProtocolSerializer
    read_roles = STAFF
    filterset_fields = {
        "product__code": ["exact"],
        "indication__code": ["exact"],
        "ladder_confirmed": ["exact"],
    }

    def get_queryset(self) -> QuerySet[Protocol]:
        return protocols_with_steps()


class CenterViewSet(RoleAccessMixin, viewsets.ModelViewSet):
    """Centers with their hours and closures. Staff read; admins write."""

    serializer_class = CenterSerializer
    read_roles = STAFF
    write_roles = (Role.ADMIN,)

    def get_queryset(self) -> QuerySet[Center]:
        return Center.objects.prefetch_related("opening_hours", "closed_dates")


class ChairViewSet(RoleAccessMixin, viewsets.ModelViewSet):
    """Chairs. Staff read; admins write."""

    serializer_class = ChairSerializer
    read_roles = STAFF
    write_roles = (Role.ADMIN,)
    filterset_fields = ["center", "is_active"]

    def get_queryset(self) -> QuerySet[Chair]:
        return Chair.objects.all()
