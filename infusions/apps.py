from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class InfusionsConfig(AppConfig):
    name = "infusions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from patients.roles import grant_admin_site_permissions

        # Permissions exist only after migrate has run, so they are granted then.
        post_migrate.connect(grant_admin_site_permissions, sender=self, dispatch_uid="chairside-role-perms")
