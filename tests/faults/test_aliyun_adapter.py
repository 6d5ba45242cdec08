"""The Alibaba Cloud adapter against recorded API responses: a fake HTTP layer inside the SDK.

The SDK signs and sends every request through `DaraCore.do_action` in alibabacloud_tea_openapi's
client; the fake answers there with the JSON the carrier documents, so the request building,
signing and error parsing of the real SDK all run, and nothing reaches a network.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from alibabacloud_tea_openapi import client as openapi_client
from darabonba.core import DaraCore
from darabonba.response import DaraResponse

from telephony.aliyun import AliyunTelephony, CallScript
from telephony.ports import DeliveryError

ELDER = "+8613912340001"
LANDLINE = "+869318765432"
CLAIMED = datetime(2026, 11, 25, 1, 0, 0, tzinfo=UTC)
SMS_TEMPLATES = {"offer": "SMS_460001", "visit_notice": "SMS_460002"}
VOICE_TEMPLATES = {"review": "TTS_300001", "wellbeing": "TTS_300002", "visit_notice": "TTS_300003",
                   "visit_reminder": "TTS_300004", "ack": "TTS_300009",
                   "emergency_contact": "TTS_300005", "wellbeing_alarm": "TTS_300006"}

# Recorded answers, as the carrier's API reference shows them.
SEND_OK = {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0",
           "RequestId": "F655A8D5-B967-440B-8683-DAD6FF8DE990"}
TEMPLATE_NOT_APPROVED = {"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "该账号下找不到对应模板",
                         "RequestId": "A1B2C3D4-0000-4000-8000-000000000001"}
BLACKLISTED = {"Code": "isv.BLACK_KEY_CONTROL_LIMIT", "Message": "黑名单管控",
               "RequestId": "A1B2C3D4-0000-4000-8000-000000000002"}
FLOW_CONTROL = {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发号码天级流控Permits:10",
                "RequestId": "A1B2C3D4-0000-4000-8000-000000000003"}
THROTTLED = {"Code": "Throttling.User", "Message": "Request was denied due to user flow control.",
             "RequestId": "A1B2C3D4-0000-4000-8000-000000000004"}
SERVER_ERROR = {"Code": "ServiceUnavailable", "Message": "The request has failed due to a temporary failure of the server.",
                "RequestId": "A1B2C3D4-0000-4000-8000-000000000005"}
CALL_OK = {"Code": "OK", "Message": "OK", "CallId": "116012354148^10281378",
           "RequestId": "D9CB3933-9FE3-4870-BA8E-2BEE91B69D23"}


def _details(*out_ids):
    return {"Code": "OK", "Message": "OK", "RequestId": "819BE656-D2E0-4858-8B21-B2E477085AAF",
            "TotalCount": len(out_ids), "SmsSendDetailDTOs": {"SmsSendDetailDTO": [
                {"PhoneNum": "13912340001", "SendStatus": 3, "ErrCode": "DELIVERED",
                 "TemplateCode": "SMS_460001", "Content": "【虚拟养老院】工单号:123456", "OutId": out_id,
                 "SendDate": "2026-11-25 09:00:01", "ReceiveDate": "2026-11-25 09:00:05"}
                for out_id in out_ids]}}


class RecordedAliyun:
    """Answers each request with the next recorded (status, JSON), or raises a recorded error."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[tuple[str, dict]] = []

    def do_action(self, request, runtime_option=None):
        self.requests.append((request.headers.get("x-acs-action"), dict(request.query)))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        response = DaraResponse()
        response.status_code, response.headers = status, {}
        response.body = io.BytesIO(json.dumps(body, ensure_ascii=False).encode())
        return response


@pytest.fixture
def carrier(monkeypatch):
    def record(*answers) -> RecordedAliyun:
        recorded = RecordedAliyun(*answers)
        fake_core = type("RecordedCore", (DaraCore,), {"do_action": staticmethod(recorded.do_action)})
        monkeypatch.setattr(openapi_client, "DaraCore", fake_core)
        return recorded

    return record


