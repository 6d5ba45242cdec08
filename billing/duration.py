"""Billing by time: an hourly item (unit 小时) is charged for the verified duration of its visit.

The duration is check-in to check-out, rounded up to the policy's unit (`[version.hourly]
unit_minutes`, e.g. started half hours; at least one unit), and capped at what was booked —
one hour, as the hotline and the console book an hourly item — unless an operator has
recorded an approval for more (`approve_duration`, from the console or `vnh visit approve-time`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from billing import charges, ledger
from billing.policy import Policy, PolicyVersion
from billing.policy_tables import HourlyRule, parse_hourly
from dispatcher.clock import local
from dispatcher.db import Base
from dispatcher.models import Item, Visit
from providers.models import Offer

HOURLY_UNIT = "小时"
BOOKED_MINUTES = 60
MAX_APPROVED_MINUTES = 24 * 60


class HourlyApproval(Base):
    """An operator's approval to bill an hourly visit for more time than was booked."""

    __tablename__ = "hourly_approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), unique=True)
    approved_minutes: Mapped[int]
    approved_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class ApprovalError(ValueError):
    """An approval that cannot be recorded: the reason says why."""


def hourly_rule(version: PolicyVersion) -> HourlyRule:
    """The version's [version.hourly] rule (the defaults when it has none)."""
    return parse_hourly(version.tables.get("hourly"))


def min_share(version: PolicyVersion) -> int:
    """The least share of its booking, in percent, a visit must last not to be held as short."""
    return hourly_rule(version).min_share_percent


def is_hourly(item: Item) -> bool:
    return item.unit == HOURLY_UNIT


def duration_minutes(checked_in_at: datetime, checked_out_at: datetime) -> int:
    """Whole minutes from check-in to check-out (never negative)."""
    return max(0, int((checked_out_at - checked_in_at).total_seconds() // 60))


def billed_minutes(duration: int, rule: HourlyRule, cap_minutes: int) -> int:
    """The duration in started units (at least one), capped at `cap_minutes`."""
    units = max(1, -(-duration // rule.unit_minutes))
    return min(units * rule.unit_minutes, cap_minutes)


def price_for_minutes(price_per_hour_fen: int, minutes: int) -> int:
    """The price of `minutes` at an hourly price, to the fen (half a fen rounds up)."""
    return (price_per_hour_fen * minutes * 2 + 60) // 120


def approved_minutes(session: Session, visit_id: int) -> int | None:
    return session.scalar(
        select(HourlyApproval.approved_minutes).where(HourlyApproval.visit_id == visit_id)
    )


def visit_price_fen(session: Session, item: Item, visit: Visit, price_fen: int,
                    policy: Policy) -> int:
    """What a checked-out visit costs: the booked price, or for an hourly item its time."""
    if not is_hourly(item) or visit.checked_in_at is None or visit.checked_out_at is None:
        return price_fen
    version = policy.version_for(local(visit.checked_out_at).date())
    cap = max(BOOKED_MINUTES, approved_minutes(session, visit.id) or 0)
    minutes = billed_minutes(duration_minutes(visit.checked_in_at, visit.checked_out_at),
                             hourly_rule(version), cap)
    return price_for_minutes(price_fen, minutes)


def approve_duration(session: Session, visit: Visit, *, minutes: int, approved_by: str,
                     reason: str, policy: Policy, now: datetime) -> HourlyApproval:
    """Record an operator's approval to bill up to `minutes`, and re-price a billed visit.

    Flush, never commit. Raise ApprovalError for a visit that is not hourly, or minutes out
    of range.
    """
    if not is_hourly(visit.order.item):
        raise ApprovalError(f"visit {visit.id}: {visit.order.item.name} is not billed by the hour")
    if not BOOKED_MINUTES < minutes <= MAX_APPROVED_MINUTES:
        raise ApprovalError(
            f"minutes: must be more than the booked {BOOKED_MINUTES} and at most "
            f"{MAX_APPROVED_MINUTES}, not {minutes}"
        )
    if not reason.strip():
        raise ApprovalError("reason: say why more time is approved")
    approval = session.scalar(select(HourlyApproval).where(HourlyApproval.visit_id == visit.id))
    if approval is None:
        approval = HourlyApproval(visit_id=visit.id, approved_minutes=minutes,
                                  approved_by=approved_by, reason=reason.strip(), created_at=now)
        session.add(approval)
    else:
        approval.approved_minutes, approval.approved_by = minutes, approved_by
        approval.reason, approval.created_at = reason.strip(), now
    session.flush()
    live = ledger.live_transactions(session, visit.id)
    if any(t.kind == ledger.CHARGE for t in live):
        hourly = _hourly_price(session, visit)
        price = visit_price_fen(session, visit.order.item, visit, hourly, policy)
        charges.correct_visit(session, visit, policy=policy, now=now, price_fen=price)
    return approval


def _hourly_price(session: Session, visit: Visit) -> int:
    return session.scalar(select(Offer.price_fen).where(
        Offer.order_id == visit.order_id, Offer.status == "accepted"))
