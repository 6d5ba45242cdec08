"""Recompute every report's totals from the ledger and name each difference, to the fen."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.exports import Table
from billing.ledger import (
    ACCOUNTS,
    CHARGE,
    ELDER_COPAY,
    PROVIDER_REVENUE,
    SUBSIDY_PAYABLE,
    SUBSIDY_PENDING,
    SUBSIDY_WITHHELD,
    ledger_totals,
)
from billing.models import ClosedMonth
from billing.models import LedgerPosting as LP
from billing.money import fen_to_yuan
from billing.policy import Policy
from billing.reports import MONEY, report_tables
from dispatcher.consoles.scope import Area, scope_filter


@dataclass
class Verification:
    """What the ledger says for a month, and every way a report or the ledger disagrees."""

    month: str
    expected: dict[str, int]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def expected_totals(session: Session, month: str, area: Area | None = None) -> dict[str, int]:
    """The month's totals straight from the postings (of one area's elders, if given): money in
    fen, visits and adjustments."""
    accounts = ledger_totals(session, month) if area is None else _area_totals(session, month, area)
    pending, payable, withheld = (accounts[SUBSIDY_PENDING], accounts[SUBSIDY_PAYABLE],
                                  accounts[SUBSIDY_WITHHELD])
    own, ours = LP.service_month == month, scope_filter(area, LP.elder_id)
    visits = session.scalar(select(func.count(func.distinct(LP.visit_id)))
                            .where(LP.month == month, own, ours))
    adjustments = session.scalar(select(func.count(func.distinct(LP.visit_id)))
                                 .where(LP.month == month, ~own, ours))
    return {"price": -accounts[PROVIDER_REVENUE], "subsidy": pending + payable + withheld,
            "copay": accounts[ELDER_COPAY], "payable": payable, "withheld": withheld,
            "pending": pending, "visits": visits, "adjustments": adjustments}


def _area_totals(session: Session, month: str, area: Area) -> dict[str, int]:
    """`ledger_totals` of one area's elders."""
    totals = dict.fromkeys(ACCOUNTS, 0)
    totals.update({account: int(total) for account, total in session.execute(
        select(LP.account, func.sum(LP.amount_fen))
        .where(LP.month == month, scope_filter(area, LP.elder_id)).group_by(LP.account))})
    return totals


def _compare(where: str, found: dict[str, int], expected: dict[str, int]) -> list[str]:
    problems = []
    for key, want in expected.items():
        got = found.get(key, 0)
        if got == want:
            continue
        if key in MONEY:
            problems.append(f"{where}: {key} totals {fen_to_yuan(got)} yuan but the ledger has "
                            f"{fen_to_yuan(want)} (off by {fen_to_yuan(got - want)})")
        else:
            problems.append(f"{where}: {got} {key} but the ledger has {want}")
    return problems


def _table_totals(table: Table) -> dict[str, int]:
    totals = dict.fromkeys((*MONEY, "visits", "adjustments"), 0)
    for row in table.records():
        for key in MONEY:
            totals[key] += row[key]
        if "entry" in row:
            totals["visits" if row["entry"] == "visit" else "adjustments"] += 1
        else:
            totals["visits"] += row["visits"]
            totals["adjustments"] += row["adjustments"]
    return totals


def verify_month(session: Session, month: str, policy: Policy) -> Verification:
    """Check the month's ledger and recompute the totals of every report against it."""
    expected = expected_totals(session, month)
    result = Verification(month, expected)
    problems = result.problems
    unbalanced = session.execute(
        select(LP.txn_key, func.sum(LP.amount_fen)).where(LP.month == month)
        .group_by(LP.txn_key).having(func.sum(LP.amount_fen) != 0)
    ).all()
    problems += [f"ledger: transaction {key} sums to {fen_to_yuan(total)}, not zero"
                 for key, total in unbalanced]
    for kind in ("subsidy", "summary", "settlement"):
        for table in report_tables(session, kind, month):
            problems += _compare(f"{kind} report, sheet {table.title!r}", _table_totals(table),
                                 expected)
    try:
        version = policy.version_for_month(month)
    except ValueError as exc:
        problems.append(f"policy: {exc}")
        return result
    names = set(session.scalars(select(LP.policy_version).distinct()
                                .where(LP.service_month == month, LP.kind == CHARGE)))
    if stray := sorted(names - {version.name}):
        problems.append(f"ledger: charges for {month} name policy version {', '.join(stray)}, "
                        f"but {version.name} is in force that month")
    closed = session.get(ClosedMonth, month)
    if closed is not None:
        now = ledger_totals(session, month)
        for account, at_close in closed.totals.items():
            if now.get(account, 0) != at_close:
                problems.append(f"closed month: {account} was {fen_to_yuan(at_close)} at the "
                                f"close and is {fen_to_yuan(now.get(account, 0))} now")
        if closed.policy_version != version.name:
            problems.append(f"policy: {month} was closed under version {closed.policy_version}, "
                            f"but the policy file now puts {version.name} in force for it")
        elif closed.policy_fingerprint != version.fingerprint():
            problems.append(f"policy: version {version.name}, in force for the closed month "
                            f"{month}, has been edited since the close; restore it and add a new "
                            f"version for later months instead")
    return result
