"""Versioned market prices: a change takes effect on a date and never rewrites a closed month.

An item with no versions has the price on its row (`Item.market_price_fen`) on every day. The
first change records that price as the version it replaces, from `BASE_DAY`, so the days before
the change keep it. The row keeps the price in force when the catalogue was last changed; a
reader that needs the price on a given day (billing, reports) asks `market_price_on`.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.models import ClosedMonth
from dispatcher.catalogue.models import ItemPriceVersion
from dispatcher.enrollment.models import AuditEntry
from dispatcher.models import Item

BASE_DAY = date(2000, 1, 1)


class PriceChangeError(ValueError):
    """A price change that cannot be made, with the reason (and `words`, the reason in Chinese)."""

    def __init__(self, reason: str, words: str):
        super().__init__(reason)
        self.words = words


@dataclass(frozen=True)
class PriceVersion:
    effective_on: date
    market_price_fen: int
    created_by: str
    reason: str


def market_price_on(session: Session, item: Item, day: date) -> int:
    """The item's market price in fen valid on `day`."""
    fen = session.scalar(
        select(ItemPriceVersion.market_price_fen)
        .where(ItemPriceVersion.item_id == item.id, ItemPriceVersion.effective_on <= day)
        .order_by(ItemPriceVersion.effective_on.desc()).limit(1)
    )
    return item.market_price_fen if fen is None else fen


def market_prices_on(session: Session, day: date) -> dict[int, int]:
    """{item id: market price in fen on `day`} for every item, in two statements."""
    prices = dict(session.execute(select(Item.id, Item.market_price_fen)).all())
    latest = (select(ItemPriceVersion.item_id, func.max(ItemPriceVersion.effective_on).label("on"))
              .where(ItemPriceVersion.effective_on <= day).group_by(ItemPriceVersion.item_id).subquery())
    prices.update(session.execute(
        select(ItemPriceVersion.item_id, ItemPriceVersion.market_price_fen)
        .join(latest, (latest.c.item_id == ItemPriceVersion.item_id) & (latest.c.on == ItemPriceVersion.effective_on))
    ).all())
    return prices


def price_versions(session: Session, item: Item) -> list[PriceVersion]:
    """The item's price history, oldest first (empty while the price has never changed)."""
    return [PriceVersion(v.effective_on, v.market_price_fen, v.created_by, v.reason)
            for v in session.scalars(select(ItemPriceVersion).where(ItemPriceVersion.item_id == item.id)
                                     .order_by(ItemPriceVersion.effective_on))]


def last_closed_day(session: Session) -> date | None:
    """The last day of the latest closed month, or None while no month is closed."""
    month = session.scalar(select(func.max(ClosedMonth.month)))
    if month is None:
        return None
    year, number = int(month[:4]), int(month[5:7])
    return date(year, number, calendar.monthrange(year, number)[1])


def change_price(session: Session, item: Item, price_fen: int, effective_on: date, *, today: date,
                 now: datetime, actor: str, reason: str = "") -> None:
    """Set the item's market price from `effective_on`; refuse a day inside a closed month."""
    if price_fen < 0:
        raise PriceChangeError("the market price cannot be negative", "市场价不能为负数")
    if item.is_free is False and price_fen == 0:
        raise PriceChangeError(f"{item.code} is not free: its market price must be more than 0",
                               "收费项目的市场价须大于0")
    closed = last_closed_day(session)
    if closed is not None and effective_on <= closed:
        first = date.fromordinal(closed.toordinal() + 1)
        raise PriceChangeError(
            f"{effective_on} is in a closed month (closed up to {closed}): a price change takes "
            f"effect from {first} at the earliest",
            f"{effective_on}所在月份已结账（结账至{closed}），调价最早自{first}起生效",
        )
    versions = {v.effective_on: v for v in session.scalars(
        select(ItemPriceVersion).where(ItemPriceVersion.item_id == item.id))}
    if not versions:
        session.add(ItemPriceVersion(item_id=item.id, effective_on=BASE_DAY, market_price_fen=item.market_price_fen,
                                     created_at=now, created_by=actor, reason="价格变更前的价格"))
    before = market_price_on(session, item, effective_on) if versions else item.market_price_fen
    version = versions.get(effective_on)
    if version is None:
        version = ItemPriceVersion(item_id=item.id, effective_on=effective_on, created_at=now)
        session.add(version)
    version.market_price_fen, version.created_by, version.reason = price_fen, actor, reason[:200]
    session.flush()
    item.market_price_fen = market_price_on(session, item, today)
    session.add(AuditEntry(created_at=now, actor=actor, entity="item", entity_key=item.code, action="price",
                           changes={"market_price_fen": [before, price_fen], "effective_on": effective_on.isoformat(),
                                    "reason": reason}))
    session.flush()
