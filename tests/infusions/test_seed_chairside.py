"""`seed_demo` documents its past completed sessions as a nurse would have."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from infusions.models import InfusionSession, LotUse, RateChange, VitalSigns

NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)


def seed() -> None:
    with time_machine.travel(NOW, tick=False):
        call_command("seed_demo", stdout=StringIO())


@pytest.mark.django_db
def test_completed_demo_sessions_have_a_rate_log_vitals_and_lots_matching_the_plan():
    seed()
    completed = list(InfusionSession.objects.filter(status="completed").prefetch_related("rate_changes"))

    assert completed
    for session in completed:
        rates = list(session.rate_changes.order_by("at"))
        assert [float(r.rate_mg_kg_min) for r in rates] == pytest.approx(
            [step["rate_mg_kg_min"] for step in session.ladder], abs=0.002
        )
        assert rates[0].at == session.started_at > session.checked_in_at
        assert session.completed_at <= session.end
        assert float(session.grams_infused) == pytest.approx(float(session.grams), rel=0.002)
        assert session.vital_signs.count() == 2 and session.lots.exists()
    assert not RateChange.objects.exclude(session__status="completed").exists()


@pytest.mark.django_db
def test_seeding_again_adds_no_records_and_every_record_has_history():
    seed()
    counts = (RateChange.objects.count(), VitalSigns.objects.count(), LotUse.objects.count())
    seed()
    assert (RateChange.objects.count(), VitalSigns.objects.count(), LotUse.objects.count()) == counts
    assert RateChange.history.count() == counts[0] and LotUse.history.count() == counts[2]
