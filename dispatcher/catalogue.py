"""The service catalogue, shipped as data and loaded into the database."""

from __future__ import annotations

import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.money import fen_to_yuan, yuan_to_fen
from dispatcher.models import Category, Item

CATALOGUE_FILE = Path(__file__).parent / "data" / "catalogue.toml"


def load_catalogue(session: Session, path: Path = CATALOGUE_FILE) -> int:
    """Insert or update every category and item of the catalogue file; return the item count."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    categories = {c.code: c for c in session.scalars(select(Category))}
    items = {i.code: i for i in session.scalars(select(Item))}
    count = 0
    for position, entry in enumerate(data["category"], 1):
        category = categories.get(entry["code"]) or Category(code=entry["code"])
        category.name, category.position = entry["name"], position
        session.add(category)
        for item_position, raw in enumerate(entry["item"], 1):
            item = items.get(raw["code"]) or Item(code=raw["code"])
            item.category = category
            item.name, item.unit = raw["name"], raw["unit"]
            item.market_price_fen = yuan_to_fen(raw["market_price_yuan"])
            item.is_free, item.is_emergency = raw["free"], raw["emergency"]
            item.position, item.synonyms = item_position, list(raw["synonyms"])
            session.add(item)
            count += 1
    session.flush()
    return count


def catalogue_rows(session: Session) -> list[dict]:
    """The catalogue as rows for `vnh catalogue`."""
    rows = session.execute(
        select(Category, Item).join(Item).order_by(Category.position, Item.position)
    )
    return [
        {
            "category_code": c.code,
            "category_name": c.name,
            "item_code": i.code,
            "name": i.name,
            "unit": i.unit,
            "market_price_yuan": fen_to_yuan(i.market_price_fen),
            "is_free": i.is_free,
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


@dataclass(frozen=True)
class CatalogueSnapshot:
    """The catalogue as plain values, read once and shared by every call the hotline answers."""

    categories: tuple[CategoryEntry, ...]

    def category(self, code: str) -> CategoryEntry:
        return next(c for c in self.categories if c.code == code)

    def item(self, code: str) -> ItemEntry:
        return next(i for c in self.categories for i in c.items if i.code == code)


def read_snapshot(session: Session) -> CatalogueSnapshot:
    categories = session.scalars(select(Category).order_by(Category.position)).all()
    items = session.scalars(select(Item).order_by(Item.position)).all()
    by_category: dict[int, list[ItemEntry]] = {}
    codes = {c.id: c.code for c in categories}
    for i in items:
        by_category.setdefault(i.category_id, []).append(
            ItemEntry(i.id, i.code, i.name, codes[i.category_id], i.position, tuple(i.synonyms)))
    return CatalogueSnapshot(tuple(
        CategoryEntry(c.id, c.code, c.name, c.position, tuple(by_category.get(c.id, ())))
        for c in categories
    ))


class CatalogueCache:
    """Keep a snapshot for `ttl_s` seconds, so a catalogue change is seen within a minute."""

    def __init__(self, ttl_s: float = 60):
        self.ttl_s = ttl_s
        self._snapshot: CatalogueSnapshot | None = None
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def get(self, session: Session) -> CatalogueSnapshot:
        with self._lock:
            if self._snapshot is None or time.monotonic() - self._read_at > self.ttl_s:
                self._snapshot = read_snapshot(session)
                self._read_at = time.monotonic()
            return self._snapshot
