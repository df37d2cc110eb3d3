"""`GET /api/v1/reminders/`: the outbox, for staff."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import serializers, viewsets

from infusions.models import Reminder
from patients.roles import STAFF_ROLES, RoleAccessMixin


class ReminderSerializer(serializers.ModelSerializer):
    session_version = serializers.IntegerField()

    class Meta:
        model = Reminder
        fields = [
            "id",
            "session",
            "session_version",
            "kind",
            "offset_hours",
            "channel",
            "status",
            "due_at",
            "sent_at",
            "attempts",
            "last_error",
        ]
        read_only_fields = fields


class ReminderViewSet(RoleAccessMixin, viewsets.ReadOnlyModelViewSet):
    """Reminder rows with their status; failed ones carry the last error (never message text)."""

    serializer_class = ReminderSerializer
    read_roles = tuple(STAFF_ROLES)
    filterset_fields = ["session", "status", "kind", "channel"]

    def get_queryset(self) -> QuerySet[Reminder]:
        return Reminder.objects.order_by("due_at", "id")
