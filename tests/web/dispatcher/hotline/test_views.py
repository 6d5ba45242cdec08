"""The Twilio webhooks through the Flask test client: signatures, the IVR, SMS, replays, sign-in."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import datetime

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from dispatcher.config import Settings
from dispatcher.consoles.auth import add_user
from dispatcher.lifecycle import orders
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import HotlineCall, Item, OperatorTask, Order
from providers.models import Offer
from telephony.models import CallRecord, InboundMessage, OutboxMessage
from telephony.simulator import FlaskTransport, Phone

BASE = "http://localhost"
ACCOUNT_SID = "AC" + "0" * 32
ELDER_PHONE = "+8613912340001"
STRANGER = "+8613711112222"
WEBHOOKS = ["/telephony/voice", "/telephony/sms", "/telephony/status/call", "/telephony/review/1"]


# -- helpers ------------------------------------------------------------------------------------

class Twilio:
    """Posts webhooks as Twilio does, signed for `base` + path with the app's auth token."""

    def __init__(self, client, token: str, hotline: str, base: str = BASE):
        self.client, self.token, self.hotline, self.base = client, token, hotline, base

    def post(self, path: str, form: dict, *, signature: str | None = "valid", signed_url: str | None = None):
        headers = {}
        if signature == "valid":
            headers["X-Twilio-Signature"] = RequestValidator(self.token).compute_signature(
                signed_url or self.base + path, form)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        return self.client.post(path, data=form, headers=headers)

    def voice(self, path: str, call_sid: str, caller: str = ELDER_PHONE, **fields):
        form = {"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "From": caller, "To": self.hotline,
                "CallStatus": "in-progress", "Direction": "inbound", **fields}
        return self.post(path, form)

    def sms(self, sender: str, body: str, message_sid: str | None = None) -> str:
        form = {"MessageSid": message_sid or "SM" + uuid.uuid4().hex, "AccountSid": ACCOUNT_SID,
                "From": sender, "To": self.hotline, "Body": body}
        response = self.post("/telephony/sms", form)
        assert response.status_code == 200
        message = twiml_root(response.get_data(as_text=True)).find("Message")
        return "" if message is None else message.text or ""


def twiml_root(body: str) -> ET.Element:
    root = ET.fromstring(body)
    assert root.tag == "Response"
    return root


def spoken(body: str) -> list[str]:
    return ["".join(say.itertext()) for say in twiml_root(body).iter("Say")]


def next_url(body: str) -> str:
    """Where Twilio goes after this TwiML when the caller stays silent: the <Redirect>."""
    return twiml_root(body).find("Redirect").text.strip()


def gather_action(body: str) -> str:
    return twiml_root(body).find("Gather").get("action")


def dialled(body: str) -> list[str]:
    dial = twiml_root(body).find("Dial")
    return [] if dial is None else [number.text for number in dial.iter("Number")]


@pytest.fixture
def twilio(app):
    return Twilio(app.test_client(), app.config["TWILIO_AUTH_TOKEN"], app.config["HOTLINE_NUMBER"])


@pytest.fixture
def phone(app):
    return Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"],
                 app.config["HOTLINE_NUMBER"])


@pytest.fixture
def rows(app):
    """Read rows in a short session of their own (an open SQLite transaction would block the app)."""

    def read(statement) -> list:
        with app.extensions["vnh.sessionmaker"]() as db:
            return list(db.scalars(statement))

    return read


def _count(rows, model) -> int:
    return rows(select(func.count()).select_from(model))[0]


def _tasks(rows, kind=None) -> list[OperatorTask]:
    query = select(OperatorTask).order_by(OperatorTask.id)
    return rows(query.where(OperatorTask.kind == kind) if kind else query)


def _place_order(session, app, clock, elder) -> Order:
    order = orders.place_order(
        session, elder=elder, item=session.scalar(select(Item).where(Item.code == "HK01")),
        slot=slot_for("asap", clock.now()), source="operator", call_sid=None,
        settings=Settings(app.config), now=clock.now(),
    )
    session.commit()
    return order


def _offers(rows, provider) -> list[Offer]:
    return rows(select(Offer).where(Offer.provider_id == provider.id).order_by(Offer.id))


# -- signatures ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", WEBHOOKS)
def test_a_webhook_without_a_signature_is_forbidden(path, twilio):
    response = twilio.post(path, {"CallSid": "CA1", "From": STRANGER}, signature=None)
    assert response.status_code == 403


