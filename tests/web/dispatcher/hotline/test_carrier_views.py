"""Alibaba Cloud's HTTP batch pushes through the Flask test client, in the carrier's documented shapes."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import func, select

from dispatcher.config import Settings
from dispatcher.lifecycle import attendance, orders
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import CallbackReview, Item
from dispatcher.operations.sweepers import run_due_work
from providers.models import Offer
from telephony.models import InboundMessage, OutboxMessage

TOKEN = "carrier-push-secret"
VOICE_TEMPLATES = {"review": "TTS_1", "wellbeing": "TTS_2", "visit_notice": "TTS_3",
                   "visit_reminder": "TTS_4", "ack": "TTS_9",
                   "emergency_contact": "TTS_5", "wellbeing_alarm": "TTS_6"}


class FakeCarrier:
    """The Telephony port as the carrier adapter presents it: every send gets the carrier's id."""

    def __init__(self):
        self.sent: list[tuple[str, str]] = []

    def send_sms(self, *, to, from_, body, status_callback, key, template=None, params=None):
        self.sent.append(("sms", to))
        return f"90061974693649844{len(self.sent)}^0"

    def place_call(self, *, to, from_, url, status_callback, key):
        self.sent.append(("call", to))
        return f"116012354148^1028137{len(self.sent)}"

    def find_sent(self, **_):
        return None


@pytest.fixture
def app(database_url, clock):
    from dispatcher import create_app
    from dispatcher.catalogue import load_catalogue
    from dispatcher.db import session_scope

    app = create_app({
        "TESTING": True, "DATABASE_URL": database_url, "TELEPHONY": "aliyun",
        "TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": "", "PUBLIC_URL": "https://vnh.example",
        "SECRET_KEY": "test-secret", "CLOCK": clock, "OFFER_WINDOW_S": 600, "REVIEW_DELAY_S": 3600,
        "QUIET_HOURS": "", "WTF_CSRF_ENABLED": False, "CALLS_PER_S": 0, "SMS_PER_S": 0,
        "ALIYUN_ACCESS_KEY_ID": "LTAI5tTest", "ALIYUN_ACCESS_KEY_SECRET": "secret",
        "ALIYUN_SMS_SIGN": "虚拟养老院", "ALIYUN_SMS_TEMPLATES": '{"offer": "SMS_1"}',
        "ALIYUN_VOICE_TEMPLATES": VOICE_TEMPLATES, "ALIYUN_SHOW_NUMBER": "09312345678",
        "ALIYUN_CALLBACK_TOKEN": TOKEN, "TELEPHONY_ADAPTER": FakeCarrier(),
        "SWITCH_ESL_HOST": "127.0.0.1", "SWITCH_ESL_PASSWORD": "ClueCon-test",
    })
    with session_scope(app) as session:
        load_catalogue(session)
    yield app
    app.extensions["vnh.engine"].dispose()


@pytest.fixture
def push(app):
    client = app.test_client()

    def post(kind: str, items, token: str = TOKEN):
        return client.post(f"/telephony/aliyun/{token}/{kind}", json=items)

    return post


@pytest.fixture
def rows(app):
    def read(statement) -> list:
        with app.extensions["vnh.sessionmaker"]() as db:
            return list(db.scalars(statement))

    return read


@pytest.fixture
def offered(app, session, clock, make_elder, make_provider):
    """An order offered to a provider by SMS: (provider, job code)."""
    elder = make_elder()
    provider = make_provider(dispatch_phone="+8613800990001")
    order = orders.place_order(
        session, elder=elder, item=session.scalar(select(Item).where(Item.code == "HK01")),
        slot=slot_for("asap", clock.now()), source="operator", call_sid=None,
        settings=Settings(app.config), now=clock.now())
    session.commit()
    return provider, order.job_code


def _sms_up(content: str, sequence_id: int = 1234567890, phone: str = "13800990001") -> dict:
    return {"phone_number": phone, "send_time": "2026-11-25 09:01:00", "content": content,
            "sign_name": "虚拟养老院", "dest_code": "1234", "sequence_id": sequence_id}


