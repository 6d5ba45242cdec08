"""Care plans on a real database: occurrences as orders, one plan offer, pauses, ends, drop-outs."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import func, select

from billing import ledger
from billing.models import LedgerPosting
from dispatcher.hotline.sms import handle_inbound_sms
from dispatcher.lifecycle import attendance, orders
from dispatcher.models import Item, OperatorTask, Order
from dispatcher.plans import generation, service
from dispatcher.plans.models import CarePlan, PlanChange
from providers.models import Offer, Offering, ProviderDayOff
from telephony.models import OutboxMessage

NEAR = (36.0590, 103.8280)
MID = (36.0650, 103.8350)
# Wednesday 25 November 2026, 09:00 in Lanzhou: the fake clock's start.
TODAY = date(2026, 11, 25)


def _item(session, code="ML01") -> Item:
    return session.scalar(select(Item).where(Item.code == code))


def _plan(session, settings, clock, elder, *, rule="FREQ=DAILY", at=time(11, 30), provider=None, **more) -> CarePlan:
    plan = service.add_plan(session, elder=elder, item=_item(session), rule=rule, at=at, starts_on=TODAY,
                            provider=provider, now=clock.now(), **more)
    session.commit()
    generation.sweep(session, settings, clock.now())
    session.commit()
    return plan


def _occurrences(session, plan, *states) -> list[Order]:
    session.expire_all()
    query = select(Order).where(Order.plan_id == plan.id).order_by(Order.occurrence_date)
    if states:
        query = query.where(Order.state.in_(states))
    return list(session.scalars(query))


def _sms(session, purpose, to=None) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.purpose == purpose)
    if to:
        query = query.where(OutboxMessage.to_number == to)
    return list(session.scalars(query))


def _lunch_provider(make_provider, at=NEAR, **fields):
    return make_provider(latitude=at[0], longitude=at[1], offerings={"ML01": 1200}, **fields)


def test_a_daily_lunch_becomes_a_week_of_orders_and_only_the_first_is_offered_naming_the_plan(
        session, settings, clock, make_elder, make_provider):
    provider = _lunch_provider(make_provider)
    plan = _plan(session, settings, clock, make_elder())

    made = _occurrences(session, plan)
    assert [o.occurrence_date for o in made] == [TODAY + timedelta(days=n) for n in range(7)]
    assert {o.source for o in made} == {"plan"} and len({o.job_code for o in made}) == 7
    assert [o.state for o in made] == ["offered"] + ["new"] * 6
    (offer_sms,) = _sms(session, "plan_offer", provider.dispatch_phone)
    assert _sms(session, "offer") == []
    assert "每天 11:30" in offer_sms.body and "自11月25日起" in offer_sms.body and made[0].job_code in offer_sms.body


def test_one_sms_acceptance_commits_the_provider_to_every_occurrence_without_new_offers(
        session, settings, policy, clock, make_elder, make_provider):
    provider = _lunch_provider(make_provider)
    plan = _plan(session, settings, clock, make_elder())
    lead = _occurrences(session, plan)[0]

    reply = handle_inbound_sms(session, message_sid="SM1", sender=provider.dispatch_phone, to="+869312345678",
                               body=f"{lead.job_code} 接", settings=settings, policy=policy, now=clock.now())
    session.commit()

    assert "已接单" in reply
    accepted = _occurrences(session, plan, "accepted")
    assert len(accepted) == 7 and {o.provider_id for o in accepted} == {provider.id}
    assert session.get(CarePlan, plan.id).provider_id == provider.id
    assert len(_sms(session, "plan_offer")) == 1 and _sms(session, "offer") == []
    # The next day's occurrence, made a day later, goes to the plan's provider without an offer.
    clock.advance(86400)
    generation.sweep(session, settings, clock.now())
    session.commit()
    newest = _occurrences(session, plan)[-1]
    assert newest.occurrence_date == TODAY + timedelta(days=7)
    assert newest.state == "accepted" and newest.provider_id == provider.id
    assert len(_sms(session, "plan_offer")) == 1
    assert [c.action for c in session.scalars(select(PlanChange).where(PlanChange.plan_id == plan.id)
                                              .order_by(PlanChange.id))] == ["added", "taken"]


def test_a_declined_plan_offer_cascades_to_the_next_provider_who_then_takes_the_plan(
        session, settings, clock, make_elder, make_provider):
    near = _lunch_provider(make_provider, NEAR)
    mid = _lunch_provider(make_provider, MID)
    plan = _plan(session, settings, clock, make_elder())
    lead = _occurrences(session, plan)[0]
    first = session.scalar(select(Offer).where(Offer.order_id == lead.id))
    assert first.provider_id == near.id

    orders.decline_offer(session, first, near.id, "sms", settings, clock.now())
    session.commit()
    second = session.scalar(select(Offer).where(Offer.order_id == lead.id, Offer.status == "offered"))
    assert second.provider_id == mid.id
    assert len(_sms(session, "plan_offer", mid.dispatch_phone)) == 1
    assert orders.accept_offer(session, second, mid.id, "portal", settings, clock.now()).ok
    session.commit()

    assert {o.provider_id for o in _occurrences(session, plan, "accepted")} == {mid.id}
    assert len(_occurrences(session, plan, "accepted")) == 7


def test_a_preferred_provider_is_offered_the_plan_first(session, settings, clock, make_elder, make_provider):
    _lunch_provider(make_provider, NEAR)
    mid = _lunch_provider(make_provider, MID)
    plan = _plan(session, settings, clock, make_elder(), provider=mid)
    lead = _occurrences(session, plan)[0]
    assert session.scalar(select(Offer.provider_id).where(Offer.order_id == lead.id)) == mid.id


def _taken(session, settings, clock, make_elder, make_provider, **plan_fields):
    provider = _lunch_provider(make_provider)
    plan = _plan(session, settings, clock, make_elder(), **plan_fields)
    lead = _occurrences(session, plan)[0]
    offer = session.scalar(select(Offer).where(Offer.order_id == lead.id))
    assert orders.accept_offer(session, offer, provider.id, "sms", settings, clock.now()).ok
    session.commit()
    return provider, plan


def test_pausing_two_days_cancels_exactly_those_occurrences_and_they_are_not_made_again(
        session, settings, clock, make_elder, make_provider):
    provider, plan = _taken(session, settings, clock, make_elder, make_provider)
    before = {o.occurrence_date: o.job_code for o in _occurrences(session, plan, "accepted")}

    cancelled = service.pause_plan(session, session.get(CarePlan, plan.id), starts_on=TODAY + timedelta(days=2),
                                   ends_on=TODAY + timedelta(days=3), reason="住院", settings=settings,
                                   now=clock.now())
    session.commit()
    generation.sweep(session, settings, clock.now())
    session.commit()

    assert cancelled == 2
    after = {o.occurrence_date: o.job_code for o in _occurrences(session, plan, "accepted")}
    assert set(before) - set(after) == {TODAY + timedelta(days=2), TODAY + timedelta(days=3)}
    assert {d: before[d] for d in after} == after
    assert len(_occurrences(session, plan, "cancelled")) == 2
    assert len(_sms(session, "order_cancelled", provider.dispatch_phone)) == 2


def test_ending_a_plan_cancels_the_occurrences_after_its_last_day(session, settings, clock, make_elder,
                                                                  make_provider):
    _, plan = _taken(session, settings, clock, make_elder, make_provider)
    service.end_plan(session, session.get(CarePlan, plan.id), on=TODAY + timedelta(days=1), settings=settings,
                     now=clock.now())
    session.commit()
    clock.advance(3 * 86400)
    generation.sweep(session, settings, clock.now())
    session.commit()
    assert [o.occurrence_date for o in _occurrences(session, plan, "accepted")] == [TODAY, TODAY + timedelta(days=1)]


def test_changing_the_time_moves_the_occurrences_ahead_to_the_new_time(session, settings, clock, make_elder,
                                                                       make_provider):
    provider, plan = _taken(session, settings, clock, make_elder, make_provider)
    service.change_plan(session, session.get(CarePlan, plan.id), settings=settings, at=time(12, 0), now=clock.now())
    session.commit()
    generation.sweep(session, settings, clock.now())
    session.commit()
    live = _occurrences(session, plan, "accepted")
    assert len(live) == 7 and {o.provider_id for o in live} == {provider.id}
    assert {f"{(o.window_start_at + timedelta(hours=8)):%H:%M}" for o in live} == {"12:00"}


def test_an_occurrence_runs_through_check_in_check_out_and_billing_like_any_order(
        session, settings, policy, clock, make_elder, make_provider):
    provider, plan = _taken(session, settings, clock, make_elder, make_provider)
    second = _occurrences(session, plan, "accepted")[1]
    clock.advance(86400 + 2 * 3600)  # tomorrow 11:00
    assert attendance.check_in(session, second, provider.id, "sms", clock.now()).ok
    clock.advance(1800)
    assert attendance.check_out(session, second, provider.id, "sms", policy, settings, clock.now()).ok
    session.commit()

    charge = {p.account: p.amount_fen for p in session.scalars(select(LedgerPosting).where(
        LedgerPosting.order_id == second.id, LedgerPosting.kind == "charge"))}
    assert charge[ledger.PROVIDER_REVENUE] == -1200 and sum(charge.values()) == 0
    assert session.get(Order, second.id).state == "completed"
    # The other occurrences are untouched, each still its own order with its own job code.
    assert len(_occurrences(session, plan, "accepted")) == 6


def test_a_provider_day_off_sends_that_occurrence_to_another_provider_and_tells_the_operator(
        session, settings, clock, make_elder, make_provider):
    provider, plan = _taken(session, settings, clock, make_elder, make_provider)
    other = _lunch_provider(make_provider, MID)
    session.add(ProviderDayOff(provider_id=provider.id, day=TODAY + timedelta(days=3), reason="培训"))
    session.commit()

    generation.sweep(session, settings, clock.now())
    session.commit()

    moved = [o for o in _occurrences(session, plan) if o.occurrence_date == TODAY + timedelta(days=3)][0]
    assert moved.state == "offered"
    assert session.scalar(select(Offer.provider_id).where(Offer.order_id == moved.id,
                                                          Offer.status == "offered")) == other.id
    assert session.scalar(select(func.count()).select_from(OperatorTask)
                          .where(OperatorTask.kind == "plan_provider_dropped")) == 1
    assert session.get(CarePlan, plan.id).provider_id == provider.id


def test_a_suspended_provider_releases_the_plan_and_its_occurrences_are_redispatched(
        session, settings, clock, make_elder, make_provider):
    provider, plan = _taken(session, settings, clock, make_elder, make_provider)
    _lunch_provider(make_provider, MID)
    provider.contract_status = "suspended"
    session.commit()

    generation.sweep(session, settings, clock.now())
    session.commit()

    assert session.get(CarePlan, plan.id).provider_id is None
    assert not [o for o in _occurrences(session, plan) if o.provider_id == provider.id]
    assert session.scalar(select(func.count()).select_from(OperatorTask)
                          .where(OperatorTask.kind == "plan_provider_dropped")) == 7


def test_a_plan_for_an_item_its_provider_no_longer_sells_is_flagged_to_the_operator(
        session, settings, clock, make_elder, make_provider):
    provider, plan = _taken(session, settings, clock, make_elder, make_provider)
    for offering in session.scalars(select(Offering).where(Offering.provider_id == provider.id)):
        session.delete(offering)
    session.commit()
    clock.advance(86400)
    generation.sweep(session, settings, clock.now())
    session.commit()
    (task,) = session.scalars(select(OperatorTask).where(OperatorTask.kind == "plan_item_dropped"))
    assert f"服务计划#{plan.id}" in task.reason
    newest = _occurrences(session, plan)[-1]
    assert newest.occurrence_date == TODAY + timedelta(days=7) and newest.provider_id != provider.id


@pytest.mark.parametrize(("rule", "until", "words"), [
    ("FREQ=DAILY;UNTIL=20261101", None, "从不发生"),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", None, "从不发生"),
    ("FREQ=HOURLY", None, "每天至多"),
    ("FREQ=DAILY;BYHOUR=8,12", None, "不止"),
    ("FREQ=DAILY", date(2026, 11, 1), "早于"),
    ("every day", None, "无法识别"),
])
def test_a_bad_rule_is_refused_with_the_reason_and_nothing_is_saved(session, clock, make_elder, rule, until, words):
    with pytest.raises(service.PlanError, match=words):
        service.add_plan(session, elder=make_elder(), item=_item(session), rule=rule, at=time(11, 30),
                         starts_on=TODAY, until=until, now=clock.now())
    session.rollback()
    assert session.scalar(select(func.count()).select_from(CarePlan)) == 0
