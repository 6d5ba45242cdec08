"""The bureau's reports, read from the ledger and streamed row by row.

A month's report shows what was booked in that month: one row per visit of the month, and one
adjustment row per earlier visit whose late outcome or correction was booked in it. A closed
month's bookings never change, so neither do its reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from billing.exports import Column, Table, csv_lines, write_csv
from billing.ledger import (
    ELDER_COPAY,
    PROVIDER_REVENUE,
    REVERSE,
    SUBSIDY_ACCOUNTS,
    SUBSIDY_PAYABLE,
    SUBSIDY_PENDING,
    SUBSIDY_WITHHELD,
    VERIFY,
    WITHHOLD,
)
from billing.models import LedgerPosting as LP
from dispatcher.clock import local
from dispatcher.consoles.scope import Area, scope_filter
from dispatcher.enrollment.identity import mask_id_number
from dispatcher.models import Category, Elder, Item, Order, Visit
from providers.models import Provider

MONEY = ("price", "subsidy", "copay", "payable", "withheld", "pending")
SUBSIDY_COLUMNS = [
    "month", "street", "community", "elder_id_masked", "elder_name", "elder_class", "order_no",
    "item_code", "item_name", "provider_code", "provider_name", "service_date", "price", "subsidy",
    "copay", "review_result", "payable", "withheld", "pending", "entry", "adjusts_month",
]
_WIDTHS = {"street": 16, "community": 16, "elder_id_masked": 21, "order_no": 17,
           "item_name": 14, "provider_name": 24, "service_date": 12}
DETAIL = [Column(c, "money" if c in MONEY else "text", _WIDTHS.get(c, 10 if c in MONEY else 12))
          for c in SUBSIDY_COLUMNS]
METRICS = [Column("visits", "count", 9), Column("adjustments", "count", 11),
           Column("elders", "count", 9)] + [Column(m, "money", 14) for m in MONEY]
SUMMARY = [Column("dimension", width=12), Column("group_code", width=24),
           Column("group_name", width=24)] + METRICS
SETTLEMENT = [Column("month", width=9), Column("provider_code", width=12),
              Column("provider_name", width=26), Column("visits", "count", 9),
              Column("verified", "count", 9), Column("denied", "count", 9),
              Column("pending_reviews", "count", 14), Column("adjustments", "count", 11),
              *(Column(m, "money", 14) for m in MONEY),
              Column("adjustment_payable", "money", 18)]
SOURCES_COLUMN = Column("funding_sources", width=28)
SOURCE_PREFIX = "subsidy_"


def month_sources(session: Session, month: str) -> list[str]:
    """The funding sources of the subsidy booked in the month, in name order; a closed month's
    never change, so neither do its reports' columns."""
    return sorted(session.scalars(
        select(LP.source).distinct().where(LP.month == month, LP.account.in_(SUBSIDY_ACCOUNTS),
                                           LP.amount_fen != 0)))


def source_columns(sources: list[str]) -> list[Column]:
    """One money column per funding source: `subsidy_<source>`."""
    return [Column(SOURCE_PREFIX + source, "money", 16) for source in sources]


def named_sources(sources: list[str], amounts) -> str:
    """The sources that paid, in column order: `national_voucher;city_class`."""
    return ";".join(source for source, fen in zip(sources, amounts, strict=True) if fen)


DIMENSIONS = {"street": "街道", "community": "社区", "category": "服务类别",
              "elder_class": "老人类别", "provider": "服务商"}


def _booked(month: str, account: str, sign: int = 1):
    return func.coalesce(func.sum(case(
        (and_(LP.month == month, LP.account == account), LP.amount_fen * sign), else_=0)), 0)


def _standing(kind: str):
    on_pending = LP.account == SUBSIDY_PENDING
    return func.sum(case((and_(on_pending, LP.kind == kind), 1),
                         (and_(on_pending, LP.kind == REVERSE + kind), -1), else_=0))


def _by_source(month: str, source: str):
    return func.coalesce(func.sum(case(
        (and_(LP.month == month, LP.account.in_(SUBSIDY_ACCOUNTS), LP.source == source),
         LP.amount_fen), else_=0)), 0)


