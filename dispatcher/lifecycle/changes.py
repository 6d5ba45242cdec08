"""Changing a booking (issue 17): move an order to another day or time, or skip (cancel) it.

A moved order keeps its job code. Its provider keeps it when the new time suits it (open that
day and hour, within contract, capacity left) and is told by SMS (`order_moved`); otherwise the
order is taken back and offered again through the usual cascade. An order whose visit has
started (checked in) or ended cannot be moved or skipped. Every change is audited (entity
`order`, the job code as key). Services flush, never commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.clock import local
from dispatcher.config import Settings
from dispatcher.enrollment.models import AuditEntry
from dispatcher.lifecycle import orders, visits
from dispatcher.lifecycle.orders import Outcome, lock_order, tell_provider
from dispatcher.lifecycle.slots import Slot, half_day_bounds, local_day_bounds, slot_label
from dispatcher.lifecycle.states import OrderEvent, OrderState
from dispatcher.models import Order
from providers.matching import haversine_m, rejection
from providers.models import Offer
from providers.queries import candidate_by_id

CHANGEABLE = frozenset({OrderState.NEW, OrderState.OFFERED, OrderState.UNASSIGNED, OrderState.ACCEPTED})
_CAPACITY = ("no capacity left that day", "no capacity left in that slot")


def why_unchangeable(order: Order) -> str | None:
    """Why this order can no longer be moved or skipped, in Chinese; None if it can."""
    if order.state == OrderState.IN_PROGRESS:
        return f"工单{order.job_code}的服务已经开始（服务人员已签到），不能改期或取消。"
    if order.state not in CHANGEABLE:
        return f"工单{order.job_code}已经结束，不能改期或取消。"
    return None


def is_plan_occurrence(order: Order) -> bool:
    """An occurrence of a care plan (issue 17): skipped one at a time rather than cancelled."""
    return getattr(order, "plan_id", None) is not None


def _audit(session: Session, order: Order, action: str, changes: dict, actor: str, now: datetime) -> None:
    session.add(AuditEntry(created_at=now, actor=actor[:200], entity="order", entity_key=order.job_code,
                           action=action, changes=changes))


def move(session: Session, order: Order, slot: Slot, *, actor: str, settings: Settings,
         now: datetime) -> Outcome:
    """Move an order to `slot`; its provider keeps it if it can come then, else it is offered again."""
    order = lock_order(session, order.id)
    refusal = why_unchangeable(order)
    if refusal:
        return Outcome(False, refusal, order, error="started")
    if order.slot_code == slot.code and order.window_start_at == slot.start:
        return Outcome(True, f"工单{order.job_code}的时间没有变化。", order)
    before = {"slot_code": order.slot_code, "window_start_at": order.window_start_at.isoformat()}
    old_start = order.window_start_at
    order.slot_code, order.window_start_at, order.window_end_at = slot.code, slot.start, slot.end
    order.updated_at = now
    # An SMS is read later: it says the date itself; the caller or operator hears 明天 where near.
    when = slot_label(slot.code) if "/" in slot.code else f"{local(slot.start):%m月%d日 %H:%M}起"
    changes = {"slot_code": [before["slot_code"], slot.code],
               "window_start_at": [before["window_start_at"], slot.start.isoformat()]}
    message = f"工单{order.job_code}已改到{slot.label}。"
    if order.state == OrderState.ACCEPTED and order.provider_id is not None:
        accepted = session.scalar(select(Offer).where(Offer.order_id == order.id, Offer.status == "accepted"))
        why = _cannot_come(session, order, old_start)
        if why is None:
            tell_provider(session, accepted.provider, purpose="order_moved", settings=settings, now=now,
                          dedupe_key=f"moved:{order.id}:{slot.code}",
                          params={"job_code": order.job_code, "item_name": order.item.name, "new_when": when})
            visits.reschedule_deadlines(session, order, accepted.id, accepted.provider_id,
                                        accepted.responded_at or now, settings, now)
            changes["provider"] = "kept"
            message += f"{accepted.provider.name}已收到改期通知。"
        else:
            accepted.status, accepted.responded_at = "withdrawn", now
            tell_provider(session, accepted.provider, purpose="order_redispatched",
                          dedupe_key=f"redispatch:{order.id}:{accepted.id}", settings=settings, now=now,
                          params={"job_code": order.job_code, "item_name": order.item.name,
                                  "reason": "改期"})
            order.provider_id = None
            orders.move_order(order, OrderEvent.OFFER, now)
            changes["provider"] = f"re-offered: {why}"
            orders.dispatch(session, order, settings, now)
            message += "原服务商那天不方便，正在重新派单。"
    elif order.state == OrderState.OFFERED:
        for offer in session.scalars(select(Offer).where(Offer.order_id == order.id, Offer.status == "offered")):
            tell_provider(session, offer.provider, purpose="order_moved", settings=settings, now=now,
                          dedupe_key=f"moved:{order.id}:{slot.code}:{offer.id}",
                          params={"job_code": order.job_code, "item_name": order.item.name, "new_when": when})
    _audit(session, order, "move", changes, actor, now)
    session.flush()
    return Outcome(True, message, order)


def skip(session: Session, order: Order, *, actor: str, reason: str, settings: Settings,
         now: datetime) -> Outcome:
    """Skip this visit (a plan occurrence) or cancel it (a one-off order); refused once started."""
    refusal = why_unchangeable(lock_order(session, order.id))
    if refusal:
        return Outcome(False, refusal, order, error="started")
    action = "skip" if is_plan_occurrence(order) else "cancel"
    outcome = orders.cancel_order(session, order, reason, settings, now)
    _audit(session, order, action, {"state": ["open", "cancelled"], "reason": reason}, actor, now)
    session.flush()
    words = "已跳过这一次" if action == "skip" else "已取消"
    return Outcome(True, f"工单{order.job_code}{words}。", outcome.order)


def _cannot_come(session: Session, order: Order, old_start: datetime) -> str | None:
    """Why the order's provider cannot come at the order's (new) time, or None if it can."""
    elder = order.elder
    day_start, day_end = local_day_bounds(order.window_start_at)
    slot_from, slot_to = half_day_bounds(order.window_start_at)
    here = local(order.window_start_at)
    candidate = candidate_by_id(session, order.provider_id, order.item_id, day_start=day_start, day_end=day_end,
                                slot_start=slot_from, slot_end=slot_to, community=elder.community,
                                day=here.date())
    if candidate is None:
        return "no longer sells the item"
    if elder.latitude is None or elder.longitude is None:
        return None
    metres = haversine_m(elder.latitude, elder.longitude, candidate.latitude, candidate.longitude)
    why = rejection(candidate, metres, here.time(), frozenset(), on=here.date())
    # The order itself is counted among the day's (or half-day's) bookings when it stays in them.
    if why == _CAPACITY[0] and day_start <= old_start < day_end:
        return None
    if why == _CAPACITY[1] and slot_from <= old_start < slot_to:
        return None
    return why
