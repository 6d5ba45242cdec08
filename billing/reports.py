"""The bureau's reports, read from the ledger and streamed row by row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from billing.ledger import ELDER_COPAY, PROVIDER_REVENUE, SUBSIDY_PENDING
from billing.models import LedgerPosting as LP
from billing.money import fen_to_yuan
from dispatcher.clock import local
from dispatcher.identity import mask_id_number
from dispatcher.models import Elder, Item, Order, Visit
from providers.models import Provider

SUBSIDY_COLUMNS = [
    "month", "street", "community", "elder_id_masked", "elder_name", "elder_class", "order_no",
    "item_code", "item_name", "provider_code", "provider_name", "service_date", "price", "subsidy",
    "copay", "review_result",
]
BOM = "\ufeff"


def _charged(column: str):
    return func.sum(case((LP.kind == "charge", column), else_=0))


def subsidy_rows(session: Session, month: str) -> Iterator[dict]:
    """One row per billed visit of the month, amounts in fen."""
    legs = (
        select(
            LP.visit_id,
            _charged(case((LP.account == PROVIDER_REVENUE, -LP.amount_fen), else_=0)).label("price"),
            _charged(case((LP.account == SUBSIDY_PENDING, LP.amount_fen), else_=0)).label("subsidy"),
            _charged(case((LP.account == ELDER_COPAY, LP.amount_fen), else_=0)).label("copay"),
            func.max(case((LP.kind == "verify", 1), (LP.kind == "withhold", 2), else_=0)).label("outcome"),
            func.max(LP.elder_class).label("elder_class"),
        )
        .where(LP.month == month)
        .group_by(LP.visit_id)
        .subquery()
    )
    stmt = (
        select(legs, Visit.checked_out_at, Order.order_no, Elder, Item.code.label("item_code"),
               Item.name.label("item_name"), Provider.code.label("provider_code"),
               Provider.name.label("provider_name"))
        .join(Visit, Visit.id == legs.c.visit_id)
        .join(Order, Order.id == Visit.order_id)
        .join(Elder, Elder.id == Order.elder_id)
        .join(Item, Item.id == Order.item_id)
        .join(Provider, Provider.id == Visit.provider_id)
        .order_by(Visit.checked_out_at, Visit.id)
    )
    outcomes = {0: "pending", 1: "verified", 2: "denied"}
    for row in session.execute(stmt).yield_per(1000):
        elder = row.Elder
        yield {
            "month": month, "street": elder.street, "community": elder.community,
            "elder_id_masked": mask_id_number(elder.id_number), "elder_name": elder.name,
            "elder_class": row.elder_class, "order_no": row.order_no, "item_code": row.item_code,
            "item_name": row.item_name, "provider_code": row.provider_code,
            "provider_name": row.provider_name,
            "service_date": f"{local(row.checked_out_at):%Y-%m-%d}", "price": row.price,
            "subsidy": row.subsidy, "copay": row.copay, "review_result": outcomes[row.outcome],
        }


def _yuan_row(row: dict) -> list:
    return [fen_to_yuan(row[c]) if c in ("price", "subsidy", "copay") else _neutralise(row[c])
            for c in SUBSIDY_COLUMNS]


def subsidy_csv_lines(session: Session, month: str) -> Iterator[str]:
    """The subsidy detail as CSV text, UTF-8 with a BOM so Excel shows the Chinese."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(SUBSIDY_COLUMNS)
    yield BOM + buffer.getvalue()
    for row in subsidy_rows(session, month):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(_yuan_row(row))
        yield buffer.getvalue()


def _neutralise(value):
    # A text cell starting with = + - @ would run as a formula in Excel.
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


def write_subsidy_csv(session: Session, month: str, path: Path) -> int:
    """Write the subsidy detail to `path`; return the number of visit rows."""
    count = -1
    with open(path, "w", encoding="utf-8", newline="") as out:
        for line in subsidy_csv_lines(session, month):
            out.write(line)
            count += 1
    return count
