"""Price a visit under the policy in force for its month, and correct a visit already booked."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from billing import ledger
from billing.eligibility import facts_on
from billing.months import first_day, month_of, next_month, previous_month
from billing.policy import (
    Charge,
    Policy,
    PolicyVersion,
    UnknownElderClass,
    legacy_parts,
    split_charge,
)
from billing.sources import split_by_sources
from dispatcher.clock import local
from dispatcher.models import Elder, Item, Visit


def last_day(month: str) -> date:
    return first_day(next_month(month)) - timedelta(days=1)


def is_free(item: Item, version: PolicyVersion) -> bool:
    """Free to the elder: the catalogue or the policy version says so; the government pays."""
    return item.is_free or item.code in version.free_items


def carried_over(session: Session, elder: Elder, month: str, policy: Policy) -> int:
    """Last month's unused allowance, if the month's version rolls it over (one month only)."""
    if not policy.version_for_month(month).rollover:
        return 0
    before = previous_month(month)
    try:
        version = policy.version_for_month(before)
    except ValueError:
        return 0
    if version.funding is not None:
        return 0
    facts = facts_on(session, elder, last_day(before), policy=policy)
    allowance = version.allowance_fen(facts.elder_class, facts.disability_level or "")
    return max(0, allowance - ledger.subsidy_used(session, elder.id, before))


def carried_by_source(session: Session, elder: Elder, month: str,
                      policy: Policy) -> dict[str, int]:
    """Per source, last month's unused cap, if the month's version rolls it over (one month)."""
    if not policy.version_for_month(month).rollover:
        return {}
    before = previous_month(month)
    try:
        version = policy.version_for_month(before)
    except ValueError:
        return {}
    if version.funding is None:  # a version before sources kept one pot: nothing to carry
        return {}
    facts = facts_on(session, elder, first_day(month) - timedelta(days=1), policy=policy)
    used = ledger.subsidy_used_by_source(session, elder.id, before)
    carried = {}
    for code in version.funding.order:
        cap = version.funding.cap_for(code, facts)
        if cap:
            carried[code] = max(0, cap - used.get(code, 0))
    return carried


def charge_for_month(session: Session, *, elder: Elder, item: Item, price_fen: int,
                     policy: Policy, month: str, exclude_visit_id: int | None = None,
                     day: date | None = None) -> tuple[Charge, PolicyVersion]:
    """Split a price for the elder under the month's version, caps and what the month used.

    A free item keeps its contracted price: the elder pays nothing and the government all.
    Under a version with funding sources the subsidy is split across them, each within its
    own monthly cap, on the elder's facts on `day` (the visit's local day; the month's first
    day if not given).
    """
    version = policy.version_for_month(month)
    free = is_free(item, version)
    if day is None or month_of_day(day) != month:
        day = first_day(month)
    facts = facts_on(session, elder, day, policy=policy)
    if version.funding is None:
        used = ledger.subsidy_used(session, elder.id, month, exclude_visit_id)
        carried = carried_over(session, elder, month, policy)
        if free:  # paid whole by the city, outside the elder's monthly pot
            version.entitlements_for(facts.elder_class, facts.disability_level or "")
            parts = (("city_free", price_fen),) if price_fen else ()
            return Charge(price_fen, price_fen, 0, "free", parts), version
        charge = split_charge(price_fen, version, facts.elder_class, facts.disability_level or "",
                              used, carried)
        return legacy_parts(charge), version
    if price_fen < 0:
        raise ValueError(f"price_fen: the price must not be negative, got {price_fen}")
    if facts.elder_class not in version.classes:
        raise UnknownElderClass(f"elder_class: {facts.elder_class!r} is not a class of policy "
                                f"version {version.name!r}" if facts.elder_class else
                                "elder_class: the elder has no subsidy class")
    used = ledger.subsidy_used_by_source(session, elder.id, month, exclude_visit_id)
    carried = carried_by_source(session, elder, month, policy)
    parts, copay = split_by_sources(price_fen, version.funding, facts, is_free=free, used=used,
                                    carried=carried)
    subsidy = price_fen - copay
    source = "free" if free else (parts[0][0] if parts else "elder")
    return Charge(price_fen, subsidy, copay, source, parts), version


def month_of_day(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


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
                        policy_version=version.name, now=now, parts=charge.parts)
    return charge
