"""The ledger: append-only double-entry postings; a correction is a reversal plus a new entry.

Positive amounts are debits. A charge books the price owed to the provider against the bureau's
pending subsidy and the elder's co-pay; the review's outcome moves the pending subsidy to payable
or withheld. Postings are booked in the visit's month, or — when that month is closed — in the
next open month, as an adjustment naming the transaction it follows from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.models import ClosedMonth, LedgerPosting
from billing.months import next_month
from billing.sources import ALL, ELDER, UNSPLIT

SUBSIDY_PENDING = "subsidy_pending"
SUBSIDY_PAYABLE = "subsidy_payable"
SUBSIDY_WITHHELD = "subsidy_withheld"
ELDER_COPAY = "elder_copay"
PROVIDER_REVENUE = "provider_revenue"
ACCOUNTS = (SUBSIDY_PENDING, SUBSIDY_PAYABLE, SUBSIDY_WITHHELD, ELDER_COPAY, PROVIDER_REVENUE)
SUBSIDY_ACCOUNTS = (SUBSIDY_PENDING, SUBSIDY_PAYABLE, SUBSIDY_WITHHELD)

CHARGE, VERIFY, WITHHOLD = "charge", "verify", "withhold"
OUTCOME_ACCOUNTS = {VERIFY: SUBSIDY_PAYABLE, WITHHOLD: SUBSIDY_WITHHELD}
REVERSE = "reverse_"


@dataclass(frozen=True)
class VisitRef:
    """The visit a transaction is about; `month` is the visit's own (service) month."""

    order_id: int
    visit_id: int
    elder_id: int
    provider_id: int
    elder_class: str
    month: str


@dataclass(frozen=True)
class Transaction:
    """A transaction's legs: `legs` by account (all sources together), `parts` by
    (account, funding source)."""

    key: str
    kind: str
    legs: dict[str, int]
    month: str
    policy_version: str
    original_key: str | None
    parts: dict[tuple[str, str], int]


class UnbalancedTransaction(ValueError):
    pass


class LedgerError(ValueError):
    """A posting that the ledger's rules do not allow; nothing was written."""


def booking_month(session: Session, service_month: str) -> str:
    """The month a posting for `service_month` is booked in: it, or the next open month after it."""
    month = service_month
    while session.scalar(select(ClosedMonth.month).where(ClosedMonth.month == month)) is not None:
        month = next_month(month)
    return month


def charge_legs(price_fen: int, copay_fen: int,
                parts: tuple[tuple[str, int], ...]) -> dict[tuple[str, str], int]:
    """A charge's legs: the provider's price, the elder's co-pay, each source's pending part."""
    # A charge always has a leg on the pending account (of nobody's money when no source pays):
    # the close and the reports count those legs to tell a billed visit's review state.
    legs = {(SUBSIDY_PENDING, source): fen for source, fen in parts} or {(SUBSIDY_PENDING, ELDER): 0}
    legs[(ELDER_COPAY, ELDER)] = copay_fen
    legs[(PROVIDER_REVENUE, ALL)] = -price_fen
    return legs


def _parts_of(subsidy_fen: int, parts) -> tuple[tuple[str, int], ...]:
    if parts is None:
        parts = ((UNSPLIT, subsidy_fen),) if subsidy_fen else ()
    parts = tuple((source, fen) for source, fen in parts if fen)
    if sum(fen for _, fen in parts) != subsidy_fen or len({s for s, _ in parts}) != len(parts):
        raise LedgerError(f"parts: the sources {parts} do not add up to the subsidy {subsidy_fen}")
    return parts


def _post(session: Session, ref: VisitRef, kind: str, legs: dict[tuple[str, str], int],
          policy_version: str, now: datetime, *, txn_key: str | None = None,
          original_key: str | None = None) -> bool:
    """Write one transaction unless its key exists; return whether it was written.

    `legs` maps (account, funding source) to fen: every posting names its source.
    """
    if sum(legs.values()) != 0:
        raise UnbalancedTransaction(f"{kind} for visit {ref.visit_id} does not sum to zero: {legs}")
    txn_key = txn_key or f"visit:{ref.visit_id}:{kind}"
    if session.scalar(select(LedgerPosting.id).where(LedgerPosting.txn_key == txn_key).limit(1)):
        return False
    month = booking_month(session, ref.month)
    session.add_all(
        LedgerPosting(
            txn_key=txn_key, kind=kind, account=account, source=source, amount_fen=amount,
            month=month,
            service_month=ref.month, original_txn_key=original_key, order_id=ref.order_id,
            visit_id=ref.visit_id, elder_id=ref.elder_id, provider_id=ref.provider_id,
            elder_class=ref.elder_class, policy_version=policy_version, created_at=now,
        )
        for (account, source), amount in legs.items()
    )
    session.flush()
    return True


