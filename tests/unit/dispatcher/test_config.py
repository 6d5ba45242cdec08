"""Settings from the environment that tests from outside rely on."""

from dispatcher.config import Settings, settings_from_env


def test_the_wellbeing_retry_is_read_from_the_environment():
    assert Settings(settings_from_env({"VNH_WELLBEING_RETRY_S": "5"})).wellbeing_retry_s == 5


def test_by_default_a_missed_wellbeing_call_is_tried_again_half_an_hour_later():
    assert Settings(settings_from_env({})).wellbeing_retry_s == 1800