def _offer_status(rows, provider) -> str:
    (offer,) = rows(select(Offer).where(Offer.provider_id == provider.id))
    return offer.status


def test_a_providers_reply_pushed_by_the_carrier_accepts_the_offer_and_is_answered_by_template_sms(
        push, rows, offered):
    provider, code = offered

    response = push("sms-up", [_sms_up(f"{code} 接")])

    assert response.status_code == 200 and response.get_json() == {"code": 0, "msg": "成功"}
    assert _offer_status(rows, provider) == "accepted"
    (reply,) = rows(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("sms-reply:%")))
    assert reply.to_number == "+8613800990001" and code in reply.body
    # Its own filed template with its parameters, never free text.
    assert reply.purpose == "accepted_reply" and reply.template_code == "VNH_ACCEPTED"
    assert json.loads(reply.params)["job_code"] == code


@pytest.mark.parametrize("text, purpose", [("你好", "reply_help"), ("999999 接", "reply_offer_not_found"),
                                           ("到", "reply_nothing_to_check_in")])
def test_every_answer_to_a_reply_goes_out_as_a_named_template(push, rows, offered, text, purpose):
    push("sms-up", [_sms_up(text)])

    (reply,) = rows(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("sms-reply:%")))
    assert reply.purpose == purpose and reply.template_code.startswith("VNH_REPLY_")


def test_a_reply_pushed_twice_is_applied_and_answered_once(push, rows, offered):
    provider, code = offered

    push("sms-up", [_sms_up(f"{code} 接")])
    again = push("sms-up", [_sms_up(f"{code} 接")])

    assert again.get_json()["code"] == 0
    assert rows(select(func.count()).select_from(InboundMessage)) == [1]
    assert len(rows(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("sms-reply:%")))) == 1


def test_a_push_with_a_wrong_token_is_refused_changes_nothing_and_logs_the_number_masked(
        push, rows, offered, caplog):
    provider, code = offered

    with caplog.at_level(logging.WARNING, logger="vnh.carrier"):
        response = push("sms-up", [_sms_up(f"{code} 接")], token="guessed")

    assert response.status_code == 403
    assert _offer_status(rows, provider) == "offered"
    assert rows(select(func.count()).select_from(InboundMessage)) == [0]
    assert "13800990001" not in caplog.text and "****" in caplog.text


def test_a_reply_from_an_unknown_number_changes_nothing_gets_no_sms_and_is_logged_masked(
        push, rows, offered, caplog):
    provider, code = offered

    with caplog.at_level(logging.WARNING, logger="vnh.carrier"):
        response = push("sms-up", [_sms_up(f"{code} 接", phone="13711112222")])

    assert response.get_json()["code"] == 0
    assert _offer_status(rows, provider) == "offered"
    assert rows(select(func.count()).select_from(InboundMessage)) == [0]
    assert rows(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("sms-reply:%"))) == []
    assert "13711112222" not in caplog.text and "+86137****2222" in caplog.text


def test_delivery_reports_move_the_outbox_forward_as_twilio_status_callbacks_do(app, push, rows, offered, clock):
    run_due_work(app)
    (offer_sms,) = rows(select(OutboxMessage).where(OutboxMessage.purpose == "offer"))
    assert offer_sms.status == "sent"

    push("sms-report", [{"phone_number": "13800990001", "send_time": "2026-11-25 09:00:00",
                         "report_time": "2026-11-25 09:00:03", "success": True, "err_code": "DELIVERED",
                         "err_msg": "用户接收成功", "sms_size": "1", "biz_id": offer_sms.sid, "out_id": "outbox-1"}])
    push("sms-report", [{"biz_id": offer_sms.sid, "success": False, "err_code": "MK:0001"}])

    (offer_sms,) = rows(select(OutboxMessage).where(OutboxMessage.purpose == "offer"))
    assert offer_sms.status == "delivered"