@pytest.mark.parametrize("path", WEBHOOKS)
def test_a_webhook_signed_with_another_token_is_forbidden(path, twilio):
    form = {"CallSid": "CA1", "From": STRANGER}
    wrong = RequestValidator("not-the-token").compute_signature(BASE + path, form)
    assert twilio.post(path, form, signature=wrong).status_code == 403


@pytest.mark.parametrize("path", WEBHOOKS)
def test_a_webhook_whose_form_was_changed_after_signing_is_forbidden(path, twilio):
    signed = RequestValidator(twilio.token).compute_signature(BASE + path, {"CallSid": "CA1", "Digits": "1"})
    response = twilio.post(path, {"CallSid": "CA1", "Digits": "9"}, signature=signed)
    assert response.status_code == 403


@pytest.mark.parametrize("path", WEBHOOKS)
def test_a_correctly_signed_webhook_is_let_through(path, twilio):
    response = twilio.post(path, {"CallSid": "CA1", "From": STRANGER, "MessageSid": "SM1"})
    assert response.status_code in (200, 204)


@pytest.fixture
def public_twilio(database_url, clock):
    """An app behind a proxy: Twilio signs the public URL, not the one the app sees."""
    from dispatcher import create_app

    app = create_app({
        "TESTING": True, "DATABASE_URL": database_url, "TELEPHONY": "local",
        "TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": "test-auth-token",
        "PUBLIC_URL": "https://hotline.example.org", "SECRET_KEY": "test-secret", "CLOCK": clock,
        "WTF_CSRF_ENABLED": False,
    })
    yield Twilio(app.test_client(), "test-auth-token", app.config["HOTLINE_NUMBER"],
                 base="https://hotline.example.org")
    app.extensions["vnh.engine"].dispose()


@pytest.mark.parametrize("path", ["/telephony/status/call", "/telephony/voice?seq=3"])
def test_with_a_public_url_a_request_signed_for_it_passes(path, public_twilio):
    form = {"CallSid": "CA" + "1" * 32, "From": STRANGER, "CallStatus": "completed"}
    response = public_twilio.post(path, form, signed_url="https://hotline.example.org" + path)
    assert response.status_code in (200, 204)


@pytest.mark.parametrize("path", ["/telephony/status/call", "/telephony/voice?seq=3"])
def test_with_a_public_url_a_request_signed_for_localhost_is_forbidden(path, public_twilio):
    form = {"CallSid": "CA" + "1" * 32, "From": STRANGER, "CallStatus": "completed"}
    response = public_twilio.post(path, form, signed_url=BASE + path)
    assert response.status_code == 403


# -- the IVR --------------------------------------------------------------------------------------

def test_an_unknown_caller_is_put_through_to_the_operators_and_queued(app, phone, rows):
    call = phone.call_hotline(STRANGER, [])

    assert call.ended_with == "dial"
    assert call.dialled == app.config["OPERATOR_NUMBERS"]
    (task,) = _tasks(rows)
    assert (task.kind, task.caller, task.call_sid) == ("unknown_caller", STRANGER, call.call_sid)


@pytest.mark.parametrize("keys,step", [
    (["0"], "category"), (["2", "0"], "item"), (["2", "1", "0"], "slot"),
    (["2", "1", "1", "0"], "confirm"),
], ids=["category", "item", "slot", "confirm"])
def test_zero_at_any_step_reaches_an_operator(keys, step, app, phone, rows, make_elder, make_provider):
    make_elder(phone=ELDER_PHONE)
    make_provider()

    call = phone.call_hotline(ELDER_PHONE, keys)

    assert call.ended_with == "dial" and call.pressed == keys
    assert call.dialled == app.config["OPERATOR_NUMBERS"]
    (task,) = _tasks(rows)
    assert task.kind == "operator_request" and task.call_sid == call.call_sid
    assert _count(rows, Order) == 0


@pytest.mark.parametrize("keys", [["9"], ["2", "9"], ["2", "1", "1", "9"]],
                         ids=["category", "item", "confirm"])