def _scripts(url):
    if "/review/" in url:
        return CallScript("review", {"title": "王奶奶", "item": "居室保洁"}, ("0", "1", "2", "3", "4", "5"))
    if "/visit/" in url:
        return CallScript("visit_notice", {"title": "王奶奶", "provider": "第1家政", "item": "居室保洁",
                                           "when": "今天上午", "code": "123456"})
    return None


def _adapter() -> AliyunTelephony:
    return AliyunTelephony(access_key_id="LTAI5tTest", access_key_secret="secret", sign_name="虚拟养老院",
                           sms_templates=SMS_TEMPLATES, voice_templates=VOICE_TEMPLATES,
                           show_number="09312345678", scripts=_scripts)


def test_an_sms_goes_out_as_the_registered_template_with_its_parameters_and_the_biz_id_is_its_sid(carrier):
    recorded = carrier((200, SEND_OK))

    sid = _adapter().send_sms(to=ELDER, from_="+869312345678", body="工单号:123456", status_callback=None,
                              key="outbox-7", template="offer", params={"code": "123456", "item": "居室保洁"})

    assert sid == "900619746936498440^0"
    ((action, query),) = recorded.requests
    assert action == "SendSms"
    assert query["PhoneNumbers"] == "13912340001" and query["SignName"] == "虚拟养老院"
    assert query["TemplateCode"] == "SMS_460001" and query["OutId"] == "outbox-7"
    assert json.loads(query["TemplateParam"]) == {"code": "123456", "item": "居室保洁"}


@pytest.mark.parametrize("answer, code", [
    ((200, TEMPLATE_NOT_APPROVED), "isv.SMS_TEMPLATE_ILLEGAL"),
    ((200, BLACKLISTED), "isv.BLACK_KEY_CONTROL_LIMIT"),
])
def test_a_template_not_approved_or_a_blacklisted_number_is_permanent_and_names_the_carrier_code(carrier, answer, code):
    carrier(answer)

    with pytest.raises(DeliveryError) as caught:
        _adapter().send_sms(to=ELDER, from_="", body="x", status_callback=None, key="outbox-1",
                            template="offer", params={})

    assert caught.value.permanent and code in str(caught.value)


@pytest.mark.parametrize("answer, text", [
    ((200, FLOW_CONTROL), "isv.BUSINESS_LIMIT_CONTROL"),
    ((400, THROTTLED), "Throttling.User"),
    ((503, SERVER_ERROR), "ServiceUnavailable"),
    (ConnectionError("Connection refused"), "unreachable"),
])
def test_flow_control_throttling_server_errors_and_network_errors_are_worth_retrying(carrier, answer, text):
    carrier(answer)

    with pytest.raises(DeliveryError) as caught:
        _adapter().send_sms(to=ELDER, from_="", body="x", status_callback=None, key="outbox-1",
                            template="offer", params={})

    assert not caught.value.permanent and text in str(caught.value)


def test_a_purpose_with_no_registered_template_is_permanent_and_sends_nothing(carrier):
    recorded = carrier()

    with pytest.raises(DeliveryError) as caught:
        _adapter().send_sms(to=ELDER, from_="", body="x", status_callback=None, key="outbox-1",
                            template="suspension", params={})

    assert caught.value.permanent and "suspension" in str(caught.value)
    assert recorded.requests == []


