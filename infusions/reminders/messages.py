"""What a reminder says: rendered from templates, with nothing clinical in it.

A message carries the center's short name, the local date and time, and signed
links (HHS HIPAA FAQ 198: only what is needed to keep the appointment). No
diagnosis, drug, dose or full name ever reaches a template's context.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.template.loader import render_to_string

from infusions.calendar import sessions_calendar
from infusions.models import InfusionSession, Reminder, ReminderKind
from infusions.reminders.links import link_urls


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str
    ics: bytes | None


def message_context(session: InfusionSession, kind: str) -> dict[str, object]:
    local = session.start.astimezone(session.center.zone)
    context: dict[str, object] = {
        "kind": kind,
        "center": session.center.short_name,
        "date": f"{local:%A} {local.day} {local:%B %Y}",
        "time": f"{local:%H:%M} {local.tzname()}",
    }
    if kind != ReminderKind.CANCELLED:
        context["links"] = link_urls(session)
    return context


def render_email(reminder: Reminder) -> Message:
    session = reminder.session
    context = message_context(session, reminder.kind)
    subject = render_to_string(f"reminders/email/{reminder.kind}_subject.txt", context).strip()
    return Message(
        subject=" ".join(subject.split()),
        text=render_to_string(f"reminders/email/{reminder.kind}.txt", context),
        html=render_to_string(f"reminders/email/{reminder.kind}.html", context),
        ics=sessions_calendar([session], name=str(context["center"])),
    )


def render_sms(reminder: Reminder) -> str:
    context = message_context(reminder.session, reminder.kind)
    return " ".join(render_to_string(f"reminders/sms/{reminder.kind}.txt", context).split())
