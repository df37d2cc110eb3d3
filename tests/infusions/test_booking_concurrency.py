"""Concurrent booking on PostgreSQL: the locks and the exclusion constraints hold."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections

from infusions.models import InfusionSession
from infusions.scheduling import ledger as ledger_module
from infusions.scheduling.booking import SlotConflict, session_book
from tests.factories import CenterFactory, ChairFactory, PatientFactory, PatientWeightFactory

START = dt.datetime(2027, 1, 4, 9, tzinfo=ZoneInfo("America/New_York"))
# serialized_rollback: a transactional test empties the tables; this puts back the
# catalogue and role groups that migrations installed, for the tests that follow.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def book_at_once(center, chair, patients) -> list[str]:
    barrier = threading.Barrier(len(patients))
    outcomes: list[str] = []

    def book(patient) -> None:
        try:
            barrier.wait()
            session_book(patient=patient, center=center, chair=chair, start=START, chair_minutes=120)
            outcomes.append("booked")
        except SlotConflict as exc:
            outcomes.append(f"409 {','.join(exc.reasons)}")
        except Exception as exc:  # anything else is a bug the test must show
            outcomes.append(f"error {type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=book, args=(p,)) for p in patients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_twenty_schedulers_booking_one_chair_at_once_get_one_booking():
    center = CenterFactory(default_nurses_on_duty=20)
    chair = ChairFactory(center=center)
    patients = [PatientFactory() for _ in range(20)]
    for patient in patients:
        PatientWeightFactory(patient=patient, weight_kg=Decimal("70"))

    outcomes = book_at_once(center, chair, patients)

    assert outcomes.count("booked") == 1, outcomes
    assert sorted(outcomes)[:19] == ["409 chair_busy"] * 19, outcomes
    assert InfusionSession.objects.count() == 1


def test_a_race_past_the_check_is_still_a_conflict_not_a_500(monkeypatch):
    center = CenterFactory()
    chair = ChairFactory(center=center)
    session_book(patient=PatientFactory(), center=center, chair=chair, start=START, chair_minutes=120)
    # As if another writer had slipped in unseen: the exclusion constraint is the last word.
    monkeypatch.setattr(ledger_module.Ledger, "reasons", lambda self, **kwargs: [])

    with pytest.raises(SlotConflict) as refused:
        session_book(patient=PatientFactory(), center=center, chair=chair, start=START, chair_minutes=60)

    assert refused.value.reasons == ["chair_busy"]
    assert InfusionSession.objects.count() == 1
    assert connection.vendor == "postgresql"
