"""Signed links in reminders: confirm, cancel, or ask for another time.

A token names the session, its version and the action, nothing else: tokens
are readable base64, so they carry no personal data. A token for an older
version still opens, to say where the session moved; a token works once, and
not after the session has ended.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from infusions.models import InfusionSession

SALT = "chairside.reminder-link"
ACTIONS = ("confirm", "cancel", "reschedule")


class BadLink(Exception):
    """Tampered, or not a Chairside link."""


@dataclass(frozen=True)
class Link:
    session: InfusionSession
    version: int
    action: str
    token: str

    @property
    def moved(self) -> bool:
        return self.version != self.session.version

    @property
    def expired(self) -> bool:
        return self.session.end <= timezone.now()

    @property
    def digest(self) -> str:
        return token_digest(self.token)


def link_token(session: InfusionSession, action: str) -> str:
    return signing.dumps({"s": session.pk, "v": session.version, "a": action}, salt=SALT)


def link_url(session: InfusionSession, action: str) -> str:
    return settings.SITE_URL + reverse("reminder-link", args=[link_token(session, action)])


def link_urls(session: InfusionSession) -> dict[str, str]:
    """Every action's link for a message (one URL reversal, not one per link)."""
    base = settings.SITE_URL + reverse("reminder-link", args=["-"])[: -len("-/")]
    return {action: f"{base}{link_token(session, action)}/" for action in ACTIONS}


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_open(token: str) -> Link:
    try:
        data = signing.loads(token, salt=SALT)
        session = InfusionSession.objects.select_related("center").get(pk=data["s"])
        action, version = data["a"], int(data["v"])
    except (signing.BadSignature, KeyError, TypeError, ValueError, InfusionSession.DoesNotExist) as exc:
        raise BadLink from exc
    if action not in ACTIONS:
        raise BadLink
    return Link(session, version, action, token)
