"""The catalogue in and out of files: `vnh catalogue --format json|csv` and `vnh import catalogue`.

A file holds one row per item, as `catalogue_rows` writes it (CSV: synonyms joined by `|`). An
import adds new items and categories and updates those it names; it never deletes or renames a
code. A changed market price takes effect on the row's `effective_on` (default today) through
`prices.change_price`, so a closed month is never rewritten. Any bad row: nothing is written.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.money import yuan_to_fen
from dispatcher.catalogue import PLACES, catalogue_rows
from dispatcher.catalogue.prices import PriceChangeError, change_price, market_price_on
from dispatcher.enrollment.files import detect_encoding
from dispatcher.enrollment.models import AuditEntry
from dispatcher.models import Category, Item

COLUMNS = ("category_code", "category_name", "item_code", "name", "unit", "market_price_yuan",
           "is_free", "is_emergency", "place", "venue", "synonyms")
REQUIRED = ("category_code", "item_code", "name", "unit", "market_price_yuan")
MAX_ROWS = 2000
_CODE = re.compile(r"[A-Z]{2}[0-9]{2,4}")
_CATEGORY_CODE = re.compile(r"[A-Z]{2}")
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "是": True, "否": False, "": False}
_EDITABLE = ("name", "unit", "is_free", "is_emergency", "place", "venue", "synonyms")
_LENGTHS = {"category_name": 50, "name": 50, "unit": 20, "venue": 50}


@dataclass
class CatalogueImport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    price_changes: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (row, column, reason)

    @property
    def ok(self) -> bool:
        return not self.errors


def export_text(session: Session, fmt: str, day: date) -> str:
    """The catalogue as JSON or CSV text, each item at its market price on `day`."""
    rows = catalogue_rows(session, day)
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows({**r, "synonyms": "|".join(r["synonyms"]),
                      "is_free": str(r["is_free"]).lower(), "is_emergency": str(r["is_emergency"]).lower()}
                     for r in rows)
    return out.getvalue()


def read_rows(path: Path) -> list[tuple[int, dict]]:
    """The file's rows, numbered as a person sees them; ValueError if it is neither JSON nor CSV."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a JSON catalogue: {exc}") from None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ValueError("a JSON catalogue is a list of items, as `vnh catalogue --format json` writes it")
        return list(enumerate(data, 1))
    text = path.read_text(encoding=detect_encoding(path))
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or ())]
    if missing:
        raise ValueError(f"missing required columns: {', '.join(missing)}")
    return [(n, {k: v for k, v in row.items() if k is not None}) for n, row in enumerate(reader, 2)]


def import_catalogue(session: Session, path: Path, now: datetime, *, today: date, actor: str,
                     dry_run: bool = False) -> CatalogueImport:
    """Add and update the file's items; flush, never commit. A bad row: nothing is written."""
    rows = read_rows(path)
    if len(rows) > MAX_ROWS:
        raise ValueError(f"{len(rows)} rows: at most {MAX_ROWS} items in a catalogue file")
    report = CatalogueImport()
    categories = {c.code: c for c in session.scalars(select(Category))}
    items = {i.code: i for i in session.scalars(select(Item))}
    parsed, seen = [], {}
    for line, raw in rows:
        values, problems = _parse(raw)
        code = values.get("item_code")
        if code and code in seen:
            problems.append(("item_code", f"{code} is also on row {seen[code]}"))
        elif code:
            seen[code] = line
        category = values.get("category_code")
        if category and category not in categories and not values.get("category_name"):
            problems.append(("category_name", f"a new category {category} needs its name"))
        old = items.get(code) if code else None
        if old is not None and category and old.category.code != category:
            problems.append(("category_code", f"{code} is in {old.category.code}: an item keeps its category"))
        report.errors += [(line, c, r) for c, r in problems]
        if not problems:
            parsed.append((line, values))
    if report.errors:
        return report
    savepoint = None if dry_run else session.begin_nested()
    try:
        for line, values in parsed:
            _apply(session, report, line, values, categories, items, now=now, today=today, actor=actor)
        if savepoint is not None:
            if report.errors:
                savepoint.rollback()
            else:
                savepoint.commit()
    except BaseException:
        if savepoint is not None and savepoint.is_active:
            savepoint.rollback()
        raise
    if report.errors:
        report.added = report.updated = report.price_changes = 0
    return report


