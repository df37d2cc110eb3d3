"""Chairside records under /api/v1/sessions/{id}/."""

from __future__ import annotations

urlpatterns: list = []
