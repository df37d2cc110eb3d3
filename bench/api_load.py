"""HTTP load benchmark: the sessions API and the day board under gunicorn, against the framework's floor.

Builds a year of demo data on a fresh PostgreSQL database (bench/demo_year.py:
three centers in three zones, 8 chairs and 150 patients each, about 14,000
sessions on the weekdays of the 52 weeks around today), then serves it as
production would: gunicorn with two sync workers, DEBUG off, static files
collected, settings from the environment (bench/bench_settings.py only adds
the floors of bench/bench_urls.py: `/bench/floor/`, a JSON view that touches
no database, the cost of Django, its middleware and gunicorn alone; and two
reference points that authenticate and do nothing else, the API's way and
the dashboard's way).

Client processes on the same machine, one per connection, first warm the
server up with the API and the board together (6,000 requests: see
`warm_server()`), then load three targets in turn, each for a short warm-up
and then a fixed measured time:

1. the floor, `GET /bench/floor/`;
2. the token floor, `GET /bench/floor/token/`: DRF with the API's token
   authentication and the user's roles, no data (a reference, not a goal);
3. the session floor, `GET /bench/floor/session/`: a logged-in page's session,
   user and roles, no data (a reference, not a goal);
4. the sessions API, `GET /api/v1/sessions/?center=<id>&date=<day>` with a
   scheduler's token;
5. the day board, `GET /board/?center=<id>&date=<day>` with the same
   scheduler's session cookie;

where the day is the busiest weekday of the next two weeks at the New York
center. gunicorn's sync workers close the connection after every response,
so every request, the floor's included, opens a new one.

Printed per target: requests, requests/s, p50 and p99 latency, each as a
ratio to the floor, the database queries one request makes (counted
in-process with Django's test client), non-200 responses (warm-up included),
and every worker's resident memory (VmRSS) at the middle and at the end of
the measured time with its peak (VmHWM). Goals:
the API and the board each keep at least half of the floor's throughput;
each worker stays under 200 MB and does not grow from the middle of a
target's run to its end. A missed goal prints FAIL and still exits 0; a
non-200 response, a server that does not start or a worker that dies exits 1.
The client shares the machine's cores with the server and PostgreSQL, so the
ratios say more than the absolute figures.

    .venv/bin/python bench/api_load.py [--postgres URL] [--seconds N] [--connections N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import math
import multiprocessing
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# The project root, so that `bench` and the apps import when run as `python bench/<name>.py`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import ROOT, bench_database

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
HOST = "127.0.0.1"
WORKERS = 2
WARM_UP_SECONDS = 2.0  # per target
# Once, before the first target: see warm_server().
SERVER_WARM_UP_REQUESTS = 6000
SERVER_WARM_UP_LIMIT_SECONDS = 120.0
CLIENT_START_SECONDS = 1.5  # time for the spawned client processes to import and connect
START_TIMEOUT_SECONDS = 60
REQUEST_TIMEOUT_SECONDS = 30
THROUGHPUT_GOAL = 0.5  # of the floor's requests/s
MEMORY_LIMIT_MB = 200
# Resident memory moves by a few pages as the allocator reuses them; more than this is growth.
GROWTH_TOLERANCE_MB = 1.0
FAILURES_KEPT = 3


class LoadError(Exception):
    """The benchmark could not measure: the server did not start, a response was not 200."""


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Memory:
    rss_mb: float
    peak_mb: float


@dataclass
class Result:
    target: Target
    seconds: float
    queries: int
    latencies_ms: list[float]
    non_200: int
    failures: list[str]
    middle: dict[int, Memory]
    end: dict[int, Memory]

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, share: float) -> float:
        """Nearest rank: the latency `share` of the requests took at most."""
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(share * len(ordered)) - 1)]

    @property
    def growth_mb(self) -> float:
        return max(self.end[pid].rss_mb - self.middle[pid].rss_mb for pid in self.end)

    @property
    def peak_mb(self) -> float:
        return max(memory.peak_mb for memory in self.end.values())


@dataclass(frozen=True)
class Server:
    process: subprocess.Popen
    port: int
    workers: tuple[int, ...]


@dataclass(frozen=True)
class Window:
    """When the clients start, when timing starts (after the warm-up) and when they stop, in time.monotonic()."""

    start_at: float
    measure_from: float
    stop_at: float
    requests: int | None = None  # per connection: stop sooner once this many are sent

    @classmethod
    def after(cls, *, warm_up: float, seconds: float, requests: int | None = None) -> Window:
        start_at = time.monotonic() + CLIENT_START_SECONDS
        return cls(start_at, start_at + warm_up, start_at + warm_up + seconds, requests)

    def open(self, now: float, sent: int) -> bool:
        return now < self.stop_at and (self.requests is None or sent < self.requests)

    @property
    def middle(self) -> float:
        return (self.measure_from + self.stop_at) / 2


# -- the client (runs in its own processes) ------------------------------------------------


def drive(port: int, target: Target, window: Window, results) -> None:
    """One connection: GET the target until the window closes, timing the requests begun after its warm-up."""
    connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT_SECONDS)
    latencies, sent, non_200, failures = [], 0, 0, []
    time.sleep(max(0.0, window.start_at - time.monotonic()))
    while window.open(began := time.monotonic(), sent):
        status, body = fetch(connection, target)
        sent += 1
        elapsed_ms = (time.monotonic() - began) * 1000
        if status != 200:
            non_200 += 1
            if len(failures) < FAILURES_KEPT:
                failures.append(f"{status} {body[:200]!r}")
        if began >= window.measure_from:
            latencies.append(elapsed_ms)
    connection.close()
    results.put({"latencies_ms": latencies, "sent": sent, "non_200": non_200, "failures": failures})


def fetch(connection: http.client.HTTPConnection, target: Target) -> tuple[int, bytes]:
    """Status and body; 0 and the error when the connection failed (the next request reconnects)."""
    try:
        connection.request("GET", target.path, headers=target.headers)
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as exc:
        connection.close()
        return 0, repr(exc).encode()


# -- the server ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def server_environment(port: int, static_root: Path) -> dict[str, str]:
    """Production settings from the environment, as a deployment sets them."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.bench_settings",
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "DEBUG": "false",
        "SECRET_KEY": os.environ["SECRET_KEY"],
        "ALLOWED_HOSTS": HOST,
        "SITE_URL": f"http://{HOST}:{port}",
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_ROOT": str(static_root),
        "LOG_LEVEL": "WARNING",
    }


