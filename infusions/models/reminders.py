"""The reminder outbox: one row per (session, version, kind, channel)."""

from __future__ import annotations