def test_a_review_call_is_an_ivr_call_whose_keys_are_the_answers(carrier):
    recorded = carrier((200, CALL_OK))

    call_id = _adapter().place_call(to=ELDER, from_="", url="https://vnh.example/telephony/review/4",
                                    status_callback=None, key="outbox-9")

    assert call_id == "116012354148^10281378"
    ((action, query),) = recorded.requests
    assert action == "IvrCall"
    assert query["CalledNumber"] == "13912340001" and query["CalledShowNumber"] == "09312345678"
    assert query["StartCode"] == "TTS_300001" and query["OutId"] == "outbox-9"
    assert json.loads(query["StartTtsParams"]) == {"title": "王奶奶", "item": "居室保洁"}
    keys = sorted(v for k, v in query.items() if k.startswith("MenuKeyMap.") and k.endswith(".Key"))
    assert keys == ["0", "1", "2", "3", "4", "5"]


def test_a_visit_notice_to_a_landline_is_a_tts_call_without_keys(carrier):
    recorded = carrier((200, CALL_OK))

    _adapter().place_call(to=LANDLINE, from_="", url="https://vnh.example/telephony/visit/3/notice",
                          status_callback=None, key="outbox-10")

    ((action, query),) = recorded.requests
    assert action == "SingleCallByTts"
    assert query["CalledNumber"] == "09318765432" and query["TtsCode"] == "TTS_300003"
    assert json.loads(query["TtsParam"])["code"] == "123456"
    assert not any(k.startswith("MenuKeyMap") for k in query)


def test_a_call_the_carrier_has_no_script_for_is_permanent(carrier):
    carrier()

    with pytest.raises(DeliveryError) as caught:
        _adapter().place_call(to=ELDER, from_="", url="https://vnh.example/telephony/bridge/1",
                              status_callback=None, key="outbox-11")

    assert caught.value.permanent


def test_after_a_crash_an_sms_the_carrier_accepted_is_found_by_its_out_id(carrier):
    recorded = carrier((200, _details("outbox-6", "outbox-7")))

    found = _adapter().find_sent(key="outbox-7", kind="sms", to=ELDER, from_="", body=None, since=CLAIMED)

    assert found is not None
    ((action, query),) = recorded.requests
    assert action == "QuerySendDetails"
    assert query["PhoneNumber"] == "13912340001" and query["SendDate"] == "20261125"


def test_after_a_crash_an_sms_the_carrier_never_got_is_not_found(carrier):
    carrier((200, _details("outbox-6")))

    assert _adapter().find_sent(key="outbox-7", kind="sms", to=ELDER, from_="", body=None,
                                since=CLAIMED) is None


def test_when_the_carrier_cannot_say_whether_it_sent_the_adapter_says_so_instead_of_guessing(carrier):
    carrier((503, SERVER_ERROR))

    with pytest.raises(DeliveryError):
        _adapter().find_sent(key="outbox-7", kind="sms", to=ELDER, from_="", body=None, since=CLAIMED)


def test_a_permanent_carrier_error_fails_the_message_with_its_code_and_tells_an_operator_once(
        carrier, app, session, clock):
    from sqlalchemy import select

    from dispatcher.models import OperatorTask
    from dispatcher.operations.sweepers import deliver_outbox
    from telephony.models import OutboxMessage
    from telephony.outbox import enqueue_sms

    recorded = carrier((200, TEMPLATE_NOT_APPROVED))
    app.extensions["vnh.telephony"] = _adapter()
    enqueue_sms(session, to=ELDER, purpose="offer", dedupe_key="offer:1", from_="+869312345678",
                now=clock.now(), params={"job_code": "123456", "item_name": "助浴", "address": "城关区1号",
                                         "when": "尽快", "price": "48元", "minutes": 10})
    session.commit()

    deliver_outbox(app, clock.now())
    clock.advance(3600)
    deliver_outbox(app, clock.now())

    session.expire_all()
    message = session.scalar(select(OutboxMessage))
    assert message.status == "failed" and "isv.SMS_TEMPLATE_ILLEGAL" in message.last_error
    (task,) = session.scalars(select(OperatorTask).where(OperatorTask.kind == "failed_message")).all()
    assert "isv.SMS_TEMPLATE_ILLEGAL" in task.reason
    assert len(recorded.requests) == 1
