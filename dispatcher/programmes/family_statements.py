"""The monthly statement to the family members who opted in (issue 18): visits and co-pay of the month."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.reports import SUBSIDY_COLUMNS, subsidy_rows
from dispatcher.config import Settings
from dispatcher.models import Elder, FamilyMember, Order
from dispatcher.texts import yuan_words
from telephony.outbox import enqueue_notice


def send_statements(session: Session, month: str, settings: Settings, now: datetime) -> int:
    """Tell each opted-in family member how many visits their elder had in `month` and the co-pay;
    once per member and month (a second run sends nothing more). Returns how many were told."""
    visits: dict[str, int] = defaultdict(int)
    copay: dict[str, int] = defaultdict(int)
    for row in subsidy_rows(session, month):
        record = dict(zip(SUBSIDY_COLUMNS, row, strict=False))
        visits[record["order_no"]] += 1
        copay[record["order_no"]] += record["copay"] or 0
    per_elder: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for order_no, elder_id in session.execute(select(Order.order_no, Order.elder_id)
                                              .where(Order.order_no.in_(list(visits)))):
        per_elder[elder_id][0] += 1
        per_elder[elder_id][1] += copay[order_no]
    told = 0
    members = session.scalars(select(FamilyMember).where(FamilyMember.wants_statement.is_(True))
                              .order_by(FamilyMember.id))
    for member in members:
        count, fen = per_elder.get(member.elder_id, (0, 0))
        elder = session.get(Elder, member.elder_id)
        enqueue_notice(session, to=member.phone, purpose="family_statement",
                       dedupe_key=f"family_statement:{month}:{member.id}", from_=settings.hotline_number,
                       now=now, public_url=settings.public_url,
                       params={"contact_name": member.name, "elder_name": elder.name,
                               "month": f"{int(month[5:])}月", "count": count, "amount": yuan_words(fen)})
        told += 1
    return told
