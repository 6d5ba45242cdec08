"""The provider registry: contract, area, capacity, hours, days off, dispatch phones and prices.

Each service takes the values as written by a person (text), refuses bad input with a
`RegistryError` naming the field, and flushes; the caller commits. The parsers are the
enrollment files' own, so a value means the same in a file and on the command line.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.money import yuan_to_fen
from dispatcher.enrollment.rows import (
    parse_capacity,
    parse_date,
    parse_hours,
    parse_radius_m,
    phone_e164,
    price_problem,
)
from dispatcher.models import Item
from providers.models import Offering, Provider, ProviderCommunity, ProviderDayOff, ProviderPhone

CONTRACT_STATUSES = ("active", "suspended", "terminated")


class RegistryError(ValueError):
    """Bad input for one field of a provider's record; nothing was changed."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def _parse(field: str, parse, text: str):
    try:
        return parse(text.strip())
    except ValueError as exc:
        raise RegistryError(field, str(exc)) from None


def parse_day(field: str, text: str) -> date:
    return _parse(field, parse_date, text)


def set_contract(provider: Provider, *, status: str, starts_on: str | None = None,
                 ends_on: str | None = None, reason: str = "") -> None:
    """Set the contract's status, dates (inclusive; blank keeps, `-` clears) and the reason.

    Suspending or terminating needs a reason. A contract outside its dates does not match.
    """
    if status not in CONTRACT_STATUSES:
        raise RegistryError("status", f"{status!r} is not one of {', '.join(CONTRACT_STATUSES)}")
    if status != "active" and not reason.strip():
        raise RegistryError("reason", f"say why the contract is {status}")
    starts = provider.contract_starts_on if starts_on is None else _optional_day("starts_on", starts_on)
    ends = provider.contract_ends_on if ends_on is None else _optional_day("ends_on", ends_on)
    if starts and ends and ends < starts:
        raise RegistryError("ends_on", f"the contract ends ({ends}) before it starts ({starts})")
    provider.contract_status = status
    provider.contract_starts_on, provider.contract_ends_on = starts, ends
    provider.contract_reason = reason.strip() or None


def _optional_day(field: str, text: str) -> date | None:
    return None if text.strip() in ("", "-") else parse_day(field, text)


def set_area(session: Session, provider: Provider, *, radius_km: str | None = None,
             communities: list[str] | None = None) -> None:
    """Set the radius from the base and/or the communities served wherever they lie.

    An elder is inside the area when within the radius OR living in a listed community
    (by the community's name as on the elder's record). `communities=[]` clears the list.
    """
    if radius_km is not None:
        provider.service_radius_m = _parse("radius_km", parse_radius_m, radius_km)
    if communities is not None:
        names = [name.strip() for name in communities if name.strip()]
        if len(set(names)) != len(names):
            raise RegistryError("communities", "a community is named twice")
        too_long = [name for name in names if len(name) > 50]
        if too_long:
            raise RegistryError("communities", f"{too_long[0]!r} is longer than 50 characters")
        keep = {c.community: c for c in provider.communities}
        provider.communities[:] = [keep.get(name) or ProviderCommunity(community=name) for name in names]
    session.flush()


def set_capacity(provider: Provider, *, per_day: str | None = None, per_slot: str | None = None) -> None:
    """Set the jobs a day and the jobs a half-day slot (`-` for no limit per slot)."""
    day = provider.capacity_per_day if per_day is None else _parse("per_day", parse_capacity, per_day)
    if per_slot is None:
        slot = provider.capacity_per_slot
    else:
        slot = None if per_slot.strip() == "-" else _parse("per_slot", parse_capacity, per_slot)
    if slot is not None and slot > day:
        raise RegistryError("per_slot", f"{slot} jobs a slot is more than the {day} a day")
    provider.capacity_per_day, provider.capacity_per_slot = day, slot


def set_hours(provider: Provider, hours: str) -> None:
    """Set the opening hours, written like 08:00-18:00."""
    provider.opens_at, provider.closes_at = _parse("hours", parse_hours, hours)


def add_day_off(session: Session, provider: Provider, day: str, reason: str = "") -> ProviderDayOff:
    """Close the provider on a local calendar day; adding the same day again changes nothing."""
    when = parse_day("day", day)
    found = session.scalar(select(ProviderDayOff).where(ProviderDayOff.provider_id == provider.id,
                                                        ProviderDayOff.day == when))
    if found is None:
        found = ProviderDayOff(provider_id=provider.id, day=when, reason=reason.strip()[:200])
        session.add(found)
        session.flush()
    return found


def remove_day_off(session: Session, provider: Provider, day: str) -> bool:
    """Open the provider again on a day; return False if it was not a day off."""
    when = parse_day("day", day)
    found = session.scalar(select(ProviderDayOff).where(ProviderDayOff.provider_id == provider.id,
                                                        ProviderDayOff.day == when))
    if found is None:
        return False
    session.delete(found)
    session.flush()
    return True


def set_phones(session: Session, provider: Provider, phones: list[str]) -> None:
    """Set the dispatch phones: the first is the main one, every one gets the job SMS."""
    if not phones:
        raise RegistryError("phones", "give at least one dispatch phone")
    numbers = []
    for raw in phones:
        try:
            numbers.append(phone_e164(raw))
        except ValueError as exc:
            raise RegistryError("phones", str(exc)) from None
    if len(set(numbers)) != len(numbers):
        raise RegistryError("phones", "the same number is given twice")
    taken = session.scalar(select(Provider.code).where(Provider.dispatch_phone.in_(numbers),
                                                       Provider.id != provider.id).limit(1)) or \
        session.scalar(select(Provider.code).join(ProviderPhone, ProviderPhone.provider_id == Provider.id)
                       .where(ProviderPhone.phone.in_(numbers), Provider.id != provider.id).limit(1))
    if taken:
        raise RegistryError("phones", f"a number is already a dispatch phone of provider {taken}")
    provider.dispatch_phone = numbers[0]
    keep = {p.phone: p for p in provider.phones}
    provider.phones[:] = [keep.get(n) or ProviderPhone(phone=n) for n in numbers[1:]]
    session.flush()


def set_price(session: Session, provider: Provider, item_code: str, price_yuan: str) -> Offering:
    """Offer an item at a contracted price: above 0 and at most 80% of the market price, free
    items included (the government pays their whole price)."""
    item = session.scalar(select(Item).where(Item.code == item_code.strip()))
    if item is None:
        raise RegistryError("item_code", f"no item {item_code!r} in the catalogue")
    try:
        price_fen = yuan_to_fen(price_yuan.strip())
    except (ValueError, ArithmeticError):
        raise RegistryError("price_yuan", f"{price_yuan!r} is not an amount in yuan") from None
    problem = price_problem(price_fen, item)
    if problem:
        raise RegistryError("price_yuan", problem)
    offering = session.scalar(select(Offering).where(Offering.provider_id == provider.id,
                                                     Offering.item_id == item.id))
    if offering is None:
        offering = Offering(provider_id=provider.id, item_id=item.id, price_fen=price_fen)
        session.add(offering)
    offering.price_fen = price_fen
    session.flush()
    return offering
