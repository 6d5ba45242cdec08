"""The operator queue's entries: one task per reason, opened once whoever asks twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.models import OperatorTask


def open_task(session: Session, *, kind: str, reason: str, dedupe_key: str, now: datetime,
              order_id: int | None = None, elder_id: int | None = None,
              call_sid: str | None = None, caller: str | None = None,
              priority: int = 5) -> OperatorTask:
    """Put something on the operator queue once per `dedupe_key`."""
    task = session.scalar(select(OperatorTask).where(OperatorTask.dedupe_key == dedupe_key))
    if task is None:
        task = OperatorTask(kind=kind, reason=reason, dedupe_key=dedupe_key, order_id=order_id,
                            elder_id=elder_id, call_sid=call_sid, caller=caller, created_at=now,
                            priority=priority)
        session.add(task)
        session.flush()
    return task


