"""What a simulated month looked like, counted from the rows it left (calls, tasks, orders, reviews).

`vnh simulate` prints these counts, then the centre's own figures (运营统计) for the same days: a
cross-check of the two (a test holds them equal). How fast operators answered is the centre's
figure alone, from the transfer tasks' timestamps and the operator leg's status; an earlier
stand-in here timed it from the call row's last change and disagreed with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatcher.models import CallbackReview, HotlineCall, OperatorTask, Order, Visit

# Tasks a call opens when it is put through to a person (kind → why).
CALL_TASK_KINDS = ("operator_request", "emergency", "invalid", "silence", "speech", "worker", "unknown_caller")


@dataclass
class MonthSeen:
    calls: int = 0
    ivr_alone: int = 0
    transferred: dict[str, int] = field(default_factory=dict)
    emergencies: int = 0
    queue_abandoned: int = 0
    orders: int = 0
    orders_by_phone: int = 0
    completed: int = 0
    reviews_due: int = 0
    reviews_answered: int = 0
    denials: int = 0
    rated: int = 0
    satisfied: int = 0

    @property
    def containment(self) -> float:
        """Calls the IVR finished alone, of the calls that were not emergencies."""
        ordinary = self.calls - self.emergencies
        return self.ivr_alone / ordinary if ordinary else 0.0

    def lines(self) -> list[str]:
        def share(part, whole):
            return f"{100 * part / whole:.1f}%" if whole else "-"

        moved = ", ".join(f"{k} {v}" for k, v in sorted(self.transferred.items())) or "none"
        return [
            f"calls offered {self.calls}; finished by the IVR alone {self.ivr_alone} "
            f"(containment {share(self.ivr_alone, self.calls - self.emergencies)} of non-emergency calls)",
            f"transferred to a person {sum(self.transferred.values())}: {moved}",
            f"gave up waiting for a person (voicemail) {self.queue_abandoned}; how fast operators answered: "
            "the centre's figures below",
            f"orders {self.orders} ({self.orders_by_phone} by phone), visits completed {self.completed}",
            f"reviews due {self.reviews_due}, answered {self.reviews_answered} "
            f"(reach {share(self.reviews_answered, self.reviews_due)}), denials {self.denials}, "
            f"satisfaction (满意率, 4–5 stars) {share(self.satisfied, self.rated)} of {self.rated} rated",
        ]


def month_seen(session: Session, start: datetime, end: datetime) -> MonthSeen:
    """Count the simulated period [start, end) from the rows."""
    seen = MonthSeen()
    calls = session.execute(
        select(HotlineCall.call_sid, HotlineCall.step, HotlineCall.data)
        .where(HotlineCall.created_at >= start, HotlineCall.created_at < end)
    ).all()
    seen.calls = len(calls)
    tasks = {t.call_sid: t for t in session.scalars(
        select(OperatorTask).where(OperatorTask.call_sid.is_not(None),
                                   OperatorTask.created_at >= start, OperatorTask.created_at < end))}
    for call_sid, step, data in calls:
        task = tasks.get(call_sid)
        if task is None:
            seen.ivr_alone += step == "done"
            continue
        seen.transferred[task.kind] = seen.transferred.get(task.kind, 0) + 1
        seen.emergencies += task.kind == "emergency"
        if (data or {}).get("voicemail_kind") or step == "voicemail":
            seen.queue_abandoned += 1
    in_period = (Order.created_at >= start, Order.created_at < end)
    seen.orders = session.scalar(select(func.count()).select_from(Order).where(*in_period))
    seen.orders_by_phone = session.scalar(
        select(func.count()).select_from(Order).where(*in_period, Order.source == "phone"))
    seen.completed = session.scalar(
        select(func.count()).select_from(Visit).join(Order, Order.id == Visit.order_id)
        .where(*in_period, Visit.checked_out_at.is_not(None)))
    reviews = session.execute(
        select(CallbackReview.did_worker_come, CallbackReview.rating, CallbackReview.called_at)
        .join(Order, Order.id == CallbackReview.order_id).where(*in_period)).all()
    called = [r for r in reviews if r.called_at is not None]
    seen.reviews_due = len(called)
    seen.reviews_answered = sum(r.did_worker_come is not None for r in called)
    seen.denials = sum(r.did_worker_come is False for r in called)
    seen.rated = sum(r.rating is not None for r in called)
    seen.satisfied = sum((r.rating or 0) >= 4 for r in called)
    return seen

