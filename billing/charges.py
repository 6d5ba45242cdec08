"""Price a visit under the policy in force for its month, and correct a visit already booked."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from billing import ledger
from billing.eligibility import facts_on
from billing.months import first_day, month_of, next_month, previous_month
from billing.policy import Charge, Policy, PolicyVersion, split_charge
from dispatcher.clock import local
from dispatcher.models import Elder, Item, Visit


def last_day(month: str) -> date:
    return first_day(next_month(month)) - timedelta(days=1)


def carried_over(session: Session, elder: Elder, month: str, policy: Policy) -> int:
    """Last month's unused allowance, if the month's version rolls it over (one month only)."""
    if not policy.version_for_month(month).rollover:
        return 0
    before = previous_month(month)
    try:
        version = policy.version_for_month(before)
    except ValueError:
        return 0
    facts = facts_on(session, elder, last_day(before), policy=policy)
    allowance = version.allowance_fen(facts.elder_class, facts.disability_level or "")
    return max(0, allowance - ledger.subsidy_used(session, elder.id, before))


def charge_for_month(session: Session, *, elder: Elder, item: Item, price_fen: int,
                     policy: Policy, month: str,
                     exclude_visit_id: int | None = None,
                     day: date | None = None) -> tuple[Charge, PolicyVersion]:
    """Split a price for the elder under the month's version, cap and what the month used.

    The elder's class and disability level are their facts on `day` (the visit's date; the
    month's first day when not given).
    """
    facts = facts_on(session, elder, day or first_day(month), policy=policy)
    version = policy.version_for_month(month)
    price = 0 if item.is_free or item.code in version.free_items else price_fen
    used = ledger.subsidy_used(session, elder.id, month, exclude_visit_id)
    carried = carried_over(session, elder, month, policy)
    charge = split_charge(price, version, facts.elder_class, facts.disability_level or "", used,
                          carried)
    return charge, version


def ref_for(visit: Visit) -> ledger.VisitRef:
    order = visit.order
    return ledger.VisitRef(
        order_id=order.id, visit_id=visit.id, elder_id=order.elder_id,
        provider_id=visit.provider_id, elder_class=order.elder.elder_class,
        month=month_of(visit.checked_out_at),
    )


def correct_visit(session: Session, visit: Visit, *, policy: Policy, now: datetime,
                  price_fen: int | None = None, did_come: bool | None = None) -> Charge:
    """Re-price a booked visit (a new price, or a new review outcome) as reversal + new entry.

    The split is worked again under its month's version with what the elder's other visits of
    that month use, so a visit restored after a denial never takes the elder past the cap.
    Anything for a closed month is booked in the next open month as an adjustment.
    """
    live = ledger.live_transactions(session, visit.id)
    charges = [t for t in live if t.kind == ledger.CHARGE]
    if not charges:
        raise ledger.LedgerError(f"visit {visit.id} has no charge to correct")
    price = -charges[-1].legs[ledger.PROVIDER_REVENUE] if price_fen is None else price_fen
    if price < 0:
        raise ledger.LedgerError(f"price_fen: must not be negative, got {price}")
    outcome = ledger.visit_outcome(session, visit.id)
    if did_come is not None:
        outcome = ledger.VERIFY if did_come else ledger.WITHHOLD
    ref = ref_for(visit)
    charge, version = charge_for_month(session, elder=visit.order.elder, item=visit.order.item,
                                       price_fen=price, policy=policy, month=ref.month,
                                       exclude_visit_id=visit.id,
                                       day=local(visit.checked_out_at).date())
    ledger.rebook_visit(session, ref, price_fen=charge.price_fen, subsidy_fen=charge.subsidy_fen,
                        copay_fen=charge.copay_fen, outcome=outcome,
                        policy_version=version.name, now=now)
    return charge
