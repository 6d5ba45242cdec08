"""The phone menu reaches every catalogue item by keys alone: 8 turns the page, most booked first."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from dispatcher.catalogue import read_snapshot
from dispatcher.hotline.flow import MENU_SIZE, MORE_KEY
from dispatcher.models import Item, Order
from telephony.simulator import FlaskTransport, Phone


@pytest.fixture
def phone(app):
    return Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"],
                 app.config["HOTLINE_NUMBER"])


def keys_for(snapshot, item_code: str) -> list[str]:
    """The keys that book `item_code` as soon as possible, for a caller with no history."""
    item = snapshot.item(item_code)
    categories = [c.code for c in snapshot.categories]
    menu = [i.code for i in snapshot.category(item.category_code).menu]
    keys = []
    for index in (categories.index(item.category_code), menu.index(item_code)):
        keys += [MORE_KEY] * (index // MENU_SIZE) + [str(index % MENU_SIZE + 1)]
    return keys + ["1", "1"]  # as soon as possible, confirm


def test_every_catalogue_item_can_be_booked_by_keys_alone(app, phone, make_elder):
    with app.extensions["vnh.sessionmaker"]() as session:
        snapshot = read_snapshot(session)
    codes = [i.code for c in snapshot.categories for i in c.items]
    assert len(codes) >= 170 and len(snapshot.categories) == 8

    for n, code in enumerate(codes):
        # A new caller each time: a caller's own history reorders the categories they hear.
        caller = f"+86139{n:08d}"
        make_elder(phone=caller)
        call = phone.call_hotline(caller, keys_for(snapshot, code))
        assert call.ended_with == "hangup" and "已为您下单" in call.said[-1], (code, call.text)

    with app.extensions["vnh.sessionmaker"]() as session:
        booked = session.scalars(select(Item.code).join(Order, Order.item_id == Item.id)).all()
    assert sorted(booked) == sorted(codes)


def test_the_item_menu_turns_its_page_with_8_and_comes_back_to_the_first(app, phone, make_elder):
    make_elder(phone="+8613912340001")
    call = phone.call_hotline("+8613912340001", ["1", MORE_KEY, MORE_KEY, MORE_KEY, MORE_KEY, MORE_KEY])

    pages = ["".join("".join(say.itertext()) for say in ET.fromstring(r).iter("Say"))
             for r in call.responses[1:]]
    assert "更多按8" in pages[0] and "回到第一页按8" in pages[4]
    assert pages[5] == pages[0]
    with app.extensions["vnh.sessionmaker"]() as session:
        snapshot = read_snapshot(session)
    heard = "".join(pages[:5])
    assert all(item.name in heard for item in snapshot.categories[0].items)


def test_the_most_booked_items_come_first_in_their_category(app, make_elder):
    with app.extensions["vnh.sessionmaker"]() as session:
        items = {i.code: i.id for i in session.scalars(select(Item))}
        snapshot = read_snapshot(session, {items["LC19"]: 7, items["LC03"]: 2})

    menu = [i.code for i in snapshot.category("LC").menu]
    assert menu[:3] == ["LC19", "LC03", "LC01"]
    assert [i.code for i in snapshot.category("LC").items][:2] == ["LC01", "LC02"]
