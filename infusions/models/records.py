"""Chairside records: rate changes, vitals, reactions, premedication and product lots."""

from __future__ import annotations
