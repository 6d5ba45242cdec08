"""The report for the body that funds one source: every visit it paid for in the month.

`vnh report source --source national_voucher --month M` — the central voucher reconciles
against this, the city against its own, each to the fen.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from billing.exports import Column, Table
from billing.ledger import SUBSIDY_ACCOUNTS, SUBSIDY_PAYABLE, SUBSIDY_PENDING, SUBSIDY_WITHHELD
from billing.models import LedgerPosting as LP
from dispatcher.clock import local
from dispatcher.enrollment.identity import mask_id_number
from dispatcher.models import Elder, Item, Order, Visit
from providers.models import Provider

SOURCE_MONEY = ("price", "source_subsidy", "source_payable", "source_withheld", "source_pending")
SOURCE_COLUMNS = [
    "month", "source", "street", "community", "elder_id_masked", "elder_name", "elder_class",
    "order_no", "item_code", "item_name", "provider_code", "provider_name", "service_date",
    *SOURCE_MONEY, "entry", "adjusts_month",
]
_WIDTHS = {"street": 16, "community": 16, "elder_id_masked": 21, "order_no": 17,
           "item_name": 14, "provider_name": 24, "service_date": 12, "source": 18}
SOURCE_DETAIL = [Column(c, "money" if c in SOURCE_MONEY else "text",
                        _WIDTHS.get(c, 14 if c in SOURCE_MONEY else 12)) for c in SOURCE_COLUMNS]


def _sum(month: str, source: str, accounts, sign: int = 1):
    return func.coalesce(func.sum(case(
        (and_(LP.month == month, LP.source == source, LP.account.in_(accounts)),
         LP.amount_fen * sign), else_=0)), 0)


def source_rows(session: Session, month: str, source: str) -> Iterator[tuple]:
    """One row per visit with a posting of `source` booked in the month, amounts in fen."""
    touched = select(LP.visit_id).where(LP.month == month, LP.source == source,
                                        LP.account.in_(SUBSIDY_ACCOUNTS))
    a = (
        select(LP.visit_id,
               func.coalesce(func.sum(case((and_(LP.month == month, LP.account ==
                                                 "provider_revenue"), -LP.amount_fen),
                                           else_=0)), 0).label("price"),
               _sum(month, source, SUBSIDY_ACCOUNTS).label("subsidy"),
               _sum(month, source, (SUBSIDY_PAYABLE,)).label("payable"),
               _sum(month, source, (SUBSIDY_WITHHELD,)).label("withheld"),
               _sum(month, source, (SUBSIDY_PENDING,)).label("pending"),
               func.max(LP.service_month).label("service_month"),
               func.max(case((LP.month == month, LP.elder_class))).label("elder_class"))
        .where(LP.month == month, LP.visit_id.in_(touched))
        .group_by(LP.visit_id)
        .subquery()
    )
    stmt = (
        select(a.c.price, a.c.subsidy, a.c.payable, a.c.withheld, a.c.pending,
               a.c.service_month, a.c.elder_class, Visit.checked_out_at, Order.order_no,
               Elder.id_number, Elder.name, Elder.street, Elder.community, Item.code, Item.name,
               Provider.code, Provider.name)
        .join(Visit, Visit.id == a.c.visit_id)
        .join(Order, Order.id == Visit.order_id)
        .join(Elder, Elder.id == Order.elder_id)
        .join(Item, Item.id == Order.item_id)
        .join(Provider, Provider.id == Visit.provider_id)
        .order_by(a.c.service_month, Visit.checked_out_at, Visit.id)
        .execution_options(yield_per=5000)
    )
    for (price, subsidy, payable, withheld, pending, service_month, elder_class, checked_out_at,
         order_no, id_number, name, street, community, item_code, item_name, provider_code,
         provider_name) in session.connection().execute(stmt):
        own = service_month == month
        yield (month, source, street, community, mask_id_number(id_number), name, elder_class,
               order_no, item_code, item_name, provider_code, provider_name,
               local(checked_out_at).date().isoformat(), price, subsidy, payable, withheld,
               pending, "visit" if own else "adjustment", "" if own else service_month)


def source_tables(session: Session, month: str, source: str) -> list[Table]:
    return [Table(f"资金来源 {source} {month}", SOURCE_DETAIL, source_rows(session, month, source))]


def known_sources(session: Session) -> list[str]:
    """Every funding source named on a subsidy posting so far."""
    return sorted(session.scalars(select(LP.source).distinct()
                                  .where(LP.account.in_(SUBSIDY_ACCOUNTS))))