def test_nine_reaches_an_operator_at_once_and_texts_every_emergency_contact(
    keys, app, phone, rows, make_elder
):
    contacts = [("王小明", "+8613700000001"), ("李红", "+8613700000002")]
    elder = make_elder(phone=ELDER_PHONE, name="王秀英", contacts=contacts)

    call = phone.call_hotline(ELDER_PHONE, keys)

    assert call.ended_with == "dial"
    assert call.dialled == app.config["OPERATOR_NUMBERS"]
    texts = [m for m in phone.outbox() if m["purpose"] == "emergency_contact"]
    assert sorted(m["to"] for m in texts) == ["+8613700000001", "+8613700000002"]
    assert all(m["kind"] == "sms" and "王秀英" in m["body"] for m in texts)
    (task,) = _tasks(rows)
    assert (task.kind, task.elder_id) == ("emergency", elder.id)


def test_silence_twice_reaches_an_operator(app, twilio, rows, make_elder):
    make_elder(phone=ELDER_PHONE)
    sid = "CA" + uuid.uuid4().hex

    greeting = twilio.voice("/telephony/voice", sid).get_data(as_text=True)
    once = twilio.voice(next_url(greeting), sid).get_data(as_text=True)
    twice = twilio.voice(next_url(once), sid).get_data(as_text=True)

    assert dialled(once) == [] and spoken(once)[0] == "没有听到您的选择。请按键，也可以直接说。"
    assert dialled(twice) == app.config["OPERATOR_NUMBERS"]
    (task,) = _tasks(rows)
    assert task.kind == "silence"


def test_an_invalid_key_twice_reaches_an_operator(app, phone, rows, make_elder):
    make_elder(phone=ELDER_PHONE)

    call = phone.call_hotline(ELDER_PHONE, ["6", "6"])

    assert "按键无效。" in call.said
    assert dialled(call.responses[1]) == []
    assert call.ended_with == "dial" and call.dialled == app.config["OPERATOR_NUMBERS"]
    (task,) = _tasks(rows)
    assert task.kind == "invalid"


@pytest.mark.parametrize("keys", [["*"], ["2", "*"], ["2", "1", "*"]], ids=["category", "item", "slot"])
def test_star_repeats_the_prompt(keys, twilio, make_elder):
    make_elder(phone=ELDER_PHONE)
    sid = "CA" + uuid.uuid4().hex
    body = twilio.voice("/telephony/voice", sid).get_data(as_text=True)
    prompts = [spoken(body)]
    for key in keys:
        body = twilio.voice(gather_action(body), sid, Digits=key).get_data(as_text=True)
        prompts.append(spoken(body))

    asked, repeated = prompts[-2], prompts[-1]
    if len(keys) == 1:
        asked = asked[1:]  # the first prompt begins with the greeting
    assert repeated == asked and any("按1" in line for line in repeated)
    assert twiml_root(body).find("Gather") is not None


@pytest.mark.parametrize("caller,keys", [
    (STRANGER, []), (ELDER_PHONE, ["2", "1", "1", "1"]), (ELDER_PHONE, ["0"]), (ELDER_PHONE, ["9"]),
    (ELDER_PHONE, ["7", "*", "8", "3", "2", "2", "1", "7", "7"]), (ELDER_PHONE, ["2", "1", "2", "2"]),
], ids=["unknown", "booking", "operator", "emergency", "wandering", "start again"])
def test_every_ivr_response_is_twiml_with_a_response_root(caller, keys, phone, make_elder, make_provider):
    make_elder(phone=ELDER_PHONE, contacts=[("王小明", "+8613700000001")])
    make_provider()

    call = phone.call_hotline(caller, keys)

    assert call.ended_with in ("dial", "hangup", "no more keys")
    assert len(call.responses) >= 1
    for body in call.responses:
        twiml_root(body)


def test_speech_naming_a_synonym_goes_straight_to_choosing_the_time(twilio, rows, make_elder):
    (cleaning,) = rows(select(Item).where(Item.code == "HK01"))
    assert "来打扫一下卫生" in cleaning.synonyms
    make_elder(phone=ELDER_PHONE)
    sid = "CA" + uuid.uuid4().hex
    greeting = twilio.voice("/telephony/voice", sid).get_data(as_text=True)

    body = twilio.voice(gather_action(greeting), sid, SpeechResult="我想找人来打扫一下卫生",
                        Confidence="0.87").get_data(as_text=True)

    assert "尽快上门按1，另约时间按2。" in spoken(body)
    (call,) = rows(select(HotlineCall).where(HotlineCall.call_sid == sid))
    assert call.step == "slot"
    assert (call.data["category"], call.data["item"]) == ("HK", "HK01")


