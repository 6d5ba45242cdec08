"""The service catalogue: seeded from a data file, kept in the database, read by the hotline as a snapshot."""

from __future__ import annotations

import threading
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.money import fen_to_yuan, yuan_to_fen
from dispatcher.catalogue.prices import market_prices_on
from dispatcher.models import Category, Item, Order

CATALOGUE_FILE = Path(__file__).parent.parent / "data" / "catalogue.toml"


PLACES = ("home", "delivered", "venue", "phone")


def load_catalogue(session: Session, path: Path = CATALOGUE_FILE) -> int:
    """Add every category and item of the catalogue file not yet in the database; return its size.

    Items already there are left as the administrator keeps them (edited in the console or by
    `vnh import catalogue`): the file seeds the catalogue, it does not own it.
    """
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    categories = {c.code: c for c in session.scalars(select(Category))}
    items = {i.code: i for i in session.scalars(select(Item))}
    last = {}
    for item in items.values():
        last[item.category_id] = max(last.get(item.category_id, 0), item.position)
    count = 0
    for position, entry in enumerate(data["category"], 1):
        category = categories.get(entry["code"])
        if category is None:
            category = Category(code=entry["code"], name=entry["name"], position=position)
            session.add(category)
            session.flush()
        for raw in entry["item"]:
            count += 1
            if (old := items.get(raw["code"])) is not None:
                # Where it happens came with migration 0021: fill it once where it is still the default.
                if old.place == "home" and old.venue is None and raw.get("place", "home") != "home":
                    old.place, old.venue = raw["place"], raw.get("venue") or None
                continue
            last[category.id] = last.get(category.id, 0) + 1
            session.add(Item(
                code=raw["code"], category=category, name=raw["name"], unit=raw["unit"],
                market_price_fen=yuan_to_fen(raw["market_price_yuan"]), is_free=raw["free"],
                is_emergency=raw["emergency"], position=last[category.id],
                synonyms=list(raw["synonyms"]), place=raw.get("place", "home"),
                venue=raw.get("venue") or None,
            ))  # fmt: skip
    session.flush()
    return count


def catalogue_rows(session: Session, day: date | None = None) -> list[dict]:
    """The catalogue as rows for `vnh catalogue`, with each item's market price on `day`."""
    rows = session.execute(
        select(Category, Item).join(Item).order_by(Category.position, Item.position)
    ).all()
    prices = market_prices_on(session, day) if day is not None else {}
    return [
        {
            "category_code": c.code,
            "category_name": c.name,
            "item_code": i.code,
            "name": i.name,
            "unit": i.unit,
            "market_price_yuan": fen_to_yuan(prices.get(i.id, i.market_price_fen)),
            "is_free": i.is_free,
            "is_emergency": i.is_emergency,
            "place": i.place,
            "venue": i.venue or "",
            "synonyms": list(i.synonyms),
        }
        for c, i in rows
    ]


@dataclass(frozen=True)
class ItemEntry:
    id: int
    code: str
    name: str
    category_code: str
    position: int
    synonyms: tuple[str, ...]


@dataclass(frozen=True)
class CategoryEntry:
    id: int
    code: str
    name: str
    position: int
    items: tuple[ItemEntry, ...]
    # The items as the phone menu reads them: the most booked first, then by position.
    menu: tuple[ItemEntry, ...] = ()

    def __post_init__(self):
        if not self.menu:
            object.__setattr__(self, "menu", self.items)


@dataclass(frozen=True)
class CatalogueSnapshot:
    """The catalogue as plain values, read once and shared by every call the hotline answers."""

    categories: tuple[CategoryEntry, ...]

    def category(self, code: str) -> CategoryEntry:
        return next(c for c in self.categories if c.code == code)

    def item(self, code: str) -> ItemEntry:
        return next(i for c in self.categories for i in c.items if i.code == code)


def booking_counts(session: Session) -> dict[int, int]:
    """How many orders each item has had: {item id: count}."""
    return dict(session.execute(select(Order.item_id, func.count()).group_by(Order.item_id)).all())


def read_snapshot(session: Session, booked: Mapping[int, int] | None = None) -> CatalogueSnapshot:
    """The catalogue as values; each category's phone menu puts the items most `booked` first."""
    booked = booked or {}
    categories = session.scalars(select(Category).order_by(Category.position)).all()
    items = session.scalars(select(Item).order_by(Item.position)).all()
    by_category: dict[int, list[ItemEntry]] = {}
    codes = {c.id: c.code for c in categories}
    for i in items:
        by_category.setdefault(i.category_id, []).append(
            ItemEntry(i.id, i.code, i.name, codes[i.category_id], i.position, tuple(i.synonyms)))
    entries = []
    for c in categories:
        listed = tuple(by_category.get(c.id, ()))
        menu = tuple(sorted(listed, key=lambda i: (-booked.get(i.id, 0), i.position)))
        entries.append(CategoryEntry(c.id, c.code, c.name, c.position, listed, menu))
    return CatalogueSnapshot(tuple(entries))


class CatalogueCache:
    """Keep a snapshot for `ttl_s` seconds, so a catalogue change is seen within a minute.

    The booking counts that order the phone menus are counted again only every `counts_ttl_s`
    seconds (a day): a menu's order need not follow each new order.
    """

    def __init__(self, ttl_s: float = 60, counts_ttl_s: float = 24 * 3600):
        self.ttl_s, self.counts_ttl_s = ttl_s, counts_ttl_s
        self._snapshot: CatalogueSnapshot | None = None
        self._read_at = self._counted_at = float("-inf")
        self._counts: dict[int, int] = {}
        self._lock = threading.Lock()

    def get(self, session: Session) -> CatalogueSnapshot:
        with self._lock:
            if self._snapshot is None or time.monotonic() - self._read_at > self.ttl_s:
                if time.monotonic() - self._counted_at > self.counts_ttl_s:
                    self._counts = booking_counts(session)
                    self._counted_at = time.monotonic()
                self._snapshot = read_snapshot(session, self._counts)
                self._read_at = time.monotonic()
            return self._snapshot