def _check_amount(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise LedgerError(f"{name}: must be whole fen, not {value!r}")
    if value < 0:
        raise LedgerError(f"{name}: must not be negative, got {value}")


def post_charge(session: Session, ref: VisitRef, *, price_fen: int, subsidy_fen: int,
                copay_fen: int, policy_version: str, now: datetime,
                parts: tuple[tuple[str, int], ...] | None = None) -> bool:
    """Book a completed visit once: the subsidy stays pending until the visit is verified.

    `parts` splits the subsidy across funding sources ((source, fen), …); without it the
    subsidy is booked as `unsplit`.
    """
    for name, value in (("price_fen", price_fen), ("subsidy_fen", subsidy_fen),
                        ("copay_fen", copay_fen)):
        _check_amount(name, value)
    legs = charge_legs(price_fen, copay_fen, _parts_of(subsidy_fen, parts))
    return _post(session, ref, CHARGE, legs, policy_version, now)


def visit_transactions(session: Session, visit_id: int) -> list[Transaction]:
    """Every transaction of a visit, oldest first."""
    found: dict[str, Transaction] = {}
    postings = session.scalars(
        select(LedgerPosting).where(LedgerPosting.visit_id == visit_id).order_by(LedgerPosting.id)
    )
    for p in postings:
        txn = found.setdefault(p.txn_key, Transaction(p.txn_key, p.kind, {}, p.month,
                                                      p.policy_version, p.original_txn_key, {}))
        txn.legs[p.account] = txn.legs.get(p.account, 0) + p.amount_fen
        txn.parts[(p.account, p.source)] = p.amount_fen
    return list(found.values())


def live_transactions(session: Session, visit_id: int) -> list[Transaction]:
    """The visit's transactions that stand: neither reversals nor reversed, oldest first."""
    every = visit_transactions(session, visit_id)
    reversed_keys = {t.original_key for t in every if t.kind.startswith(REVERSE)}
    return [t for t in every if not t.kind.startswith(REVERSE) and t.key not in reversed_keys]


def _next_key(session: Session, visit_id: int, kind: str) -> str:
    count = session.scalar(
        select(func.count(func.distinct(LedgerPosting.txn_key))).where(
            LedgerPosting.visit_id == visit_id, LedgerPosting.kind == kind)
    )
    base = f"visit:{visit_id}:{kind}"
    return base if not count else f"{base}:{count + 1}"


def _settle(session: Session, ref: VisitRef, kind: str, now: datetime) -> bool:
    live = live_transactions(session, ref.visit_id)
    charges = [t for t in live if t.kind == CHARGE]
    if not charges:
        raise LedgerError(f"visit {ref.visit_id} has no charge to settle")
    if any(t.kind in OUTCOME_ACCOUNTS for t in live):
        return False
    charge = charges[-1]
    legs: dict[tuple[str, str], int] = {}
    for (account, source), amount in charge.parts.items():
        if account == SUBSIDY_PENDING:
            legs[(SUBSIDY_PENDING, source)] = -amount
            legs[(OUTCOME_ACCOUNTS[kind], source)] = amount
    return _post(session, ref, kind, legs or {(SUBSIDY_PENDING, UNSPLIT): 0,
                                              (OUTCOME_ACCOUNTS[kind], UNSPLIT): 0},
                 charge.policy_version, now, txn_key=_next_key(session, ref.visit_id, kind),
                 original_key=charge.key)


def post_verification(session: Session, ref: VisitRef, now: datetime) -> bool:
    """The elder confirmed the visit: the pending subsidy becomes payable (once)."""
    return _settle(session, ref, VERIFY, now)


def post_withholding(session: Session, ref: VisitRef, now: datetime) -> bool:
    """The elder denied the visit: the pending subsidy is withheld (once)."""
    return _settle(session, ref, WITHHOLD, now)


def reverse_transaction(session: Session, ref: VisitRef, txn_key: str, now: datetime) -> bool:
    """Post the mirror image of a transaction; return False if it was reversed already.

    A withholding is not reversed on its own: that would put its subsidy back on the month's pot
    without asking whether the pot still has room (another visit may have used it since). A
    withheld visit that did take place is corrected instead (`charges.correct_visit`), which
    works its subsidy out again against the month's cap.
    """
    return _reverse(session, ref, txn_key, now, withholding=False)


def _reverse(session: Session, ref: VisitRef, txn_key: str, now: datetime, *, withholding: bool) -> bool:
    """`reverse_transaction`; a withholding too when `withholding` (a correction rebooking the visit)."""
    live = live_transactions(session, ref.visit_id)
    txn = next((t for t in visit_transactions(session, ref.visit_id) if t.key == txn_key), None)
    if txn is None:
        raise LedgerError(f"visit {ref.visit_id} has no transaction {txn_key!r}")
    if txn.kind.startswith(REVERSE):
        raise LedgerError(f"{txn_key} is a reversal; book a new entry instead of reversing it")
    if txn not in live:
        return False
    if txn.kind == WITHHOLD and not withholding:
        raise LedgerError(f"{txn_key}: a withheld visit is corrected (correct_visit), which checks the "
                          "month's cap again, not reversed")
    if txn.kind == CHARGE and any(t.kind in OUTCOME_ACCOUNTS for t in live):
        raise LedgerError(f"{txn_key}: reverse the visit's review outcome before its charge")
    return _post(session, ref, REVERSE + txn.kind, {a: -v for a, v in txn.parts.items()},
                 txn.policy_version, now, txn_key=f"{txn_key}:rev", original_key=txn_key)


def rebook_visit(session: Session, ref: VisitRef, *, price_fen: int, subsidy_fen: int,
                 copay_fen: int, outcome: str | None, policy_version: str, now: datetime,
                 parts: tuple[tuple[str, int], ...] | None = None) -> None:
    """Correct a visit: reverse what stands, newest first, then book the new charge and outcome."""
    for name, value in (("price_fen", price_fen), ("subsidy_fen", subsidy_fen),
                        ("copay_fen", copay_fen)):
        _check_amount(name, value)
    if outcome not in (None, VERIFY, WITHHOLD):
        raise LedgerError(f"outcome: must be verify, withhold or none, not {outcome!r}")
    live = live_transactions(session, ref.visit_id)
    charges = [t for t in live if t.kind == CHARGE]
    if not charges:
        raise LedgerError(f"visit {ref.visit_id} has no charge to correct")
    for txn in reversed(live):
        _reverse(session, ref, txn.key, now, withholding=True)
    legs = charge_legs(price_fen, copay_fen, _parts_of(subsidy_fen, parts))
    _post(session, ref, CHARGE, legs, policy_version, now,
          txn_key=_next_key(session, ref.visit_id, CHARGE), original_key=charges[-1].key)
    if outcome is not None:
        _settle(session, ref, outcome, now)


def visit_outcome(session: Session, visit_id: int) -> str | None:
    """`verify`, `withhold`, or None while the visit's review is pending."""
    return next((t.kind for t in reversed(live_transactions(session, visit_id))
                 if t.kind in OUTCOME_ACCOUNTS), None)


def pending_subsidy(session: Session, visit_id: int) -> int:
    return session.scalar(
        select(func.coalesce(func.sum(LedgerPosting.amount_fen), 0)).where(
            LedgerPosting.visit_id == visit_id, LedgerPosting.account == SUBSIDY_PENDING
        )
    )


def subsidy_used(session: Session, elder_id: int, month: str,
                 exclude_visit_id: int | None = None) -> int:
    """Subsidy booked for the elder's visits of the month, less what was withheld."""
    query = select(func.coalesce(func.sum(LedgerPosting.amount_fen), 0)).where(
        LedgerPosting.elder_id == elder_id,
        LedgerPosting.service_month == month,
        LedgerPosting.account.in_((SUBSIDY_PENDING, SUBSIDY_PAYABLE)),
    )
    if exclude_visit_id is not None:
        query = query.where(LedgerPosting.visit_id != exclude_visit_id)
    return session.scalar(query)


def subsidy_used_by_source(session: Session, elder_id: int, month: str,
                           exclude_visit_id: int | None = None) -> dict[str, int]:
    """Per funding source: subsidy booked for the elder's visits of the month, less withheld."""
    query = select(LedgerPosting.source, func.sum(LedgerPosting.amount_fen)).where(
        LedgerPosting.elder_id == elder_id,
        LedgerPosting.service_month == month,
        LedgerPosting.account.in_((SUBSIDY_PENDING, SUBSIDY_PAYABLE)),
    ).group_by(LedgerPosting.source)
    if exclude_visit_id is not None:
        query = query.where(LedgerPosting.visit_id != exclude_visit_id)
    return {source: int(total) for source, total in session.execute(query) if total}


def month_totals(session: Session, month: str) -> tuple[dict[str, int], dict[str, int]]:
    """In one pass over the month's postings: the sum on every account (zero for an account
    with nothing), and the subsidy (pending, payable, withheld) per funding source."""
    rows = session.execute(
        select(LedgerPosting.account, LedgerPosting.source, func.sum(LedgerPosting.amount_fen))
        .where(LedgerPosting.month == month)
        .group_by(LedgerPosting.account, LedgerPosting.source)
    )
    totals = dict.fromkeys(ACCOUNTS, 0)
    sources: dict[str, int] = {}
    for account, source, total in rows:
        totals[account] = totals.get(account, 0) + int(total)
        if account in SUBSIDY_ACCOUNTS:
            sources[source] = sources.get(source, 0) + int(total)
    return totals, {source: fen for source, fen in sources.items() if fen}


def source_totals(session: Session, month: str) -> dict[str, int]:
    """The subsidy booked in the month (pending, payable and withheld) per funding source."""
    return month_totals(session, month)[1]


def ledger_totals(session: Session, month: str) -> dict[str, int]:
    """The sum booked in the month on every account (zero for an account with nothing)."""
    return month_totals(session, month)[0]
