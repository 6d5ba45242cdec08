"""Settings from the environment that tests from outside rely on."""

from datetime import UTC, datetime, timedelta

import pytest

from dispatcher.clock import SystemClock
from dispatcher.config import ConfigError, Settings, settings_from_env


def test_the_wellbeing_retry_and_the_clock_offset_are_read_from_the_environment():
    config = settings_from_env({"VNH_WELLBEING_RETRY_S": "5", "VNH_CLOCK_OFFSET_S": "-86400"})
    assert Settings(config).wellbeing_retry_s == 5
    assert config["CLOCK_OFFSET_S"] == -86400


def test_by_default_a_missed_wellbeing_call_is_tried_again_half_an_hour_later_on_the_true_clock():
    config = settings_from_env({})
    assert Settings(config).wellbeing_retry_s == 1800 and config["CLOCK_OFFSET_S"] == 0


def test_a_clock_offset_that_is_not_a_whole_number_is_refused_by_name():
    with pytest.raises(ConfigError, match="VNH_CLOCK_OFFSET_S"):
        settings_from_env({"VNH_CLOCK_OFFSET_S": "tomorrow"})


def test_a_shifted_system_clock_runs_that_far_from_the_true_one():
    shifted = SystemClock(-40 * 86400).now() - datetime.now(UTC)
    assert timedelta(days=-40, minutes=-1) < shifted < timedelta(days=-40, minutes=1)
