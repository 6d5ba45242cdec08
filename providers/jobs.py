"""A provider's offers and jobs as its own staff (the portal) and systems (the API) see them.

Every query here is scoped by provider: another company's rows are never returned, so a caller
that guesses an id gets None and answers "not found".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.lifecycle.slots import local_day_bounds
from dispatcher.lifecycle.states import OrderState
from dispatcher.models import Elder, Item, Order, Visit
from providers.models import Offer

JOB_STATES = (OrderState.ACCEPTED.value, OrderState.IN_PROGRESS.value, OrderState.COMPLETED.value)
UNFINISHED = (OrderState.ACCEPTED.value, OrderState.IN_PROGRESS.value)
# A visit done today stays on today's list after its review settles it either way.
DONE = (OrderState.COMPLETED.value, OrderState.VERIFIED.value, OrderState.DISPUTED.value)
JOBS_LISTED = 200


@dataclass(frozen=True)
class OfferRow:
    offer: Offer
    order: Order
    item: Item
    elder: Elder


@dataclass(frozen=True)
class JobRow:
    order: Order
    item: Item
    elder: Elder
    price_fen: int
    visit: Visit | None


def open_offers(session: Session, provider_id: int, now: datetime) -> list[OfferRow]:
    """The provider's offers still waiting for an answer, soonest deadline first."""
    rows = session.execute(
        select(Offer, Order, Item, Elder)
        .join(Order, Order.id == Offer.order_id).join(Item, Item.id == Order.item_id)
        .join(Elder, Elder.id == Order.elder_id)
        .where(Offer.provider_id == provider_id, Offer.status == "offered", Offer.expires_at > now)
        .order_by(Offer.expires_at, Offer.id)
    ).all()
    return [OfferRow(*row) for row in rows]


def _jobs(provider_id: int):
    return (
        select(Order, Item, Elder, Offer.price_fen, Visit)
        .join(Item, Item.id == Order.item_id).join(Elder, Elder.id == Order.elder_id)
        .join(Offer, (Offer.order_id == Order.id) & (Offer.status == "accepted"))
        .outerjoin(Visit, Visit.order_id == Order.id)
        .where(Order.provider_id == provider_id)
    )


def recent_jobs(session: Session, provider_id: int, limit: int = JOBS_LISTED) -> list[JobRow]:
    """Accepted, in-progress and completed jobs, latest window first."""
    rows = session.execute(
        _jobs(provider_id).where(Order.state.in_(JOB_STATES))
        .order_by(Order.window_start_at.desc(), Order.id.desc()).limit(limit)
    ).all()
    return [JobRow(*row) for row in rows]


def day_plan(session: Session, provider_id: int, now: datetime,
             limit: int = JOBS_LISTED) -> tuple[list[JobRow], list[JobRow]]:
    """Today's jobs (with any earlier one still unfinished) and the upcoming ones, soonest first."""
    day_start, day_end = local_day_bounds(now)
    soonest = (Order.window_start_at, Order.id)
    today = session.execute(
        _jobs(provider_id).where(
            (Order.state.in_(UNFINISHED) & (Order.window_start_at < day_end))
            | (Order.state.in_(DONE) & (Order.window_start_at >= day_start)
               & (Order.window_start_at < day_end))
        ).order_by(*soonest).limit(limit)
    ).all()
    upcoming = session.execute(
        _jobs(provider_id).where(Order.state.in_(UNFINISHED), Order.window_start_at >= day_end)
        .order_by(*soonest).limit(limit)
    ).all()
    return [JobRow(*row) for row in today], [JobRow(*row) for row in upcoming]


def own_offer(session: Session, provider_id: int, offer_id: int) -> Offer | None:
    """The offer if it was made to this provider, else None."""
    offer = session.get(Offer, offer_id)
    return offer if offer is not None and offer.provider_id == provider_id else None


def own_order(session: Session, provider_id: int, order_id: int) -> Order | None:
    """The order if this provider holds it, else None."""
    order = session.get(Order, order_id)
    return order if order is not None and order.provider_id == provider_id else None


def own_job(session: Session, provider_id: int, job_code: str) -> Order | None:
    """This provider's latest order with the job code (closed orders free their codes), or None."""
    return session.scalar(
        select(Order).where(Order.job_code == job_code, Order.provider_id == provider_id)
        .order_by(Order.id.desc()).limit(1)
    )


def accepted_price_fen(session: Session, order: Order) -> int | None:
    """The price of the order's accepted offer: what the provider is paid for it."""
    return session.scalar(
        select(Offer.price_fen).where(Offer.order_id == order.id, Offer.status == "accepted")
    )
