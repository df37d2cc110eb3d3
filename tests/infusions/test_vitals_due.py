"""When the next vital signs are due (infusions/chairside/vitals_due.py), from plain times:
before the start, about 15 min after it, before each rate increase, at least hourly,
and at the end (docs/clinical-practice.md, Vital signs)."""

from __future__ import annotations

import datetime as dt

from infusions.chairside.vitals_due import VitalsDue, vitals_due

STARTED = dt.datetime(2027, 1, 4, 14, 15, tzinfo=dt.UTC)
LADDER = [(0.0, 42.0), (30.0, 84.0), (60.0, 168.0)]  # (minute, mL/h): Octagam 10% for DM at 70 kg


def at(minutes: float) -> dt.datetime:
    return STARTED + dt.timedelta(minutes=minutes)


def running(*, vitals=(), rates=(), ladder=LADDER) -> VitalsDue:
    return vitals_due(
        status="in_progress",
        checked_in_at=at(-10),
        started_at=STARTED,
        completed_at=None,
        vitals=[at(m) for m in vitals],
        rates=[(at(m), rate) for m, rate in rates],
        ladder=ladder,
    )


def test_a_booked_session_takes_vitals_at_check_in():
    due = vitals_due(
        status="confirmed",
        checked_in_at=None,
        started_at=None,
        completed_at=None,
        vitals=[],
        rates=[],
        ladder=LADDER,
    )

    assert due.at is None and "at check-in" in due.reason


def test_after_check_in_the_baseline_is_due_at_once_until_taken():
    waiting = vitals_due(
        status="checked_in",
        checked_in_at=at(-10),
        started_at=None,
        completed_at=None,
        vitals=[],
        rates=[],
        ladder=LADDER,
    )
    taken = vitals_due(
        status="checked_in",
        checked_in_at=at(-10),
        started_at=None,
        completed_at=None,
        vitals=[at(-5)],
        rates=[],
        ladder=LADDER,
    )

    assert waiting == VitalsDue(at(-10), "baseline, before the infusion starts")
    assert waiting.is_due(at(-9))
    assert taken.at is None and "15 minutes after the start" in taken.reason


def test_the_first_set_after_the_start_is_due_15_minutes_in():
    due = running(vitals=[-5], rates=[(0, 42.0)])

    assert due == VitalsDue(at(15), "about 15 minutes after the start")
    assert not due.is_due(at(14)) and due.is_due(at(15))


def test_a_set_from_10_minutes_in_counts_as_the_15_minute_check():
    assert running(vitals=[-5, 10], rates=[(0, 42.0)]).at != at(15)


def test_the_next_set_is_due_before_the_next_step_of_the_ladder():
    assert running(vitals=[-5, 12], rates=[(0, 42.0)]) == VitalsDue(at(30), "before the step up to 84.0 mL/h")


def test_a_set_up_to_15_minutes_before_a_step_counts_for_it():
    # 16 min in covers the step at 30; the next check is the hourly one.
    assert running(vitals=[-5, 16], rates=[(0, 42.0)]) == VitalsDue(
        at(76), "at least hourly during the infusion"
    )


def test_the_step_after_that_follows_the_running_rate():
    assert running(vitals=[-5, 16], rates=[(0, 42.0), (30, 84.0)]) == VitalsDue(
        at(60), "before the step up to 168.0 mL/h"
    )


def test_an_increase_logged_without_vitals_makes_them_due_from_then():
    due = running(vitals=[-5, 12], rates=[(0, 42.0), (30, 84.0)])

    assert due == VitalsDue(at(30), "none taken for the increase to 84.0 mL/h")
    assert due.is_due(at(31))


def test_at_the_maximum_rate_vitals_are_hourly_from_the_last_set():
    due = running(vitals=[-5, 16, 55], rates=[(0, 42.0), (30, 84.0), (60, 168.0)])

    assert due == VitalsDue(at(115), "at least hourly during the infusion")


def test_while_paused_there_is_no_step_to_wait_for():
    assert running(vitals=[-5, 20], rates=[(0, 42.0), (20, 0.0)]) == VitalsDue(
        at(80), "at least hourly during the infusion"
    )


def test_a_restart_after_a_pause_is_an_increase_and_restarts_the_ladder_clock():
    restarted = [(0, 42.0), (20, 0.0), (40, 21.0)]

    assert running(vitals=[-5, 20], rates=restarted) == VitalsDue(
        at(40), "none taken for the increase to 21.0 mL/h"
    )
    # Taken just before the restart: the ladder's first rate may follow at once, then 84 mL/h 30 min on.
    assert running(vitals=[-5, 38], rates=[*restarted, (41, 42.0)]) == VitalsDue(
        at(70), "before the step up to 84.0 mL/h"
    )


def test_without_rates_in_ml_per_hour_only_the_clock_checks_apply():
    due = running(vitals=[-5, 16], rates=[(0, 42.0)], ladder=[(0.0, None), (30.0, None)])

    assert due == VitalsDue(at(76), "at least hourly during the infusion")


def test_a_completed_session_says_whether_the_end_set_was_taken():
    def completed(vitals):
        return vitals_due(
            status="completed",
            checked_in_at=at(-10),
            started_at=STARTED,
            completed_at=at(200),
            vitals=[at(m) for m in vitals],
            rates=[],
            ladder=LADDER,
        )

    assert completed([-5, 190]) == VitalsDue(None, "Session completed; vitals at the end were recorded.")
    assert "without a set of vitals at the end" in completed([-5, 150]).reason


def test_a_cancelled_session_has_nothing_due():
    due = vitals_due(
        status="cancelled",
        checked_in_at=None,
        started_at=None,
        completed_at=None,
        vitals=[],
        rates=[],
        ladder=LADDER,
    )

    assert due.at is None and not due.is_due(at(0))
