"""The service catalogue, shipped as data and loaded into the database."""

from __future__ import annotations

import tomllib
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
