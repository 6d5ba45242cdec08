"""The month-end reminder, a calendar job kept as rows: one per month, due the next morning.

When a month ends, supervisors are reminded to close it, with how many of its visits still wait
for their review. The row, not APScheduler, remembers that the reminder is due, so a scheduler
that was down at midnight sends it when it comes back, and a second scheduler does not send it
again.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from sqlalchemy import Index, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from billing.closing import closed_month, pending_reviews
from billing.months import first_day, month_of, next_month
from dispatcher.clock import LOCAL_TZ
from dispatcher.db import Base
from dispatcher.lifecycle.tasks import open_task

# The reminder is due at this local time on the first day of the next month.
REMIND_AT = time(9, 0)


class MonthEndReminder(Base):
    """The reminder to close one month."""

    __tablename__ = "month_end_reminders"
    __table_args__ = (Index("ix_month_end_reminders_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7), unique=True)
    state: Mapped[str] = mapped_column(String(20), default="scheduled")
    due_at: Mapped[datetime]
    handled_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(100))


def reminder_due_at(month: str) -> datetime:
    """When the reminder to close `month` falls due: 09:00 local on the next month's first day."""
    day = first_day(next_month(month))
    return datetime.combine(day, REMIND_AT, tzinfo=LOCAL_TZ).astimezone(UTC)


def schedule_reminder(session: Session, month: str) -> MonthEndReminder:
    """Make sure the reminder for `month` is a row; return it."""
    row = session.scalar(select(MonthEndReminder).where(MonthEndReminder.month == month))
    if row is None:
        row = MonthEndReminder(month=month, due_at=reminder_due_at(month))
        session.add(row)
        session.flush()
    return row


def sweep_due_reminders(session: Session, now: datetime) -> int:
    """Send the due month-end reminders and schedule the current month's; return how many were sent.

    A due row is claimed with `FOR UPDATE SKIP LOCKED` and marked done, so it is handled once. A
    month already closed needs no reminder. The reminder is a case on the supervisors' queue.
    """
    schedule_reminder(session, month_of(now))
    due = session.scalars(
        select(MonthEndReminder).where(MonthEndReminder.state == "scheduled", MonthEndReminder.due_at <= now)
        .order_by(MonthEndReminder.due_at).with_for_update(skip_locked=True)
    ).all()
    sent = 0
    for row in due:
        row.handled_at = now
        if closed_month(session, row.month) is not None:
            row.state, row.outcome = "skipped", "already closed"
            continue
        waiting = len(pending_reviews(session, row.month))
        open_task(session, kind="month_close", priority=6, dedupe_key=f"month_close:{row.month}", now=now,
                  reason=f"{row.month}已结束，请结账（vnh month close {row.month}）；"
                         f"{waiting}次上门服务的回访尚未完成")
        row.state, row.outcome = "done", f"reminded, {waiting} reviews pending"
        sent += 1
    return sent