def visit_amounts(month: str, provider_id: int | None = None, area: Area | None = None,
                  sources: list[str] = ()):
    """Per visit with postings booked in the month (of one provider, and of one area's elders, if
    given): its amounts booked in the month, in fen, and its review outcome as booked up to the
    month's end; then the subsidy booked per funding source, `source_0`… in `sources` order."""
    touched = select(LP.visit_id).where(LP.month == month, scope_filter(area, LP.elder_id))
    if provider_id is not None:
        touched = touched.where(LP.visit_id.in_(select(Visit.id).where(Visit.provider_id == provider_id)))
    return (
        select(
            LP.visit_id,
            _booked(month, PROVIDER_REVENUE, -1).label("price"),
            _booked(month, ELDER_COPAY).label("copay"),
            _booked(month, SUBSIDY_PENDING).label("pending"),
            _booked(month, SUBSIDY_PAYABLE).label("payable"),
            _booked(month, SUBSIDY_WITHHELD).label("withheld"),
            _standing(VERIFY).label("verified"),
            _standing(WITHHOLD).label("denied"),
            func.max(LP.service_month).label("service_month"),
            func.max(case((LP.month == month, LP.elder_class))).label("elder_class"),
            *(_by_source(month, source).label(f"source_{i}") for i, source in enumerate(sources)),
        )
        .where(LP.month <= month, LP.visit_id.in_(touched))
        .group_by(LP.visit_id)
        .subquery()
    )


def _result(verified: int, denied: int) -> str:
    if verified > 0:
        return "verified"
    return "denied" if denied > 0 else "pending"


def subsidy_rows(session: Session, month: str, provider_id: int | None = None,
                 area: Area | None = None, sources: list[str] | None = None) -> Iterator[tuple]:
    """The subsidy detail: one row per visit booked in the month (of one provider, of one area, if
    given), values in SUBSIDY_COLUMNS order, amounts in fen; given `sources`, then the names of
    the sources that paid and the subsidy of each source."""
    a = visit_amounts(month, provider_id, area, sources or ())
    split = [a.c[f"source_{i}"] for i in range(len(sources or ()))]
    stmt = (
        select(a.c.price, a.c.copay, a.c.pending, a.c.payable, a.c.withheld, a.c.verified,
               a.c.denied, a.c.service_month, a.c.elder_class, Visit.checked_out_at,
               Order.order_no, Elder.id_number, Elder.name, Elder.street, Elder.community,
               Item.code, Item.name, Provider.code, Provider.name, *split)
        .join(Visit, Visit.id == a.c.visit_id)
        .join(Order, Order.id == Visit.order_id)
        .join(Elder, Elder.id == Order.elder_id)
        .join(Item, Item.id == Order.item_id)
        .join(Provider, Provider.id == Visit.provider_id)
        .order_by(a.c.service_month, Visit.checked_out_at, Visit.id)
        .execution_options(yield_per=5000)
    )
    # Core rows, not ORM ones: the ORM's per-row bookkeeping costs more than the row itself.
    for (price, copay, pending, payable, withheld, verified, denied, service_month, elder_class,
         checked_out_at, order_no, id_number, name, street, community, item_code, item_name,
         provider_code, provider_name, *amounts) in session.connection().execute(stmt):
        own = service_month == month
        row = (month, street, community, mask_id_number(id_number), name, elder_class, order_no,
               item_code, item_name, provider_code, provider_name,
               local(checked_out_at).date().isoformat(), price, pending + payable + withheld,
               copay, _result(verified, denied), payable, withheld, pending,
               "visit" if own else "adjustment", "" if own else service_month)
        if sources is not None:
            row = (*row, named_sources(sources, amounts), *amounts)
        yield row


def subsidy_tables(session: Session, month: str, area: Area | None = None) -> list[Table]:
    sources = month_sources(session, month)
    return [Table(f"补贴明细 {month}", [*DETAIL, SOURCES_COLUMN, *source_columns(sources)],
                  subsidy_rows(session, month, area=area, sources=sources))]


@dataclass
class Tally:
    """Counts and fen sums of one group of detail rows."""

    visits: int = 0
    adjustments: int = 0
    elders: set = field(default_factory=set)
    verified: int = 0
    denied: int = 0
    pending_reviews: int = 0
    money: dict = field(default_factory=lambda: dict.fromkeys(MONEY, 0))
    adjustment_payable: int = 0
    by_source: dict = field(default_factory=dict)

    def add(self, row) -> None:
        if row.service_month == row.month:
            self.visits += 1
            self.elders.add(row.elder_id)
            result = _result(row.verified, row.denied)
            self.verified += result == "verified"
            self.denied += result == "denied"
            self.pending_reviews += result == "pending"
        else:
            self.adjustments += 1
            self.adjustment_payable += row.payable
        # Spelled out, not looped over MONEY: this runs five times per visit of the month.
        money = self.money
        money["price"] += row.price
        money["subsidy"] += row.subsidy
        money["copay"] += row.copay
        money["payable"] += row.payable
        money["withheld"] += row.withheld
        money["pending"] += row.pending
        if row.by_source:
            mine = self.by_source
            for source, fen in row.by_source.items():
                mine[source] = mine.get(source, 0) + fen

    def as_row(self, sources: list[str] = ()) -> dict:
        return {"visits": self.visits, "adjustments": self.adjustments,
                "elders": len(self.elders), "verified": self.verified, "denied": self.denied,
                "pending_reviews": self.pending_reviews,
                "adjustment_payable": self.adjustment_payable, **self.money,
                **{SOURCE_PREFIX + s: self.by_source.get(s, 0) for s in sources}}


