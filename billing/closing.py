"""The monthly close: lock a month's ledger so that its reports never change again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, select, text
from sqlalchemy.orm import Session

from billing.ledger import (
    CHARGE,
    OUTCOME_ACCOUNTS,
    REVERSE,
    SUBSIDY_PENDING,
    month_totals,
)
from billing.models import ClosedMonth
from billing.models import LedgerPosting as LP
from billing.months import MonthError, has_ended, month_of, parse_month
from billing.policy import Policy
from dispatcher.models import CallbackReview, Elder, Order, Visit


@dataclass(frozen=True)
class PendingReview:
    """A billed visit of the month whose callback review has no answer yet."""

    order_no: str
    visit_id: int
    elder_name: str
    checked_out_at: datetime
    review_state: str

    def __str__(self) -> str:
        return (f"order {self.order_no} (visit {self.visit_id}, {self.elder_name}, checked out "
                f"{self.checked_out_at:%Y-%m-%d %H:%M} UTC): review {self.review_state}")


class PendingReviewsBlockClose(ValueError):
    """The month still has visits awaiting their review; closing needs --force."""

    def __init__(self, month: str, pending: list[PendingReview]):
        self.month, self.pending = month, pending
        super().__init__(f"{month} has {len(pending)} visits whose review is pending; "
                         f"close with --force to book their outcomes in the next open month")


@dataclass(frozen=True)
class CloseResult:
    month: str
    closed: ClosedMonth
    was_closed_already: bool
    pending: list[PendingReview]


def _counted(kind: str):
    # Each outcome transaction has exactly one leg on the pending account; count those.
    on_pending = LP.account == SUBSIDY_PENDING
    return func.sum(case((and_(on_pending, LP.kind == kind), 1),
                         (and_(on_pending, LP.kind == REVERSE + kind), -1), else_=0))


def pending_reviews(session: Session, month: str) -> list[PendingReview]:
    """Billed visits of the month (as booked so far) that have no review outcome."""
    outcomes = sum((_counted(kind) for kind in OUTCOME_ACCOUNTS), start=0)
    visits = (
        select(LP.visit_id)
        # only the pending legs count (a charge always has one): fewer rows to group
        .where(LP.service_month == month, LP.account == SUBSIDY_PENDING)
        .group_by(LP.visit_id)
        .having(and_(_counted(CHARGE) > 0, outcomes == 0))
        .subquery()
    )
    rows = session.execute(
        select(Order.order_no, Visit.id, Elder.name, Visit.checked_out_at,
               func.coalesce(CallbackReview.state, "none"))
        .select_from(visits)
        .join(Visit, Visit.id == visits.c.visit_id)
        .join(Order, Order.id == Visit.order_id)
        .join(Elder, Elder.id == Order.elder_id)
        .outerjoin(CallbackReview, CallbackReview.visit_id == Visit.id)
        .order_by(Visit.checked_out_at, Visit.id)
    )
    return [PendingReview(*row) for row in rows]


def _totals(session: Session, month: str) -> dict[str, int]:
    accounts, sources = month_totals(session, month)
    return {**accounts, **{f"source:{code}": fen for code, fen in sources.items()}}


def closed_month(session: Session, month: str) -> ClosedMonth | None:
    return session.get(ClosedMonth, month)


def closed_months(session: Session) -> list[ClosedMonth]:
    return list(session.scalars(select(ClosedMonth).order_by(ClosedMonth.month)))


def close_month(session: Session, month: str, *, policy: Policy, now: datetime,
                force: bool = False) -> CloseResult:
    """Close a month that has ended; closing it again changes nothing.

    A month with visits still awaiting their review closes only with `force`: their outcomes
    are then booked in the next open month, as adjustments naming the original charge.
    """
    month = parse_month(month)
    if not has_ended(month, now):
        raise MonthError(f"month: {month} has not ended yet (it is {month_of(now)} now)")
    existing = closed_month(session, month)
    if existing is not None:
        return CloseResult(month, existing, True, [])
    if session.get_bind().dialect.name == "postgresql":
        # Wait for postings in flight and hold new ones until this close commits; the database
        # trigger then refuses any that still name the closed month.
        session.execute(text("LOCK TABLE ledger_postings IN EXCLUSIVE MODE"))
        session.execute(text("LOCK TABLE closed_months IN EXCLUSIVE MODE"))
        existing = session.get(ClosedMonth, month, populate_existing=True)
        if existing is not None:
            return CloseResult(month, existing, True, [])
    pending = pending_reviews(session, month)
    if pending and not force:
        raise PendingReviewsBlockClose(month, pending)
    version = policy.version_for_month(month)
    closed = ClosedMonth(
        month=month, closed_at=now, is_forced=bool(pending), pending_reviews=len(pending),
        policy_version=version.name, policy_fingerprint=version.fingerprint(),
        # per account, then the subsidy per funding source (`source:<code>`)
        totals=_totals(session, month),
    )
    session.add(closed)
    session.flush()
    return CloseResult(month, closed, False, pending)
