"""The <Say> helper: always a named Mandarin voice, with the language that voice is documented for."""

from twilio.twiml.voice_response import VoiceResponse

from telephony.twiml import say


def _say(voice):
    response = VoiceResponse()
    say(response, "您好", voice)
    return str(response)


def test_with_no_voice_configured_the_say_uses_polly_zhiyu_in_cmn_cn_at_a_slow_rate():
    assert '<Say language="cmn-CN" voice="Polly.Zhiyu"><prosody rate="90%">您好</prosody></Say>' in _say(None)


def test_a_google_mandarin_voice_gets_the_same_language_and_prosody():
    assert 'voice="Google.cmn-CN-Wavenet-A"' in _say("Google.cmn-CN-Wavenet-A")
    assert "<prosody" in _say("Google.cmn-CN-Wavenet-A")


def test_a_basic_twilio_voice_is_named_with_zh_cn_and_no_ssml():
    assert _say("alice") == ('<?xml version="1.0" encoding="UTF-8"?><Response>'
                             '<Say language="zh-CN" voice="alice">您好</Say></Response>')
