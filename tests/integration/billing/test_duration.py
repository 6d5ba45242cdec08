"""Billing by time on a real database: an hourly visit's check-out bills its verified duration
in started half hours, capped at the booked hour unless an operator approves more."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from billing import ledger
from billing.duration import ApprovalError, HourlyApproval, approve_duration
from dispatcher.cli import main
from dispatcher.lifecycle import attendance, orders
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import Item, Order, Visit

NEAR = (36.0590, 103.8280)
HOURLY = 3200  # 起居照料 LC03, unit 小时, 32.00 yuan an hour


@pytest.fixture
def provider(make_provider):
    return make_provider(latitude=NEAR[0], longitude=NEAR[1],
                         offerings={"LC03": HOURLY, "HK01": 4800})


def visit_of(session, policy, settings, clock, elder, minutes, item_code="LC03") -> Visit:
    item = session.scalar(select(Item).where(Item.code == item_code))
    order = orders.place_order(session, elder=elder, item=item, slot=slot_for("asap", clock.now()),
                               source="phone", call_sid=None, settings=settings, now=clock.now())
    offer = next(o for o in session.scalars(select(orders.Offer).where(
        orders.Offer.order_id == order.id)) if o.status == "offered")
    assert orders.accept_offer(session, offer, offer.provider_id, "sms", settings, clock.now()).ok
    assert attendance.check_in(session, order, offer.provider_id, "sms", clock.now()).ok
    clock.advance(minutes * 60)
    assert attendance.check_out(session, order, offer.provider_id, "sms", policy, settings,
                                clock.now()).ok
    session.commit()
    return session.get(Order, order.id).visit


def price_of(session, visit) -> int:
    charges = [t for t in ledger.live_transactions(session, visit.id) if t.kind == ledger.CHARGE]
    return -charges[-1].legs[ledger.PROVIDER_REVENUE]


@pytest.mark.parametrize(("minutes", "price"), [(10, 1600), (30, 1600), (44, 3200), (60, 3200),
                                                (150, 3200)])
def test_an_hourly_visit_is_billed_by_started_half_hours_up_to_the_booked_hour(
        session, policy, settings, clock, make_elder, provider, minutes, price):
    visit = visit_of(session, policy, settings, clock, make_elder(), minutes)
    assert price_of(session, visit) == price


def test_an_item_priced_per_visit_keeps_its_price_however_long_the_visit(
        session, policy, settings, clock, make_elder, provider):
    visit = visit_of(session, policy, settings, clock, make_elder(), 10, item_code="HK01")
    assert price_of(session, visit) == 4800


def test_an_operators_approval_bills_the_longer_visit_and_is_recorded(
        session, policy, settings, clock, make_elder, provider):
    visit = visit_of(session, policy, settings, clock, make_elder(), 150)
    approve_duration(session, visit, minutes=180, approved_by="staff:xiaoli",
                     reason="老人摔倒后需要陪护", policy=policy, now=clock.now())
    session.commit()
    assert price_of(session, visit) == 8000  # 150 minutes: five started half hours
    approval = session.scalar(select(HourlyApproval))
    assert (approval.visit_id, approval.approved_minutes, approval.approved_by) == (
        visit.id, 180, "staff:xiaoli")
    balances = ledger.live_transactions(session, visit.id)
    assert all(sum(t.legs.values()) == 0 for t in balances)


def test_an_approval_is_refused_for_a_visit_not_billed_by_the_hour_or_without_a_reason(
        session, policy, settings, clock, make_elder, provider):
    per_visit = visit_of(session, policy, settings, clock, make_elder(), 10, item_code="HK01")
    hourly = visit_of(session, policy, settings, clock, make_elder(), 90)
    with pytest.raises(ApprovalError, match="not billed by the hour"):
        approve_duration(session, per_visit, minutes=120, approved_by="x", reason="r",
                         policy=policy, now=clock.now())
    with pytest.raises(ApprovalError, match="reason"):
        approve_duration(session, hourly, minutes=120, approved_by="x", reason=" ",
                         policy=policy, now=clock.now())
    with pytest.raises(ApprovalError, match="minutes: must be more than the booked 60"):
        approve_duration(session, hourly, minutes=60, approved_by="x", reason="r",
                         policy=policy, now=clock.now())


def test_the_approval_can_be_given_on_the_command_line(
        database_url, session, policy, settings, clock, make_elder, provider):
    visit = visit_of(session, policy, settings, clock, make_elder(), 90)
    visit_id = visit.id
    session.rollback()
    env = {"VNH_DATABASE_URL": database_url, "VNH_TELEPHONY": "local", "TWILIO_ACCOUNT_SID": "",
           "TWILIO_AUTH_TOKEN": ""}
    result = CliRunner().invoke(main, ["approve-time", str(visit_id), "90", "--reason", "陪同就医",
                                       "--by", "xiaoli"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert price_of(session, session.get(Visit, visit_id)) == 4800
    session.rollback()
    bad = CliRunner().invoke(main, ["approve-time", str(visit_id), "30", "--reason", "r",
                                    "--by", "xiaoli"], env=env)
    assert bad.exit_code != 0 and "must be more than the booked 60" in bad.output
