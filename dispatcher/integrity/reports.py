"""The integrity report (one row per flag, workers masked) and the counts per provider and check."""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.exports import Column, Table
from dispatcher.clock import local
from dispatcher.consoles.scope import scope_filter
from dispatcher.enrollment.identity import mask_id_number
from dispatcher.integrity.models import CLEARED, CONFIRMED, OPEN, STATES, IntegrityFlag
from dispatcher.integrity.rules import CHECKS
from dispatcher.models import Order, StaffUser, Visit
from providers.models import Provider, Worker
from telephony.numbers import mask_phone

OUTCOMES = {OPEN: "待处理（补贴暂停支付）", CLEARED: "已排除（照常支付）", CONFIRMED: "已确认违规（补贴追回）"}
INTEGRITY_COLUMNS = [
    Column("month", width=9), Column("check", width=10), Column("check_name", width=26),
    Column("job_code", width=9), Column("order_no", width=17), Column("provider_code", width=12),
    Column("provider_name", width=24), Column("worker", width=40), Column("reason", width=60),
    Column("evidence", width=60), Column("outcome", width=10), Column("outcome_name", width=22),
    Column("found_at", width=17), Column("decided_at", width=17), Column("decided_by", width=12),
    Column("note", width=30),
]
COUNT_COLUMNS = [
    Column("provider_code", width=12), Column("provider_name", width=24), Column("check", width=10),
    Column("check_name", width=26), Column("flags", "count", 8),
    *(Column(state, "count", 10) for state in STATES),
]


def mask_name(name: str | None) -> str:
    """Keep the surname: 张**."""
    return (name[:1] + "*" * max(1, len(name) - 1)) if name else ""


def masked_worker(name: str | None, phone: str | None, id_number: str | None,
                  work_number: str | None = None) -> str:
    """A worker as the report shows them: 张*（工号 W001，+86139****0001，620102********123X）."""
    if name is None:
        return ""
    details = [f"工号{work_number}" if work_number else "", mask_phone(phone),
               mask_id_number(id_number)]
    return f"{mask_name(name)}（{'，'.join(d for d in details if d)}）"


def _when(moment) -> str:
    return f"{local(moment):%Y-%m-%d %H:%M}" if moment else ""


def flag_rows(session: Session, month: str, *, state: str | None = None,
              check: str | None = None) -> Iterator[tuple]:
    """Every flag of the month (optionally of one state or check), in INTEGRITY_COLUMNS order."""
    return (row for _, row in flag_records(session, month, state=state, check=check))


def flag_records(session: Session, month: str, *, state: str | None = None,
                 check: str | None = None, who=None) -> Iterator[tuple[int, tuple]]:
    """(flag id, row) for every flag of the month, optionally of one state or check, and only
    of the elders an area-bound account `who` may see."""
    stmt = (
        select(IntegrityFlag, Order.job_code, Order.order_no, Provider.code, Provider.name,
               Worker.name, Worker.phone, Worker.id_number, Worker.work_number,
               StaffUser.display_name)
        .join(Visit, Visit.id == IntegrityFlag.visit_id)
        .join(Order, Order.id == Visit.order_id)
        .join(Provider, Provider.id == IntegrityFlag.provider_id)
        .outerjoin(Worker, Worker.id == IntegrityFlag.worker_id)
        .outerjoin(StaffUser, StaffUser.id == IntegrityFlag.decided_by)
        .where(IntegrityFlag.month == month)
        .order_by(IntegrityFlag.check, Provider.code, IntegrityFlag.visit_id)
    )
    if state:
        stmt = stmt.where(IntegrityFlag.state == state)
    if check:
        stmt = stmt.where(IntegrityFlag.check == check)
    if who is not None:
        stmt = stmt.where(scope_filter(who, Order.elder_id))
    for (flag, job_code, order_no, provider_code, provider_name, worker_name, phone, id_number,
         work_number, decided_by) in session.execute(stmt):
        yield flag.id, (flag.month, flag.check, CHECKS.get(flag.check, flag.check), job_code, order_no,
               provider_code, provider_name,
               masked_worker(worker_name, phone, id_number, work_number), flag.reason,
               json.dumps(flag.evidence, ensure_ascii=False, sort_keys=True), flag.state,
               OUTCOMES.get(flag.state, flag.state), _when(flag.found_at), _when(flag.decided_at),
               decided_by or "", flag.decision_note or "")


def flag_counts(session: Session, month: str) -> list[dict]:
    """Flags of the month per provider and check, with how many are open, cleared and confirmed."""
    rows = session.execute(
        select(Provider.code, Provider.name, IntegrityFlag.check, IntegrityFlag.state, func.count())
        .join(Provider, Provider.id == IntegrityFlag.provider_id)
        .where(IntegrityFlag.month == month)
        .group_by(Provider.code, Provider.name, IntegrityFlag.check, IntegrityFlag.state)
    )
    found: dict[tuple, dict] = {}
    for code, name, check, state, count in rows:
        row = found.setdefault((code, check), {
            "provider_code": code, "provider_name": name, "check": check,
            "check_name": CHECKS.get(check, check), "flags": 0, **dict.fromkeys(STATES, 0)})
        row["flags"] += count
        row[state] = row.get(state, 0) + count
    return [found[key] for key in sorted(found)]


def check_totals(counts: list[dict]) -> list[dict]:
    """The per-provider counts summed per check (the bureau page's second table)."""
    totals: dict[str, dict] = {}
    for row in counts:
        total = totals.setdefault(row["check"], {"check": row["check"],
                                                 "check_name": row["check_name"], "flags": 0,
                                                 **dict.fromkeys(STATES, 0)})
        for key in ("flags", *STATES):
            total[key] += row[key]
    return [totals[key] for key in sorted(totals)]


def integrity_tables(session: Session, month: str, with_counts: bool = True) -> list[Table]:
    """The report: every flag of the month, then (a second sheet) the counts per provider and check.

    A CSV holds one table, so it takes the flags alone (`with_counts=False`).
    """
    tables = [Table(f"诚信核查 {month}", INTEGRITY_COLUMNS, flag_rows(session, month))]
    if with_counts:
        tables.append(Table.from_records(f"按服务商和核查项 {month}", COUNT_COLUMNS,
                                         flag_counts(session, month)))
    return tables


def flag_detail(session: Session, flag_id: int) -> dict | None:
    """One flag with its visit, order, provider, masked worker and the visit's other flags."""
    flag = session.get(IntegrityFlag, flag_id)
    if flag is None:
        return None
    visit = session.get(Visit, flag.visit_id)
    worker = session.get(Worker, flag.worker_id) if flag.worker_id else None
    return {
        "flag": flag, "visit": visit, "order": session.get(Order, visit.order_id),
        "provider": session.get(Provider, flag.provider_id),
        "worker": masked_worker(worker.name, worker.phone, worker.id_number, worker.work_number)
        if worker else "",
        "others": session.scalars(select(IntegrityFlag).where(
            IntegrityFlag.visit_id == flag.visit_id, IntegrityFlag.id != flag.id)).all(),
    }
