"""Shared set-up for the chairside tests: a center, a booked Octagam 10% session for
dermatomyositis, and a clock that the chair's day moves along.

patient_a weighs 70 kg: the DM ladder is 42.0 mL/h (1 mg/kg/min) for 30 min,
84.0 mL/h (2) for 30 min, then 168.0 mL/h (4, the DM maximum) until the
day's 70 g (700 mL) are in, 227.5 min later.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from infusions.chairside import rate_change_record
from infusions.models import InfusionSession
from infusions.scheduling.booking import session_book, session_transition
from tests.factories import CenterFactory, ChairFactory, PlanFactory

NEW_YORK = ZoneInfo("America/New_York")
DAY = dt.date(2027, 1, 4)  # a Monday
START = dt.datetime.combine(DAY, dt.time(9), tzinfo=NEW_YORK)  # the booking
STARTED = START + dt.timedelta(minutes=15)  # the infusion's start
LADDER = ((0, "42.0"), (30, "84.0"), (60, "168.0"))  # (minute, mL/h) at 70 kg
FULL_DOSE_MINUTES = 287.5


def at(minutes: float, origin: dt.datetime = STARTED) -> dt.datetime:
    """`minutes` after the infusion started (negative: before)."""
    return origin + dt.timedelta(minutes=minutes)


def make_center():
    center = CenterFactory()
    for n in (1, 2):
        ChairFactory(center=center, name=f"C{n}")
    return center


def running_session(
    clock, patient, *, center=None, start: dt.datetime = START, **plan_fields
) -> InfusionSession:
    """Booked at `start`, checked in 5 minutes later, infusion started 15 minutes after `start`."""
    center = center or make_center()
    plan = PlanFactory(patient=patient, center=center, **plan_fields)
    clock.move_to(start - dt.timedelta(days=7))
    session = session_book(patient=patient, center=center, start=start, plan=plan)
    clock.move_to(start + dt.timedelta(minutes=5))
    session_transition(session=session, action="check_in")
    clock.move_to(start + dt.timedelta(minutes=15))
    session_transition(session=session, action="start")
    return InfusionSession.objects.get(pk=session.pk)


def log_rate(clock, session: InfusionSession, minute: float, ml_per_hour: str, **extra):
    """The nurse sets the pump `minute` minutes into the infusion and logs it then."""
    clock.move_to(at(minute, session.started_at))
    return rate_change_record(session=session, rate_ml_per_hour=Decimal(ml_per_hour), **extra)


def follow_the_ladder(clock, session: InfusionSession, until: float = 60) -> None:
    for minute, rate in LADDER:
        if minute <= until:
            log_rate(clock, session, minute, rate)
