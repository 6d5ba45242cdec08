"""The IVR's second pass (issue 21): 9 said once in the greeting, an item sixth in its category
booked by keys, a spoken emergency put through at once, two failures anywhere reach a person."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dispatcher.demo.listener import Caller, Wish, options
from dispatcher.models import Item, OperatorTask, Order
from telephony.simulator import FlaskTransport, Phone, Spoken

ELDER = "+8613912345601"


@pytest.fixture
def phone(app):
    return Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"],
                 app.config["HOTLINE_NUMBER"])


@pytest.fixture
def elder(make_elder, make_provider):
    make_provider(offerings={"LC06": 13000, "HK01": 4800}, latitude=36.0590, longitude=103.8280)
    return make_elder(phone=ELDER)


def test_the_greeting_says_the_emergency_key_once_and_briefly(phone, elder):
    heard = []
    phone.converse(ELDER, lambda words: heard.append(words) and None)
    greeting = heard[0]
    assert greeting.count("紧急情况按9。") == 1 and greeting.count("9") == 1, greeting
    # Before the menu: the greeting, the emergency key, nothing else.
    assert greeting.index("紧急情况按9") < greeting.index("按1") and len(greeting.split("。")[0]) <= 20
    assert options(greeting)[0].key == "9"


def test_an_item_sixth_in_its_category_is_booked_by_keys_by_a_caller_who_listens(app, phone, elder):
    with app.extensions["vnh.sessionmaker"]() as session:
        sixth = session.scalars(select(Item).where(Item.code.like("LC%")).order_by(Item.position)).all()[5]
    assert sixth.code == "LC06"
    caller = Caller("decisive", Wish(sixth.code, sixth.name, "生活照料"), rng=None)
    call = phone.converse(ELDER, caller.answer)

    assert "已为您下单" in call.said[-1], call.text
    assert "turned the page" in caller.did and call.pressed[:3] == ["1", "8", "1"], call.pressed
    with app.extensions["vnh.sessionmaker"]() as session:
        assert session.scalar(select(Item.code).join(Order, Order.item_id == Item.id)) == "LC06"


def test_an_emergency_said_aloud_reaches_a_person_at_once(app, phone, elder):
    call = phone.converse(ELDER, lambda words: Spoken("我摔倒了起不来"))
    assert call.ended_with == "dial" and len(call.pressed) == 1
    with app.extensions["vnh.sessionmaker"]() as session:
        assert session.scalar(select(OperatorTask.kind)) == "emergency"


def test_two_failures_at_different_steps_reach_a_person(app, phone, elder):
    keys = iter(["6", "1", "6"])  # a key the category menu does not offer; 生活照料; one the item menu does not
    call = phone.converse(ELDER, lambda words: next(keys))
    assert call.ended_with == "dial", call.text
    assert sum("按键无效" in p for p in call.prompts) == 1
    with app.extensions["vnh.sessionmaker"]() as session:
        assert session.scalar(select(OperatorTask.kind)) == "invalid"
