"""One transport per channel behind a registry, each with `send()` and a
`TransportError(permanent=...)`, after healthchecks' transports."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import make_msgid
from django.core.mail.utils import DNS_NAME

from infusions.models import Reminder
from infusions.reminders.messages import render_email, render_sms
from infusions.reminders.sms import SmsError, sms_backend


class TransportError(Exception):
    """Delivery failed; a permanent error is never retried."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class EmailTransport:
    def send(self, reminder: Reminder) -> str:
        message = render_email(reminder)
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[reminder.session.patient.email],
            headers={"Message-ID": make_msgid(domain=DNS_NAME)},  # recorded as the attempt's provider id
        )
        email.attach_alternative(message.html, "text/html")
        if message.ics:
            email.attach("appointment.ics", message.ics, "text/calendar")
        try:
            email.send()
        except smtplib.SMTPRecipientsRefused as exc:  # a hard bounce: the address is wrong
            raise TransportError("The mail server refused the address.", permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportError(f"Mail server error: {type(exc).__name__}") from exc
        return email.extra_headers.get("Message-ID", "")


class SmsTransport:
    def send(self, reminder: Reminder) -> str:
        try:
            return sms_backend().send(reminder.session.patient.phone, render_sms(reminder))
        except SmsError as exc:
            raise TransportError(str(exc), permanent=exc.permanent) from exc


TRANSPORTS = {"email": EmailTransport, "sms": SmsTransport}


def transport_for(channel: str):
    return TRANSPORTS[channel]()
