"""Every path of the hotline, walked by following the TwiML's own action URLs as Twilio does."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from dispatcher import create_app
from dispatcher.models import Item, OperatorTask, Order, Visit
from providers.models import Offer
from telephony.models import OutboxMessage
from telephony.simulator import FlaskTransport, Phone

ELDER = "+8613912340001"
WORKER = "+8613600001111"
ALLOWED_LAST_VERBS = {"Gather", "Dial", "Enqueue", "Redirect", "Record", "Hangup"}


@pytest.fixture
def phone(app):
    return Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"],
                 app.config["HOTLINE_NUMBER"])


@pytest.fixture
def unanswered(app):
    """A phone network where no operator picks up."""
    return Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"],
                 app.config["HOTLINE_NUMBER"], operators_answer=False)


@pytest.fixture
def elder_and_provider(make_elder, make_provider):
    elder = make_elder(phone=ELDER, contacts=[("王小明", "+8613711110000")])
    provider = make_provider(offerings={"HK01": 4800, "ML01": 1200}, latitude=36.0590,
                             longitude=103.8280)
    return elder, provider


def _rows(app, statement):
    with app.extensions["vnh.sessionmaker"]() as session:
        return session.scalars(statement).all()


def _book(phone, provider) -> str:
    call = phone.call_hotline(ELDER, ["2", "1", "1", "1"])
    assert call.ended_with == "hangup", call.text
    code = call.text.split("工单号")[1].split("。")[0].replace("，", "")
    assert "已接单" in phone.send_sms(provider.dispatch_phone, f"{code} 接")
    return code


def test_a_caller_with_an_open_order_hears_its_status_and_may_keep_it(app, phone, elder_and_provider):
    _, provider = elder_and_provider
    _book(phone, provider)

    call = phone.call_hotline(ELDER, ["1"])

    assert f"您有一个工单：居室保洁，{provider.name}" in call.text
    assert "保留按1，改期按2，取消按3，预约其他服务按4" in call.text
    assert "工单保留不变" in call.text
    (order,) = _rows(app, select(Order))
    assert order.state == "accepted"


def test_a_caller_can_cancel_an_open_order_and_the_provider_is_told(app, phone, elder_and_provider):
    _, provider = elder_and_provider
    code = _book(phone, provider)

    call = phone.call_hotline(ELDER, ["3"])

    assert "已为您取消居室保洁" in call.text
    (order,) = _rows(app, select(Order))
    assert order.state == "cancelled"
    told = _rows(app, select(OutboxMessage).where(OutboxMessage.purpose == "order_cancelled"))
    assert [m.to_number for m in told] == [provider.dispatch_phone]
    assert code in told[0].body and "请勿上门" in told[0].body


def test_a_caller_with_an_open_order_can_still_book_another_service(app, phone, elder_and_provider):
    _, provider = elder_and_provider
    _book(phone, provider)

    call = phone.call_hotline(ELDER, ["4", "3", "1", "1", "1"])

    assert call.ended_with == "hangup"
    assert len(_rows(app, select(Order))) == 2


def test_categories_the_caller_books_most_come_first(app, phone, elder_and_provider):
    _, provider = elder_and_provider
    phone.call_hotline(ELDER, ["3", "1", "1", "1"])  # 助餐送餐 → 送午餐
    assert [o.item_id for o in _rows(app, select(Order))] == _rows(
        app, select(Item.id).where(Item.code == "ML01"))

    call = phone.call_hotline(ELDER, ["4"])  # past the open-order question

    assert "助餐送餐按1" in call.text


def test_a_worker_checks_in_and_out_by_phone_from_the_elders_home(app, phone, elder_and_provider, make_worker):
    _, provider = elder_and_provider
    make_worker(provider, work_number="20731")  # issue 18: a worker on record
    code = _book(phone, provider)

    check_in = phone.call_hotline(ELDER, ["7", f"{code}#", "20731#", "1"])
    assert "已签到" in check_in.text, check_in.text
    check_out = phone.call_hotline(ELDER, ["7", f"{code}#", "20731#", "2"])
    assert "已签退" in check_out.text, check_out.text

    (visit,) = _rows(app, select(Visit))
    assert visit.check_in_source == "phone" and visit.check_out_source == "phone"
    assert visit.check_in_phone == ELDER == visit.check_out_phone
    assert visit.worker_ref == "20731" and visit.worker_id is not None
    assert (visit.check_in_method, visit.check_out_method) == ("elder_phone", "elder_phone")
    assert visit.checked_in_at is not None and visit.checked_out_at is not None
    assert _rows(app, select(Order))[0].state == "completed"


def test_a_job_code_keyed_from_another_phone_does_not_check_the_worker_in(app, phone, elder_and_provider):
    _, provider = elder_and_provider
    code = _book(phone, provider)
    # The worker's own mobile is not the elder's: caller ID does not prove the place.
    phone.call_hotline(WORKER, [])  # an unknown caller just reaches an operator
    call = phone.call_hotline(ELDER.replace("0001", "0002"), ["7", f"{code}#"])

    assert _rows(app, select(Visit)) == []
    assert "已签到" not in call.text


def test_a_wrong_job_code_twice_reaches_an_operator(app, phone, elder_and_provider):
    call = phone.call_hotline(ELDER, ["7", "111111#", "222222#"])

    assert "工单号不对" in call.text
    assert call.ended_with == "dial"


def test_nobody_answering_at_the_operator_desk_leads_to_a_voicemail(app, unanswered):
    call = unanswered.call_hotline("+8613711112222", [])

    assert call.recorded
    assert "留言已收到" in call.text
    (task,) = _rows(app, select(OperatorTask))
    assert task.kind == "unknown_caller"
    assert task.recording_url.startswith("https://api.twilio.com/recordings/RE")


def test_an_unanswered_emergency_rings_the_fallback_number(database_url, clock, make_elder):
    app = create_app({"DATABASE_URL": database_url, "TELEPHONY": "local", "TWILIO_AUTH_TOKEN": "t",
                      "CLOCK": clock, "SECRET_KEY": "s", "EMERGENCY_FALLBACK_NUMBER": "+8613999990000"})
    make_elder(phone=ELDER)
    phone = Phone(FlaskTransport(app.test_client()), "t", app.config["HOTLINE_NUMBER"],
                  operators_answer=False)

    call = phone.call_hotline(ELDER, ["9"])

    assert "正在继续为您转接" in call.text
    assert any(">+8613999990000</Number>" in body for body in call.responses)
    (task,) = _rows(app, select(OperatorTask))
    assert task.kind == "emergency" and task.priority == 0


def test_after_hours_the_emergency_key_still_reaches_a_person(database_url, clock, make_elder):
    app = create_app({"DATABASE_URL": database_url, "TELEPHONY": "local", "TWILIO_AUTH_TOKEN": "t",
                      "CLOCK": clock, "SECRET_KEY": "s", "AFTER_HOURS": "00:00-23:59"})
    make_elder(phone=ELDER)
    phone = Phone(FlaskTransport(app.test_client()), "t", app.config["HOTLINE_NUMBER"])

    emergency = phone.call_hotline(ELDER, ["9"])
    message = Phone(FlaskTransport(app.test_client()), "t", app.config["HOTLINE_NUMBER"]
                    ).call_hotline(ELDER, ["1"])

    assert "夜间值班" in emergency.text and emergency.ended_with == "dial"
    assert message.recorded and "留言已收到" in message.text
    kinds = sorted(t.kind for t in _rows(app, select(OperatorTask)))
    assert kinds == ["after_hours", "emergency"]


def test_unsure_speech_is_read_back_for_the_caller_to_confirm(app, phone, elder_and_provider):
    call = phone.call_hotline(ELDER, ["1"], speech={0: "家里太脏了"})

    assert "您要的是厨房深度清洁吗" in call.text
    assert "尽快上门按1" in call.text


def test_speech_that_means_nothing_twice_reaches_an_operator(app, phone, elder_and_provider):
    call = phone.call_hotline(ELDER, ["", ""], speech={0: "今天天气不错", 1: "嗯嗯"})

    assert "没有听清" in call.text
    assert call.ended_with == "dial"


def test_the_confirmation_reads_back_the_copay_under_the_elders_policy(app, phone, make_elder,
                                                                       make_provider):
    make_elder(phone=ELDER, elder_class="高龄", disability_level="能力完好")
    make_provider(offerings={"HK01": 4800}, latitude=36.0590, longitude=103.8280)

    call = phone.call_hotline(ELDER, ["2", "1", "1"])

    assert "服务费48元，政府补贴24元，您自付24元" in call.text


# -- random callers ------------------------------------------------------------------------------

_keys = st.sampled_from(list("0123456789*#") + ["", "12", "99", "7", "8"])
_speech = st.sampled_from(["", "送个午饭", "我想找人来打扫一下卫生", "啊啊啊", "<Say>", "0"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(_keys, _speech), min_size=1, max_size=12))
def test_any_key_sequence_gets_valid_twiml_and_reaches_a_person_within_three_failures(
    app, elder_and_provider, steps
):
    client = app.test_client()
    phone = Phone(FlaskTransport(client), app.config["TWILIO_AUTH_TOKEN"], app.config["HOTLINE_NUMBER"])
    sid = "CA" + uuid.uuid4().hex
    url = "/telephony/voice"
    failed_prompts = 0
    for digits, speech in steps:
        form = {"CallSid": sid, "From": ELDER, "To": app.config["HOTLINE_NUMBER"],
                "CallStatus": "in-progress", "Direction": "inbound"}
        if digits:
            form["Digits"] = digits
        if speech:
            form["SpeechResult"] = speech
        status, body = phone.post(url, form)
        assert status == 200
        root = ET.fromstring(body)
        assert root.tag == "Response"
        verbs = [verb.tag for verb in root]
        assert verbs and verbs[-1] in ALLOWED_LAST_VERBS, body
        text = "".join("".join(s.itertext()) for s in root.iter("Say"))
        failed_prompts = failed_prompts + 1 if ("无效" in text or "没有" in text) else 0
        assert failed_prompts <= 3
        if verbs[-1] == "Hangup":
            return
        gather = root.find("Gather")
        follow = gather if gather is not None else root.find("Dial") or root.find("Record")
        url = (follow.get("action") if follow is not None else None) or root.find("Redirect").text


def test_a_replayed_offer_answer_is_not_a_second_acceptance(app, phone, elder_and_provider):
    _, provider = elder_and_provider
    _book(phone, provider)
    (offer,) = _rows(app, select(Offer))
    assert offer.status == "accepted"


def test_a_caller_can_choose_tomorrow_afternoon_by_keys(app, phone, elder_and_provider):
    # 2 = another time, 2 = 明天, 2 = 下午; the clock is Wednesday 2026-11-25, 09:00 in Lanzhou.
    call = phone.call_hotline(ELDER, ["3", "1", "2", "2", "2", "1"])  # 助餐送餐 → 送午餐

    assert "明天 11月26日 星期四 下午上门" in call.text and call.ended_with == "hangup", call.text
    (order,) = _rows(app, select(Order))
    assert order.slot_code == "2026-11-26/pm"


def test_a_common_booking_is_heard_in_full_within_45_seconds_at_four_characters_a_second(
    phone, elder_and_provider
):
    call = phone.call_hotline(ELDER, ["2", "1", "1", "1"])

    before_booking = [
        "".join("".join(say.itertext()) for say in ET.fromstring(response).iter("Say"))
        for response in call.responses[:-1]
    ]
    greeting, items, slots, read_back = before_booking
    assert greeting.startswith("王奶奶您好") and "人工服务按0" in greeting
    assert "人工服务按0" in items and "尽快上门按1" in slots
    assert read_back.startswith("居室保洁，尽快上门。服务费48元，政府全额补贴，您无需付费。")
    assert "服务商接单后会通知您" in call.said[-1]
    # `vnh bench ivr` speaks at four characters a second; 45 s is the goal for a common booking.
    assert sum(map(len, before_booking)) <= 45 * 4


def test_a_worker_not_on_record_keying_in_from_the_elders_phone_is_refused(app, phone, elder_and_provider, make_worker):
    _, provider = elder_and_provider
    make_worker(provider, work_number="20731")
    code = _book(phone, provider)
    refused = phone.call_hotline(ELDER, ["7", f"{code}#", "40404#", "1"])
    assert "不在本服务商登记的名单上" in refused.text and "已签到" not in refused.text
    assert _rows(app, select(Visit)) == []
