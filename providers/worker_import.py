"""`vnh import workers FILE`: workers on record from a CSV or XLSX file, row by row.

Columns: provider_code, name, phone, id_number, items (item codes separated by `;` or `,`, blank
for all), work_number (blank for the next free one). A row whose ID number is already on record at
that provider is unchanged when it says the same, updated otherwise; a bad row is named with its
column and reason, and (as with the other imports) a file with any bad row changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.enrollment.files import open_rows
from dispatcher.enrollment.identity import BadIdNumber, validate_id_number
from providers.models import Worker
from providers.queries import provider_by_code
from providers.workers import WorkerError, WorkerFields, add_worker, clean_fields, update_worker

COLUMNS = ("provider_code", "name", "phone", "id_number", "items", "work_number")
OPTIONAL = frozenset({"items", "work_number"})


@dataclass
class WorkerImport:
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (row, column, reason)


def _column_of(message: str) -> str:
    for word, column in (("身份证", "id_number"), ("手机", "phone"), ("工号", "work_number"),
                         ("服务项目", "items"), ("姓名", "name")):
        if word in message:
            return column
    return "row"


def import_workers(session: Session, path: Path, now: datetime, *, dry_run: bool = False) -> WorkerImport:
    """Read the file and put its workers on record; flush, never commit. Any bad row: nothing written."""
    report = WorkerImport()
    savepoint = session.begin_nested()
    try:
        with open_rows(path, "workers", COLUMNS, OPTIONAL) as rows:
            for row in rows:
                report.rows += 1
                for column, reason in row.problems:
                    report.errors.append((row.line, column, reason))
                if row.problems:
                    continue
                _import_row(session, row.line, row.values, now, report)
        if report.errors or dry_run:
            savepoint.rollback()
        else:
            savepoint.commit()
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        raise
    if report.errors:
        report.added = report.updated = report.unchanged = 0
    return report


def _import_row(session: Session, line: int, values: dict, now: datetime, report: WorkerImport) -> None:
    code = values.get("provider_code", "").strip()
    provider = provider_by_code(session, code)
    if provider is None:
        report.errors.append((line, "provider_code", f"没有编号为“{code}”的服务商"))
        return
    items = [c for c in values.get("items", "").replace(";", ",").replace("；", ",").split(",") if c.strip()]
    fields = WorkerFields(values.get("name", ""), values.get("phone", ""), values.get("id_number", ""),
                          items or None, values.get("work_number", ""))
    try:
        id_number = validate_id_number(fields.id_number)
    except BadIdNumber as exc:
        report.errors.append((line, "id_number", str(exc)))
        return
    existing = session.scalar(select(Worker).where(Worker.provider_id == provider.id,
                                                   Worker.id_number == id_number))
    try:
        if existing is None:
            add_worker(session, provider, fields, now)
            report.added += 1
            return
        clean = clean_fields(fields)
        same = (existing.name, existing.phone, existing.items) == (
            clean.name, clean.phone, ",".join(clean.items) if clean.items else None)
        if same:
            report.unchanged += 1
            return
        update_worker(session, existing, fields)
        report.updated += 1
    except WorkerError as exc:
        report.errors.append((line, _column_of(str(exc)), str(exc)))
