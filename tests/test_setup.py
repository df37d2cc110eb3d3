"""The project's set-up: settings fail loudly, migrations are complete, the
deployment files describe the whole app."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent


def start_django(**env: str) -> subprocess.CompletedProcess:
    """Load the settings in a fresh process with exactly these variables."""
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_starts_on_the_development_defaults():
    result = start_django()
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_it_refuses_to_start_in_production_without_a_secret_key():
    result = start_django(DEBUG="false", ALLOWED_HOSTS="chairside.example")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG must be true or false"),
        ({"SITE_URL": "chairside.example"}, "SITE_URL must be an absolute"),
        ({"DATABASE_URL": "mysql://root@localhost/x"}, "DATABASE_URL must be SQLite or PostgreSQL"),
        ({"CELERY_BROKER_URL": "amqp://guest@localhost//"}, "CELERY_BROKER_URL must be"),
        ({"CONN_MAX_AGE": "forever", "DATABASE_URL": "postgres://u@localhost/x"}, "invalid literal"),
        ({"DEBUG": "false", "SECRET_KEY": "s" * 50}, "ALLOWED_HOSTS must be set"),
        ({"CHAIRSIDE_DEFAULT_TIME_ZONE": "Mars/Olympus"}, "not an IANA zone"),
    ],
)
def test_it_fails_loudly_on_a_bad_setting(variables, message):
    result = start_django(**variables)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_settings_start_with_the_required_values():
    result = start_django(DEBUG="false", SECRET_KEY="x" * 50, ALLOWED_HOSTS="chairside.example")
    assert result.returncode == 0, result.stderr


def test_production_settings_pass_the_deployment_checks_with_no_warnings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}},
            "DEBUG": "false",
            "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghij",
            "ALLOWED_HOSTS": "chairside.example",
            "SITE_URL": "https://chairside.example",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_models_and_migrations_agree():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_docker_compose_runs_the_five_services():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert set(compose["services"]) == {"postgres", "redis", "web", "worker", "beat"}
    assert "gunicorn" in compose["services"]["web"]["command"]
    assert compose["services"]["worker"]["command"].startswith("celery -A config worker")
    assert compose["services"]["beat"]["command"].startswith("celery -A config beat")
    environment = compose["x-app"]["environment"]
    assert environment["DATABASE_URL"].startswith("postgres://")
    assert environment["CELERY_BROKER_URL"].startswith("redis://")


def test_the_procfile_starts_web_worker_and_beat():
    processes = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()
    )
    assert set(processes) == {"web", "worker", "beat"}
