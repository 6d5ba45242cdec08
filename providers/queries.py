"""Queries about providers, each taking a Session."""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatcher.models import Order
from dispatcher.states import OrderState
from providers.matching import EARTH_RADIUS_M, Candidate
from providers.models import Offering, Provider

BOOKED_STATES = (OrderState.ACCEPTED, OrderState.IN_PROGRESS, OrderState.COMPLETED, OrderState.VERIFIED)


def provider_by_phone(session: Session, phone: str) -> Provider | None:
    return session.scalar(select(Provider).where(Provider.dispatch_phone == phone).order_by(Provider.id))


def provider_by_code(session: Session, code: str) -> Provider | None:
    return session.scalar(select(Provider).where(Provider.code == code))


def candidates_near(
    session: Session, item_id: int, latitude: float, longitude: float,
    day_start: datetime, day_end: datetime,
) -> list[Candidate]:
    """Providers offering the item whose base lies in the bounding box of the widest radius."""
    widest = session.scalar(select(func.max(Provider.service_radius_m))) or 0
    dlat = math.degrees(widest / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(latitude)), 0.01)
    booked = (
        select(Order.provider_id, func.count().label("n"))
        .where(Order.state.in_(BOOKED_STATES), Order.window_start_at >= day_start,
               Order.window_start_at < day_end)
        .group_by(Order.provider_id)
        .subquery()
    )
    rows = session.execute(
        select(Provider, Offering.price_fen, func.coalesce(booked.c.n, 0))
        .join(Offering, Offering.provider_id == Provider.id)
        .outerjoin(booked, booked.c.provider_id == Provider.id)
        .where(
            Offering.item_id == item_id,
            Provider.latitude.between(latitude - dlat, latitude + dlat),
            Provider.longitude.between(longitude - dlon, longitude + dlon),
        )
    )
    return [
        Candidate(
            provider_id=p.id, code=p.code, name=p.name, latitude=p.latitude, longitude=p.longitude,
            service_radius_m=p.service_radius_m, contract_status=p.contract_status,
            opens_at=p.opens_at, closes_at=p.closes_at, capacity_per_day=p.capacity_per_day,
            booked_that_day=n, quality_score=p.quality_score, price_fen=price,
        )
        for p, price, n in rows
    ]
