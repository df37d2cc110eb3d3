"""`manage.py dispatch_reminders`: one sweep, sent in this process (for cron and tests)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from infusions.reminders.dispatch import reminders_dispatch, reminders_send


class Command(BaseCommand):
    help = "Send every due reminder now, in this process, without the broker."

    def handle(self, *args, **options) -> None:
        sent = reminders_dispatch(enqueue=reminders_send)
        self.stdout.write(f"Dispatched {sent} reminder(s).")
