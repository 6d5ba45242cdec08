"""Settings from the environment that tests from outside rely on."""

import pytest

from dispatcher.config import ConfigError, Settings, check_settings, settings_from_env


def test_the_wellbeing_retry_is_read_from_the_environment():
    assert Settings(settings_from_env({"VNH_WELLBEING_RETRY_S": "5"})).wellbeing_retry_s == 5


def test_by_default_a_missed_wellbeing_call_is_tried_again_half_an_hour_later():
    assert Settings(settings_from_env({})).wellbeing_retry_s == 1800


ALIYUN_ENV = {
    "VNH_TELEPHONY": "aliyun", "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI5tTest",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "secret", "VNH_ALIYUN_SMS_SIGN": "虚拟养老院",
    "VNH_ALIYUN_SMS_TEMPLATES": '{"offer": "SMS_1"}',
    "VNH_ALIYUN_VOICE_TEMPLATES": '{"review": "TTS_1", "wellbeing": "TTS_2", "visit_notice": "TTS_3", '
                                  '"visit_reminder": "TTS_4", "ack": "TTS_9", "emergency_contact": "TTS_5", '
                                  '"wellbeing_alarm": "TTS_6"}',
    "VNH_ALIYUN_SHOW_NUMBER": "09312345678", "VNH_ALIYUN_CALLBACK_TOKEN": "t0ken",
    "VNH_PUBLIC_URL": "https://vnh.example", "VNH_SECRET_KEY": "k", "VNH_DATABASE_URL": "sqlite://",
    "VNH_SWITCH_ESL_HOST": "10.0.0.5", "VNH_SWITCH_ESL_PASSWORD": "ClueCon-test",
}


def _checked(env: dict) -> dict:
    from dispatcher.config import check_settings

    config = settings_from_env(env)
    check_settings(config)
    return config


def test_aliyun_mode_without_credentials_refuses_and_names_every_missing_variable():
    import pytest

    from dispatcher.config import ConfigError

    with pytest.raises(ConfigError) as refused:
        _checked({"VNH_TELEPHONY": "aliyun", "VNH_DATABASE_URL": "sqlite://"})

    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "VNH_ALIYUN_SMS_SIGN",
                 "VNH_ALIYUN_SMS_TEMPLATES", "VNH_ALIYUN_VOICE_TEMPLATES", "VNH_ALIYUN_SHOW_NUMBER",
                 "VNH_ALIYUN_CALLBACK_TOKEN", "VNH_PUBLIC_URL", "VNH_SECRET_KEY", "VNH_SWITCH_ESL_HOST",
                 "VNH_SWITCH_ESL_PASSWORD"):
        assert name in str(refused.value)


def test_aliyun_mode_with_every_setting_reads_the_template_maps():
    config = _checked(ALIYUN_ENV)

    assert config["TELEPHONY"] == "aliyun"
    assert config["ALIYUN_SMS_TEMPLATES"] == {"offer": "SMS_1"}
    assert config["ALIYUN_VOICE_TEMPLATES"]["ack"] == "TTS_9"


def test_a_voice_template_map_missing_a_call_purpose_is_refused_by_name():
    import pytest

    from dispatcher.config import ConfigError

    with pytest.raises(ConfigError, match="visit_reminder"):
        _checked({**ALIYUN_ENV, "VNH_ALIYUN_VOICE_TEMPLATES": '{"review": "TTS_1", "wellbeing": "TTS_2", '
                                                              '"visit_notice": "TTS_3", "ack": "TTS_9"}'})


def test_a_template_map_that_is_not_json_is_refused_by_name():
    import pytest

    from dispatcher.config import ConfigError

    with pytest.raises(ConfigError, match="VNH_ALIYUN_SMS_TEMPLATES"):
        _checked({**ALIYUN_ENV, "VNH_ALIYUN_SMS_TEMPLATES": "offer=SMS_1"})


def test_twilio_speaks_with_a_named_mandarin_voice_unless_another_is_set():
    assert settings_from_env({"VNH_DATABASE_URL": "sqlite://"})["VOICE"] == "Polly.Zhiyu"
    assert settings_from_env({"VNH_DATABASE_URL": "sqlite://", "VNH_TTS_VOICE": "Google.cmn-CN-Wavenet-A"})[
        "VOICE"] == "Google.cmn-CN-Wavenet-A"


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


def test_a_backlog_share_outside_a_tick_is_refused_and_the_default_is_a_quarter():
    import pytest

    from dispatcher.config import ConfigError

    assert _checked({"VNH_DATABASE_URL": "sqlite://"})["BACKLOG_SHARE"] == 0.25
    for wrong in ("0", "1.5", "-0.1"):
        with pytest.raises(ConfigError, match="VNH_BACKLOG_SHARE"):
            _checked({"VNH_DATABASE_URL": "sqlite://", "VNH_BACKLOG_SHARE": wrong})
