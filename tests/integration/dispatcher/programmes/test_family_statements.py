"""The monthly statement to opted-in family members (issue 18)."""

from __future__ import annotations

from sqlalchemy import select

from dispatcher.lifecycle import attendance, orders
from dispatcher.lifecycle.family import FamilyFields, add_family_member
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import Item
from dispatcher.programmes.family_statements import send_statements
from providers.models import Offer
from telephony.models import OutboxMessage


def test_only_family_members_who_opted_in_get_the_months_statement_once(
        session, settings, clock, policy, make_elder, make_provider):
    elder = make_elder(elder_class="普通")
    provider = make_provider()
    add_family_member(session, elder, FamilyFields("李明", "13912345678", "儿子", wants_statement=True), clock.now())
    add_family_member(session, elder, FamilyFields("李红", "13912345679", "女儿", wants_visit_sms=True), clock.now())
    item = session.scalar(select(Item).where(Item.code == "HK01"))
    order = orders.place_order(session, elder=elder, item=item, slot=slot_for("asap", clock.now()),
                               source="phone", call_sid=None, settings=settings, now=clock.now())
    offer = session.scalar(select(Offer).where(Offer.order_id == order.id, Offer.status == "offered"))
    assert orders.accept_offer(session, offer, provider.id, "sms", settings, clock.now()).ok
    assert attendance.check_in(session, order, provider.id, "api", clock.now(), {}, settings).ok
    clock.advance(3600)
    assert attendance.check_out(session, order, provider.id, "api", policy, settings, clock.now()).ok
    session.commit()

    assert send_statements(session, "2026-11", settings, clock.now()) == 1
    assert send_statements(session, "2026-11", settings, clock.now()) == 1  # the same rows, not new ones
    session.commit()
    (sent,) = session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "family_statement")).all()
    assert sent.to_number == "+8613912345678" and "11月共接受上门服务1次" in sent.body and "自付合计" in sent.body
