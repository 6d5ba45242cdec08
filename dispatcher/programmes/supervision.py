"""The quality supervisor's work: the case queue, disputes, complaints and click-to-call."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from billing.charges import correct_visit
from billing.policy import Policy
from dispatcher.config import Settings
from dispatcher.consoles.scope import Area, task_scope
from dispatcher.db import Base
from dispatcher.integrity.models import is_held
from dispatcher.lifecycle.states import OrderEvent, next_state
from dispatcher.models import Elder, OperatorTask, Order, StaffUser
from telephony.outbox import enqueue_call

SUPERVISOR_KINDS = ("dispute", "review_unreachable", "low_rating", "review_sample", "complaint",
                    "wellbeing_alarm", "month_close")


class Complaint(Base):
    """An elder's complaint about a provider; matching keeps that provider away from the elder."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    text: Mapped[str] = mapped_column(Text)
    logged_by: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime]


class CaseError(ValueError):
    """A supervisor's action that does not fit the case; the message says why."""


def supervisor_queue(session: Session, who: StaffUser | Area | None = None) -> list[OperatorTask]:
    """Open cases (of `who`'s area), most urgent first, then oldest first."""
    return list(session.scalars(
        select(OperatorTask).where(OperatorTask.kind.in_(SUPERVISOR_KINDS),
                                   OperatorTask.resolved_at.is_(None), task_scope(who))
        .order_by(OperatorTask.priority, OperatorTask.created_at)
    ))


def close_case(task: OperatorTask, staff: StaffUser, note: str, now: datetime) -> None:
    if task.resolved_at is not None:
        raise CaseError("这个事项已经处理过了")
    if not note.strip():
        raise CaseError("请填写处理结果")
    task.resolved_at, task.resolved_by, task.resolution = now, staff.id, note.strip()[:500]


def resolve_dispute(session: Session, task: OperatorTask, staff: StaffUser, *, visit_happened: bool,
                    note: str, policy: Policy, now: datetime) -> None:
    """Settle a denied visit: found to have happened → the subsidy becomes payable after all;
    not happened → it stays withheld. Either way the reason and the verdict are kept on the case; the
    elder's denial counts against the provider's score only with the verdict "not_happened"
    (providers.quality: the caller recomputes the score)."""
    if task.kind != "dispute" or task.order_id is None:
        raise CaseError("这不是争议事项")
    order = session.get(Order, task.order_id, with_for_update=True)
    if visit_happened and order.visit is not None and is_held(session, order.visit.id):
        raise CaseError("这次服务有未处理或已确认的诚信核查标记，请先在诚信核查页处理")
    close_case(task, staff, note, now)
    task.verdict = "happened" if visit_happened else "not_happened"
    if visit_happened:
        correct_visit(session, order.visit, policy=policy, now=now, did_come=True)
        order.state = next_state(order.state, OrderEvent.VERIFY).value
        order.updated_at = now


def log_complaint(session: Session, order: Order, staff: StaffUser, text: str, now: datetime) -> Complaint:
    if order.provider_id is None:
        raise CaseError("这个工单还没有服务商")
    if not text.strip():
        raise CaseError("请填写投诉内容")
    complaint = Complaint(elder_id=order.elder_id, provider_id=order.provider_id, order_id=order.id,
                          text=text.strip()[:2000], logged_by=staff.id, created_at=now)
    session.add(complaint)
    session.flush()
    return complaint


def call_elder_through(session: Session, task: OperatorTask, staff: StaffUser, settings: Settings,
                       now: datetime) -> None:
    """Ring the supervisor's phone; when they answer, the call is bridged to the elder."""
    if not staff.phone:
        raise CaseError("您的账号没有登记电话号码")
    if task.elder_id is None:
        raise CaseError("这个事项没有对应的老人")
    enqueue_call(session, to=staff.phone, url=settings.url(f"/telephony/bridge/{task.id}"),
                 purpose="supervisor_bridge", dedupe_key=f"bridge:{task.id}:{staff.id}:{now.isoformat()}",
                 from_=settings.hotline_number, now=now)


def elder_number(session: Session, task: OperatorTask) -> str | None:
    elder = session.get(Elder, task.elder_id) if task.elder_id else None
    if elder is None or not elder.phones:
        return None
    return next((p.phone for p in elder.phones if p.is_primary), elder.phones[0].phone)
