"""Settings from the environment that tests from outside rely on."""

import pytest

from dispatcher.config import ConfigError, Settings, check_settings, settings_from_env


def test_the_wellbeing_retry_is_read_from_the_environment():
    assert Settings(settings_from_env({"VNH_WELLBEING_RETRY_S": "5"})).wellbeing_retry_s == 5


def test_by_default_a_missed_wellbeing_call_is_tried_again_half_an_hour_later():
    assert Settings(settings_from_env({})).wellbeing_retry_s == 1800


def test_the_switch_is_off_until_its_secret_is_set():
    config = settings_from_env({})

    assert config["SWITCH_SECRET"] == ""
    assert config["SWITCH_TTS_ENGINE"] == "unimrcp"
    assert settings_from_env({"VNH_SWITCH_SECRET": " s3 "})["SWITCH_SECRET"] == "s3"


def test_a_switch_dial_string_with_an_unknown_placeholder_or_a_dollar_is_refused():
    for env, named in (({"VNH_SWITCH_GATEWAY": "sofia/gateway/pstn/{number}"}, "{national}"),
                       ({"VNH_SWITCH_OPERATOR_BRIDGE": "user/${desk}"}, "'$'")):
        config = settings_from_env({"VNH_DATABASE_URL": "sqlite://", **env})
        with pytest.raises(ConfigError, match=named.replace("$", r"\$").replace("{", r"\{")):
            check_settings(config)
