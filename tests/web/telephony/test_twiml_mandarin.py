"""TwiML as Twilio documents it for Mandarin: speech as cmn-Hans-CN, every <Say> with a named voice."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from telephony.simulator import FlaskTransport, Phone

ELDER = "+8613912340001"


@pytest.fixture
def phone(app):
    return Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"],
                 app.config["HOTLINE_NUMBER"])


def _answer(phone, path: str, **fields) -> ET.Element:
    status, body = phone.post(path, {"CallSid": "CAmandarin1", "From": ELDER, "To": "+869312345678",
                                     "CallStatus": "in-progress", **fields})
    assert status == 200, body
    return ET.fromstring(body)


def test_the_greeting_recognises_speech_as_cmn_hans_cn(phone, make_elder):
    make_elder(phone=ELDER)

    gather = _answer(phone, "/telephony/voice").find("Gather")

    assert "speech" in gather.get("input") and gather.get("language") == "cmn-Hans-CN"


@pytest.mark.parametrize("path", ["/telephony/voice", "/telephony/review/404", "/telephony/wellbeing/404"])
def test_every_say_names_the_mandarin_voice_and_never_a_bare_language(phone, make_elder, path):
    make_elder(phone=ELDER)

    says = list(_answer(phone, path).iter("Say"))

    assert says
    for say in says:
        assert say.get("voice") == "Polly.Zhiyu" and say.get("language") == "cmn-CN"
        assert "".join(say.itertext()).strip()


def test_the_greeting_never_asks_for_zh_cn(phone, make_elder):
    make_elder(phone=ELDER)

    body = ET.tostring(_answer(phone, "/telephony/voice"), encoding="unicode")

    assert 'language="zh-CN"' not in body
