"""Queries about providers, each taking a Session."""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import Float, bindparam, func, select
from sqlalchemy.orm import Session

from dispatcher.models import Order
from dispatcher.states import OrderState
from providers.matching import Candidate
from providers.models import Offering, Provider

# A degree of latitude is shortest at the equator; boxes get 1% more so none clips a circle.
MIN_METRES_PER_DEGREE_LATITUDE = 110_574
BOX_MARGIN = 1.01
BOOKED_STATES = (OrderState.ACCEPTED, OrderState.IN_PROGRESS, OrderState.COMPLETED, OrderState.VERIFIED)


def provider_by_phone(session: Session, phone: str) -> Provider | None:
    return session.scalar(select(Provider).where(Provider.dispatch_phone == phone).order_by(Provider.id))


def provider_by_code(session: Session, code: str) -> Provider | None:
    return session.scalar(select(Provider).where(Provider.code == code))


def widest_radius_m(session: Session) -> int:
    """The largest service radius of any provider (an index lookup)."""
    return session.scalar(_WIDEST) or 0


def candidates_near(
    session: Session, item_id: int, latitude: float, longitude: float,
    day_start: datetime, day_end: datetime, within_m: float | None = None,
    radius_factor: float = 1.0,
) -> list[Candidate]:
    """Active providers offering the item whose own radius, as a box, may reach the point.

    The box of the widest radius (or of `within_m`) narrows the scan on the
    position index; each provider's own box (a little larger than its circle on the ellipsoid)
    then drops most rows before the table is read. Every provider within `within_m` of the
    point is returned. `radius_factor` widens every radius (emergencies).
    Plain rows, not ORM objects: matching needs values only.
    """
    reach = widest_radius_m(session) * radius_factor if within_m is None else within_m
    lat_per_m = BOX_MARGIN / MIN_METRES_PER_DEGREE_LATITUDE
    dlat = reach * lat_per_m
    lon_per_m = lat_per_m / max(math.cos(math.radians(min(abs(latitude) + dlat, 89.0))), 0.01)
    rows = session.execute(_CANDIDATES, {
        "item_id": item_id, "latitude": latitude, "longitude": longitude,
        "lat_per_m": lat_per_m * radius_factor, "lon_per_m": lon_per_m * radius_factor,
        "lat_low": latitude - dlat, "lat_high": latitude + dlat,
        "lon_low": longitude - reach * lon_per_m, "lon_high": longitude + reach * lon_per_m,
        "day_start": day_start, "day_end": day_end,
    })
    return [Candidate(*row) for row in rows]


def _candidates_statement():
    # Correlated subqueries keep `providers` the only table scanned, so the planner takes the
    # position index and looks the offering and the day's bookings up for the few rows left.
    price = (
        select(Offering.price_fen)
        .where(Offering.provider_id == Provider.id, Offering.item_id == bindparam("item_id"))
        .scalar_subquery()
    )
    booked = (
        select(func.count())
        .where(Order.provider_id == Provider.id,
               Order.window_start_at >= bindparam("day_start", type_=Order.window_start_at.type),
               Order.window_start_at < bindparam("day_end", type_=Order.window_start_at.type),
               Order.state.in_([state.value for state in BOOKED_STATES]))
        .scalar_subquery()
    )
    def number(name):
        # Typed, or a factor multiplying the integer radius would be bound as an integer.
        return bindparam(name, type_=Float())

    latitude, longitude = number("latitude"), number("longitude")
    return (
        select(
            Provider.id, Provider.code, Provider.name, Provider.latitude, Provider.longitude,
            Provider.service_radius_m, Provider.contract_status, Provider.opens_at, Provider.closes_at,
            Provider.capacity_per_day, booked, Provider.quality_score, price,
        )
        .where(
            Provider.latitude.between(number("lat_low"), number("lat_high")),
            Provider.longitude.between(number("lon_low"), number("lon_high")),
            func.abs(Provider.latitude - latitude) <= Provider.service_radius_m * number("lat_per_m"),
            func.abs(Provider.longitude - longitude) <= Provider.service_radius_m * number("lon_per_m"),
            Provider.contract_status == "active",
            price.is_not(None),
        )
    )


# Built once: statement construction would otherwise cost more than the query on small data.
_CANDIDATES = _candidates_statement()
_WIDEST = select(func.max(Provider.service_radius_m))
