"""Hostile or careless input at the edge answers 4xx or is cleaned, never a 500 (SQLite and PostgreSQL):
control characters in webhooks, searches and sign-ins, ids no row can have, JSON nested past any
parser, bodies larger than any page needs."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from dispatcher.consoles.auth import add_user
from dispatcher.lifecycle import orders
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import HotlineCall, Item
from providers.models import Offer
from providers.tokens import issue_token

ACCOUNT_SID = "AC" + "0" * 32


def _signed_post(app, path: str, form: dict):
    """Post as Twilio does: signed over the form exactly as sent, control characters and all."""
    signature = RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature("http://localhost" + path, form)
    return app.test_client().post(path, data=form, headers={"X-Twilio-Signature": signature})


@pytest.fixture
def operator(operator_client):
    return operator_client


@pytest.fixture
def offered(session, settings, clock, make_elder, make_provider):
    provider = make_provider()
    item = session.scalar(select(Item).where(Item.code == "HK01"))
    order = orders.place_order(session, elder=make_elder(), item=item, slot=slot_for("asap", clock.now()),
                               source="phone", call_sid=None, settings=settings, now=clock.now())
    session.commit()
    return provider, order


def test_a_provider_sms_reply_with_a_nul_byte_is_still_handled(app, session, offered):
    provider, order = offered
    form = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": ACCOUNT_SID, "From": provider.dispatch_phone,
            "To": app.config["HOTLINE_NUMBER"], "Body": f"{order.job_code}\x00 接\x07"}
    response = _signed_post(app, "/telephony/sms", form)
    assert response.status_code == 200 and "已接单" in response.get_data(as_text=True)
    session.expire_all()
    assert session.scalars(select(Offer.status).where(Offer.order_id == order.id)).all() == ["accepted"]


def test_a_webhook_whose_form_was_changed_still_fails_its_signature_check(app, offered):
    provider, order = offered
    form = {"MessageSid": "SM1", "AccountSid": ACCOUNT_SID, "From": provider.dispatch_phone,
            "To": app.config["HOTLINE_NUMBER"], "Body": f"{order.job_code} 接"}
    signature = RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature(
        "http://localhost/telephony/sms", form)
    tampered = {**form, "Body": f"{order.job_code}\x00 接"}
    response = app.test_client().post("/telephony/sms", data=tampered, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_a_call_sid_with_a_nul_byte_gets_an_answer_not_an_error(app, session, make_elder):
    elder = make_elder(phone="+8613912340001")
    form = {"CallSid": "CA\x00" + uuid.uuid4().hex, "AccountSid": ACCOUNT_SID, "From": elder.phones[0].phone,
            "To": app.config["HOTLINE_NUMBER"], "CallStatus": "ringing", "Direction": "inbound"}
    response = _signed_post(app, "/telephony/voice", form)
    assert response.status_code == 200 and "<Response>" in response.get_data(as_text=True)
    session.expire_all()
    assert all("\x00" not in sid for sid in session.scalars(select(HotlineCall.call_sid)))


def test_a_search_with_control_characters_finds_the_elder(operator, make_elder):
    make_elder(name="李桂兰")
    response = operator.get("/console/elders", query_string={"q": "李\x00桂兰\x1b"})
    assert response.status_code == 200 and "李桂兰" in response.get_data(as_text=True)


@pytest.mark.parametrize("username", ["xiaoli\x00", "\x00", "x\x00' OR 1=1 --"])
def test_a_sign_in_name_with_a_nul_byte_is_not_an_error(app, session, clock, username):
    add_user(session, username="xiaoli", password="long-enough-pw", role="operator", display_name="小李",
             provider_id=None, now=clock.now())
    session.commit()
    response = app.test_client().post("/login", data={"username": username, "password": "wrong-password"})
    assert response.status_code == 200 and "用户名或密码错误" in response.get_data(as_text=True)




@pytest.mark.parametrize("task_id", [str(2**63), str(2**64), "-1", "9" * 5000])
def test_a_form_id_no_row_can_have_is_ignored(operator, make_elder, make_provider, task_id):
    make_provider()
    elder = make_elder()
    response = operator.post(f"/console/elders/{elder.id}/orders",
                             data={"item_code": "HK01", "slot_code": "asap", "task_id": task_id})
    assert response.status_code == 302
    assert operator.get(f"/console/elders/{elder.id}", query_string={"task": task_id}).status_code == 200


@pytest.fixture
def token(session, clock, offered):
    """A token of the provider the order was offered to."""
    _, secret = issue_token(session, offered[0].id, "their-system", clock.now())
    session.commit()
    return {"Authorization": f"Bearer {secret}"}


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_json_nested_deeper_than_the_parser_goes_is_a_bad_request(app, token, depth):
    body = '{"a":' * depth + "1" + "}" * depth
    response = app.test_client().post("/api/v1/offers/1/accept", data=body, headers=token,
                                      content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"] == "malformed_json"


def test_a_path_with_a_control_character_is_not_found(app, token):
    response = app.test_client().post("/api/v1/jobs/12%0034/check-in", headers=token)
    assert response.status_code == 404 and response.is_json


def test_a_body_over_the_limit_is_refused_before_it_is_read(app, token):
    big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    client = app.test_client()
    assert client.post("/login", data=big, content_type="application/x-www-form-urlencoded").status_code == 413
    assert client.post("/telephony/sms", data=big, content_type="application/x-www-form-urlencoded").status_code == 413
    response = client.post("/api/v1/offers/1/accept", data=big, headers=token, content_type="application/json")
    assert response.status_code == 413 and response.is_json


def test_a_body_within_the_limit_is_read(app, token, offered):
    _, order = offered
    with app.extensions["vnh.sessionmaker"]() as s:
        offer_id = s.scalar(select(Offer.id).where(Offer.order_id == order.id))
    body = json.dumps({"note": "x" * (1024 * 1024)})
    response = app.test_client().post(f"/api/v1/offers/{offer_id}/accept", data=body, headers=token,
                                      content_type="application/json")
    assert response.status_code == 200, response.get_json()


def test_the_default_body_limit_is_five_megabytes(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024


@pytest.mark.parametrize("seq", [str(2**31), str(2**64), "-1"])
def test_a_voice_turn_number_no_call_reaches_is_not_found(app, make_elder, seq):
    elder = make_elder(phone="+8613912340001")
    form = {"CallSid": "CA" + uuid.uuid4().hex, "AccountSid": ACCOUNT_SID, "From": elder.phones[0].phone,
            "To": app.config["HOTLINE_NUMBER"], "CallStatus": "in-progress", "Direction": "inbound", "Digits": "1"}
    assert _signed_post(app, f"/telephony/voice?seq={seq}", form).status_code == 404