def collect_static(env: dict[str, str]) -> None:
    """DEBUG off serves hashed file names from the manifest, which collectstatic writes."""
    done = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise LoadError(f"collectstatic failed:\n{done.stderr[-2000:]}")


@contextmanager
def gunicorn(folder: Path) -> Iterator[Server]:
    port = free_port()
    env = server_environment(port, folder / "static")
    collect_static(env)
    log_path = folder / "gunicorn.log"
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "config.wsgi:application",
        *("--workers", str(WORKERS), "--bind", f"{HOST}:{port}"),
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield Server(process, port, wait_until_serving(process, port, log_path))
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_serving(process: subprocess.Popen, port: int, log_path: Path) -> tuple[int, ...]:
    """The worker pids, once the floor answers 200 and every worker has booted."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LoadError(f"gunicorn exited with {process.returncode}:\n{log_tail(log_path)}")
        workers = worker_pids(process.pid)
        if len(workers) == WORKERS and answers(port, "/bench/floor/") == 200:
            return workers
        time.sleep(0.2)
    raise LoadError(f"gunicorn did not serve within {START_TIMEOUT_SECONDS} s:\n{log_tail(log_path)}")


def answers(port: int, path: str) -> int:
    connection = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        return fetch(connection, Target("probe", path))[0]
    finally:
        connection.close()


def log_tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def worker_pids(master: int) -> tuple[int, ...]:
    """gunicorn's workers: the master's child processes."""
    pids = []
    for task in Path(f"/proc/{master}/task").iterdir():
        pids.extend(int(pid) for pid in (task / "children").read_text().split())
    return tuple(sorted(pids))


def worker_memory(server: Server) -> dict[int, Memory]:
    """VmRSS and VmHWM of every worker; a worker that died or was replaced stops the run."""
    if worker_pids(server.process.pid) != server.workers:
        raise LoadError("a gunicorn worker died or was replaced during the load; see its log")
    return {pid: read_memory(pid) for pid in server.workers}


def read_memory(pid: int) -> Memory:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    kilobytes = {name: int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM")}
    return Memory(rss_mb=kilobytes["VmRSS"] / 1024, peak_mb=kilobytes["VmHWM"] / 1024)


def sample_at(instant: float, server: Server) -> dict[int, Memory]:
    time.sleep(max(0.0, instant - time.monotonic()))
    return worker_memory(server)


# -- the data and who asks -----------------------------------------------------------------


def scheduler_credentials() -> tuple[str, str]:
    """A scheduler's DRF token and the key of a logged-in session, as `login()` would store it."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    user = User.objects.create_user("scheduler")
    user.groups.add(Group.objects.get(name="scheduler"))
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return Token.objects.create(user=user).key, session.session_key


