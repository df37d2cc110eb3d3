"""A real Celery worker on a real Redis broker answers the app's control channel."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery

from tests.conftest import redis_url

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.redis
def test_a_worker_started_like_the_procfile_answers_on_redis(monkeypatch):
    url = redis_url()
    monkeypatch.setenv("CELERY_BROKER_URL", url)  # Celery prefers it to any broker it is given
    name = f"ci-probe-{os.getpid()}@localhost"
    env = {**os.environ, "CELERY_BROKER_URL": url}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            f"--hostname={name}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        replies = []
        deadline = time.monotonic() + 30
        client = Celery("probe", broker=url, set_as_current=False)  # else shared tasks publish with it
        while not replies and time.monotonic() < deadline and worker.poll() is None:
            replies = client.control.ping(destination=[name], timeout=1.0)
        if not replies:
            worker.terminate()
        output = b"" if replies else worker.communicate(timeout=20)[0][-3000:]
        assert replies == [{name: {"ok": "pong"}}], output
    finally:
        worker.terminate()
        worker.wait(timeout=20)
