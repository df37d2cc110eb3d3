"""What happens when a patient uses a reminder link."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from infusions.models import InfusionSession, LinkUse, SessionStatus
from infusions.reminders.links import Link
from infusions.scheduling.booking import session_transition

logger = logging.getLogger(__name__)


class LinkRefused(Exception):
    """The link cannot be used now; `state` says why (moved, used, expired, cancelled)."""

    def __init__(self, state: str):
        super().__init__(state)
        self.state = state


def link_state(link: Link) -> str:
    if LinkUse.objects.filter(digest=link.digest).exists():
        return "used"
    if link.moved:
        return "moved"
    if not link.session.is_live:
        return "cancelled"
    if link.expired:
        return "expired"
    if not link.session.can_reschedule():
        # Checked in, under way or done: the center, not a link, changes it now.
        return "closed"
    return "ok"


@transaction.atomic
def reminder_link_respond(*, link: Link, note: str = "") -> InfusionSession:
    """Confirm, cancel or ask for another time, once per link."""
    session = (
        InfusionSession.objects.select_for_update()
        .select_related("center", "patient")
        .get(pk=link.session.pk)
    )
    link = Link(session, link.version, link.action, link.token)
    state = link_state(link)
    if state != "ok":
        raise LinkRefused(state)
    try:
        with transaction.atomic():
            LinkUse.objects.create(digest=link.digest, session=session, action=link.action, note=note)
    except IntegrityError as exc:  # the same link used twice at once
        raise LinkRefused("used") from exc
    if link.action == "confirm" and session.status == SessionStatus.SCHEDULED:
        session = session_transition(session=session, action="confirm")
    elif link.action == "cancel":
        session = session_transition(session=session, action="cancel")
    if link.action in ("cancel", "reschedule"):
        transaction.on_commit(lambda: _notify_schedulers(session.pk, link.action))
    return session


def _notify_schedulers(session_id: int, action: str) -> None:
    """Tell the schedulers, by session number only: the reason stays in Chairside."""
    session = InfusionSession.objects.select_related("center").get(pk=session_id)
    addresses = list(
        User.objects.filter(groups__name="scheduler", is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not addresses:
        return
    local = session.start.astimezone(session.center.zone)
    what = "cancelled" if action == "cancel" else "asked for another time for"
    send_mail(
        subject=f"A patient {what} session {session.pk}",
        message=(
            f"A patient {what} session {session.pk} at {session.center.short_name} on "
            f"{local:%Y-%m-%d %H:%M %Z}.\n{settings.SITE_URL}/sessions/{session.pk}/"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=addresses,
        fail_silently=True,
    )
    logger.info("Schedulers told that a patient %s session %s.", what, session.pk)
