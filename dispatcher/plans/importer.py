"""`vnh import plans FILE`: care plans from a CSV or XLSX file, every bad row named.

Columns: id_number, item (item code), rule (RRULE), at (HH:MM); optional starts (YYYY-MM-DD,
default today), until, provider (provider code), duration (minutes, default 60), notes. As with
the other imports, a file with any bad row changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.clock import local
from dispatcher.enrollment.files import open_rows
from dispatcher.enrollment.identity import BadIdNumber, validate_id_number
from dispatcher.models import Elder, Item
from dispatcher.plans.service import Actor, PlanError, add_plan, parse_day, parse_time
from providers.queries import provider_by_code

COLUMNS = ("id_number", "item", "rule", "at", "starts", "until", "provider", "duration", "notes")
OPTIONAL = frozenset({"starts", "until", "provider", "duration", "notes"})


@dataclass
class PlanImport:
    rows: int = 0
    added: int = 0
    plan_ids: list[int] = field(default_factory=list)
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (row, column, reason)


def import_plans(session: Session, path: Path, now: datetime, *, dry_run: bool = False) -> PlanImport:
    """Read the file and add its plans; flush, never commit. Any bad row: nothing written."""
    report = PlanImport()
    savepoint = session.begin_nested()
    try:
        with open_rows(path, "plans", COLUMNS, OPTIONAL) as rows:
            for row in rows:
                report.rows += 1
                report.errors.extend((row.line, column, reason) for column, reason in row.problems)
                if not row.problems:
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
        report.added, report.plan_ids = 0, []
    return report


def _import_row(session: Session, line: int, values: dict, now: datetime, report: PlanImport) -> None:
    def bad(column: str, reason: str) -> None:
        report.errors.append((line, column, reason))

    try:
        id_number = validate_id_number(values.get("id_number", ""))
    except BadIdNumber as exc:
        return bad("id_number", str(exc))
    elder = session.scalar(select(Elder).where(Elder.id_number == id_number))
    if elder is None:
        return bad("id_number", "没有这位老人的档案（请先导入老人）")
    code = values.get("item", "").strip().upper()
    item = session.scalar(select(Item).where(Item.code == code))
    if item is None:
        return bad("item", f"没有编码为“{code}”的服务项目")
    provider = None
    if values.get("provider", "").strip():
        provider = provider_by_code(session, values["provider"].strip())
        if provider is None:
            return bad("provider", f"没有编号为“{values['provider'].strip()}”的服务商")
    try:
        at = parse_time(values.get("at", ""))
    except PlanError as exc:
        return bad("at", str(exc))
    try:
        starts = parse_day(values["starts"], "开始日期") if values.get("starts", "").strip() else local(now).date()
        until = parse_day(values["until"], "结束日期") if values.get("until", "").strip() else None
    except PlanError as exc:
        return bad("starts" if "开始" in str(exc) else "until", str(exc))
    duration = (values.get("duration") or "60").strip()
    if not duration.isdigit():
        return bad("duration", f"时长“{duration}”应为分钟数")
    try:
        plan = add_plan(session, elder=elder, item=item, rule=values.get("rule", ""), at=at, starts_on=starts,
                        until=until, provider=provider, duration_min=int(duration),
                        notes=values.get("notes", "").strip(), actor=Actor("import"), now=now)
    except PlanError as exc:
        text = str(exc)
        column = ("rule" if "规则" in text else "duration" if "时长" in text else "provider" if "提供" in text
                  else "starts")
        return bad(column, text)
    report.added += 1
    report.plan_ids.append(plan.id)


__all__ = ["COLUMNS", "PlanImport", "import_plans"]