def test_an_undelivered_report_keeps_the_carriers_code(app, push, rows, offered):
    run_due_work(app)
    (offer_sms,) = rows(select(OutboxMessage).where(OutboxMessage.purpose == "offer"))

    push("sms-report", [{"biz_id": offer_sms.sid, "success": False, "err_code": "MK:0004",
                         "err_msg": "黑名单"}])

    (offer_sms,) = rows(select(OutboxMessage).where(OutboxMessage.purpose == "offer"))
    assert offer_sms.status == "undelivered" and "MK:0004" in offer_sms.last_error


@pytest.fixture
def review_call(app, session, clock, policy, offered, rows):
    """A visit done and its review call placed through the carrier: the outbox call row."""
    provider, code = offered
    settings = Settings(app.config)
    order = session.scalar(select(orders.Order).where(orders.Order.job_code == code))
    offer = session.scalar(select(Offer).where(Offer.order_id == order.id))
    assert orders.accept_offer(session, offer, provider.id, "sms", settings, clock.now()).ok
    assert attendance.check_in(session, order, provider.id, "sms", clock.now()).ok
    clock.advance(3600)
    assert attendance.check_out(session, order, provider.id, "sms", policy, settings, clock.now()).ok
    session.commit()
    clock.advance(app.config["REVIEW_DELAY_S"])
    run_due_work(app)
    (call,) = rows(select(OutboxMessage).where(OutboxMessage.purpose == "review"))
    assert call.sid is not None
    return call


def _review(rows) -> CallbackReview:
    (review,) = rows(select(CallbackReview))
    return review


def test_a_key_pressed_on_the_carriers_ivr_review_call_verifies_the_visit_with_its_rating(push, rows, review_call):
    response = push("voice-report", [{"status_code": "300000", "smart_status_code": "ANSWERED", "dtmf": "4",
                                      "status_time": "2026-11-25 12:01:12", "out_id": f"outbox-{review_call.id}",
                                      "call_id": review_call.sid}])
    push("voice-report", [{"call_id": review_call.sid, "status_code": "200000", "out_id": f"outbox-{review_call.id}"}])

    assert response.get_json() == {"code": 0, "msg": "成功"}
    review = _review(rows)
    assert review.state == "verified" and review.did_worker_come is True and review.rating == 4
    (call,) = rows(select(OutboxMessage).where(OutboxMessage.purpose == "review"))
    assert call.status == "completed"


def test_zero_on_the_review_call_means_nobody_came(push, rows, review_call):
    push("voice-report", [{"call_id": review_call.sid, "status_code": "300000", "dtmf": "0"}])

    review = _review(rows)
    assert review.state == "denied" and review.did_worker_come is False


def test_a_review_call_the_elder_did_not_answer_is_tried_again(push, rows, review_call):
    push("voice-report", [{"call_id": review_call.sid, "status_code": "200003", "out_id": f"outbox-{review_call.id}"}])

    review = _review(rows)
    assert review.state == "scheduled" and review.last_call_status == "no-answer"


@pytest.mark.parametrize("code, status", [("200121", "busy"), ("200118", "busy"), ("200002", "busy")])
def test_a_call_over_the_concurrency_limit_or_restricted_at_this_hour_is_tried_again_like_busy(
        push, rows, review_call, code, status):
    push("voice-report", [{"call_id": review_call.sid, "status_code": code, "out_id": f"outbox-{review_call.id}"}])

    review = _review(rows)
    assert review.state == "scheduled" and review.last_call_status == status


def test_a_report_for_a_call_nobody_recorded_and_no_claim_changes_nothing(push, rows, review_call):
    push("voice-report", [{"call_id": "999^1", "status_code": "300000", "dtmf": "5", "out_id": "outbox-99999"}])

    assert _review(rows).state != "verified"


