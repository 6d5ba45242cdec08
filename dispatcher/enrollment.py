"""Enrollment files: elders, providers and their offerings, imported from CSV.

Importing is three steps: read the file into rows of text, parse each row into clean values
(one parser per kind, which names every bad column), then upsert the clean values. If any row is
bad nothing is written, and the report names every bad row.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import partial
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from billing.money import fen_to_yuan, yuan_to_fen
from billing.policy import DISABILITY_LEVELS, Policy, load_policy
from dispatcher.identity import birth_of, validate_id_number
from dispatcher.models import Elder, ElderPhone, EmergencyContact, Item
from providers.models import Offering, Provider
from telephony.numbers import to_e164

ELDER_COLUMNS = (
    "id_number", "name", "gender", "birth_date", "phone", "other_phones", "address", "street",
    "community", "latitude", "longitude", "elder_class", "disability_level", "lives_alone",
    "emergency_contact_name", "emergency_contact_phone",
)  # fmt: skip
PROVIDER_COLUMNS = (
    "code", "name", "license_no", "dispatch_phone", "address", "latitude", "longitude",
    "service_radius_km", "capacity_per_day", "hours",
)  # fmt: skip
OFFERING_COLUMNS = ("provider_code", "item_code", "price_yuan")

COLUMNS = {"elders": ELDER_COLUMNS, "providers": PROVIDER_COLUMNS, "offerings": OFFERING_COLUMNS}
KEY_COLUMNS = {
    "elders": ("id_number",),
    "providers": ("code",),
    "offerings": ("provider_code", "item_code"),
}

_GENDERS = {"M": "M", "F": "F", "男": "M", "女": "F"}
_BOOLEANS = {"1": True, "0": False, "是": True, "否": False, "true": True, "false": False}
# China's extent, generously: Hainan's south coast to Heilongjiang, Xinjiang to Heilongjiang.
_LATITUDES = (18.0, 54.0)
_LONGITUDES = (73.0, 135.0)
_MAX_PRICE_PERCENT = 80
_BATCH = 500

Problems = list[tuple[str, str]]


class ImportFileError(ValueError):
    """The whole file cannot be imported: unknown kind, empty, bad header."""


@dataclass
class RowError:
    row: int  # the line number in the file; the header is row 1
    column: str
    reason: str


@dataclass
class ImportReport:
    kind: str
    added: int
    updated: int
    unchanged: int
    errors: list[RowError]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class ElderRecord:
    """One elder's clean values; `phones` are (E.164, is_primary), the primary first."""

    id_number: str
    name: str
    gender: str
    birth_date: date
    address: str
    street: str
    community: str
    latitude: float
    longitude: float
    elder_class: str
    disability_level: str
    is_living_alone: bool
    phones: list[tuple[str, bool]] = field(default_factory=list)
    emergency_contacts: list[tuple[str, str]] = field(default_factory=list)

    def columns(self) -> dict:
        values = asdict(self)
        del values["phones"], values["emergency_contacts"]
        return values


@dataclass
class ProviderRecord:
    code: str
    name: str
    license_no: str
    dispatch_phone: str
    address: str
    latitude: float
    longitude: float
    service_radius_m: int
    capacity_per_day: int
    opens_at: time
    closes_at: time


@dataclass
class OfferingRecord:
    provider_code: str
    item_code: str
    price_fen: int


def import_file(
    session: Session,
    kind: str,
    path: Path,
    now: datetime,
    *,
    dry_run: bool = False,
    policy: Policy | None = None,
) -> ImportReport:
    """Validate an enrollment file and, if every row is good, upsert it; flush, never commit.

    With `dry_run` the file is validated and counted but nothing is added or changed.
    """
    if kind not in COLUMNS:
        raise ImportFileError(f"unknown kind {kind!r}: use one of {', '.join(COLUMNS)}")
    columns = COLUMNS[kind]
    rows = read_rows(path, columns)
    if kind == "elders":
        classes = (policy or load_policy()).versions[-1].classes
        parse = partial(parse_elder, classes=classes)
    elif kind == "providers":
        parse = parse_provider
    else:
        items = {i.code: i for i in session.scalars(select(Item))}
        provider_codes = set(session.scalars(select(Provider.code)))
        parse = partial(parse_offering, provider_codes=provider_codes, items=items)

    records, errors = [], []
    first_row_of: dict[tuple[str, ...], int] = {}
    key_columns = KEY_COLUMNS[kind]
    for line, values in rows:
        record, problems = parse(values)
        problems.sort(key=lambda problem: columns.index(problem[0]))
        errors += [RowError(line, column, reason) for column, reason in problems]
        # ID numbers compare upper-cased (a trailing x is an X); codes compare as written.
        key = tuple(values[c].upper() if c == "id_number" else values[c] for c in key_columns)
        if all(key) and key in first_row_of:
            reason = f"duplicate {'+'.join(key_columns)}: rows {first_row_of[key]} and {line}"
            errors.append(RowError(line, key_columns[-1], reason))
        elif all(key):
            first_row_of[key] = line
        if record is not None:
            records.append(record)
    if errors:
        return ImportReport(kind, 0, 0, 0, errors)

    if kind == "elders":
        counts = upsert_elders(session, records, now, dry_run=dry_run)
    elif kind == "providers":
        counts = upsert_providers(session, records, now, dry_run=dry_run)
    else:
        counts = upsert_offerings(session, records, dry_run=dry_run)
    if not dry_run:
        session.flush()
    return ImportReport(kind, counts["added"], counts["updated"], counts["unchanged"], [])


