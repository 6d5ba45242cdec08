"""One enrollment row into clean values: the columns of each kind of file, the records, and one
parser per kind that names every bad column. Pure: no database, no file.

Text is checked against the length of the column it is stored in, so an over-long value is a
bad row on SQLite (which would store it) and on PostgreSQL (which would refuse the insert)."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import partial

import phonenumbers

from billing.eligibility import age_class_problem
from billing.money import fen_to_yuan, yuan_to_fen
from billing.policy import DISABILITY_LEVELS
from dispatcher.enrollment.identity import BadIdNumber, birth_of, validate_id_number
from dispatcher.models import Elder, EmergencyContact, Item
from providers.models import Provider
from telephony.numbers import BadPhoneNumber, to_e164

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
# Optional columns a file may add after the others (long-term care insurance, 长护险).
ELDER_EXTRA_COLUMNS = ("insured",)
COLUMNS = {"elders": ELDER_COLUMNS + ELDER_EXTRA_COLUMNS, "providers": PROVIDER_COLUMNS, "offerings": OFFERING_COLUMNS}
# Columns a file may leave out: without coordinates, every address is geocoded. An elder's
# file needs only the ID number (which holds the birth date and gender), the name, a phone, an
# address or coordinates (headers.EITHER) and the class.
OPTIONAL_COLUMNS = {
    "elders": frozenset(COLUMNS["elders"]) - {"id_number", "name", "phone", "elder_class"},
    "providers": frozenset({"latitude", "longitude"}),
    "offerings": frozenset(),
}
KEY_COLUMNS = {
    "elders": ("id_number",),
    "providers": ("code",),
    "offerings": ("provider_code", "item_code"),
}
DEFAULT_AREA_CODE = "0931"
_GENDERS = {"M": "M", "F": "F", "男": "M", "女": "F"}
_BOOLEANS = {"1": True, "0": False, "是": True, "否": False, "true": True, "false": False}
# China's extent, generously: Hainan's south coast to Heilongjiang, Xinjiang to Heilongjiang.
_LATITUDES = (18.0, 54.0)
_LONGITUDES = (73.0, 135.0)
_MAX_PRICE_PERCENT = 80
_PHONE_PUNCTUATION = str.maketrans("", "", " -()./\u3000")
ELDER_FIELDS = (
    "name", "gender", "birth_date", "address", "street", "community", "latitude", "longitude",
    "elder_class", "disability_level", "is_living_alone", "is_insured",
)  # fmt: skip
Problems = list[tuple[str, str]]
# The record's field for a column, where the names differ.
_FIELD_OF = {"lives_alone": "is_living_alone", "insured": "is_insured"}
EARLIEST_BIRTH = date(1900, 1, 1)
# The stored length of each free-text column, from the models: {kind: {column: characters}}.
MAX_LENGTHS = {
    "elders": {
        "name": Elder.name.type.length, "address": Elder.address.type.length,
        "street": Elder.street.type.length, "community": Elder.community.type.length,
        "emergency_contact_name": EmergencyContact.name.type.length,
    },
    "providers": {
        "code": Provider.code.type.length, "name": Provider.name.type.length,
        "license_no": Provider.license_no.type.length, "address": Provider.address.type.length,
    },
    "offerings": {},
}  # fmt: skip


@dataclass
class ElderRecord:
    """One elder's clean values; `phones` are (E.164, is_primary), the primary first.

    Latitude and longitude are None until a blank pair is geocoded.
    """

    id_number: str
    name: str
    gender: str
    birth_date: date
    address: str
    street: str
    community: str
    latitude: float | None
    longitude: float | None
    elder_class: str
    disability_level: str
    is_living_alone: bool
    is_insured: bool = False
    phones: list[tuple[str, bool]] = field(default_factory=list)
    emergency_contacts: list[tuple[str, str]] = field(default_factory=list)

    def columns(self) -> dict:
        return {name: getattr(self, name) for name in ("id_number", *ELDER_FIELDS)}

    def keep_stored(self, values: Mapping, phones: Collection[tuple[str, bool]],
                    contacts: Collection[tuple[str, str]], absent: Collection[str]) -> None:
        """Take the stored values of the columns the file does not have (an update keeps them).

        Coordinates are not kept: without them, a moved address is geocoded again.
        """
        for column in set(absent) - {"latitude", "longitude"}:
            name = _FIELD_OF.get(column, column)
            if name in values:
                setattr(self, name, values[name])
        if "other_phones" in absent:
            self.phones = self.phones[:1] + sorted(
                (p, False) for p, primary in phones if not primary and p != self.phones[0][0])
        if {"emergency_contact_name", "emergency_contact_phone"} <= set(absent):
            self.emergency_contacts = sorted(contacts)


@dataclass
class ProviderRecord:
    code: str
    name: str
    license_no: str
    dispatch_phone: str
    address: str
    latitude: float | None
    longitude: float | None
    service_radius_m: int
    capacity_per_day: int
    opens_at: time
    closes_at: time


@dataclass
class OfferingRecord:
    provider_code: str
    item_code: str
    price_fen: int


def phone_e164(raw: str, area_code: str = DEFAULT_AREA_CODE) -> str:
    """Normalise a phone number in any common Chinese writing to E.164, or raise BadPhoneNumber.

    A landline written without its area code (7 or 8 digits) gets `area_code`. The usual
    writings are checked against phonenumbers' metadata directly; anything else is parsed by
    phonenumbers in full.
    """
    text = unicodedata.normalize("NFKC", raw).strip()
    digits = text.translate(_PHONE_PUNCTUATION)
    if digits.startswith("+86"):
        national, local = digits[3:], False
    elif digits.startswith("0086"):
        national, local = digits[4:], False
    elif digits.startswith("86") and len(digits) >= 12:
        national, local = digits[2:], False
    else:
        national, local = digits, True
    if national.startswith("0"):
        national, local = national[1:], False
    elif local and 7 <= len(national) <= 8 and national.isdigit() and national[0] not in "01":
        national = area_code.lstrip("0") + national
    if national.isascii() and national.isdigit() and national[0] != "0":
        number = phonenumbers.PhoneNumber(country_code=86, national_number=int(national))
        if phonenumbers.is_valid_number(number):
            return f"+86{national}"
        hint = f" (area code {area_code} assumed)" if local and not national.startswith("1") else ""
        raise BadPhoneNumber(f"not a valid phone number: {raw!r}{hint}")
    return to_e164(text)


def parse_elder(
    values: Mapping[str, str],
    classes: Collection[str],
    area_code: str = DEFAULT_AREA_CODE,
    today: date | None = None,
) -> tuple[ElderRecord | None, Problems]:
    """Parse one elder row into clean values, or name every bad column.

    A birth date must lie between 1900 and `today` (when given).
    """
    problems: Problems = []
    get = _Getter(values, problems, MAX_LENGTHS["elders"])
    phone = partial(phone_e164, area_code=area_code)
    id_number = get("id_number", _id_number)
    birth_date = get("birth_date", partial(parse_birth_date, today=today), required=False)
    if birth_date is None and id_number and not values.get("birth_date"):
        birth_date = birth_of(id_number)
    if id_number and birth_date and birth_of(id_number) != birth_date:
        problems.append(
            ("birth_date", f"{birth_date} is not the ID number's birth date {birth_of(id_number)}")
        )
    primary = get("phone", phone)
    others = get("other_phones", partial(_phone_list, area_code=area_code), required=False) or []
    if primary and primary in others:
        problems.append(("other_phones", f"{primary} is already the primary phone"))
    contact_name = get("emergency_contact_name", required=False) or ""
    contact_phone = get("emergency_contact_phone", phone, required=False)
    if bool(values["emergency_contact_name"]) != bool(values["emergency_contact_phone"]):
        missing = (
            "emergency_contact_phone" if values["emergency_contact_name"] else "emergency_contact_name"
        )
        problems.append((missing, "give both the emergency contact's name and phone, or neither"))
    contacts = [(contact_name, contact_phone)] if contact_name and contact_phone else []
    latitude, longitude = _coordinates(values, problems)
    gender = get("gender", lambda v: _choice(v.upper(), _GENDERS, "M, F, 男 or 女"), required=False)
    if gender is None and id_number and not values.get("gender"):
        gender = "M" if int(id_number[16]) % 2 else "F"
    record = ElderRecord(
        id_number=id_number,
        name=get("name"),
        gender=gender,
        birth_date=birth_date,
        # Coordinates place an elder without an address; a blank pair is geocoded from it.
        address=get("address", required=latitude is None and not values.get("latitude")) or "",
        street=get("street", required=False) or "",
        community=get("community", required=False) or "",
        latitude=latitude,
        longitude=longitude,
        elder_class=get(
            "elder_class", lambda v: _member(v, classes, "elder class of the subsidy policy")
        ),
        disability_level=get(
            "disability_level", lambda v: _member(v, DISABILITY_LEVELS, "disability level"),
            required=False,
        ) or DISABILITY_LEVELS[0],
        is_living_alone=bool(get(
            "lives_alone", lambda v: _choice(v.lower(), _BOOLEANS, "1, 0, 是, 否, true or false"),
            required=False,
        )),
        is_insured=(values.get("insured") or None) and get(
            "insured", lambda v: _choice(v.lower(), _BOOLEANS, "1, 0, 是, 否, true or false"),
            required=False,
        ) or False,
        phones=[(primary, True)] + [(p, False) for p in others],
        emergency_contacts=contacts,
    )
    if record.elder_class and record.birth_date and today is not None:
        if reason := age_class_problem(record.elder_class, record.birth_date, today):
            problems.append(("elder_class", reason))
    return (None, problems) if problems else (record, [])


def parse_provider(
    values: Mapping[str, str], area_code: str = DEFAULT_AREA_CODE
) -> tuple[ProviderRecord | None, Problems]:
    """Parse one provider row into clean values, or name every bad column."""
    problems: Problems = []
    get = _Getter(values, problems, MAX_LENGTHS["providers"])
    hours = get("hours", parse_hours) or (None, None)
    latitude, longitude = _coordinates(values, problems)
    record = ProviderRecord(
        code=get("code"),
        name=get("name"),
        license_no=get("license_no"),
        dispatch_phone=get("dispatch_phone", partial(phone_e164, area_code=area_code)),
        address=get("address"),
        latitude=latitude,
        longitude=longitude,
        service_radius_m=get("service_radius_km", parse_radius_m),
        capacity_per_day=get("capacity_per_day", parse_capacity),
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
        if reason := price_problem(price_fen, items[item_code]):
            problems.append(("price_yuan", reason))
    if problems:
        return None, problems
    return OfferingRecord(provider_code, item_code, price_fen), []


def price_problem(price_fen: int, item: Item) -> str | None:
    """Why a contracted price is refused: every item, free ones included (the government pays
    those whole), costs more than 0 and at most 80% of its market price."""
    if price_fen <= 0:
        return "the price must be more than 0"
    limit_fen = item.market_price_fen * _MAX_PRICE_PERCENT // 100
    if price_fen > limit_fen:
        return (
            f"{fen_to_yuan(price_fen)} is above {_MAX_PRICE_PERCENT}% of the market price "
            f"{fen_to_yuan(item.market_price_fen)} of {item.code}: at most {fen_to_yuan(limit_fen)}"
        )
    return None


def _id_number(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).replace(" ", "")
    if "E+" in folded.upper() or (folded.replace(".", "").isdigit() and "." in folded):
        raise BadIdNumber(
            f"{folded} is how a spreadsheet writes a long number, and the last digits are lost: "
            "format the column as text and type the ID number again"
        )
    return validate_id_number(folded)


def parse_date(text: str) -> date:
    """A date written 1941-03-05, 1941/3/5, 1941.3.5, 19410305 or 1941年3月5日."""
    folded = unicodedata.normalize("NFKC", text).strip()
    cleaned = folded.replace("年", "-").replace("月", "-").rstrip("日")
    for separator in "/.":
        cleaned = cleaned.replace(separator, "-")
    try:
        if cleaned.isdigit() and len(cleaned) == 8:
            return date(int(cleaned[:4]), int(cleaned[4:6]), int(cleaned[6:]))
        parts = cleaned.split("-")
        if len(parts) != 3 or len(parts[0]) != 4 or not all(p.isdigit() for p in parts):
            raise ValueError
        return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        raise ValueError(f"{text!r} is not a date like 1941-03-05") from None


def parse_birth_date(text: str, today: date | None = None) -> date:
    """A birth date (as `parse_date` reads it) from 1900 up to `today`."""
    born = parse_date(text)
    if born < EARLIEST_BIRTH:
        raise ValueError(f"{born} is before {EARLIEST_BIRTH.year}: check the year")
    if today is not None and born > today:
        raise ValueError(f"{born} is in the future: check the year")
    return born


def _phone_list(text: str, area_code: str) -> list[str]:
    parts = text.replace("；", ";").replace("，", ";").replace(",", ";").split(";")
    phones = [phone_e164(part, area_code) for part in parts if part.strip()]
    if len(set(phones)) != len(phones):
        raise ValueError("the same number is given twice")
    return phones


def _coordinates(
    values: Mapping[str, str], problems: Problems
) -> tuple[float | None, float | None]:
    """Both coordinates, or (None, None) for a pair left blank to be geocoded."""
    raw_lat, raw_lon = values.get("latitude", ""), values.get("longitude", "")
    if not raw_lat and not raw_lon:
        return None, None
    if not raw_lat or not raw_lon:
        blank = "latitude" if not raw_lat else "longitude"
        problems.append((blank, "give both latitude and longitude, or leave both blank to geocode"))
        return None, None
    latitude = _number(raw_lat, "latitude", problems)
    longitude = _number(raw_lon, "longitude", problems)
    if latitude is None or longitude is None:
        return None, None
    if in_china(latitude, longitude):
        return latitude, longitude
    swapped = " (latitude and longitude swapped?)" if in_china(longitude, latitude) else ""
    for column, raw, value, (low, high) in (
        ("latitude", raw_lat, latitude, _LATITUDES),
        ("longitude", raw_lon, longitude, _LONGITUDES),
    ):
        if not low <= value <= high:
            problems.append((column, f"{raw} is outside China ({low:g} to {high:g}){swapped}"))
    return None, None


def _number(text: str, column: str, problems: Problems) -> float | None:
    try:
        value = float(unicodedata.normalize("NFKC", text))
    except ValueError:
        problems.append((column, f"{text!r} is not a number"))
        return None
    if not math.isfinite(value):
        problems.append((column, f"{text!r} is not a number"))
        return None
    return value


def in_china(latitude: float, longitude: float) -> bool:
    return (
        _LATITUDES[0] <= latitude <= _LATITUDES[1] and _LONGITUDES[0] <= longitude <= _LONGITUDES[1]
    )


def parse_radius_m(text: str) -> int:
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


def parse_capacity(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"{text!r} is not a whole number 0 or more")
    return int(text)


def parse_hours(text: str) -> tuple[time, time]:
    cleaned = text.replace("：", ":").replace("～", "-").replace("~", "-").replace(" ", "")
    cleaned = cleaned.replace("—", "-").replace("至", "-")
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


class _Getter:
    """Read a column of a row through a parser, noting the column's problem instead of raising."""

    def __init__(
        self, values: Mapping[str, str], problems: Problems, lengths: Mapping[str, int] | None = None
    ):
        self.values = values
        self.problems = problems
        self.lengths = lengths or {}

    def __call__(self, column: str, parse=None, *, required: bool = True):
        raw = self.values[column]
        if not raw:
            if required:
                self.problems.append((column, "is required"))
            return None
        limit = self.lengths.get(column)
        if limit is not None and len(raw) > limit:
            self.problems.append((column, f"is {len(raw)} characters long: at most {limit}"))
            return None
        if parse is None:
            return raw
        try:
            return parse(raw)
        except ValueError as exc:
            self.problems.append((column, str(exc)))
            return None
