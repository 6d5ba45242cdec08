"""Issue 15: the whole lifecycle once per phone network — local, Twilio, Alibaba Cloud.

An elder books by phone, the scheduler's outbox sweep sends the offer through the real adapter,
the provider replies by SMS the way the carrier delivers replies, checks in and out, the review
call is placed through the adapter and answered, and the order ends verified with its subsidy
payable. The app runs in this process so that each carrier can be faked at its HTTP boundary
(tests/acceptance/carriers.py); nothing reaches a network.

The booking goes through the signed TwiML hotline on every network: on aliyun the inbound hotline
is the call centre's (FreeSWITCH or Twilio), not the carrier's, and the TwiML flow is the simplest
of the documented ones to drive (the switch endpoints render the same Hotline state machine).
"""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from dispatcher.models import CallbackReview, Order
from dispatcher.operations.sweepers import run_due_work
from telephony.models import OutboxMessage
from telephony.simulator import FlaskTransport, Phone

from .carriers import (
    SMS_TEMPLATES,
    TOKEN,
    VOICE_TEMPLATES,
    AliyunNetwork,
    LocalNetwork,
    TwilioNetwork,
    refuse_network,
)

pytestmark = pytest.mark.acceptance

PUBLIC_URL = "https://vnh.example"
AUTH_TOKEN = "issue15-auth-token"
ELDER_PHONE = "+8613912340001"
PROVIDER_PHONE = "+8613800990001"
NETWORKS = {"local": LocalNetwork, "twilio": TwilioNetwork, "aliyun": AliyunNetwork}


@pytest.fixture(params=list(NETWORKS))
def network(request, monkeypatch):
    refuse_network(monkeypatch)
    network = NETWORKS[request.param]()
    if request.param == "aliyun":
        from alibabacloud_tea_openapi import client as openapi_client
        from darabonba.core import DaraCore

        monkeypatch.setattr(openapi_client, "DaraCore", type(
            "RecordedCore", (DaraCore,), {"do_action": staticmethod(network.carrier.do_action)}))
    network.name = request.param
    return network


@pytest.fixture
def app(database_url, clock, network):
    from dispatcher import create_app
    from dispatcher.catalogue import load_catalogue
    from dispatcher.db import session_scope

    config = {
        "TESTING": True, "DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PUBLIC_URL": PUBLIC_URL, "SECRET_KEY": "test-secret", "CLOCK": clock, "OFFER_WINDOW_S": 600,
        "REVIEW_DELAY_S": 3600, "QUIET_HOURS": "", "WTF_CSRF_ENABLED": False, "CALLS_PER_S": 0,
        "SMS_PER_S": 0, **network.config,
    }
    if network.adapter() is not None:
        config["TELEPHONY_ADAPTER"] = network.adapter()
    app = create_app(config)
    network.app = app
    with session_scope(app) as session:
        load_catalogue(session)
    yield app
    app.extensions["vnh.engine"].dispose()


@pytest.fixture
def phone(app):
    transport = FlaskTransport(app.test_client())
    transport.base_url = PUBLIC_URL  # Twilio signs the public URL; the test client drops the host
    return Phone(transport, AUTH_TOKEN, app.config["HOTLINE_NUMBER"])


def _push(app, kind: str, items: list[dict]) -> dict:
    """A push from Alibaba Cloud (its HTTP batch push, authenticated by the token in the path)."""
    response = app.test_client().post(f"/telephony/aliyun/{TOKEN}/{kind}", json=items)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _provider_replies(app, phone, network, text: str, sequence_id: int) -> None:
    if network.name == "aliyun":
        assert _push(app, "sms-up", [{"phone_number": PROVIDER_PHONE[3:], "send_time": "2026-11-25 09:01:00",
                                      "content": text, "sign_name": "虚拟养老院", "dest_code": "1234",
                                      "sequence_id": sequence_id}]) == {"code": 0, "msg": "成功"}
    else:
        assert phone.send_sms(PROVIDER_PHONE, text)


