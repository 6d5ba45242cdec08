"""A family member reports on the hotline that nobody came (issue 18): a dispute like a denied review."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.config import Settings
from dispatcher.lifecycle.family import family_member_by_phone
from dispatcher.lifecycle.reviews import record_review_answer
from dispatcher.lifecycle.tasks import open_task
from dispatcher.models import CallbackReview, Order, Visit

# A family member's "nobody came" looks back this far for the visit they mean.
NO_SHOW_LOOKBACK = timedelta(days=7)


def report_no_show(session: Session, caller: str, settings: Settings, now: datetime) -> str:
    """A family member calls to say nobody came: dispute the elder's latest visit like a denied review.

    The latest visit checked out in the last week: an unanswered review is answered "did not come"
    (the subsidy is withheld and a dispute opened); an already verified one gets a dispute for a
    supervisor. With no such visit, a complaint case is opened. Returns what to tell the caller.
    """
    member = family_member_by_phone(session, caller)
    if member is None:
        return "没有找到您登记的家属信息，话务员会与您联系。"
    order = session.scalar(
        select(Order).join(Visit, Visit.order_id == Order.id)
        .where(Order.elder_id == member.elder_id, Visit.checked_out_at >= now - NO_SHOW_LOOKBACK)
        .order_by(Visit.checked_out_at.desc()).limit(1))
    reason = f"家属{member.name}（{member.relation}）来电反映服务人员未上门"
    if order is None:
        open_task(session, kind="complaint", reason=reason + "，但近一周没有上门记录", elder_id=member.elder_id,
                  dedupe_key=f"no_show:{member.id}:{now:%Y%m%d}", caller=caller, now=now)
        return "近一周没有找到上门记录，我们已记录，监督员会与您联系。"
    open_task(session, kind="dispute", reason=reason, dedupe_key=f"dispute:{order.id}", order_id=order.id,
              elder_id=order.elder_id, caller=caller, now=now)
    review = session.scalar(select(CallbackReview).where(CallbackReview.order_id == order.id))
    if review is not None and review.did_worker_come is None and order.state == "completed":
        record_review_answer(session, review, False, now, settings.review_sample_share,
                             settings.plan_review_every_days)
    return f"已记录：{order.item.name}的服务人员未上门。这次服务的补贴暂不支付，监督员会尽快核实。"
