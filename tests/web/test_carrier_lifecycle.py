"""The lifecycle on the domestic carrier: offer SMS, the provider's replies, the visit, the review call.

The real AliyunTelephony and Alibaba Cloud's SDKs run; the carrier is faked at the SDK's HTTP layer
(`DaraCore.do_action`) with the JSON its API reference documents, and its pushes arrive in the
documented shapes. Nothing reaches a network.
"""

from __future__ import annotations

import io
import itertools
import json

import pytest
from alibabacloud_tea_openapi import client as openapi_client
from darabonba.core import DaraCore
from darabonba.response import DaraResponse
from sqlalchemy import select

from dispatcher.config import Settings
from dispatcher.lifecycle import orders
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import CallbackReview, Elder, Item, Order
from dispatcher.operations.sweepers import run_due_work
from telephony.models import OutboxMessage

TOKEN = "carrier-push-secret"
SMS_PURPOSES = ("offer", "offer_withdrawn", "order_cancelled", "order_redispatched", "elder_confirmation",
                "emergency_contact", "wellbeing_alarm", "provider_suspended", "accepted_reply", "reply_checked_in",
                "reply_checked_out", "visit_code")
SMS_TEMPLATES = {purpose: f"SMS_46{n:04d}" for n, purpose in enumerate(SMS_PURPOSES)}
VOICE_TEMPLATES = {"review": "TTS_300001", "wellbeing": "TTS_300002", "visit_notice": "TTS_300003",
                   "visit_reminder": "TTS_300004", "ack": "TTS_300009",
                   "emergency_contact": "TTS_300005", "wellbeing_alarm": "TTS_300006"}
PROVIDER_PHONE = "+8613800990001"


class Carrier:
    """Alibaba Cloud's APIs as recorded: every SendSms, IvrCall and SingleCallByTts accepted."""

    def __init__(self):
        self.requests: list[tuple[str, dict]] = []
        self.ids = itertools.count(1)

    def do_action(self, request, runtime_option=None):
        action = request.headers.get("x-acs-action")
        self.requests.append((action, dict(request.query)))
        n = next(self.ids)
        body = {"Code": "OK", "Message": "OK", "RequestId": f"F655A8D5-B967-440B-8683-{n:012d}"}
        if action == "SendSms":
            body["BizId"] = f"90061974693649{n:04d}^0"
        else:
            body["CallId"] = f"116012354148^10281{n:04d}"
        response = DaraResponse()
        response.status_code, response.headers = 200, {}
        response.body = io.BytesIO(json.dumps(body).encode())
        return response

    def sent(self, action: str) -> list[dict]:
        return [query for name, query in self.requests if name == action]


@pytest.fixture
def carrier(monkeypatch):
    carrier = Carrier()
    monkeypatch.setattr(openapi_client, "DaraCore",
                        type("RecordedCore", (DaraCore,), {"do_action": staticmethod(carrier.do_action)}))
    return carrier


@pytest.fixture
def app(database_url, clock, carrier):
    from dispatcher import create_app
    from dispatcher.catalogue import load_catalogue
    from dispatcher.db import session_scope

    app = create_app({
        "TESTING": True, "DATABASE_URL": database_url, "TELEPHONY": "aliyun", "TWILIO_AUTH_TOKEN": "",
        "PUBLIC_URL": "https://vnh.example", "SECRET_KEY": "test-secret", "CLOCK": clock,
        "OFFER_WINDOW_S": 600, "REVIEW_DELAY_S": 3600, "QUIET_HOURS": "", "WTF_CSRF_ENABLED": False,
        "CALLS_PER_S": 0, "SMS_PER_S": 0,
        "ALIYUN_ACCESS_KEY_ID": "LTAI5tTest", "ALIYUN_ACCESS_KEY_SECRET": "secret",
        "ALIYUN_SMS_SIGN": "虚拟养老院", "ALIYUN_SMS_TEMPLATES": SMS_TEMPLATES,
        "ALIYUN_VOICE_TEMPLATES": VOICE_TEMPLATES, "ALIYUN_SHOW_NUMBER": "09312345678",
        "ALIYUN_CALLBACK_TOKEN": TOKEN, "SWITCH_ESL_HOST": "127.0.0.1", "SWITCH_ESL_PASSWORD": "ClueCon-test",
    })
    with session_scope(app) as session:
        load_catalogue(session)
    yield app
    app.extensions["vnh.engine"].dispose()