def _order(app) -> Order:
    with app.extensions["vnh.sessionmaker"]() as s:
        return s.scalar(select(Order))


def test_an_order_booked_by_phone_runs_to_a_payable_verified_review_on_each_network(
        app, phone, network, clock, make_elder, make_provider, tmp_path, monkeypatch):
    make_elder(phone=ELDER_PHONE, elder_class="特困")
    provider = make_provider(offerings={"HK01": 4800}, dispatch_phone=PROVIDER_PHONE)

    # The elder books 家政保洁 → 居室保洁 → as soon as possible → confirm, on the hotline.
    call = phone.call_hotline(ELDER_PHONE, ["2", "1", "1", "1"])
    assert call.ended_with == "hangup", call.responses[-1]
    code = _order(app).job_code
    assert code and _order(app).state == "offered"

    # The scheduler's outbox sweep sends the offer through the adapter.
    run_due_work(app, clock.now())
    offers = [m for m in network.sms() if m["to"] in (PROVIDER_PHONE, PROVIDER_PHONE[3:])]
    assert len(offers) == 1
    if network.name == "aliyun":
        assert offers[0]["template"] == SMS_TEMPLATES["offer"] and offers[0]["params"]["job_code"] == code
    else:
        assert f"工单号:{code}" in offers[0]["body"]

    # The provider accepts, arrives and finishes by SMS reply.
    _provider_replies(app, phone, network, f"{code} 接", 1001)
    assert _order(app).state == "accepted"
    clock.advance(1800)
    _provider_replies(app, phone, network, f"{code}到", 1002)
    clock.advance(3600)
    _provider_replies(app, phone, network, f"{code}：完", 1003)
    assert _order(app).state == "completed"

    # The review call goes out through the adapter, and the elder answers it.
    clock.advance(app.config["REVIEW_DELAY_S"])
    assert run_due_work(app, clock.now())["reviews_started"] == 1
    review_calls = [c for c in network.calls() if c["to"] in (ELDER_PHONE, ELDER_PHONE[3:])]
    assert len(review_calls) == 1
    with app.extensions["vnh.sessionmaker"]() as s:
        placed = s.scalar(select(OutboxMessage).where(OutboxMessage.purpose == "review"))
    assert placed.status == "sent" and placed.sid
    if network.name == "aliyun":
        assert review_calls[0]["template"] == VOICE_TEMPLATES["review"]
        _push(app, "voice-report", [{"call_id": placed.sid, "status_code": "300000", "dtmf": "5",
                                     "out_id": f"outbox-{placed.id}", "status_time": "2026-11-25 12:01:12"}])
        _push(app, "voice-report", [{"call_id": placed.sid, "status_code": "200000",
                                     "out_id": f"outbox-{placed.id}"}])
    else:
        assert review_calls[0]["url"].startswith(f"{PUBLIC_URL}/telephony/review/")
        answered = phone.answer_call({"from": review_calls[0]["from"], "to": ELDER_PHONE,
                                      "url": review_calls[0]["url"]}, ["1", "5"])
        assert answered.ended_with == "hangup" and "感谢您的评价" in answered.text

    with app.extensions["vnh.sessionmaker"]() as s:
        review = s.scalar(select(CallbackReview))
        assert review.state == "verified" and review.rating == 5
    assert _order(app).state == "verified"

    # The subsidy is payable: the month's report lists the order, verified, at 48 yuan.
    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    from dispatcher.cli import main

    output = tmp_path / "subsidy.csv"
    result = CliRunner().invoke(main, ["report", "subsidy", "--month", "2026-11", "--format", "csv",
                                       "--output", str(output), "--lang", "en"])
    assert result.exit_code == 0, result.output
    (row,) = csv.DictReader(output.open(encoding="utf-8-sig"))
    assert (row["item_code"], row["provider_code"]) == ("HK01", provider.code)
    assert (row["price"], row["subsidy"], row["copay"], row["review_result"]) == ("48.00", "48.00", "0.00", "verified")