def busiest_day(center) -> tuple[dt.date, int, int]:
    """The weekday of the next two weeks with the most sessions at `center`: (day, sessions, live)."""
    from django.utils import timezone

    from infusions.models import InfusionSession

    today = timezone.localdate(timezone=center.zone)
    coming = (today + dt.timedelta(days=n) for n in range(1, 15))
    weekdays = [day for day in coming if day.weekday() < 5]
    counts = {day: InfusionSession.objects.on_day(day, center).count() for day in weekdays}
    day = max(weekdays, key=lambda d: (counts[d], -d.toordinal()))
    return day, counts[day], InfusionSession.objects.on_day(day, center).live().count()


def targets(center_id: int, day: dt.date, token: str, session_key: str) -> list[Target]:
    from django.conf import settings

    query = f"center={center_id}&date={day:%Y-%m-%d}"
    api_headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    cookie = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session_key}"}
    return [
        Target("floor", "/bench/floor/", {"Accept": "application/json"}),
        Target("token floor", "/bench/floor/token/", api_headers),
        Target("session floor", "/bench/floor/session/", cookie),
        Target("sessions API", f"/api/v1/sessions/?{query}", api_headers),
        Target("day board", f"/board/?{query}", cookie),
    ]


def queries_per_request(target: Target) -> int:
    """Database queries of one request, counted in-process after one warm-up request."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    meta = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in target.headers.items()}
    with override_settings(ROOT_URLCONF="bench.bench_urls"):
        Client().get(target.path, **meta)
        with CaptureQueriesContext(connection) as captured:
            response = Client().get(target.path, **meta)
    if response.status_code != 200:
        raise LoadError(f"{target.name}: {response.status_code} in-process")
    return len(captured.captured_queries)


def check_responses(server: Server, api: Target, board: Target, sessions: int, live: int) -> None:
    """The API lists the day's sessions and the board draws the live ones, before any load."""
    connection = http.client.HTTPConnection(HOST, server.port, timeout=REQUEST_TIMEOUT_SECONDS)
    status, body = fetch(connection, api)
    if status != 200 or json.loads(body)["count"] != sessions:
        raise LoadError(f"{api.name}: {status}, expected {sessions} sessions: {body[:300]!r}")
    status, body = fetch(connection, board)
    drawn = body.count(b'class="session-block')
    if status != 200 or drawn != live:
        raise LoadError(f"{board.name}: {status}, {drawn} sessions drawn, expected {live}: {body[:300]!r}")
    connection.close()