@dataclass(frozen=True)
class _KeyedRow:
    month: str
    service_month: str
    elder_id: int
    verified: int
    denied: int
    price: int
    copay: int
    pending: int
    payable: int
    withheld: int
    subsidy: int
    keys: dict
    by_source: dict


def _keyed_rows(session: Session, month: str, provider_id: int | None = None,
                area: Area | None = None, sources: list[str] = ()) -> Iterator[_KeyedRow]:
    a = visit_amounts(month, provider_id, area, sources)
    stmt = (
        select(a, Elder.id, Elder.street, Elder.community, Category.code, Category.name,
               Provider.code, Provider.name)
        .join(Visit, Visit.id == a.c.visit_id)
        .join(Order, Order.id == Visit.order_id)
        .join(Elder, Elder.id == Order.elder_id)
        .join(Item, Item.id == Order.item_id)
        .join(Category, Category.id == Item.category_id)
        .join(Provider, Provider.id == Visit.provider_id)
    )
    for row in session.execute(stmt).yield_per(5000):
        (_, price, copay, pending, payable, withheld, verified, denied, service_month,
         elder_class, *rest) = row
        amounts, rest = rest[:len(sources)], rest[len(sources):]
        (elder_id, street, community, category_code, category_name, provider_code,
         provider_name) = rest
        yield _KeyedRow(month, service_month, elder_id, verified, denied, price, copay, pending,
                        payable, withheld, pending + payable + withheld, {
                            "street": (street, street),
                            "community": (f"{street}/{community}", community),
                            "category": (category_code, category_name),
                            "elder_class": (elder_class, elder_class),
                            "provider": (provider_code, provider_name),
                        }, {s: fen for s, fen in zip(sources, amounts, strict=True) if fen})


def tallies(session: Session, month: str, provider_id: int | None = None,
            area: Area | None = None, sources: list[str] = ()) -> dict[str, dict[tuple[str, str], Tally]]:
    """One pass over the month (one provider's or one area's visits, if given): a tally per group
    of each dimension, with the subsidy of each of `sources`."""
    found: dict[str, dict[tuple[str, str], Tally]] = {d: {} for d in DIMENSIONS}
    for row in _keyed_rows(session, month, provider_id, area, sources):
        for dimension, key in row.keys.items():
            found[dimension].setdefault(key, Tally()).add(row)
    return found


def summary_tables(session: Session, month: str, area: Area | None = None,
                   by: dict | None = None) -> list[Table]:
    """The month by street, community, category, elder class and provider: a table each
    (from `by`, the month's tallies, if already counted)."""
    sources = month_sources(session, month)
    by = tallies(session, month, area=area, sources=sources) if by is None else by
    return [
        Table.from_records(f"{title} {month}", [*SUMMARY, *source_columns(sources)], [
            {"dimension": dimension, "group_code": code, "group_name": name,
             **tally.as_row(sources)}
            for (code, name), tally in sorted(by[dimension].items())
        ])
        for dimension, title in DIMENSIONS.items()
    ]


def settlement_tables(session: Session, month: str, provider_id: int | None = None,
                      area: Area | None = None, by: dict | None = None) -> list[Table]:
    """Per provider (or the one given): visits and their outcomes (of one area's elders, if
    given), and what the bureau owes for the month."""
    sources = month_sources(session, month)
    if by is None:
        by = tallies(session, month, provider_id, area, sources)
    return [Table.from_records(f"服务商结算 {month}", [*SETTLEMENT, *source_columns(sources)], [
        {"month": month, "provider_code": code, "provider_name": name,
         **tally.as_row(sources)}
        for (code, name), tally in sorted(by["provider"].items())
    ])]


REPORTS = {"subsidy": subsidy_tables, "summary": summary_tables, "settlement": settlement_tables}


def report_tables(session: Session, kind: str, month: str, area: Area | None = None) -> list[Table]:
    """The tables of the report `kind` (subsidy, summary or settlement) for the month, of one
    area's elders if given (a street or community worker's download)."""
    if kind not in REPORTS:
        raise ValueError(f"report: must be one of {', '.join(REPORTS)}, not {kind!r}")
    return REPORTS[kind](session, month, area=area)


def subsidy_csv_lines(session: Session, month: str) -> Iterator[str]:
    """The subsidy detail as CSV text, UTF-8 with a BOM so Excel shows the Chinese."""
    return csv_lines(subsidy_tables(session, month))


def write_subsidy_csv(session: Session, month: str, path: Path) -> int:
    """Write the subsidy detail to `path`; return the number of rows."""
    return write_csv(subsidy_tables(session, month), path)
