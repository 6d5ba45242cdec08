"""The re-assessment reminder: a task on the operator queue 30 days before an assessment expires."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from dispatcher.assessments.models import Assessment
from dispatcher.assessments.rules import REMIND_DAYS
from dispatcher.clock import local
from dispatcher.lifecycle.tasks import open_task
from dispatcher.models import OperatorTask

TASK_KIND = "reassessment"


def dedupe_key(assessment_id: int) -> str:
    return f"{TASK_KIND}:{assessment_id}"


def sweep_reassessment_reminders(session: Session, now: datetime, limit: int = 1000) -> int:
    """Open one task per elder whose newest assessment expires within 30 days; return how many.

    Idempotent: each assessment's task has its own dedupe key, so a second sweep (or a second
    scheduler) opens nothing new, and a newer assessment ends the reminders for the older one.
    """
    today = local(now).date()
    newer = aliased(Assessment)
    has_newer = exists().where(
        newer.elder_id == Assessment.elder_id,
        or_(newer.assessed_on > Assessment.assessed_on,
            and_(newer.assessed_on == Assessment.assessed_on, newer.id > Assessment.id)),
    )
    due = session.scalars(
        select(Assessment)
        .where(Assessment.valid_until <= today + timedelta(days=REMIND_DAYS), ~has_newer)
        .order_by(Assessment.valid_until, Assessment.id)
    ).all()
    if not due:
        return 0
    known = set(session.scalars(select(OperatorTask.dedupe_key).where(
        OperatorTask.dedupe_key.in_([dedupe_key(a.id) for a in due]))))
    opened = 0
    for assessment in due:
        if dedupe_key(assessment.id) in known or opened >= limit:
            continue
        state = "已到期" if assessment.valid_until < today else "将到期"
        open_task(session, kind=TASK_KIND, dedupe_key=dedupe_key(assessment.id),
                  reason=f"能力评估{state}（有效期至{assessment.valid_until:%Y-%m-%d}，"
                         f"{assessment.level}），请安排复评", elder_id=assessment.elder_id, now=now)
        opened += 1
    return opened