def _parse(raw: dict) -> tuple[dict, list[tuple[str, str]]]:
    problems: list[tuple[str, str]] = []
    values: dict = {}

    def text(column: str) -> str:
        value = raw.get(column, "")
        return "" if value is None else str(value).strip()

    for column in REQUIRED:
        if not text(column):
            problems.append((column, "is required"))
    for column, limit in _LENGTHS.items():
        if len(text(column)) > limit:
            problems.append((column, f"is {len(text(column))} characters long: at most {limit}"))
    if (code := text("item_code")) and not _CODE.fullmatch(code):
        problems.append(("item_code", f"{code!r} is not an item code: two capital letters and digits, e.g. LC23"))
    if (category := text("category_code")) and not _CATEGORY_CODE.fullmatch(category):
        problems.append(("category_code", f"{category!r} is not a category code: two capital letters"))
    if code and category and _CODE.fullmatch(code) and not code.startswith(category):
        problems.append(("item_code", f"{code} does not start with its category's code {category}"))
    values.update(item_code=code, category_code=category, category_name=text("category_name"),
                  name=text("name"), unit=text("unit"), venue=text("venue") or None)
    try:
        values["market_price_fen"] = yuan_to_fen(text("market_price_yuan")) if text("market_price_yuan") else None
    except ValueError as exc:
        problems.append(("market_price_yuan", str(exc)))
    for column in ("is_free", "is_emergency"):
        value = raw.get(column, False)
        flag = value if isinstance(value, bool) else _BOOLEANS.get(str(value).strip().lower())
        if flag is None:
            problems.append((column, f"{value!r} is not true or false"))
        values[column] = bool(flag)
    place = text("place") or "home"
    if place not in PLACES:
        problems.append(("place", f"{place!r} is not one of {', '.join(PLACES)}"))
    elif place == "venue" and not values["venue"]:
        problems.append(("venue", "an item at a venue names it (e.g. 社区老年食堂)"))
    values["place"] = place
    synonyms = raw.get("synonyms", [])
    if isinstance(synonyms, str):
        synonyms = synonyms.split("|")
    if not isinstance(synonyms, list):
        problems.append(("synonyms", "a list of phrases (in CSV joined by |)"))
        synonyms = []
    values["synonyms"] = [str(s).strip() for s in synonyms if str(s).strip()]
    if (effective := text("effective_on")):
        try:
            values["effective_on"] = date.fromisoformat(effective)
        except ValueError:
            problems.append(("effective_on", f"{effective!r} is not a date (YYYY-MM-DD)"))
    price = values.get("market_price_fen")
    if price is not None and price == 0 and not values["is_free"]:
        problems.append(("market_price_yuan", "only a free item may have a market price of 0"))
    return values, problems


def _apply(session: Session, report: CatalogueImport, line: int, values: dict, categories: dict,
           items: dict, *, now: datetime, today: date, actor: str) -> None:
    category = categories.get(values["category_code"])
    if category is None:
        position = (session.scalar(select(func.max(Category.position))) or 0) + 1
        category = Category(code=values["category_code"], name=values["category_name"], position=position)
        session.add(category)
        session.flush()
        categories[category.code] = category
    elif values["category_name"] and values["category_name"] != category.name:
        category.name = values["category_name"]
    item = items.get(values["item_code"])
    if item is None:
        position = (session.scalar(select(func.max(Item.position)).where(Item.category_id == category.id)) or 0) + 1
        item = Item(code=values["item_code"], category=category, position=position,
                    market_price_fen=values["market_price_fen"],
                    **{name: values[name] for name in _EDITABLE})
        session.add(item)
        session.flush()
        items[item.code] = item
        session.add(AuditEntry(created_at=now, actor=actor, entity="item", entity_key=item.code, action="add",
                               changes={name: [None, values[name]] for name in _EDITABLE}))
        report.added += 1
        return
    changes = {name: [getattr(item, name), values[name]] for name in _EDITABLE
               if getattr(item, name) != values[name]}
    for name, (_, new) in changes.items():
        setattr(item, name, new)
    if changes:
        session.add(AuditEntry(created_at=now, actor=actor, entity="item", entity_key=item.code,
                               action="update", changes=changes))
    effective_on = values.get("effective_on", today)
    priced = market_price_on(session, item, effective_on) != values["market_price_fen"]
    if priced:
        try:
            change_price(session, item, values["market_price_fen"], effective_on, today=today, now=now,
                         actor=actor)
        except PriceChangeError as exc:
            report.errors.append((line, "effective_on" if "effective_on" in values else "market_price_yuan",
                                  str(exc)))
            return
        report.price_changes += 1
    if changes or priced:
        report.updated += 1
    else:
        report.unchanged += 1


def edit_item(session: Session, item: Item, form: dict, *, now: datetime, actor: str) -> list[tuple[str, str]]:
    """Change an item's name, unit, flags, place and synonyms (not its price); return the problems."""
    row = {"category_code": item.category.code, "item_code": item.code,
           "market_price_yuan": f"{item.market_price_fen / 100:.2f}", **form}
    values, problems = _parse(row)
    if problems:
        return problems
    changes = {name: [getattr(item, name), values[name]] for name in _EDITABLE
               if getattr(item, name) != values[name]}
    for name, (_, new) in changes.items():
        setattr(item, name, new)
    if changes:
        session.add(AuditEntry(created_at=now, actor=actor, entity="item", entity_key=item.code,
                               action="update", changes=changes))
    session.flush()
    return []