def read_rows(path: Path, columns: Iterable[str]) -> list[tuple[int, dict[str, str]]]:
    """Read a CSV file into (line number, {column: stripped text}) for the named columns.

    Blank lines are skipped; a row's number is the file line it starts on (the header is 1).
    """
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    while header is not None and not any(cell.strip() for cell in header):
        header = next(reader, None)
    if header is None:
        raise ImportFileError(f"{path}: the file is empty")
    names = [cell.strip() for cell in header]
    duplicates = sorted({n for n in names if n and names.count(n) > 1})
    if duplicates:
        raise ImportFileError(f"{path}: duplicate columns in the header: {', '.join(duplicates)}")
    missing = [c for c in columns if c not in names]
    if missing:
        raise ImportFileError(f"{path}: missing required columns: {', '.join(missing)}")
    where = {c: names.index(c) for c in columns}
    rows = []
    line = reader.line_num
    for cells in reader:
        start, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        rows.append(
            (start, {c: (cells[i].strip() if i < len(cells) else "") for c, i in where.items()})
        )
    if not rows:
        raise ImportFileError(f"{path}: the file has a header but no rows")
    return rows


def parse_elder(
    values: Mapping[str, str], classes: Collection[str]
) -> tuple[ElderRecord | None, Problems]:
    """Parse one elder row into clean values, or name every bad column."""
    problems: Problems = []
    get = _Getter(values, problems)
    id_number = get("id_number", validate_id_number)
    birth_date = get("birth_date", _iso_date)
    if id_number and birth_date and birth_of(id_number) != birth_date:
        problems.append(
            ("birth_date", f"{birth_date} is not the ID number's birth date {birth_of(id_number)}")
        )
    primary = get("phone", to_e164)
    others = get("other_phones", _phone_list, required=False) or []
    if primary and primary in others:
        problems.append(("other_phones", f"{primary} is already the primary phone"))
    contact_name = values["emergency_contact_name"]
    contact_phone = get("emergency_contact_phone", to_e164, required=False)
    if bool(contact_name) != bool(values["emergency_contact_phone"]):
        missing = "emergency_contact_phone" if contact_name else "emergency_contact_name"
        problems.append((missing, "give both the emergency contact's name and phone, or neither"))
    contacts = [(contact_name, contact_phone)] if contact_name and contact_phone else []
    record = ElderRecord(
        id_number=id_number,
        name=get("name"),
        gender=get("gender", lambda v: _choice(v.upper(), _GENDERS, "M, F, 男 or 女")),
        birth_date=birth_date,
        address=get("address"),
        street=get("street"),
        community=get("community"),
        latitude=get("latitude", lambda v: _coordinate(v, _LATITUDES)),
        longitude=get("longitude", lambda v: _coordinate(v, _LONGITUDES)),
        elder_class=get(
            "elder_class", lambda v: _member(v, classes, "elder class of the subsidy policy")
        ),
        disability_level=get(
            "disability_level", lambda v: _member(v, DISABILITY_LEVELS, "disability level")
        ),
        is_living_alone=get(
            "lives_alone", lambda v: _choice(v.lower(), _BOOLEANS, "1, 0, 是, 否, true or false")
        ),
        phones=[(primary, True)] + [(p, False) for p in others],
        emergency_contacts=contacts,
    )
    return (None, problems) if problems else (record, [])