# -- replays ----------------------------------------------------------------------------------------

def test_a_replayed_voice_webhook_gets_the_same_twiml_and_places_no_second_order(
    twilio, rows, make_elder, make_provider
):
    make_elder(phone=ELDER_PHONE)
    make_provider()
    sid = "CA" + uuid.uuid4().hex
    first = twilio.voice("/telephony/voice", sid).get_data()
    assert twilio.voice("/telephony/voice", sid).get_data() == first
    body = first.decode()
    for key in ["2", "1", "1"]:
        body = twilio.voice(gather_action(body), sid, Digits=key).get_data(as_text=True)
    confirm_url = gather_action(body)

    placed = twilio.voice(confirm_url, sid, Digits="1").get_data()
    messages = _count(rows, OutboxMessage)
    replayed = twilio.voice(confirm_url, sid, Digits="1").get_data()

    assert "已为您下单" in placed.decode()
    assert replayed == placed
    assert _count(rows, Order) == 1
    assert _count(rows, OutboxMessage) == messages


def test_a_replayed_sms_gets_the_same_reply_and_accepts_once(
    app, session, clock, twilio, rows, make_elder, make_provider
):
    elder = make_elder()
    provider = make_provider()
    order = _place_order(session, app, clock, elder)
    sid = "SM" + uuid.uuid4().hex

    first = twilio.sms(provider.dispatch_phone, f"{order.job_code} 接", message_sid=sid)
    clock.advance(30)
    again = twilio.sms(provider.dispatch_phone, f"{order.job_code} 接", message_sid=sid)

    assert first.startswith("已接单") and again == first
    (offer,) = _offers(rows, provider)
    assert offer.status == "accepted" and offer.responded_at == order.created_at
    assert _count(rows, InboundMessage) == 1


# -- provider SMS -------------------------------------------------------------------------------------

def test_an_sms_from_an_unknown_number_gets_a_polite_reply_and_changes_nothing(
    app, session, clock, twilio, rows, make_elder, make_provider
):
    provider = make_provider()
    order = _place_order(session, app, clock, make_elder())
    messages = _count(rows, OutboxMessage)

    reply = twilio.sms(STRANGER, f"{order.job_code} 接")

    assert "未登记" in reply
    assert [o.status for o in _offers(rows, provider)] == ["offered"]
    (fresh,) = rows(select(Order))
    assert fresh.state == "offered" and fresh.provider_id is None
    assert _count(rows, OutboxMessage) == messages


def test_a_reply_naming_a_job_not_offered_to_the_sender_gets_a_polite_refusal(
    app, session, clock, twilio, rows, make_elder, make_provider
):
    offered = make_provider(latitude=36.0590, longitude=103.8280)
    other = make_provider(latitude=36.0650, longitude=103.8350)
    order = _place_order(session, app, clock, make_elder())

    reply = twilio.sms(other.dispatch_phone, f"{order.job_code} 接")

    assert f"没有找到派给您的工单{order.job_code}" in reply
    assert [o.status for o in _offers(rows, offered)] == ["offered"]
    assert _offers(rows, other) == []


def test_a_bare_accept_with_no_open_offer_gets_a_polite_reply(twilio, make_provider):
    provider = make_provider()
    assert twilio.sms(provider.dispatch_phone, "接") == "您目前没有待答复的派单。"


def test_a_bare_accept_with_exactly_one_open_offer_accepts_it(
    app, session, clock, twilio, rows, make_elder, make_provider
):
    provider = make_provider()
    order = _place_order(session, app, clock, make_elder())

    reply = twilio.sms(provider.dispatch_phone, "接")

    assert reply.startswith("已接单") and order.job_code in reply
    (offer,) = _offers(rows, provider)
    assert offer.status == "accepted" and offer.response_channel == "sms"
    (fresh,) = rows(select(Order))
    assert fresh.state == "accepted" and fresh.provider_id == provider.id


def test_a_bare_accept_with_two_open_offers_asks_which_and_accepts_neither(
    app, session, clock, twilio, rows, make_elder, make_provider
):
    provider = make_provider()
    first = _place_order(session, app, clock, make_elder())
    second = _place_order(session, app, clock, make_elder())

    reply = twilio.sms(provider.dispatch_phone, "接")

    assert first.job_code in reply and second.job_code in reply
    assert [o.status for o in _offers(rows, provider)] == ["offered", "offered"]


