"""The ledger: append-only double-entry postings, idempotent per (visit, kind)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.models import LedgerPosting

# Accounts. Positive amounts are debits. A charge books the price owed to the provider against
# the bureau's pending subsidy and the elder's co-pay; review outcomes move the pending subsidy.
SUBSIDY_PENDING = "subsidy_pending"
SUBSIDY_PAYABLE = "subsidy_payable"
SUBSIDY_WITHHELD = "subsidy_withheld"
ELDER_COPAY = "elder_copay"
PROVIDER_REVENUE = "provider_revenue"


@dataclass(frozen=True)
class VisitRef:
    order_id: int
    visit_id: int
    elder_id: int
    provider_id: int
    elder_class: str
    month: str


class UnbalancedTransaction(ValueError):
    pass


def _post(session: Session, ref: VisitRef, kind: str, legs: dict[str, int], policy_version: str,
          now: datetime) -> bool:
    """Write one transaction unless it exists; return whether it was written."""
    if sum(legs.values()) != 0:
        raise UnbalancedTransaction(f"{kind} for visit {ref.visit_id} does not sum to zero: {legs}")
    txn_key = f"visit:{ref.visit_id}:{kind}"
    if session.scalar(select(LedgerPosting.id).where(LedgerPosting.txn_key == txn_key).limit(1)):
        return False
    session.add_all(
        LedgerPosting(
            txn_key=txn_key, kind=kind, account=account, amount_fen=amount, month=ref.month,
            order_id=ref.order_id, visit_id=ref.visit_id, elder_id=ref.elder_id,
            provider_id=ref.provider_id, elder_class=ref.elder_class,
            policy_version=policy_version, created_at=now,
        )
        for account, amount in legs.items()
    )
    session.flush()
    return True


def post_charge(session: Session, ref: VisitRef, *, price_fen: int, subsidy_fen: int,
                copay_fen: int, policy_version: str, now: datetime) -> bool:
    """Book a completed visit: the subsidy stays pending until the visit is verified."""
    legs = {SUBSIDY_PENDING: subsidy_fen, ELDER_COPAY: copay_fen, PROVIDER_REVENUE: -price_fen}
    return _post(session, ref, "charge", legs, policy_version, now)


def pending_subsidy(session: Session, visit_id: int) -> int:
    return session.scalar(
        select(func.coalesce(func.sum(LedgerPosting.amount_fen), 0)).where(
            LedgerPosting.visit_id == visit_id, LedgerPosting.account == SUBSIDY_PENDING
        )
    )


def _settle(session: Session, ref: VisitRef, kind: str, target: str, now: datetime) -> bool:
    charge = session.scalar(
        select(LedgerPosting).where(LedgerPosting.txn_key == f"visit:{ref.visit_id}:charge").limit(1)
    )
    if charge is None:
        raise ValueError(f"visit {ref.visit_id} has no charge to settle")
    amount = pending_subsidy(session, ref.visit_id)
    return _post(session, ref, kind, {SUBSIDY_PENDING: -amount, target: amount},
                 charge.policy_version, now)


def post_verification(session: Session, ref: VisitRef, now: datetime) -> bool:
    """The elder confirmed the visit: the pending subsidy becomes payable."""
    return _settle(session, ref, "verify", SUBSIDY_PAYABLE, now)


def post_withholding(session: Session, ref: VisitRef, now: datetime) -> bool:
    """The elder denied the visit: the pending subsidy is withheld."""
    return _settle(session, ref, "withhold", SUBSIDY_WITHHELD, now)


def subsidy_used(session: Session, elder_id: int, month: str) -> int:
    """Subsidy booked for the elder in the month, less what was withheld."""
    return session.scalar(
        select(func.coalesce(func.sum(LedgerPosting.amount_fen), 0)).where(
            LedgerPosting.elder_id == elder_id,
            LedgerPosting.month == month,
            LedgerPosting.account.in_((SUBSIDY_PENDING, SUBSIDY_PAYABLE)),
        )
    )