def parse_provider(values: Mapping[str, str]) -> tuple[ProviderRecord | None, Problems]:
    """Parse one provider row into clean values, or name every bad column."""
    problems: Problems = []
    get = _Getter(values, problems)
    hours = get("hours", _hours) or (None, None)
    record = ProviderRecord(
        code=get("code"),
        name=get("name"),
        license_no=get("license_no"),
        dispatch_phone=get("dispatch_phone", to_e164),
        address=get("address"),
        latitude=get("latitude", lambda v: _coordinate(v, _LATITUDES)),
        longitude=get("longitude", lambda v: _coordinate(v, _LONGITUDES)),
        service_radius_m=get("service_radius_km", _radius_m),
        capacity_per_day=get("capacity_per_day", _capacity),
        opens_at=hours[0],
        closes_at=hours[1],
    )
    return (None, problems) if problems else (record, [])


def parse_offering(
    values: Mapping[str, str], provider_codes: Collection[str], items: Mapping[str, Item]
) -> tuple[OfferingRecord | None, Problems]:
    """Parse one offering row; the provider and the catalogue item must already exist."""
    problems: Problems = []
    get = _Getter(values, problems)
    provider_code = get("provider_code", lambda v: _member(v, provider_codes, "provider code"))
    item_code = get("item_code", lambda v: _member(v, items, "item code of the catalogue"))
    price_fen = get("price_yuan", yuan_to_fen)
    if item_code and price_fen is not None:
        if reason := _price_problem(price_fen, items[item_code]):
            problems.append(("price_yuan", reason))
    if problems:
        return None, problems
    return OfferingRecord(provider_code, item_code, price_fen), []


def upsert_elders(
    session: Session, records: list[ElderRecord], now: datetime, *, dry_run: bool = False
) -> Counter[str]:
    """Add new elders and update changed ones by ID number; phones and contacts as a set."""
    existing: dict[str, Elder] = {}
    for batch in _batches([r.id_number for r in records]):
        query = (
            select(Elder)
            .where(Elder.id_number.in_(batch))
            .options(selectinload(Elder.phones), selectinload(Elder.emergency_contacts))
        )
        existing.update((e.id_number, e) for e in session.scalars(query))
    counts: Counter[str] = Counter(added=0, updated=0, unchanged=0)
    for record in records:
        elder = existing.get(record.id_number)
        if elder is None:
            counts["added"] += 1
            if not dry_run:
                elder = Elder(**record.columns(), created_at=now)
                _replace_phones(elder, record.phones)
                _replace_contacts(elder, record.emergency_contacts)
                session.add(elder)
        elif _elder_differs(elder, record):
            counts["updated"] += 1
            if not dry_run:
                for name, value in record.columns().items():
                    setattr(elder, name, value)
                _replace_phones(elder, record.phones)
                _replace_contacts(elder, record.emergency_contacts)
        else:
            counts["unchanged"] += 1
    return counts


def upsert_providers(
    session: Session, records: list[ProviderRecord], now: datetime, *, dry_run: bool = False
) -> Counter[str]:
    """Add new providers (active contract) and update changed ones by code."""
    existing = {p.code: p for p in session.scalars(select(Provider))}
    counts: Counter[str] = Counter(added=0, updated=0, unchanged=0)
    for record in records:
        values = asdict(record)
        provider = existing.get(record.code)
        if provider is None:
            counts["added"] += 1
            if not dry_run:
                session.add(Provider(**values, contract_status="active", created_at=now))
        elif any(getattr(provider, name) != value for name, value in values.items()):
            counts["updated"] += 1
            if not dry_run:
                for name, value in values.items():
                    setattr(provider, name, value)
        else:
            counts["unchanged"] += 1
    return counts


def upsert_offerings(
    session: Session, records: list[OfferingRecord], *, dry_run: bool = False
) -> Counter[str]:
    """Add new offerings and update changed prices by (provider, item)."""
    providers = {p.code: p.id for p in session.scalars(select(Provider))}
    items = {i.code: i.id for i in session.scalars(select(Item))}
    existing = {(o.provider_id, o.item_id): o for o in session.scalars(select(Offering))}
    counts: Counter[str] = Counter(added=0, updated=0, unchanged=0)
    for record in records:
        key = (providers[record.provider_code], items[record.item_code])
        offering = existing.get(key)
        if offering is None:
            counts["added"] += 1
            if not dry_run:
                session.add(
                    Offering(provider_id=key[0], item_id=key[1], price_fen=record.price_fen)
                )
        elif offering.price_fen != record.price_fen:
            counts["updated"] += 1
            if not dry_run:
                offering.price_fen = record.price_fen
        else:
            counts["unchanged"] += 1
    return counts


