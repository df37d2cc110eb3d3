"""Celery tasks: thin, take ids, call a service."""

from __future__ import annotations

from celery import shared_task

from infusions.reminders.dispatch import reminder_send, reminders_dispatch


@shared_task(name="infusions.dispatch_due_reminders", ignore_result=True)
def dispatch_due_reminders() -> int:
    """Beat runs this every 60 seconds: claim due reminders and queue one send each."""
    return reminders_dispatch(enqueue=send_reminder.delay)


@shared_task(name="infusions.send_reminder", ignore_result=True)
def send_reminder(reminder_id: int) -> str:
    return reminder_send(reminder_id)
