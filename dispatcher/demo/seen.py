"""What a simulated month looked like, counted from the rows it left (calls, tasks, orders, reviews).

A stand-in for the centre's own figures (运营统计) until they land: `vnh simulate` prints these.
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
    answered: int = 0
    answered_20s: int = 0
    answered_60s: int = 0
    answer_p95_s: float = 0.0
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
            f"operators answered {self.answered}: within 20 s {share(self.answered_20s, self.answered)}, "
            f"within 60 s {share(self.answered_60s, self.answered)}, 95th percentile {self.answer_p95_s:.0f} s; "
            f"gave up waiting (voicemail) {self.queue_abandoned}",
            f"orders {self.orders} ({self.orders_by_phone} by phone), visits completed {self.completed}",
            f"reviews due {self.reviews_due}, answered {self.reviews_answered} "
            f"(reach {share(self.reviews_answered, self.reviews_due)}), denials {self.denials}, "
            f"satisfaction (满意率, 4–5 stars) {share(self.satisfied, self.rated)} of {self.rated} rated",
        ]


def month_seen(session: Session, start: datetime, end: datetime) -> MonthSeen:
    """Count the simulated period [start, end) from the rows."""
    seen = MonthSeen()
    calls = session.execute(
        select(HotlineCall.call_sid, HotlineCall.step, HotlineCall.data, HotlineCall.updated_at)
        .where(HotlineCall.created_at >= start, HotlineCall.created_at < end)
    ).all()
    seen.calls = len(calls)
    tasks = {t.call_sid: t for t in session.scalars(
        select(OperatorTask).where(OperatorTask.call_sid.is_not(None),
                                   OperatorTask.created_at >= start, OperatorTask.created_at < end))}
    waits = []
    for call_sid, step, data, updated_at in calls:
        task = tasks.get(call_sid)
        if task is None:
            seen.ivr_alone += step == "done"
            continue
        seen.transferred[task.kind] = seen.transferred.get(task.kind, 0) + 1
        seen.emergencies += task.kind == "emergency"
        if (data or {}).get("voicemail_kind") or step == "voicemail":
            seen.queue_abandoned += 1
        elif step == "done":
            waits.append((_aware(updated_at) - _aware(task.created_at)).total_seconds())
    waits.sort()
    seen.answered = len(waits)
    seen.answered_20s = sum(w <= 20 for w in waits)
    seen.answered_60s = sum(w <= 60 for w in waits)
    seen.answer_p95_s = waits[min(len(waits) - 1, int(0.95 * len(waits)))] if waits else 0.0
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


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
