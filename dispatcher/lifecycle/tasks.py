"""The operator queue's entries: one task per reason, opened once whoever asks twice."""

from __future__ import annotations

from datetime import datetime, timedelta

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




def record_answer(session: Session, *, call_sid: str, ended_at: datetime, talk_seconds: int) -> None:
    """Note when an operator picked up a transferred call: the Dial ended `talk_seconds` after it.

    Once per task: a replayed Dial report changes nothing."""
    task = session.scalar(select(OperatorTask).where(OperatorTask.dedupe_key == f"call:{call_sid}"))
    if task is not None and task.answered_at is None and talk_seconds >= 0:
        task.answered_at = max(task.created_at, ended_at - timedelta(seconds=talk_seconds))