# -- load -------------------------------------------------------------------------------


def start_clients(server: Server, connections: list[Target], window: Window) -> tuple[list, object]:
    """A client process per connection, each sending its results to the queue returned."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [
        context.Process(target=drive, args=(server.port, target, window, results)) for target in connections
    ]
    for process in processes:
        process.start()
    return processes, results


def collect(processes: list, results, window: Window) -> list[dict]:
    wait = window.stop_at - time.monotonic() + REQUEST_TIMEOUT_SECONDS + 30
    outcomes = [results.get(timeout=max(wait, 1.0)) for _ in processes]
    for process in processes:
        process.join()
    return outcomes


def run_clients(
    server: Server, connections: list[Target], window: Window
) -> tuple[list[dict], dict[int, Memory], dict[int, Memory]]:
    """The clients' results, and the workers' memory at the middle and at the end of the timing."""
    processes, results = start_clients(server, connections, window)
    middle = sample_at(window.middle, server)
    end = sample_at(window.stop_at, server)
    return collect(processes, results, window), middle, end


def warm_server(server: Server, targets: list[Target], connections: int) -> tuple[int, float]:
    """Load the application's pages together until the workers' memory has levelled off: (requests, seconds).

    A fresh worker's resident memory climbs by about 10 MB over its first
    few thousand requests (a cheaper request makes less garbage, so it takes
    more of them) and then stays: each request leaves reference
    cycles (the request and its message storage, template contexts) that
    only Python's full collections free, and those come rarely, so the heap
    grows to hold the garbage between two of them. Judging growth before
    that would report the climb as a leak.
    """
    window = Window.after(
        warm_up=0.0, seconds=SERVER_WARM_UP_LIMIT_SECONDS, requests=SERVER_WARM_UP_REQUESTS // connections
    )
    processes, results = start_clients(
        server, [targets[n % len(targets)] for n in range(connections)], window
    )
    outcomes = collect(processes, results, window)
    if any(outcome["non_200"] for outcome in outcomes):
        failures = [failure for outcome in outcomes for failure in outcome["failures"]]
        raise LoadError(f"responses other than 200 while warming up: {'; '.join(failures)}")
    return sum(outcome["sent"] for outcome in outcomes), time.monotonic() - window.start_at


def load(server: Server, target: Target, *, connections: int, seconds: float, queries: int) -> Result:
    window = Window.after(warm_up=WARM_UP_SECONDS, seconds=seconds)
    outcomes, middle, end = run_clients(server, [target] * connections, window)
    return Result(
        target=target,
        seconds=seconds,
        queries=queries,
        latencies_ms=[ms for outcome in outcomes for ms in outcome["latencies_ms"]],
        non_200=sum(outcome["non_200"] for outcome in outcomes),
        failures=[failure for outcome in outcomes for failure in outcome["failures"]],
        middle=middle,
        end=end,
    )


# -- report ------------------------------------------------------------------------------


def report(results: list[Result]) -> None:
    floor = results[0]
    print(
        f"{'target':<14}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'queries':>8}{'non-200':>8}"
        f"{'req/s/floor':>12}{'p50/floor':>10}{'p99/floor':>10}   worker RSS mid->end MB, peak MB"
    )
    for r in results:
        memory = "  ".join(
            f"{r.middle[pid].rss_mb:.1f}->{r.end[pid].rss_mb:.1f} ({r.end[pid].peak_mb:.1f})" for pid in r.end
        )
        print(
            f"{r.target.name:<14}{r.requests:>9}{r.per_second:>8.1f}{r.percentile(0.5):>8.1f}"
            f"{r.percentile(0.99):>8.1f}{r.queries:>8}{r.non_200:>8}"
            f"{r.per_second / floor.per_second:>12.2f}{r.percentile(0.5) / floor.percentile(0.5):>10.2f}"
            f"{r.percentile(0.99) / floor.percentile(0.99):>10.2f}   {memory}"
        )
    print()
    for r in results[-2:]:
        ratio = r.per_second / floor.per_second
        verdict = "PASS" if ratio >= THROUGHPUT_GOAL else "FAIL"
        print(f"{verdict} {r.target.name} throughput >= {THROUGHPUT_GOAL} of the floor ({ratio:.2f})")
    peak = max(r.peak_mb for r in results)
    growth = max(r.growth_mb for r in results)
    verdict = "PASS" if peak < MEMORY_LIMIT_MB and growth <= GROWTH_TOLERANCE_MB else "FAIL"
    print(
        f"{verdict} each worker under {MEMORY_LIMIT_MB} MB (peak {peak:.1f} MB) and not growing between "
        f"the first and second half (largest growth {growth:+.1f} MB, tolerance {GROWTH_TOLERANCE_MB:.1f})"
    )


def megabytes(memory: dict[int, Memory]) -> str:
    return "/".join(f"{m.rss_mb:.1f}" for m in memory.values())


def refuse_non_200(results: list[Result]) -> None:
    failed = [r for r in results if r.non_200]
    if failed:
        lines = [f"{r.target.name}: {r.non_200} non-200, e.g. {'; '.join(r.failures)}" for r in failed]
        raise LoadError("responses other than 200:\n" + "\n".join(lines))


# -- main --------------------------------------------------------------------------------


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Sessions API and day board under gunicorn, against the floor."
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=DEFAULT_POSTGRES,
        help=f"server to create the throw-away database on (default {DEFAULT_POSTGRES})",
    )
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="measured seconds per target (default 10)"
    )
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections (default 4)")
    return parser.parse_args()


def run(args: argparse.Namespace, label: str) -> None:
    from django.db import connections

    from bench import demo_year

    began = time.monotonic()
    year = demo_year.build()
    print(f"Database: {label}")
    print(
        f"Data: {len(year.centers)} centers ({', '.join(c.time_zone for c in year.centers)}), "
        f"{demo_year.CHAIRS} chairs each, {year.patients} patients, {year.sessions} sessions on the weekdays "
        f"{year.first} to {year.last} ({year.unplaced} fitted no chair), built in {time.monotonic() - began:.1f} s"
    )
    center = year.centers[0]
    day, sessions, live = busiest_day(center)
    every = targets(center.pk, day, *scheduler_credentials())
    api, board = every[-2:]
    queries = {target.name: queries_per_request(target) for target in every}
    connections.close_all()  # the server's workers have the database to themselves
    with tempfile.TemporaryDirectory(prefix="chairside-load-") as folder, gunicorn(Path(folder)) as server:
        check_responses(server, api, board, sessions, live)
        print(f"Server: gunicorn, {WORKERS} sync workers, DEBUG off, http://{HOST}:{server.port}")
        print(f"Day: {center.name}, {day:%a %Y-%m-%d}: {sessions} sessions, {live} of them on the board")
        before = worker_memory(server)
        requests, seconds = warm_server(server, [api, board], args.connections)
        print(
            f"Server warm-up: {requests} requests of the API and the board together in {seconds:.0f} s; "
            f"worker RSS {megabytes(before)} MB before, {megabytes(worker_memory(server))} MB after"
        )
        print(
            f"Load: {args.connections} connections (a client process each), {WARM_UP_SECONDS:g} s warm-up "
            f"then {args.seconds:g} s per target\n"
        )
        results = [
            load(
                server,
                target,
                connections=args.connections,
                seconds=args.seconds,
                queries=queries[target.name],
            )
            for target in every
        ]
    report(results)
    refuse_non_200(results)


def main() -> int:
    args = arguments()
    # The server checks the session's auth hash with the same key this process signs it with.
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)
    try:
        with bench_database(args.postgres) as label:
            run(args, label)
    except LoadError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