class _Getter:
    """Read a column of a row through a parser, noting the column's problem instead of raising."""

    def __init__(self, values: Mapping[str, str], problems: Problems):
        self.values = values
        self.problems = problems

    def __call__(self, column: str, parse=None, *, required: bool = True):
        raw = self.values[column]
        if not raw:
            if required:
                self.problems.append((column, "is required"))
            return None
        if parse is None:
            return raw
        try:
            return parse(raw)
        except ValueError as exc:
            self.problems.append((column, str(exc)))
            return None


def _elder_differs(elder: Elder, record: ElderRecord) -> bool:
    if any(getattr(elder, name) != value for name, value in record.columns().items()):
        return True
    phones = {(p.phone, p.is_primary) for p in elder.phones}
    contacts = {(c.name, c.phone) for c in elder.emergency_contacts}
    return phones != set(record.phones) or contacts != set(record.emergency_contacts)


def _replace_phones(elder: Elder, phones: list[tuple[str, bool]]) -> None:
    # Keep the rows of numbers that stay: deleting and re-inserting the same number in one
    # flush would break the (elder, phone) unique constraint, as inserts run before deletes.
    wanted = dict(phones)
    for row in list(elder.phones):
        if row.phone in wanted:
            row.is_primary = wanted.pop(row.phone)
        else:
            elder.phones.remove(row)
    elder.phones.extend(ElderPhone(phone=p, is_primary=primary) for p, primary in wanted.items())


def _replace_contacts(elder: Elder, contacts: list[tuple[str, str]]) -> None:
    wanted = list(dict.fromkeys(contacts))
    for row in list(elder.emergency_contacts):
        if (row.name, row.phone) in wanted:
            wanted.remove((row.name, row.phone))
        else:
            elder.emergency_contacts.remove(row)
    elder.emergency_contacts.extend(EmergencyContact(name=n, phone=p) for n, p in wanted)


def _price_problem(price_fen: int, item: Item) -> str | None:
    if item.is_free:
        return None if price_fen == 0 else f"{item.code} is a free item: the price must be 0"
    if price_fen <= 0:
        return "the price must be more than 0"
    limit_fen = item.market_price_fen * _MAX_PRICE_PERCENT // 100
    if price_fen > limit_fen:
        return (
            f"{fen_to_yuan(price_fen)} is above {_MAX_PRICE_PERCENT}% of the market price "
            f"{fen_to_yuan(item.market_price_fen)} of {item.code}: at most {fen_to_yuan(limit_fen)}"
        )
    return None


def _iso_date(text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date like 1941-03-05") from None


def _phone_list(text: str) -> list[str]:
    phones = [to_e164(part) for part in text.replace("；", ";").split(";") if part.strip()]
    if len(set(phones)) != len(phones):
        raise ValueError("the same number is given twice")
    return phones


def _coordinate(text: str, bounds: tuple[float, float]) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{text} is outside China ({bounds[0]:g} to {bounds[1]:g})")
    return value


def _radius_m(text: str) -> int:
    try:
        km = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number of kilometres") from None
    if not km.is_finite() or km <= 0:
        raise ValueError(f"the service radius must be more than 0 km, not {text}")
    metres = int((km * 1000).to_integral_value(ROUND_HALF_UP))
    if metres < 1:
        raise ValueError(f"the service radius {text} km is less than a metre")
    return metres


def _capacity(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"{text!r} is not a whole number 0 or more")
    return int(text)


def _hours(text: str) -> tuple[time, time]:
    cleaned = text.replace("：", ":").replace("～", "-").replace("~", "-").replace(" ", "")
    parts = cleaned.split("-")
    try:
        if len(parts) != 2 or not all(len(p) == 5 for p in parts):
            raise ValueError
        opens, closes = time.fromisoformat(parts[0]), time.fromisoformat(parts[1])
    except ValueError:
        raise ValueError(f"{text!r} is not hours like 08:00-18:00") from None
    if opens >= closes:
        raise ValueError(f"hours {text} must open before they close")
    return opens, closes


def _choice(text: str, choices: Mapping[str, object], described: str):
    if text not in choices:
        raise ValueError(f"{text!r} is not one of {described}")
    return choices[text]


def _member(text: str, allowed: Collection[str], described: str) -> str:
    if text not in allowed:
        raise ValueError(f"unknown {described}: {text!r}")
    return text


def _batches(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _BATCH):
        yield values[start : start + _BATCH]
