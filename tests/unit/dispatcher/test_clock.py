"""The clock port's accelerated implementation, as the fault tests' processes read it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dispatcher.clock import AcceleratedClock, SystemClock, clock_from_env

START = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def test_an_accelerated_clock_reads_its_start_at_the_anchor_and_runs_speed_times_faster():
    wall = [1000.0]
    clock = AcceleratedClock(START, anchor=1000.0, speed=60, wall=lambda: wall[0])
    assert clock.now() == START
    wall[0] += 2.5
    assert (clock.now() - START).total_seconds() == 150


def test_two_processes_given_the_same_settings_agree_on_the_time():
    env = {"VNH_CLOCK_START": "2026-11-25T01:00:00+00:00", "VNH_CLOCK_ANCHOR": "1000", "VNH_CLOCK_SPEED": "30"}
    first, second = clock_from_env(env), clock_from_env(env)
    first.wall = second.wall = lambda: 1010.0
    assert first.now() == second.now() == datetime(2026, 11, 25, 1, 5, tzinfo=UTC)


def test_without_settings_the_clock_is_the_system_clock():
    assert isinstance(clock_from_env({}), SystemClock)


@pytest.mark.parametrize("env", [{"VNH_CLOCK_SPEED": "0"}, {"VNH_CLOCK_START": "2026-11-25T01:00:00"}])
def test_a_stopped_clock_or_a_start_without_a_zone_is_refused(env):
    with pytest.raises(ValueError):
        clock_from_env(env)
