"""Celery tasks: thin, take ids, call a service."""

from __future__ import annotations

from celery import shared_task

from infusions.reminders.dispatch import reminder_send, reminders_dispatch, reminders_send


@shared_task(name="infusions.dispatch_due_reminders", ignore_result=True)
def dispatch_due_reminders() -> int:
    """Beat runs this every 60 seconds: claim due reminders and queue a send per chunk of them."""
    return reminders_dispatch(enqueue=send_reminders.delay)


@shared_task(name="infusions.send_reminders", ignore_result=True)
def send_reminders(reminder_ids: list[int]) -> dict[int, str]:
    return reminders_send(reminder_ids)


@shared_task(name="infusions.send_reminder", ignore_result=True)
def send_reminder(reminder_id: int) -> str:
    """One reminder: the task earlier releases queued, kept so that none of theirs is dropped."""
    return reminder_send(reminder_id)
