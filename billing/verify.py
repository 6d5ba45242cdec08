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
    month_totals,
)
from billing.models import ClosedMonth
from billing.models import LedgerPosting as LP
from billing.money import fen_to_yuan
from billing.policy import Policy
from billing.reports import (
    MONEY,
    SOURCE_PREFIX,
    month_sources,
    report_tables,
    settlement_tables,
    summary_tables,
    tallies,
)
from dispatcher.consoles.scope import Area, scope_filter


@dataclass
class Verification:
    """What the ledger says for a month, and every way a report or the ledger disagrees."""

    month: str
    expected: dict[str, int]
    problems: list[str] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)  # subsidy per funding source

    @property
    def ok(self) -> bool:
        return not self.problems


def expected_totals(session: Session, month: str, area: Area | None = None,
                    accounts: dict[str, int] | None = None) -> dict[str, int]:
    """The month's totals straight from the postings (of one area's elders, if given): money in
    fen, visits and adjustments."""
    if accounts is None:
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


def month_source_keys(sources: dict[str, int]) -> dict[str, int]:
    """A month's subsidy per source as kept among a closed month's totals: `source:<code>`."""
    return {f"source:{code}": fen for code, fen in sources.items()}


def _compare(where: str, found: dict[str, int], expected: dict[str, int]) -> list[str]:
    problems = []
    for key, want in expected.items():
        got = found.get(key, 0)
        if got == want:
            continue
        if key in MONEY or key.startswith(SOURCE_PREFIX):
            problems.append(f"{where}: {key} totals {fen_to_yuan(got)} yuan but the ledger has "
                            f"{fen_to_yuan(want)} (off by {fen_to_yuan(got - want)})")
        else:
            problems.append(f"{where}: {got} {key} but the ledger has {want}")
    return problems


def _table_totals(table: Table, where: str, problems: list[str]) -> dict[str, int]:
    """The table's totals; a row whose sources do not sum to its subsidy is a problem."""
    totals = dict.fromkeys((*MONEY, "visits", "adjustments"), 0)
    split = [c.key for c in table.columns if c.key.startswith(SOURCE_PREFIX)]
    for key in split:
        totals[key] = 0
    for n, row in enumerate(table.records(), 1):
        for key in MONEY:
            totals[key] += row[key]
        by_source = 0
        for key in split:
            fen = row[key]
            totals[key] += fen
            by_source += fen
        if by_source != row["subsidy"] and len(problems) < 100:
            problems.append(f"{where}, row {n}: the sources sum to {fen_to_yuan(by_source)} "
                            f"but the subsidy is {fen_to_yuan(row['subsidy'])}")
        if "entry" in row:
            totals["visits" if row["entry"] == "visit" else "adjustments"] += 1
        else:
            totals["visits"] += row["visits"]
            totals["adjustments"] += row["adjustments"]
    return totals


def verify_month(session: Session, month: str, policy: Policy) -> Verification:
    """Check the month's ledger and recompute the totals of every report against it."""
    accounts, sources = month_totals(session, month)
    expected = expected_totals(session, month, accounts=accounts)
    result = Verification(month, expected, sources=sources)
    problems = result.problems
    if sum(sources.values()) != expected["subsidy"]:
        problems.append(f"ledger: the funding sources sum to {fen_to_yuan(sum(sources.values()))}"
                        f" but the subsidy is {fen_to_yuan(expected['subsidy'])}")
    split_expected = {**expected, **{SOURCE_PREFIX + s: fen for s, fen in sources.items()}}
    unbalanced = session.execute(
        select(LP.txn_key, func.sum(LP.amount_fen)).where(LP.month == month)
        .group_by(LP.txn_key).having(func.sum(LP.amount_fen) != 0)
    ).all()
    problems += [f"ledger: transaction {key} sums to {fen_to_yuan(total)}, not zero"
                 for key, total in unbalanced]
    # The summaries and the settlement are two views of one count of the month: count it once.
    by = tallies(session, month, sources=month_sources(session, month))
    reports = {"subsidy": report_tables(session, "subsidy", month),
               "summary": summary_tables(session, month, by=by),
               "settlement": settlement_tables(session, month, by=by)}
    for kind, tables in reports.items():
        for table in tables:
            where = f"{kind} report, sheet {table.title!r}"
            found = _table_totals(table, where, problems)
            problems += _compare(where, found, split_expected)
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
        now = {**accounts, **month_source_keys(sources)}
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
