"""What every benchmark shares: Django on a throw-away database.

By default a fresh SQLite file in a temporary directory; with `--postgres URL`
a fresh database `chairside_bench_<pid>` created through that server (the URL
names any database the user may connect to, usually `postgres`) and dropped
at the end. Either way the schema comes from the migrations, so the catalogue
(Octagam 10% and its dermatomyositis protocol) is there as in production.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def arguments(description: str, *, workers: bool = False) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    if workers:
        parser.add_argument("--workers", type=int, default=1, help="sending processes at once (default 1)")
        parser.add_argument(
            "--celery",
            metavar="BROKER_URL",
            help="send through a real Celery worker (prefork, --workers processes) on this broker, "
            "e.g. redis://127.0.0.1:6379/13; needs --postgres",
        )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run on PostgreSQL: a fresh database is created through this server and dropped after, "
        "e.g. postgres://postgres@127.0.0.1:5432/postgres",
    )
    return parser.parse_args()


@contextmanager
def bench_database(postgres_url: str | None = None) -> Iterator[str]:
    """Set up Django on a migrated throw-away database; yield a label saying which."""
    if postgres_url:
        with _postgres(postgres_url) as (url, label):
            yield from _django(url, label)
    else:
        folder = tempfile.mkdtemp(prefix="chairside-bench-")
        try:
            path = Path(folder) / "bench.sqlite3"
            yield from _django(f"sqlite:///{path}", f"SQLite {path}")
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _django(url: str, label: str) -> Iterator[str]:
    import django
    from django.core.management import call_command
    from django.db import connections

    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    django.setup()
    try:
        call_command("migrate", verbosity=0)
        yield label
    finally:
        # A database in use cannot be dropped; close ours before the caller does.
        connections.close_all()


@contextmanager
def _postgres(admin_url: str) -> Iterator[tuple[str, str]]:
    import psycopg

    name = f"chairside_bench_{os.getpid()}"
    parts = urlsplit(admin_url)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = urlunsplit(parts._replace(path=f"/{name}"))
        yield url, f"PostgreSQL {parts.hostname}:{parts.port or 5432}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
