"""Who a user is in Chairside: a role per auth group, plus superusers (admin).

Every API queryset and permission asks these helpers, so a role means the same
thing in the REST API, the dashboard and the admin.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models
from django.http import HttpRequest
from rest_framework.permissions import SAFE_METHODS, BasePermission


class Role(models.TextChoices):
    SCHEDULER = "scheduler", "Scheduler"
    NURSE = "nurse", "Nurse"
    PHARMACIST = "pharmacist", "Pharmacist"
    PATIENT = "patient", "Patient"
    ADMIN = "admin", "Administrator"


GROUP_ROLES = (Role.SCHEDULER, Role.NURSE, Role.PHARMACIST, Role.PATIENT)
EVERY_ROLE = tuple(Role)
STAFF_ROLES = frozenset({Role.SCHEDULER, Role.NURSE, Role.PHARMACIST, Role.ADMIN})


def roles_of(user: AbstractBaseUser | AnonymousUser) -> frozenset[Role]:
    """The user's roles, cached on the user object for the request."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_chairside_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        cached = frozenset(role for role in GROUP_ROLES if role.value in names)
        if user.is_superuser:
            cached |= {Role.ADMIN}
        user._chairside_roles = cached
    return cached


def has_role(user: AbstractBaseUser | AnonymousUser, *roles: Role) -> bool:
    return bool(roles_of(user) & set(roles))


def is_staff_member(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(roles_of(user) & STAFF_ROLES)


def home_role(user: AbstractBaseUser | AnonymousUser) -> Role | None:
    """The role whose home page a user lands on (the most privileged one)."""
    for role in (Role.ADMIN, Role.SCHEDULER, Role.NURSE, Role.PHARMACIST, Role.PATIENT):
        if role in roles_of(user):
            return role
    return None


class RolePermission(BasePermission):
    """Lets a request through when the user holds one of the view's roles for it.

    Object scoping (a patient sees only their own rows) is the view's
    `get_queryset()`, since object permissions do not run on list views.
    """

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        return has_role(request.user, *view.roles_for(request))


class RoleAccessMixin:
    """Reads for `read_roles`, writes for `write_roles`; a custom action that
    writes may name its own roles in `action_write_roles`."""

    permission_classes = [RolePermission]
    read_roles: tuple[Role, ...] = ()
    write_roles: tuple[Role, ...] = (Role.ADMIN,)
    action_write_roles: dict[str, tuple[Role, ...]] = {}

    def roles_for(self, request) -> tuple[Role, ...]:
        if request.method in SAFE_METHODS:
            return self.read_roles
        return self.action_write_roles.get(getattr(self, "action", None), self.write_roles)


def context_processor(request: HttpRequest) -> dict[str, object]:
    user = request.user
    return {"user_roles": sorted(role.value for role in roles_of(user)), "home_role": home_role(user)}


# Django-admin rights per role group. Pharmacists keep the product catalogue;
# everything else is done through the API and dashboard.
ADMIN_SITE_PERMISSIONS = {
    Role.PHARMACIST: {
        "infusions": {
            "indication": ("view", "add", "change"),
            "product": ("view", "add", "change"),
            "protocol": ("view", "add", "change"),
            "protocolstep": ("view", "add", "change", "delete"),
        },
    },
}


def grant_admin_site_permissions(**kwargs) -> None:
    """post_migrate: give each role group its admin-site permissions (idempotent)."""
    from django.contrib.auth.models import Group, Permission

    for role, apps_models in ADMIN_SITE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        codenames = [
            f"{action}_{model}"
            for models_ in apps_models.values()
            for model, actions in models_.items()
            for action in actions
        ]
        permissions = Permission.objects.filter(
            content_type__app_label__in=list(apps_models), codename__in=codenames
        )
        group.permissions.add(*permissions)