def test_the_carrier_is_asked_to_push_again_when_the_database_is_down(app, push, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from dispatcher.hotline import carrier_views

    def down(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(carrier_views, "record_status", down)

    response = push("sms-report", [{"biz_id": "1^0", "success": True}])

    assert response.status_code == 503


def test_vnh_serve_in_aliyun_mode_without_credentials_refuses_and_names_what_is_missing(tmp_path):
    from click.testing import CliRunner

    from dispatcher.cli import main
    from dispatcher.config import ALIYUN_SETTINGS

    env = {name: "" for _, name in ALIYUN_SETTINGS}
    env.update({"VNH_TELEPHONY": "aliyun", "VNH_DATABASE_URL": f"sqlite:///{tmp_path / 'vnh.sqlite'}",
                "VNH_SECRET_KEY": "", "TWILIO_ACCOUNT_SID": "",
                # `vnh serve` fills VNH_PUBLIC_URL in os.environ; naming it here has click restore it.
                "VNH_PUBLIC_URL": ""})

    result = CliRunner().invoke(main, ["serve", "--no-scheduler"], env=env)

    assert result.exit_code != 0
    for _, name in ALIYUN_SETTINGS:
        assert name in result.output
    assert "vnh serving" not in result.output


@pytest.fixture
def wellbeing_call(app, session, clock, make_elder, rows):
    """A wellbeing call placed through the carrier to an elder with one emergency contact."""
    from datetime import timedelta

    from dispatcher.clock import local
    from dispatcher.programmes.wellbeing import schedule_call

    elder = make_elder(contacts=[("王小明", "+8613700001111")])
    schedule_call(session, elder, local(clock.now() + timedelta(minutes=30)).time(), clock.now())
    session.commit()
    clock.advance(3600)
    assert run_due_work(app)["wellbeing_calls"] == 1
    (call,) = rows(select(OutboxMessage).where(OutboxMessage.purpose == "wellbeing"))
    return call


def test_nine_on_the_carriers_wellbeing_call_raises_the_emergency_as_on_twilio(push, rows, wellbeing_call):
    from dispatcher.models import OperatorTask
    from dispatcher.programmes.wellbeing import WellbeingCall

    push("voice-report", [{"call_id": wellbeing_call.sid, "status_code": "300000", "dtmf": "9"}])

    (call,) = rows(select(WellbeingCall))
    assert call.state == "help"
    assert [t.kind for t in rows(select(OperatorTask))] == ["emergency"]
    (sms,) = rows(select(OutboxMessage).where(OutboxMessage.purpose == "emergency_contact"))
    assert sms.to_number == "+8613700001111"


def test_a_wellbeing_call_answered_without_a_key_counts_as_not_reached(push, rows, wellbeing_call):
    from dispatcher.programmes.wellbeing import WellbeingCall

    push("voice-report", [{"call_id": wellbeing_call.sid, "status_code": "200008"}])

    (call,) = rows(select(WellbeingCall))
    assert call.state == "scheduled"


def test_the_carrier_script_of_each_call_carries_its_template_values(app, session, review_call, wellbeing_call):
    from dispatcher.hotline.carrier_calls import CallScripts

    scripts = CallScripts(app.extensions["vnh.engine"], app.config)

    review = scripts(review_call.url)
    assert review.purpose == "review" and review.keys == ("0", "1", "2", "3", "4", "5")
    assert review.params["item"] and review.params["title"].endswith(("奶奶", "大爷", "阿姨", "叔叔"))
    assert scripts(wellbeing_call.url).keys == ("1", "9")
    assert scripts("https://vnh.example/telephony/bridge/1") is None
    assert scripts("https://vnh.example/telephony/review/99999") is None


@pytest.mark.parametrize("path", ["/telephony/sms", "/telephony/review/1", "/telephony/status/call",
                                  "/telephony/wellbeing/1"])
def test_on_the_carrier_twilios_unsigned_webhooks_are_closed(app, path):
    response = app.test_client().post(path, data={"From": "+8613800990001", "Body": "123456 接", "Digits": "2"})

    assert response.status_code == 403