def _push(app, kind: str, items: list[dict]) -> dict:
    response = app.test_client().post(f"/telephony/aliyun/{TOKEN}/{kind}", json=items)
    assert response.status_code == 200
    return response.get_json()


def _reply(app, text: str, sequence_id: int) -> None:
    assert _push(app, "sms-up", [{"phone_number": PROVIDER_PHONE[3:], "send_time": "2026-11-25 09:01:00",
                                  "content": text, "sign_name": "虚拟养老院", "dest_code": "1234",
                                  "sequence_id": sequence_id}]) == {"code": 0, "msg": "成功"}


def _order(app) -> Order:
    with app.extensions["vnh.sessionmaker"]() as s:
        return s.scalar(select(Order))


def test_an_order_runs_from_offer_to_verified_review_on_the_domestic_carrier(
        app, session, clock, carrier, make_elder, make_provider):
    make_elder(phone="+8613912340001")
    make_provider(dispatch_phone=PROVIDER_PHONE)
    order = orders.place_order(
        session, elder=session.scalars(select(Elder)).one(),
        item=session.scalar(select(Item).where(Item.code == "HK01")), slot=slot_for("asap", clock.now()),
        source="operator", call_sid=None, settings=Settings(app.config), now=clock.now())
    session.commit()
    code = order.job_code

    run_due_work(app)
    (offer_sms,) = carrier.sent("SendSms")
    assert offer_sms["PhoneNumbers"] == "13800990001" and offer_sms["TemplateCode"] == SMS_TEMPLATES["offer"]
    assert offer_sms["SignName"] == "虚拟养老院"
    with app.extensions["vnh.sessionmaker"]() as s:
        offer_row = s.scalar(select(OutboxMessage).where(OutboxMessage.purpose == "offer"))
    _push(app, "sms-report", [{"phone_number": "13800990001", "success": True, "err_code": "DELIVERED",
                               "biz_id": offer_row.sid, "out_id": f"outbox-{offer_row.id}"}])

    _reply(app, f"{code} 接", 1001)
    assert _order(app).state == "accepted"
    _reply(app, f"{code}到", 1002)
    clock.advance(3600)
    _reply(app, f"{code}：完", 1003)
    assert _order(app).state == "completed"
    run_due_work(app)
    replies = [q["TemplateCode"] for q in carrier.sent("SendSms") if q["PhoneNumbers"] == PROVIDER_PHONE[3:]]
    assert [SMS_TEMPLATES[p] for p in ("accepted_reply", "reply_checked_in", "reply_checked_out")] == replies[-3:]

    clock.advance(app.config["REVIEW_DELAY_S"])
    run_due_work(app)
    (ivr,) = carrier.sent("IvrCall")
    assert ivr["CalledNumber"] == "13912340001" and ivr["StartCode"] == VOICE_TEMPLATES["review"]
    with app.extensions["vnh.sessionmaker"]() as s:
        call = s.scalar(select(OutboxMessage).where(OutboxMessage.purpose == "review"))
    _push(app, "voice-report", [{"call_id": call.sid, "status_code": "300000", "dtmf": "5",
                                 "out_id": f"outbox-{call.id}", "status_time": "2026-11-25 12:01:12"}])
    _push(app, "voice-report", [{"call_id": call.sid, "status_code": "200000", "out_id": f"outbox-{call.id}"}])

    with app.extensions["vnh.sessionmaker"]() as s:
        review = s.scalar(select(CallbackReview))
        assert review.state == "verified" and review.rating == 5
        assert s.get(OutboxMessage, offer_row.id).status == "delivered"
        assert s.get(OutboxMessage, call.id).status == "completed"
    assert _order(app).state == "verified"
