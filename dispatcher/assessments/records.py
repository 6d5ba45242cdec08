"""Assessments in the database: record one, the history, the one that holds on a day, and the
first assessment an enrollment file's disability level gives. Flush, never commit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from dispatcher.assessments.models import Assessment
from dispatcher.assessments.rules import check_assessment, default_valid_until, holds_on
from dispatcher.clock import local
from dispatcher.models import Elder

ENROLLMENT_ASSESSOR = "登记表"


class BadAssessment(ValueError):
    """An assessment that cannot be recorded; `problems` names each field and why."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in problems))


def record_assessment(session: Session, elder: Elder, *, assessed_on: date, level: str,
                      assessor: str, organisation: str = "", score: int | None = None,
                      valid_until: date | None = None, source: str, recorded_by: str,
                      today: date, now: datetime) -> Assessment:
    """Add an assessment to the elder's history; raise BadAssessment naming every bad field.

    The newest assessment is the elder's disability level from its day on; the elder's own
    `disability_level` is kept in step so screens and files show the latest.
    """
    if problems := check_assessment(assessed_on, level, score, assessor, valid_until, today):
        raise BadAssessment(problems)
    assessment = Assessment(
        elder_id=elder.id, assessed_on=assessed_on, level=level, score=score,
        assessor=assessor.strip(), organisation=organisation.strip(),
        valid_until=valid_until or default_valid_until(assessed_on), source=source,
        recorded_by=recorded_by, created_at=now,
    )
    session.add(assessment)
    session.flush()
    latest = latest_assessment(session, elder.id)
    if latest is not None and latest.id == assessment.id:
        elder.disability_level = level
    return assessment


def history(session: Session, elder_id: int) -> list[Assessment]:
    """The elder's assessments, newest first."""
    return list(session.scalars(
        select(Assessment).where(Assessment.elder_id == elder_id)
        .order_by(Assessment.assessed_on.desc(), Assessment.id.desc())
    ))


def latest_assessment(session: Session, elder_id: int, day: date | None = None) -> Assessment | None:
    """The newest assessment made on or before `day` (any day when None)."""
    query = select(Assessment).where(Assessment.elder_id == elder_id)
    if day is not None:
        query = query.where(Assessment.assessed_on <= day)
    return session.scalar(
        query.order_by(Assessment.assessed_on.desc(), Assessment.id.desc()).limit(1)
    )


def level_on(session: Session, elder: Elder, day: date) -> str | None:
    """The disability level that holds on `day`: the newest assessment up to that day, unless it
    expired before that day's month; None when no assessment holds.

    An elder with no assessment on record at all (enrolled before assessments were kept and
    not yet migrated) keeps the level on their enrollment record.
    """
    latest = latest_assessment(session, elder.id, day)
    if latest is None:
        if session.scalar(select(exists().where(Assessment.elder_id == elder.id))):
            return None
        return elder.disability_level or None
    if not holds_on(latest.assessed_on, latest.valid_until, day):
        return None
    return latest.level


def first_assessments(session: Session, id_numbers: Iterable[str], *, today: date,
                      now: datetime, recorded_by: str) -> int:
    """Give each of these elders without any assessment one from their enrollment level.

    It counts from the day they were enrolled and holds 12 months from `today`, so a level
    that stood unassessed until now is not expired the day it becomes an assessment.
    """
    ids = list(id_numbers)
    added = 0
    for start in range(0, len(ids), 500):
        batch = ids[start:start + 500]
        elders = session.execute(
            select(Elder.id, Elder.disability_level, Elder.created_at).where(
                Elder.id_number.in_(batch), Elder.disability_level != "",
                ~exists().where(Assessment.elder_id == Elder.id),
            )
        ).all()
        session.add_all(
            Assessment(elder_id=elder_id, assessed_on=min(local(enrolled).date(), today),
                       level=level, score=None, assessor=ENROLLMENT_ASSESSOR, organisation="",
                       valid_until=default_valid_until(today), source="enrollment",
                       recorded_by=recorded_by, created_at=now)
            for elder_id, level, enrolled in elders
        )
        added += len(elders)
    session.flush()
    return added
