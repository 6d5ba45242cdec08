"""The portal on a phone (issue 19): cards refreshed in place, a call through the hotline, a map link,
no texting instructions, and a second look before a check-in far outside the window or a check-out
sooner than the minimum — confirmed ones recorded."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from dispatcher.consoles.auth import add_user
from dispatcher.enrollment.models import AuditEntry
from dispatcher.lifecycle import attendance, orders
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import Item, Order
from providers.models import Offer
from web.providers.test_portal import PASSWORD, Browser

ADDRESS_B = "城关区白银路街道贡元巷社区7号楼1单元"


@pytest.fixture
def staff(app, make_provider):
    """Provider A sells HK01 (per visit) and HK22 (by the hour); provider B sells HK02."""
    a = make_provider(offerings={"HK01": 4800, "HK22": 3000}, latitude=36.0590, longitude=103.8280)
    b = make_provider(offerings={"HK02": 4000}, latitude=36.0591, longitude=103.8281)
    app.config["WTF_CSRF_ENABLED"] = True
    return {"a": a, "b": b}


@pytest.fixture
def browser(app, session, clock, staff):
    made = set()

    def sign_in(username: str) -> Browser:
        if username not in made:
            add_user(session, username=username, password=PASSWORD, role="provider", display_name=username,
                     provider_id=staff["a" if username == "staff_a" else "b"].id, now=clock.now())
            session.commit()
            made.add(username)
        return Browser(app.test_client()).sign_in(username)

    return sign_in


@pytest.fixture
def job(session, settings, clock, make_elder, staff):
    """An order for `item_code` in `slot`, accepted by its provider; returns the Order."""
    def make(item_code: str = "HK01", slot: str = "asap", **elder_fields) -> Order:
        elder = make_elder(**elder_fields)
        item = session.scalar(select(Item).where(Item.code == item_code))
        order = orders.place_order(session, elder=elder, item=item, slot=slot_for(slot, clock.now()),
                                   source="phone", call_sid=None, settings=settings, now=clock.now())
        session.commit()
        offer = session.scalars(select(Offer).where(Offer.order_id == order.id)).first()
        orders.accept_offer(session, offer, offer.provider_id, "sms", settings, clock.now())
        session.commit()
        return order

    return make


def _text(reply) -> str:
    return reply.get_data(as_text=True)


def _fresh(session, order_id: int) -> Order:
    session.expire_all()
    found = session.get(Order, order_id)
    session.commit()
    return found


def _confirmations(session, order: Order) -> list[AuditEntry]:
    found = list(session.scalars(select(AuditEntry).where(AuditEntry.entity == "visit",
                                                          AuditEntry.entity_key == order.order_no)))
    session.commit()
    return found


def test_a_check_in_for_tomorrow_asks_for_a_confirmation_and_changes_nothing(browser, session, job):
    order = job(slot="tomorrow_am")

    reply = browser("staff_a").post(f"/portal/jobs/{order.id}/check-in")

    page = _text(reply)
    assert reply.status_code == 200 and "早于预约时段" in page and "仍然签到" in page
    assert 'name="confirmed" value="1"' in page
    assert _fresh(session, order.id).state == "accepted"
    assert _confirmations(session, order) == []


def test_a_confirmed_check_in_outside_the_window_is_done_and_recorded(browser, session, job):
    order = job(slot="tomorrow_am")

    reply = browser("staff_a").post(f"/portal/jobs/{order.id}/check-in", {"confirmed": "1"})

    assert "已签到" in _text(reply)
    assert _fresh(session, order.id).state == "in_progress"
    (entry,) = _confirmations(session, order)
    assert entry.action == "confirm_check_in" and entry.actor == "portal:staff_a"
    assert "早于预约时段" in entry.changes["warning"]
    # The job's page shows what was confirmed.
    assert "确认时段外签到" in _text(browser("staff_a").get(f"/portal/jobs/{order.id}"))


def test_a_check_in_within_the_window_needs_no_confirmation(browser, session, job):
    order = job()

    reply = browser("staff_a").post(f"/portal/jobs/{order.id}/check-in")

    assert "已签到" in _text(reply) and "仍然签到" not in _text(reply)
    assert _confirmations(session, order) == []


def test_an_early_check_out_of_an_hourly_visit_asks_then_records_the_confirmation(
        browser, session, settings, clock, job):
    order = job("HK22")
    attendance.check_in(session, order, order.provider_id, "sms", clock.now())
    session.commit()
    clock.advance(10 * 60)
    portal = browser("staff_a")

    asked = portal.post(f"/portal/jobs/{order.id}/check-out")

    assert "低于应有的30分钟" in _text(asked) and "仍然签退" in _text(asked)
    assert _fresh(session, order.id).state == "in_progress"

    done = portal.post(f"/portal/jobs/{order.id}/check-out", {"confirmed": "1"})

    assert "已签退" in _text(done)
    assert _fresh(session, order.id).state == "completed"
    (entry,) = _confirmations(session, order)
    assert entry.action == "confirm_check_out" and "10分钟" in entry.changes["warning"]


def test_a_check_out_after_the_minimum_needs_no_confirmation(browser, session, clock, job):
    order = job("HK22")
    attendance.check_in(session, order, order.provider_id, "sms", clock.now())
    session.commit()
    clock.advance(45 * 60)

    reply = browser("staff_a").post(f"/portal/jobs/{order.id}/check-out")

    assert "已签退" in _text(reply)
    assert _confirmations(session, order) == []


def test_the_cards_fragment_lists_my_offers_and_jobs_as_cards_with_countdown_and_links(
        app, browser, session, settings, clock, make_elder, job):
    mine = job()
    elder = make_elder()
    item = session.scalar(select(Item).where(Item.code == "HK01"))
    offered = orders.place_order(session, elder=elder, item=item, slot=slot_for("asap", clock.now()),
                                 source="phone", call_sid=None, settings=settings, now=clock.now())
    session.commit()
    theirs = job("HK02", address=ADDRESS_B)

    reply = browser("staff_a").get("/portal/cards")

    page = _text(reply)
    assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"
    assert page.lstrip().startswith('<div id="portal-cards"') and "<html" not in page and "<table" not in page
    assert f'id="job-{mine.id}"' in page and offered.job_code in page
    assert re.search(r'class="countdown" data-seconds="(\d+)"', page)[1] == str(settings.asap_offer_window_s)
    assert f'href="tel:{app.config["HOTLINE_NUMBER"]}"' in page
    assert "https://uri.amap.com/search?keyword=%E5%9F%8E%E5%85%B3%E5%8C%BA" in page
    assert theirs.job_code not in page and ADDRESS_B not in page
    # The elder's own number is never in the cards.
    assert all(p.phone.lstrip("+") not in page for p in mine.elder.phones)


def test_the_call_link_uses_the_relay_number_when_one_is_configured(app, browser, job):
    app.config["PORTAL_CALL_NUMBER"] = "+869310000999"
    order = job()

    page = _text(browser("staff_a").get(f"/portal/jobs/{order.id}"))

    assert 'href="tel:+869310000999"' in page


def test_accepting_on_the_web_page_does_not_ask_to_text_back(browser, session, settings, clock, make_elder):
    elder = make_elder()
    item = session.scalar(select(Item).where(Item.code == "HK01"))
    order = orders.place_order(session, elder=elder, item=item, slot=slot_for("asap", clock.now()),
                               source="phone", call_sid=None, settings=settings, now=clock.now())
    session.commit()
    offer = session.scalars(select(Offer).where(Offer.order_id == order.id)).first()
    session.commit()

    page = _text(browser("staff_a").post(f"/portal/offers/{offer.id}/accept"))

    assert "已接单" in page and "签到" in page
    assert "回复" not in page and "短信" not in page


def test_another_providers_job_cannot_be_checked_in_even_confirmed(browser, session, job):
    theirs = job("HK02", address=ADDRESS_B)

    reply = browser("staff_a").post(f"/portal/jobs/{theirs.id}/check-in", {"confirmed": "1"})

    assert reply.status_code == 404
    assert _fresh(session, theirs.id).state == "accepted"
