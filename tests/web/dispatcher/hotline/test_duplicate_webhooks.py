"""Every webhook delivered several times at once: the database ends as with one delivery."""

from __future__ import annotations

import threading
import uuid

import pytest
from conftest import PG_URL
from sqlalchemy import func, select

from dispatcher.models import Order
from providers.models import Offer
from telephony.models import InboundMessage, OutboxMessage
from telephony.simulator import FlaskTransport, Phone

pytestmark = pytest.mark.skipif(not PG_URL, reason="real concurrent transactions need PostgreSQL")
ELDER = "+8613912340001"
COPIES = 4


def _all_at_once(app, url: str, form: dict) -> list[tuple[int, str]]:
    barrier = threading.Barrier(COPIES)
    answers: list[tuple[int, str]] = []

    def deliver():
        phone = Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"])
        barrier.wait()
        answers.append(phone.post(url, form))

    threads = [threading.Thread(target=deliver) for _ in range(COPIES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == COPIES, "a delivery raised instead of answering"
    return answers


def _count(app, model, *where) -> int:
    with app.extensions["vnh.sessionmaker"]() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_each_turn_of_a_booking_delivered_four_times_at_once_books_once(app, make_elder, make_provider):
    make_elder(phone=ELDER)
    make_provider(offerings={"HK01": 4800}, latitude=36.0590, longitude=103.8280)
    sid = "CA" + uuid.uuid4().hex
    base = {"CallSid": sid, "From": ELDER, "To": app.config["HOTLINE_NUMBER"]}
    turns = [("/telephony/voice", {}), ("/telephony/voice?seq=1", {"Digits": "2"}),
             ("/telephony/voice?seq=2", {"Digits": "1"}), ("/telephony/voice?seq=3", {"Digits": "1"}),
             ("/telephony/voice?seq=4", {"Digits": "1"})]
    for url, extra in turns:
        answers = _all_at_once(app, url, {**base, **extra})
        assert {status for status, _ in answers} == {200}
        assert len({body for _, body in answers}) == 1, "every copy gets the same TwiML"

    assert _count(app, Order) == 1
    assert _count(app, Offer) == 1
    assert _count(app, OutboxMessage, OutboxMessage.purpose == "offer") == 1


def test_a_provider_reply_delivered_four_times_at_once_accepts_once(app, make_elder, make_provider):
    make_elder(phone=ELDER)
    provider = make_provider(offerings={"HK01": 4800}, latitude=36.0590, longitude=103.8280)
    phone = Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"])
    call = phone.call_hotline(ELDER, ["2", "1", "1", "1"])
    code = call.text.split("工单号")[1].split("。")[0].replace("，", "")
    form = {"MessageSid": "SM" + uuid.uuid4().hex, "From": provider.dispatch_phone,
            "To": app.config["HOTLINE_NUMBER"], "Body": f"{code} 接"}

    answers = _all_at_once(app, "/telephony/sms", form)

    assert {status for status, _ in answers} == {200}
    assert len({body for _, body in answers}) == 1
    assert _count(app, InboundMessage) == 1
    assert _count(app, Offer, Offer.status == "accepted") == 1
    assert _count(app, OutboxMessage, OutboxMessage.purpose == "elder_confirmation") == 1
