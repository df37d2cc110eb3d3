from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import RequestFactory

from infusions.models import Center, InfusionPlan, InfusionSession, Product, Reminder
from patients.models import Patient, PatientWeight

NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)  # a Wednesday, 10:00 in New York


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def snapshot() -> dict[str, list]:
    return {
        "patients": list(Patient.objects.values_list("mrn", "given_name", "family_name", "height_cm")),
        "weights": list(PatientWeight.objects.order_by("id").values_list("patient__mrn", "weight_kg")),
        "plans": list(
            InfusionPlan.objects.order_by("id").values_list("patient__mrn", "start_date", "interval")
        ),
        "sessions": list(
            InfusionSession.objects.order_by("id").values_list(
                "patient__mrn", "chair__name", "start", "status"
            )
        ),
        "users": list(User.objects.order_by("username").values_list("username", flat=True)),
        "reminders": list(
            Reminder.objects.order_by("id").values_list("session_id", "kind", "channel", "status", "due_at")
        ),
    }


@pytest.fixture
def seeded(db):
    with time_machine.travel(NOW, tick=False):
        seed("--accounts")
    return snapshot()


def test_running_it_twice_gives_the_same_data(seeded):
    with time_machine.travel(NOW, tick=False):
        seed("--accounts")
    assert snapshot() == seeded


def test_it_creates_the_demo_center_as_described(seeded):
    center = Center.objects.get(name="Demo Infusion Center")
    assert center.time_zone == "America/New_York"
    assert center.chairs.count() == 8
    assert center.default_nurses_on_duty == 2 and center.patients_per_nurse == 4
    hours = list(center.opening_hours.values_list("weekday", "opens", "closes"))
    assert hours == [(day, dt.time(8), dt.time(18)) for day in range(5)]
    assert Patient.objects.filter(mrn__startswith="DEMO").count() == 20
    assert all(p.weights.exists() for p in Patient.objects.all())


def test_its_sessions_cover_the_last_two_weeks_and_the_next_four(seeded):
    center = Center.objects.get()
    local_days = {s.local_start.date() for s in InfusionSession.objects.all()}
    today = NOW.astimezone(center.zone).date()
    assert min(local_days) >= today - dt.timedelta(days=14)
    assert max(local_days) <= today + dt.timedelta(weeks=4)
    assert any(day < today for day in local_days) and any(
        day > today + dt.timedelta(weeks=3) for day in local_days
    )
    assert InfusionSession.objects.on_day(today, center).exists(), "the board must not be empty today"
    assert set(InfusionPlan.objects.values_list("interval", flat=True)) == {"every_4_weeks", "biweekly"}
    assert set(InfusionPlan.objects.values_list("protocol__product__code", flat=True)) == {"octagam-10"}


def test_its_sessions_never_double_book_and_fit_opening_hours(seeded):
    sessions = list(InfusionSession.objects.live().select_related("center"))
    for session in sessions:
        assert dt.time(8) <= session.local_start.time() and session.local_end.time() <= dt.time(18)
        assert session.local_start.weekday() < 5
    for a in sessions:
        for b in sessions:
            if a.pk < b.pk and a.start < b.end and b.start < a.end:
                assert a.chair_id != b.chair_id and a.patient_id != b.patient_id


def test_sessions_ahead_have_their_reminders_and_past_ones_none(seeded):
    ahead = InfusionSession.objects.live().filter(start__gt=NOW)
    assert ahead.exists()
    for session in ahead:
        kinds = set(session.reminders.values_list("kind", "offset_hours"))
        assert kinds == {("upcoming", 72), ("upcoming", 24)} or session.patient.reminder_channel == "none"
    assert not Reminder.objects.filter(session__end__lte=NOW).exists()


def test_past_sessions_are_done_and_future_ones_are_booked(seeded):
    for session in InfusionSession.objects.all():
        if session.end <= NOW:
            assert session.status in ("completed", "no_show")
        elif session.start > NOW:
            assert session.status in ("scheduled", "confirmed")


def test_demo_accounts_log_in_with_password_demo(seeded):
    for username in ("scheduler", "nurse", "pharmacist", "patient"):
        login = RequestFactory().post("/accounts/login/")
        assert authenticate(login, username=username, password="demo") is not None
    assert Patient.objects.get(user__username="patient").mrn == "DEMO0001"


@pytest.mark.django_db
def test_it_creates_no_logins_in_production_unless_asked(settings):
    settings.DEBUG = False
    output = seed()
    assert not User.objects.exists()
    assert "Demo logins" not in output
    assert Product.objects.filter(code="octagam-10").exists()
