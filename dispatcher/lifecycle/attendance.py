"""The visit itself: the worker checks in, checks out, and the check-out bills it and books the review."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import duration, ledger
from billing.months import month_of
from billing.policy import Policy
from dispatcher.clock import local
from dispatcher.config import Settings
from dispatcher.lifecycle.orders import Outcome, lock_order, move_order
from dispatcher.lifecycle.quiet_hours import outside_quiet_hours, parse_quiet_hours
from dispatcher.lifecycle.ranking import charge_for
from dispatcher.lifecycle.states import OrderEvent, OrderState
from dispatcher.models import CallbackReview, Order, Visit
from providers.models import Offer


def check_in(session: Session, order: Order, provider_id: int, source: str, now: datetime,
             evidence: dict | None = None) -> Outcome:
    """Record the worker's arrival; `evidence` may name the worker and the phone used."""
    order = lock_order(session, order.id)
    if order.provider_id != provider_id:
        return Outcome(False, "该工单不属于您。")
    if order.visit is not None and order.visit.checked_in_at is not None:
        return Outcome(True, f"工单{order.job_code}已签到。", order)
    if order.state != OrderState.ACCEPTED:
        return Outcome(False, f"工单{order.job_code}当前不能签到。", order)
    move_order(order, OrderEvent.CHECK_IN, now)
    evidence = evidence or {}
    session.add(Visit(order=order, provider_id=provider_id, checked_in_at=now, check_in_source=source,
                      worker_ref=evidence.get("worker"), check_in_phone=evidence.get("phone")))
    session.flush()
    return Outcome(True, f"已签到：工单{order.job_code}，{local(now):%H:%M}。", order)


def check_out(session: Session, order: Order, provider_id: int, source: str, policy: Policy,
              settings: Settings, now: datetime, evidence: dict | None = None) -> Outcome:
    """Record the end of the visit, bill it (subsidy pending) and schedule the callback review."""
    order = lock_order(session, order.id)
    if order.provider_id != provider_id:
        return Outcome(False, "该工单不属于您。")
    visit = order.visit
    if visit is not None and visit.checked_out_at is not None:
        return Outcome(True, f"工单{order.job_code}已签退。", order)
    if order.state != OrderState.IN_PROGRESS or visit is None:
        return Outcome(False, f"工单{order.job_code}尚未签到，不能签退。", order)
    move_order(order, OrderEvent.CHECK_OUT, now)
    visit.checked_out_at, visit.check_out_source = now, source
    if evidence:
        visit.check_out_phone = evidence.get("phone")
        visit.worker_ref = visit.worker_ref or evidence.get("worker")
    accepted = session.scalar(
        select(Offer).where(Offer.order_id == order.id, Offer.status == "accepted")
    )
    elder = order.elder
    price_fen = duration.visit_price_fen(session, order.item, visit, accepted.price_fen, policy)
    charge = charge_for(session, elder, order.item, price_fen, policy, now)
    ledger.post_charge(
        session, visit_ref(order, visit), price_fen=charge.price_fen, subsidy_fen=charge.subsidy_fen,
        copay_fen=charge.copay_fen, policy_version=policy.version_for(local(now).date()).name, now=now,
        parts=charge.parts,
    )
    due = outside_quiet_hours(now + timedelta(seconds=settings.review_delay_s),
                              parse_quiet_hours(settings.quiet_hours))
    session.add(CallbackReview(visit_id=visit.id, order_id=order.id, state="scheduled", due_at=due))
    session.flush()
    return Outcome(True, f"已签退：工单{order.job_code}，感谢您的服务。", order)


def visit_ref(order: Order, visit: Visit) -> ledger.VisitRef:
    return ledger.VisitRef(
        order_id=order.id, visit_id=visit.id, elder_id=order.elder_id, provider_id=visit.provider_id,
        elder_class=order.elder.elder_class, month=month_of(visit.checked_out_at),
    )


