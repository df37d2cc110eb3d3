"""The database itself refuses implausible patients and weights.

DRF serializers and `objects.create` never call `full_clean()`, so these
constraints are the last line: every row here is written with `create` or
`QuerySet.update`, past the model's validators, and must be refused by the
database with the constraint's own name (or as a uniqueness violation).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from patients.models import Patient, PatientWeight
from tests.factories import PatientFactory, PatientWeightFactory

pytestmark = pytest.mark.django_db

# SQLite says "UNIQUE constraint failed: ...", PostgreSQL "violates unique constraint ...".
UNIQUE = re.compile("unique constraint", re.IGNORECASE)


@contextmanager
def refused_by(constraint: str | re.Pattern[str]) -> Iterator[None]:
    """The write inside must fail at the database, naming `constraint`.

    The savepoint keeps the test's transaction usable after the failure.
    """
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        yield


# MRN -------------------------------------------------------------------------


def test_it_refuses_a_second_patient_with_the_same_mrn():
    PatientFactory(mrn="MRN-0001")
    with refused_by(UNIQUE):
        PatientFactory(mrn="MRN-0001")
    assert Patient.objects.filter(mrn="MRN-0001").count() == 1


def test_it_refuses_to_give_an_existing_mrn_to_another_patient_by_update():
    PatientFactory(mrn="MRN-0001")
    other = PatientFactory(mrn="MRN-0002")
    with refused_by(UNIQUE):
        Patient.objects.filter(pk=other.pk).update(mrn="MRN-0001")
    other.refresh_from_db()
    assert other.mrn == "MRN-0002"


def test_it_accepts_patients_with_different_mrns():
    PatientFactory(mrn="MRN-0001")
    PatientFactory(mrn="MRN-0002")
    assert sorted(Patient.objects.values_list("mrn", flat=True)) == ["MRN-0001", "MRN-0002"]


def test_it_refuses_a_blank_mrn():
    with refused_by("patient_mrn_not_blank"):
        PatientFactory(mrn="")


# Quiet hours: both ends or neither -------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [(dt.time(21), None), (None, dt.time(8))],
    ids=["only-the-start", "only-the-end"],
)
def test_it_refuses_quiet_hours_with_only_one_end(start, end):
    with refused_by("patient_quiet_hours_both_or_neither"):
        PatientFactory(quiet_hours_start=start, quiet_hours_end=end)
    assert not Patient.objects.exists()


def test_it_refuses_to_clear_one_end_of_existing_quiet_hours():
    patient = PatientFactory(quiet_hours_start=dt.time(21), quiet_hours_end=dt.time(8))
    with refused_by("patient_quiet_hours_both_or_neither"):
        Patient.objects.filter(pk=patient.pk).update(quiet_hours_end=None)
    patient.refresh_from_db()
    assert (patient.quiet_hours_start, patient.quiet_hours_end) == (dt.time(21), dt.time(8))


@pytest.mark.parametrize(
    ("start", "end"),
    [(dt.time(21), dt.time(8)), (None, None)],
    ids=["both-ends", "neither-end"],
)
def test_it_accepts_quiet_hours_with_both_ends_or_neither(start, end):
    patient = PatientFactory(quiet_hours_start=start, quiet_hours_end=end)
    patient.refresh_from_db()
    assert (patient.quiet_hours_start, patient.quiet_hours_end) == (start, end)


# Other patient fields ----------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"height_cm": Decimal("99.9")}, "patient_height_plausible"),
        ({"height_cm": Decimal("250.1")}, "patient_height_plausible"),
        ({"tolerated_max_rate_mg_kg_min": Decimal("0")}, "patient_tolerated_rate_positive"),
        ({"tolerated_max_rate_mg_kg_min": Decimal("-1")}, "patient_tolerated_rate_positive"),
        ({"sex": "other"}, "patient_sex_valid"),
        ({"reminder_channel": "pager"}, "patient_reminder_channel_valid"),
        ({"iga_status": "low"}, "patient_iga_valid"),
    ],
    ids=[
        "height-below-100-cm",
        "height-above-250-cm",
        "zero-tolerated-rate",
        "negative-tolerated-rate",
        "unknown-sex",
        "unknown-reminder-channel",
        "unknown-iga-status",
    ],
)
def test_it_refuses_an_implausible_patient(changes, constraint):
    with refused_by(constraint):
        PatientFactory(**changes)
    assert not Patient.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"height_cm": Decimal("100.0")},
        {"height_cm": Decimal("250.0")},
        {"height_cm": None},
        {"tolerated_max_rate_mg_kg_min": Decimal("0.001")},
        {"tolerated_max_rate_mg_kg_min": None},
    ],
    ids=["height-100-cm", "height-250-cm", "no-height", "smallest-tolerated-rate", "no-tolerated-rate"],
)
def test_it_accepts_the_boundaries_of_a_plausible_patient(changes):
    patient = PatientFactory(**changes)
    patient.refresh_from_db()
    assert {field: getattr(patient, field) for field in changes} == changes


# Weights: 0 < w <= 350 kg ------------------------------------------------------


@pytest.mark.parametrize("weight", ["0", "-70", "350.1"], ids=["zero", "negative", "above-350-kg"])
def test_it_refuses_an_implausible_weight(weight):
    patient = PatientFactory()
    with refused_by("weight_plausible"):
        PatientWeight.objects.create(
            patient=patient, weight_kg=Decimal(weight), measured_on=dt.date(2026, 11, 1)
        )
    assert not patient.weights.exists()


def test_it_refuses_to_correct_a_weight_to_zero():
    weight = PatientWeightFactory(weight_kg=Decimal("70.0"))
    with refused_by("weight_plausible"):
        PatientWeight.objects.filter(pk=weight.pk).update(weight_kg=Decimal("0"))
    weight.refresh_from_db()
    assert weight.weight_kg == Decimal("70.0")


@pytest.mark.parametrize("weight", ["0.1", "350.0"], ids=["lightest", "heaviest"])
def test_it_accepts_the_boundary_weights(weight):
    patient = PatientFactory()
    PatientWeight.objects.create(patient=patient, weight_kg=Decimal(weight), measured_on=dt.date(2026, 11, 1))
    assert list(patient.weights.values_list("weight_kg", flat=True)) == [Decimal(weight)]


def test_the_database_refuses_an_mrn_that_differs_only_in_case(db):
    PatientFactory(mrn="abc-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        PatientFactory(mrn="ABC-1")
