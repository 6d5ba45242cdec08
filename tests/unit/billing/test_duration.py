"""Billing by time: started units of the verified duration, capped at the booking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from billing.duration import billed_minutes, duration_minutes, min_share, price_for_minutes
from billing.policy import load_policy
from billing.policy_tables import HourlyRule

HALF_HOURS = HourlyRule(unit_minutes=30, min_share_percent=50)


def test_a_visit_is_billed_in_started_half_hours():
    assert billed_minutes(10, HALF_HOURS, 60) == 30
    assert billed_minutes(30, HALF_HOURS, 60) == 30
    assert billed_minutes(31, HALF_HOURS, 60) == 60


def test_even_a_visit_of_no_minutes_bills_one_started_unit():
    assert billed_minutes(0, HALF_HOURS, 60) == 30


def test_a_long_visit_is_capped_at_the_booking_unless_more_is_approved():
    assert billed_minutes(120, HALF_HOURS, 60) == 60
    assert billed_minutes(120, HALF_HOURS, 90) == 90
    assert billed_minutes(75, HALF_HOURS, 180) == 90


def test_the_price_of_minutes_is_the_hourly_price_pro_rata_to_the_fen():
    assert price_for_minutes(3200, 30) == 1600
    assert price_for_minutes(3200, 90) == 4800
    assert price_for_minutes(3333, 30) == 1667  # 1666.5 rounds half up


def test_the_duration_is_whole_minutes_from_check_in_to_check_out():
    start = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    assert duration_minutes(start, start + timedelta(minutes=44, seconds=59)) == 44
    assert duration_minutes(start, start - timedelta(minutes=5)) == 0


def test_the_shipped_policy_holds_visits_under_half_their_booking():
    assert min_share(load_policy().versions[-1]) == 50


@given(st.integers(0, 24 * 60), st.sampled_from([1, 5, 10, 15, 20, 30, 60, 120]),
       st.integers(60, 600), st.integers(0, 100_000))
def test_billed_time_is_whole_units_within_the_cap_and_the_price_never_exceeds_it(
        minutes, unit, cap, hourly_fen):
    rule = HourlyRule(unit_minutes=unit)
    billed = billed_minutes(minutes, rule, cap)
    assert 0 < billed <= cap
    assert billed == cap or billed % unit == 0
    assert billed >= min(minutes, cap)
    assert 0 <= price_for_minutes(hourly_fen, billed) <= price_for_minutes(hourly_fen, cap)
