"""The Celery app. Settings come from Django's, under the CELERY_ namespace."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("chairside")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_connections(task=None, **kwargs) -> None:
    """Around each task, as around each web request: drop a connection that is broken
    (a database restart) or past CONN_MAX_AGE, so the next query opens a good one.
    A task run eagerly runs in its caller's transaction, which is left alone."""
    from django.db import close_old_connections as django_close_old_connections

    if task is not None and getattr(task.request, "is_eager", False):
        return
    django_close_old_connections()
