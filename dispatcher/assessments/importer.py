"""`vnh import assessments FILE`: a file of assessments (CSV or XLSX) into elders' histories.

Same rules as the enrollment files: every bad row is named with its column and reason, and
unless bad rows are to be skipped a file with any bad row changes nothing. A row the database
already holds (same elder, day, level and assessor) is left alone.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.assessments.models import Assessment
from dispatcher.assessments.records import record_assessment
from dispatcher.assessments.rules import COLUMNS, OPTIONAL_COLUMNS, AssessmentRecord, parse_row
from dispatcher.clock import local
from dispatcher.enrollment.files import ImportLimits, open_rows
from dispatcher.enrollment.identity import validate_id_number
from dispatcher.enrollment.importer import ImportReport, RowError
from dispatcher.enrollment.rows import parse_date
from dispatcher.models import Elder

KIND = "assessments"


def _id_number(text: str) -> str:
    return validate_id_number(unicodedata.normalize("NFKC", text).replace(" ", "").upper())


def import_assessments(
    session: Session,
    path: Path,
    now: datetime,
    *,
    dry_run: bool = False,
    skip_bad_rows: bool = False,
    actor: str | None = None,
    limits: ImportLimits | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_error: Callable[[RowError], None] | None = None,
) -> ImportReport:
    """Validate a file of assessments and add its rows; flush, never commit.

    Refused rows: a level not in GB/T 42195-2022, a date in the future, no assessor, an ID
    number of no enrolled elder, the same elder and day twice in the file.
    """
    path = Path(path)
    actor = actor or f"import:{path.name}"
    today = local(now).date()
    report = ImportReport(KIND)
    savepoint = None if dry_run else session.begin_nested()
    first_row: dict[tuple, int] = {}
    try:
        with open_rows(path, KIND, COLUMNS, OPTIONAL_COLUMNS, limits) as source:
            report.source, report.header_row = source.description, source.header_line
            good: list[tuple[int, AssessmentRecord]] = []
            for row in source:
                report.rows += 1
                record, problems = parse_row(row.values, today, parse_date, _id_number)
                flagged = {column for column, _ in row.problems}
                problems = row.problems + [p for p in problems if p[0] not in flagged]
                if record is not None and not problems:
                    key = (record.id_number, record.assessed_on)
                    first = first_row.setdefault(key, row.line)
                    if first != row.line:
                        problems.append(("assessed_on", f"duplicate id_number+assessed_on: "
                                                        f"rows {first} and {row.line}"))
                    else:
                        good.append((row.line, record))
                report.settle([RowError(row.line, c, r) for c, r in problems], on_error)
            _apply(session, good, report, today, now, actor,
                   write=not dry_run and (skip_bad_rows or report.ok), on_error=on_error)
            if progress is not None:
                progress(source.position(), source.total)
        if savepoint is not None and report.error_count and not skip_bad_rows:
            savepoint.rollback()
        elif savepoint is not None:
            savepoint.commit()
    except BaseException:
        if savepoint is not None and savepoint.is_active:
            savepoint.rollback()
        raise
    if report.error_count and not skip_bad_rows:
        report.added = report.updated = report.unchanged = 0
    return report


def _apply(session: Session, good: list[tuple[int, AssessmentRecord]], report: ImportReport,
           today, now, actor: str, *, write: bool, on_error) -> None:
    numbers = sorted({r.id_number for _, r in good})
    elders: dict[str, Elder] = {}
    for start in range(0, len(numbers), 500):
        batch = numbers[start:start + 500]
        elders.update((e.id_number, e) for e in session.scalars(
            select(Elder).where(Elder.id_number.in_(batch))))
    known = set(session.execute(
        select(Elder.id_number, Assessment.assessed_on, Assessment.level, Assessment.assessor)
        .join(Elder, Elder.id == Assessment.elder_id).where(Elder.id_number.in_(numbers))
    ).all()) if numbers else set()
    errors = []
    for line, record in good:
        elder = elders.get(record.id_number)
        if elder is None:
            errors.append(RowError(line, "id_number", "no enrolled elder has this ID number: "
                                                      "import the elder first"))
            continue
        if (record.id_number, record.assessed_on, record.level, record.assessor) in known:
            report.unchanged += 1
            continue
        report.added += 1
        if write:
            record_assessment(
                session, elder, assessed_on=record.assessed_on, level=record.level,
                assessor=record.assessor, organisation=record.organisation, score=record.score,
                valid_until=record.valid_until, source="import", recorded_by=actor,
                today=today, now=now,
            )
    report.settle(errors, on_error)
