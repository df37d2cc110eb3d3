"""Settings for bench/api_load.py: the production settings, plus the framework's floor URL.

Everything else comes from the environment exactly as in production (DEBUG
off, a real SECRET_KEY, ALLOWED_HOSTS, collected static files). Session
cookies stay `Secure`: the load client sends the cookie over plain HTTP
itself, as a browser would not.
"""

from __future__ import annotations

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bench_urls"