# -- the simulator outbox and status callbacks -----------------------------------------------------------

def test_the_simulator_outbox_lists_every_message_newest_last(app, session, clock):
    from telephony.outbox import enqueue_call, enqueue_sms

    hotline = app.config["HOTLINE_NUMBER"]
    enqueue_sms(session, to="+8613800000001", purpose="offer_withdrawn", params={"job_code": "123456"},
                dedupe_key="offer:1", from_=hotline, now=clock.now())
    clock.advance(5)
    enqueue_call(session, to="+8613900000001", url="http://localhost/telephony/review/1",
                 purpose="review", dedupe_key="review:1:1", from_=hotline, now=clock.now())
    session.commit()

    listed = app.test_client().get("/simulator/outbox").get_json()

    assert [m["kind"] for m in listed] == ["sms", "call"]
    sms, call = listed
    assert {"id", "kind", "to", "from", "body", "status", "created_at"} <= sms.keys()
    assert {"id", "kind", "to", "from", "url", "status", "created_at"} <= call.keys()
    assert (sms["to"], sms["from"], sms["body"], sms["status"]) == (
        "+8613800000001", hotline, "【虚拟养老院】工单123456已由其他服务商接单，本次派单撤回。", "queued")
    assert call["url"] == "http://localhost/telephony/review/1"
    assert sms["id"] < call["id"]
    assert datetime.fromisoformat(sms["created_at"]) < datetime.fromisoformat(call["created_at"])


@pytest.mark.parametrize("path,form", [
    ("/telephony/status/call", {"CallSid": "CA" + "9" * 32, "CallStatus": "completed",
                                "CallDuration": "42"}),
    ("/telephony/status/sms", {"MessageSid": "SM" + "9" * 32, "MessageStatus": "delivered"}),
], ids=["call", "sms"])
def test_a_status_callback_for_an_unknown_sid_answers_204_and_creates_nothing(path, form, twilio, rows):
    response = twilio.post(path, {**form, "AccountSid": ACCOUNT_SID})

    assert response.status_code == 204
    assert _count(rows, CallRecord) == 0 and _count(rows, OutboxMessage) == 0


def test_a_status_callback_moves_a_known_call_forward_only(twilio, rows, make_elder):
    make_elder(phone=ELDER_PHONE)
    sid = "CA" + uuid.uuid4().hex
    twilio.voice("/telephony/voice", sid)

    twilio.post("/telephony/status/call", {"CallSid": sid, "CallStatus": "completed", "CallDuration": "42"})
    twilio.post("/telephony/status/call", {"CallSid": sid, "CallStatus": "ringing"})

    (record,) = rows(select(CallRecord).where(CallRecord.call_sid == sid))
    assert (record.status, record.duration_s) == ("completed", 42)


# -- staff sign-in --------------------------------------------------------------------------------------

def _user(session, clock, role, provider_id=None, username=None):
    username = username or role + "1"
    add_user(session, username=username, password="correct-horse", role=role, display_name=username,
             provider_id=provider_id, now=clock.now())
    session.commit()
    return username


def _signed_in(app, username, password="correct-horse"):
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302
    return client


def test_the_console_sends_a_signed_out_visitor_to_the_login_page(app):
    response = app.test_client().get("/console")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_an_operator_signs_in_and_sees_the_console(app, session, clock):
    username = _user(session, clock, "operator")

    client = _signed_in(app, username)
    response = client.get("/console")

    assert response.status_code == 200
    assert "待处理事项" in response.get_data(as_text=True)


def test_a_wrong_password_does_not_sign_in(app, session, clock):
    username = _user(session, clock, "operator")
    client = app.test_client()

    response = client.post("/login", data={"username": username, "password": "wrong-horse"})

    assert response.status_code == 200 and "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/console").status_code == 302


@pytest.mark.parametrize("role", ["bureau", "provider"])
def test_bureau_and_provider_staff_are_refused_the_console(role, app, session, clock, make_provider):
    provider_id = make_provider().id if role == "provider" else None
    username = _user(session, clock, role, provider_id=provider_id)

    client = _signed_in(app, username)

    assert client.get("/console").status_code == 403
