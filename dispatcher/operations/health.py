"""Health: is the database there, who ticks, how much is waiting, how late is the oldest due row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dispatcher.lifecycle.visits import VisitDeadline
from dispatcher.models import CallbackReview
from dispatcher.operations.sweepers import ADVISORY_LOCK_KEY
from dispatcher.programmes.month_end import MonthEndReminder
from dispatcher.programmes.wellbeing import WellbeingCall, WellbeingSchedule
from providers.models import Offer
from telephony.models import OutboxMessage


def health_report(session: Session, now: datetime) -> dict:
    """A snapshot for `/healthz` and `vnh status`; `ok` is False when the database is unreachable."""
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return {"ok": False, "database": f"unreachable: {type(exc).__name__}"}
    # A claim not yet recorded ("sending" without a SID) is still waiting to be settled.
    backlog = session.scalar(
        select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.sid.is_(None), OutboxMessage.status.in_(("queued", "sending"))))
    failed = session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "failed"))
    due = [
        session.scalar(select(func.min(OutboxMessage.next_attempt_at))
                       .where(OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= now)),
        session.scalar(select(func.min(Offer.expires_at))
                       .where(Offer.status == "offered", Offer.expires_at <= now)),
        session.scalar(select(func.min(CallbackReview.due_at))
                       .where(CallbackReview.state == "scheduled", CallbackReview.due_at <= now)),
        session.scalar(select(func.min(VisitDeadline.due_at))
                       .where(VisitDeadline.state == "scheduled", VisitDeadline.due_at <= now)),
        session.scalar(select(func.min(WellbeingSchedule.next_due_at))
                       .where(WellbeingSchedule.is_active, WellbeingSchedule.next_due_at <= now)),
        session.scalar(select(func.min(WellbeingCall.due_at))
                       .where(WellbeingCall.state == "scheduled", WellbeingCall.due_at <= now)),
        session.scalar(select(func.min(MonthEndReminder.due_at))
                       .where(MonthEndReminder.state == "scheduled", MonthEndReminder.due_at <= now)),
    ]
    oldest = min((d for d in due if d is not None), default=None)
    return {
        "ok": True,
        "database": session.get_bind().dialect.name,
        "scheduler": _scheduler_holder(session),
        "outbox_backlog": backlog,
        "outbox_failed": failed,
        "oldest_overdue_s": round((now - oldest).total_seconds(), 1) if oldest else 0,
    }


def _scheduler_holder(session: Session) -> str:
    if session.get_bind().dialect.name != "postgresql":
        return "the single vnh serve process (SQLite)"
    row = session.execute(text(
        "SELECT l.pid, a.application_name FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted "
        "AND ((l.classid::bigint << 32) | l.objid::bigint) = :key"), {"key": ADVISORY_LOCK_KEY}).first()
    if row is None:
        return "nobody holds the scheduler lock"
    return f"postgres backend pid {row.pid} ({row.application_name or 'unnamed'})"
