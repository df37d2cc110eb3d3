from __future__ import annotations

from django.apps import AppConfig


class InfusionsConfig(AppConfig):
    name = "infusions"
    default_auto_field = "django.db.models.BigAutoField"
