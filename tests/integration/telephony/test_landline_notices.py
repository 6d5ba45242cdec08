"""Landlines are called, never texted: a contact on a landline hears what a mobile would read."""

from __future__ import annotations

from datetime import time

from sqlalchemy import select

from dispatcher.operations.sweepers import run_due_work
from dispatcher.programmes.wellbeing import schedule_call
from telephony.models import OutboxMessage
from telephony.outbox import enqueue_notice
from telephony.simulator import FlaskTransport, Phone

ELDER = "+8613912340001"
LANDLINE = "+869318765432"   # 0931-8765432, a Lanzhou fixed line
MOBILE = "+8613711110000"


def _phone(app) -> Phone:
    return Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"], app.config["HOTLINE_NUMBER"])


def _to(phone: Phone, number: str, purpose: str) -> list[dict]:
    return [m for m in phone.outbox() if m["to"] == number and m["purpose"] == purpose]


def test_an_elder_pressing_9_gets_a_landline_contact_called_and_a_mobile_contact_texted(app, make_elder):
    make_elder(phone=ELDER, name="王秀英", contacts=[("王小明", LANDLINE), ("李红", MOBILE)])
    phone = _phone(app)

    assert phone.call_hotline(ELDER, ["9"]).ended_with == "dial"

    (called,) = _to(phone, LANDLINE, "emergency_contact")
    assert called["kind"] == "call" and "/telephony/spoken/" in called["url"]
    (texted,) = _to(phone, MOBILE, "emergency_contact")
    assert texted["kind"] == "sms" and "王秀英" in texted["body"]
    heard = phone.answer_call(called, [])
    assert heard.ended_with == "hangup"
    assert "王小明您好" in heard.text and "王秀英" in heard.text and "紧急求助" in heard.text
    # The same words as the SMS, said twice, without the bracketed signature.
    assert heard.text.count("请尽快与老人联系") == 2 and "【" not in heard.text


def test_a_wellbeing_alarm_calls_a_landline_contact(app, session, clock, make_elder):
    elder = make_elder(phone=ELDER, name="王秀英", contacts=[("王小明", LANDLINE)])
    schedule_call(session, elder, time(10, 0), clock.now())
    session.commit()
    for advance in (3600, 16 * 60, 30 * 60, 16 * 60):  # two calls, both unanswered
        clock.advance(advance)
        run_due_work(app)

    phone = _phone(app)
    (alarm,) = _to(phone, LANDLINE, "wellbeing_alarm")
    assert alarm["kind"] == "call"
    assert "无人接听" in phone.answer_call(alarm, []).text


def test_an_elder_pressing_9_in_a_wellbeing_call_gets_a_landline_contact_called(
    app, session, clock, make_elder
):
    elder = make_elder(phone=ELDER, contacts=[("王小明", LANDLINE)])
    schedule_call(session, elder, time(10, 0), clock.now())
    session.commit()
    clock.advance(3600)
    run_due_work(app)
    phone = _phone(app)
    (wellbeing,) = [m for m in phone.outbox() if m["purpose"] == "wellbeing"]

    phone.answer_call(wellbeing, ["9"])

    (told,) = _to(phone, LANDLINE, "emergency_contact")
    assert told["kind"] == "call"


def test_a_notice_is_written_once_per_key_and_keeps_its_template(app, session, clock):
    params = {"contact_name": "王小明", "elder_name": "王秀英", "time": "09:30"}
    first = enqueue_notice(session, to=LANDLINE, purpose="emergency_contact", params=params,
                           dedupe_key="k", from_=app.config["HOTLINE_NUMBER"], now=clock.now(),
                           public_url="https://vnh.example")
    again = enqueue_notice(session, to=LANDLINE, purpose="emergency_contact", params=params,
                           dedupe_key="k", from_=app.config["HOTLINE_NUMBER"], now=clock.now(),
                           public_url="https://vnh.example")
    session.commit()

    assert again.id == first.id
    assert first.url == f"https://vnh.example/telephony/spoken/{first.id}"
    assert (first.kind, first.template_code) == ("call", "VNH_EMERGENCY")
    assert session.scalars(select(OutboxMessage)).all() == [first]
