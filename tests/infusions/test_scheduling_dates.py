"""Series dates and local instants: pure calendar arithmetic."""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infusions.scheduling.dates import (
    NonexistentLocalTime,
    course_start_dates,
    local_instant,
    offset_matches_zone,
)

NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
dates = st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2040, 12, 31))


def test_monthly_courses_clamp_to_month_end_counting_from_the_start_date():
    got = course_start_dates(interval="monthly", start_date=dt.date(2027, 1, 31), course_count=4)
    # Chaining from the previous date would drift to the 28th; from the anchor it comes back to 31.
    assert got == [dt.date(2027, 1, 31), dt.date(2027, 2, 28), dt.date(2027, 3, 31), dt.date(2027, 4, 30)]


def test_a_monthly_series_from_the_30th_meets_a_leap_february():
    got = course_start_dates(interval="monthly", start_date=dt.date(2028, 1, 30), course_count=3)
    assert got == [dt.date(2028, 1, 30), dt.date(2028, 2, 29), dt.date(2028, 3, 30)]


@pytest.mark.parametrize(
    ("interval", "interval_days", "gap"),
    [("biweekly", None, 14), ("every_4_weeks", None, 28), ("every_n_days", 56, 56), ("every_n_days", 7, 7)],
)
def test_fixed_intervals_are_whole_days_apart(interval, interval_days, gap):
    got = course_start_dates(
        interval=interval, start_date=dt.date(2027, 3, 1), course_count=5, interval_days=interval_days
    )
    assert [(b - a).days for a, b in itertools.pairwise(got)] == [gap] * 4


@given(start=dates, count=st.integers(1, 30))
def test_monthly_dates_keep_the_anchor_day_or_the_months_last(start, count):
    got = course_start_dates(interval="monthly", start_date=start, course_count=count)
    assert len(got) == count
    for k, day in enumerate(got):
        months = start.month - 1 + k
        year, month = start.year + months // 12, months % 12 + 1
        last = calendar.monthrange(year, month)[1]
        assert (day.year, day.month, day.day) == (year, month, min(start.day, last))


@given(start=dates, count=st.integers(1, 30), days=st.integers(7, 84))
def test_every_n_days_never_drifts(start, count, days):
    got = course_start_dates(
        interval="every_n_days", start_date=start, course_count=count, interval_days=days
    )
    assert all(day == start + dt.timedelta(days=days * k) for k, day in enumerate(got))


@given(day=st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2030, 12, 31)))
def test_nine_oclock_is_nine_oclock_local_every_day(day):
    for zone in (NEW_YORK, SYDNEY):
        instant = local_instant(day, dt.time(9), zone)
        assert instant.astimezone(zone).time() == dt.time(9)
        assert instant.astimezone(zone).date() == day


def test_a_biweekly_series_across_the_march_change_keeps_its_wall_clock_time():
    days = course_start_dates(interval="biweekly", start_date=dt.date(2027, 3, 1), course_count=3)
    utc_hours = [local_instant(d, dt.time(9), NEW_YORK).astimezone(dt.UTC).hour for d in days]
    assert utc_hours == [14, 13, 13]  # EST (-5) before 14 March 2027, EDT (-4) after


def test_a_skipped_local_time_is_refused_not_moved():
    with pytest.raises(NonexistentLocalTime, match="02:30 does not exist on 2027-03-14"):
        local_instant(dt.date(2027, 3, 14), dt.time(2, 30), NEW_YORK)


def test_an_ambiguous_local_time_means_its_first_occurrence():
    instant = local_instant(dt.date(2027, 11, 7), dt.time(1, 30), NEW_YORK)
    assert instant.utcoffset() == dt.timedelta(hours=-4)  # still daylight time


def test_an_offset_must_be_the_zones_own_at_that_instant_or_utc():
    ok = dt.datetime(2027, 3, 15, 9, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
    skipped = dt.datetime(2027, 3, 14, 2, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    utc = dt.datetime(2027, 3, 14, 7, 30, tzinfo=dt.UTC)
    assert offset_matches_zone(ok, NEW_YORK)
    assert not offset_matches_zone(skipped, NEW_YORK)
    assert offset_matches_zone(utc, NEW_YORK)
