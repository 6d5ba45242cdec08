"""Queries about providers, each taking a Session."""

from __future__ import annotations

import math
from datetime import date, datetime, time

from sqlalchemy import (
    Date,
    Float,
    Time,
    bindparam,
    case,
    exists,
    false,
    func,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from dispatcher.clock import LOCAL_TZ
from dispatcher.lifecycle.states import OrderState
from dispatcher.models import Order
from providers.matching import Candidate
from providers.models import Offering, Provider, ProviderCommunity, ProviderDayOff, ProviderPhone

# A degree of latitude is shortest at the equator; boxes get 1% more so none clips a circle.
MIN_METRES_PER_DEGREE_LATITUDE = 110_574
BOX_MARGIN = 1.01
BOOKED_STATES = (OrderState.ACCEPTED, OrderState.IN_PROGRESS, OrderState.COMPLETED, OrderState.VERIFIED)


def provider_by_phone(session: Session, phone: str) -> Provider | None:
    """The provider whose main or further dispatch phone this is."""
    found = session.scalar(select(Provider).where(Provider.dispatch_phone == phone).order_by(Provider.id))
    if found is None:
        found = session.scalar(
            select(Provider).join(ProviderPhone, ProviderPhone.provider_id == Provider.id)
            .where(ProviderPhone.phone == phone).order_by(Provider.id).limit(1))
    return found


def provider_by_code(session: Session, code: str) -> Provider | None:
    return session.scalar(select(Provider).where(Provider.code == code))


def widest_radius_m(session: Session) -> int:
    """The largest service radius of any provider (an index lookup)."""
    return session.connection().scalar(_WIDEST) or 0


def candidates_near(
    session: Session, item_id: int, latitude: float, longitude: float,
    day_start: datetime, day_end: datetime, within_m: float | None = None,
    radius_factor: float = 1.0, *, slot_start: datetime | None = None, slot_end: datetime | None = None,
    community: str = "", day: date | None = None, at: time | None = None,
) -> list[Candidate]:
    """Active providers offering the item whose own radius, as a box, may reach the point,
    and those listing `community` among the communities they serve, wherever they are.

    The box of the widest radius (or of `within_m`) narrows the scan on the
    position index; each provider's own box (a little larger than its circle on the ellipsoid)
    then drops most rows before the table is read. Every provider within `within_m` of the
    point is returned. `radius_factor` widens every radius (emergencies). Bookings are counted
    over the day and over the slot (`slot_start`–`slot_end`, by default the day); `day` (the
    visit's local date) marks providers with that day off; given `at` (the visit's local time),
    providers closed then are left out in SQL already.
    Plain rows, not ORM objects: matching needs values only.
    """
    reach = widest_radius_m(session) * radius_factor if within_m is None else within_m
    lat_per_m = BOX_MARGIN / MIN_METRES_PER_DEGREE_LATITUDE
    dlat = reach * lat_per_m
    lon_per_m = lat_per_m / max(math.cos(math.radians(min(abs(latitude) + dlat, 89.0))), 0.01)
    # Core on the session's connection: the ORM's execution layer costs more than the query here.
    rows = session.connection().execute(_CANDIDATES, {
        "item_id": item_id, "latitude": latitude, "longitude": longitude,
        "lat_per_m": lat_per_m * radius_factor, "lon_per_m": lon_per_m * radius_factor,
        "lat_low": latitude - dlat, "lat_high": latitude + dlat,
        "lon_low": longitude - reach * lon_per_m, "lon_high": longitude + reach * lon_per_m,
        "day_start": day_start, "day_end": day_end,
        "slot_start": slot_start or day_start, "slot_end": slot_end or day_end,
        "community": community or "", "day": day or day_start.astimezone(LOCAL_TZ).date(), "at": at,
    })
    found = {}
    for row in rows:
        # A provider in the box serving the community too comes twice: keep it once, serving.
        if row[0] not in found or row[-1]:
            found[row[0]] = row
    return list(map(Candidate._make, found.values()))


def candidate_by_id(
    session: Session, provider_id: int, item_id: int, *, day_start: datetime, day_end: datetime,
    slot_start: datetime, slot_end: datetime, community: str, day: date,
) -> Candidate | None:
    """One provider as matching sees it (whatever its status), or None if it does not sell the item."""
    row = session.execute(_ONE_CANDIDATE, {
        "provider_id": provider_id, "item_id": item_id, "day_start": day_start, "day_end": day_end,
        "slot_start": slot_start, "slot_end": slot_end, "community": community or "", "day": day,
    }).first()
    return None if row is None or row[12] is None else Candidate(*row)


def _booked_between(start: str, end: str):
    """How many booked orders a provider has starting between the two bound times."""
    return (
        select(func.count())
        .where(Order.provider_id == Provider.id,
               Order.window_start_at >= bindparam(start, type_=Order.window_start_at.type),
               Order.window_start_at < bindparam(end, type_=Order.window_start_at.type),
               Order.state.in_([state.value for state in BOOKED_STATES]))
        .scalar_subquery()
    )


def _candidate_columns():
    # Correlated subqueries keep `providers` the only table scanned, so the planner takes the
    # position index and looks the offering and the day's bookings up for the few rows left.
    price = (
        select(Offering.price_fen)
        .where(Offering.provider_id == Provider.id, Offering.item_id == bindparam("item_id"))
        .scalar_subquery()
    )
    booked = _booked_between("day_start", "day_end")
    booked_in_slot = _booked_between("slot_start", "slot_end")
    # Counted only for providers with a limit per slot.
    booked_in_slot = case((Provider.capacity_per_slot.is_(None), 0), else_=booked_in_slot)
    day_off = exists().where(ProviderDayOff.provider_id == Provider.id,
                             ProviderDayOff.day == bindparam("day", type_=Date()))
    columns = (
        Provider.id, Provider.code, Provider.name, Provider.latitude, Provider.longitude,
        Provider.service_radius_m, Provider.contract_status, Provider.opens_at, Provider.closes_at,
        Provider.capacity_per_day, booked, Provider.quality_score, price,
        Provider.contract_starts_on, Provider.contract_ends_on, Provider.capacity_per_slot,
        booked_in_slot, day_off,
    )
    return columns, price


def _candidates_statement():
    def number(name):
        # Typed, or a factor multiplying the integer radius would be bound as an integer.
        return bindparam(name, type_=Float())

    columns, price = _candidate_columns()
    latitude, longitude = number("latitude"), number("longitude")
    at = bindparam("at", type_=Time())
    # Fewer rows to read and build; matching's own filter says the same (`is_open`).
    open_then = or_(at.is_(None), (Provider.opens_at <= at) & (Provider.closes_at > at))
    in_box = select(*columns, false()).where(
        Provider.latitude.between(number("lat_low"), number("lat_high")),
        Provider.longitude.between(number("lon_low"), number("lon_high")),
        func.abs(Provider.latitude - latitude) <= Provider.service_radius_m * number("lat_per_m"),
        func.abs(Provider.longitude - longitude) <= Provider.service_radius_m * number("lon_per_m"),
        Provider.contract_status == "active",
        open_then,
        price.is_not(None),
    )
    by_community = select(*columns, true()).where(
        Provider.id.in_(select(ProviderCommunity.provider_id)
                        .where(ProviderCommunity.community == bindparam("community"))),
        Provider.contract_status == "active",
        open_then,
        price.is_not(None),
    )
    # The last column says which half found the row: `serves_community` for the second.
    return union_all(in_box, by_community)


def _one_candidate_statement():
    columns, _ = _candidate_columns()
    serves = exists().where(ProviderCommunity.provider_id == Provider.id,
                            ProviderCommunity.community == bindparam("community"))
    return select(*columns, serves).where(Provider.id == bindparam("provider_id"))


# Built once: statement construction would otherwise cost more than the query on small data.
_CANDIDATES = _candidates_statement()
_ONE_CANDIDATE = _one_candidate_statement()
_WIDEST = select(func.max(Provider.service_radius_m))
