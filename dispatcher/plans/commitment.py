"""A provider takes a plan as a whole: the plan offer's words, and its occurrences assigned on acceptance.

Below the lifecycle's `orders` (which calls it when an offer is answered), so it never imports it.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.clock import local
from dispatcher.config import Settings
from dispatcher.lifecycle import visits
from dispatcher.lifecycle.states import OrderEvent, OrderState, next_state
from dispatcher.lifecycle.tasks import open_task
from dispatcher.models import Order
from dispatcher.plans.models import CarePlan, PlanChange
from dispatcher.plans.rules import describe
from providers.models import Offer, Offering, Provider

WAITING = (OrderState.NEW.value, OrderState.OFFERED.value, OrderState.UNASSIGNED.value)


def schedule_words(plan: CarePlan) -> str:
    """每天 11:30, 每周二 09:00 …"""
    return f"{describe(plan.rule)} {plan.at_time:%H:%M}"


def first_day_words(plan: CarePlan, order: Order) -> str:
    day = max(plan.starts_on, order.occurrence_date or plan.starts_on)
    return f"{day.month}月{day.day}日"


def plan_offer_params(session: Session, order: Order) -> dict | None:
    """The plan offer's extra words when the order is a plan's first offer, else None."""
    if order.plan_id is None:
        return None
    plan = session.get(CarePlan, order.plan_id)
    if plan is None or plan.provider_id is not None:
        return None
    return {"schedule": schedule_words(plan), "first_day": first_day_words(plan, order)}


def record_change(session: Session, plan: CarePlan, action: str, before: dict, *, source: str,
                  actor_id: int | None, now: datetime) -> None:
    """Append one change to the plan's record."""
    session.add(PlanChange(plan_id=plan.id, action=action, source=source, changed_by=actor_id,
                           before=json.dumps(before, ensure_ascii=False, default=str),
                           after=json.dumps(plan_fields(plan), ensure_ascii=False, default=str),
                           changed_at=now))


def plan_fields(plan: CarePlan) -> dict:
    return {"rule": plan.rule, "at": f"{plan.at_time:%H:%M}", "duration_min": plan.duration_min,
            "starts_on": str(plan.starts_on), "until": str(plan.until) if plan.until else None,
            "preferred_provider_id": plan.preferred_provider_id, "provider_id": plan.provider_id,
            "notes": plan.notes, "state": plan.state}


def on_offer_accepted(session: Session, order: Order, offer: Offer, settings: Settings, now: datetime) -> None:
    """An accepted offer for a plan's occurrence commits its provider to the whole plan."""
    if order.plan_id is None:
        return
    plan = session.get(CarePlan, order.plan_id, with_for_update=True, populate_existing=True)
    if plan is None or plan.provider_id is not None:
        return
    before = plan_fields(plan)
    plan.provider_id, plan.updated_at = offer.provider_id, now
    record_change(session, plan, "taken", before, source="offer", actor_id=None, now=now)
    session.flush()
    for other in waiting_occurrences(session, plan.id, now, exclude=order.id):
        assign_occurrence(session, other, plan, settings, now)


def waiting_occurrences(session: Session, plan_id: int, now: datetime, exclude: int | None = None) -> list[Order]:
    """The plan's occurrences still ahead that no provider holds yet, soonest first."""
    query = select(Order).where(Order.plan_id == plan_id, Order.state.in_(WAITING), Order.window_start_at > now)
    if exclude is not None:
        query = query.where(Order.id != exclude)
    return list(session.scalars(query.order_by(Order.window_start_at, Order.id)))


def provider_can_take(session: Session, provider: Provider, order: Order) -> str | None:
    """Why the plan's provider cannot take this occurrence (contract, day off), or None."""
    day = order.occurrence_date or local(order.window_start_at).date()
    if provider.contract_status != "active":
        return "服务商已暂停或终止合同"
    if (provider.contract_starts_on and day < provider.contract_starts_on) or (
            provider.contract_ends_on and day > provider.contract_ends_on):
        return "服务商合同不覆盖当天"
    if any(off.day == day for off in provider.days_off):
        return "服务商当天休息"
    return None


def assign_occurrence(session: Session, order: Order, plan: CarePlan, settings: Settings, now: datetime) -> bool:
    """Give a waiting occurrence to the plan's provider without a new offer; False if it cannot take it.

    An item the provider no longer sells is flagged to the operator (a task), never dropped.
    """
    provider = session.get(Provider, plan.provider_id)
    price = session.scalar(select(Offering.price_fen).where(Offering.provider_id == provider.id,
                                                           Offering.item_id == order.item_id))
    if price is None:
        open_task(session, kind="plan_item_dropped", elder_id=order.elder_id, order_id=order.id, now=now,
                  reason=f"服务计划#{plan.id}：{provider.name}已不提供{order.item.name}，请另找服务商或调整计划",
                  dedupe_key=f"plan_item_dropped:{plan.id}:{provider.id}")
        return False
    if provider_can_take(session, provider, order) is not None:
        return False
    order = session.get(Order, order.id, with_for_update=True, populate_existing=True)
    if order.state not in WAITING:
        return order.provider_id == provider.id
    for open_offer in session.scalars(select(Offer).where(Offer.order_id == order.id, Offer.status == "offered")):
        open_offer.status, open_offer.responded_at = "withdrawn", now
    offer = session.scalar(select(Offer).where(Offer.order_id == order.id, Offer.provider_id == provider.id))
    if offer is None:
        offer = Offer(order_id=order.id, provider_id=provider.id, rank=0, price_fen=price, distance_m=0,
                      score=0.0, reasons={"plan": plan.id}, offered_at=now, expires_at=now)
        session.add(offer)
    offer.status, offer.responded_at, offer.response_channel = "accepted", now, "plan"
    if order.state != OrderState.OFFERED:
        order.state = next_state(order.state, OrderEvent.OFFER).value
    order.state = next_state(order.state, OrderEvent.ACCEPT).value
    order.provider_id, order.quoted_price_fen, order.updated_at = provider.id, price, now
    session.flush()
    visits.tell_elder(session, order, provider.name, kind="notice", dedupe_key=f"confirm:{order.id}:{offer.id}",
                      settings=settings, now=now)
    visits.schedule_deadlines(session, order, offer.id, provider.id, settings, now)
    return True
