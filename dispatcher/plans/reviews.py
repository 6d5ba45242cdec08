"""Reviews that fit plans: one occurrence in VNH_PLAN_REVIEW_EVERY_DAYS gets the review call.

The policy (README, "Care plans"): the first occurrence of a plan checked out in each window of
VNH_PLAN_REVIEW_EVERY_DAYS days is reviewed by call like any visit. The others in its window are
not called (their review row says `covered`): the subsidy of one whose check-in and check-out were
both proved (elder's phone, visit code or location) is payable at check-out, unless an integrity
flag holds it; one not proved is called as usual. If the window's review is denied, the covered
occurrences of the window are held (a verification taken back, a later one never made) and the
operator queue hears of it; a supervisor clears or confirms them as for any held visit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import ledger
from billing.charges import ref_for
from dispatcher.config import Settings
from dispatcher.integrity import holds
from dispatcher.integrity.checks import before_payable
from dispatcher.lifecycle.states import OrderEvent, next_state
from dispatcher.lifecycle.tasks import open_task
from dispatcher.models import CallbackReview, Order, Visit

COVERED, HELD = "covered", "held"
UNPROVED = (None, "none")


def _window_review(session: Session, order: Order, days: int) -> CallbackReview | None:
    """The called review of another occurrence of the plan in the window before this one."""
    since = order.occurrence_date - timedelta(days=days - 1)
    return session.scalar(
        select(CallbackReview).join(Order, Order.id == CallbackReview.order_id)
        .where(Order.plan_id == order.plan_id, Order.id != order.id, Order.occurrence_date >= since,
               Order.occurrence_date <= order.occurrence_date, CallbackReview.state.not_in((COVERED, HELD)))
        .order_by(Order.occurrence_date.desc()).limit(1))


def review_at_check_out(session: Session, order: Order, visit: Visit, due_at: datetime, settings: Settings,
                        now: datetime) -> CallbackReview:
    """The review row of a checked-out visit: a call due at `due_at`, or, for a plan occurrence
    whose window was already reviewed, covered (and payable at once when proved)."""
    window = None
    proved = visit.check_in_method not in UNPROVED and visit.check_out_method not in UNPROVED
    if order.plan_id is not None and order.occurrence_date is not None and proved:
        window = _window_review(session, order, settings.plan_review_every_days)
    if window is None:
        review = CallbackReview(visit_id=visit.id, order_id=order.id, state="scheduled", due_at=due_at)
        session.add(review)
        return review
    denied = window.state == "denied"
    review = CallbackReview(visit_id=visit.id, order_id=order.id, state=HELD if denied else COVERED,
                            due_at=due_at)
    session.add(review)
    session.flush()
    if denied:
        _tell_operator(session, order, window, now)
        return review
    order.state = next_state(order.state, OrderEvent.VERIFY).value
    if not before_payable(session, visit, now):
        ledger.post_verification(session, ref_for(visit), now)
    return review


def hold_window(session: Session, order: Order, every_days: int, now: datetime) -> int:
    """A plan's review denied: hold the covered occurrences of its window; return how many."""
    if order.plan_id is None or order.occurrence_date is None:
        return 0
    last = order.occurrence_date + timedelta(days=every_days - 1)
    covered = session.scalars(
        select(CallbackReview).join(Order, Order.id == CallbackReview.order_id)
        .where(Order.plan_id == order.plan_id, CallbackReview.state == COVERED,
               Order.occurrence_date >= order.occurrence_date, Order.occurrence_date <= last)).all()
    for review in covered:
        review.state = HELD
        holds.hold_visit(session, review.visit, now)
    if covered:
        window = session.scalar(select(CallbackReview).where(CallbackReview.order_id == order.id))
        _tell_operator(session, order, window, now)
    return len(covered)


def _tell_operator(session: Session, order: Order, window: CallbackReview, now: datetime) -> None:
    open_task(session, kind="plan_review_denied", order_id=window.order_id, elder_id=order.elder_id, now=now,
              reason=f"服务计划#{order.plan_id}：回访中老人表示服务人员未上门，本周期其余服务的补贴暂缓支付",
              dedupe_key=f"plan_review_denied:{window.id}")
