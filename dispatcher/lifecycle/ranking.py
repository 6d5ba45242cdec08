"""Who can take an order: the ranked providers for an elder, item and time, and what the visit costs."""

from __future__ import annotations

import math
from datetime import datetime
from functools import cache

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from billing.charges import charge_for_month
from billing.months import month_of
from billing.policy import Charge, Policy
from dispatcher.clock import local
from dispatcher.lifecycle.slots import Slot, half_day_bounds, local_day_bounds
from dispatcher.models import Elder, Item
from providers.matching import DEFAULT_WEIGHTS, Ranked, Weights, rank_candidates, score_ceiling
from providers.queries import candidates_near, widest_radius_m

# Matching first searches this far around the elder, then widens until the answer cannot change.
FIRST_SEARCH_M = 2_000


def rank_for(session: Session, elder: Elder, item: Item, slot_start: datetime,
             excluded: frozenset[int] = frozenset(), *, top: int = 5, weights: Weights = DEFAULT_WEIGHTS,
             radius_factor: float = 1.0) -> list[Ranked]:
    """The eligible providers for an elder, item and start time, best first.

    The search starts close and widens until nobody farther out could beat the last of the
    top (`score_ceiling`): the same answer as searching the widest radius at once, from far
    fewer rows where providers are dense.
    """
    if elder.latitude is None or elder.longitude is None:
        return []
    excluded = excluded | complained_about(session, elder.id)
    favoured = rated_well(session, elder.id)
    day_start, day_end = local_day_bounds(slot_start)
    slot_from, slot_to = half_day_bounds(slot_start)
    here = local(slot_start)
    at, on = here.time(), here.date()
    # The widest radius is looked up only if the first search does not settle the answer.
    widest = None
    reach = FIRST_SEARCH_M
    measured: dict[int, float] = {}
    while True:
        candidates = candidates_near(session, item.id, elder.latitude, elder.longitude, day_start, day_end,
                                     within_m=reach, radius_factor=radius_factor, slot_start=slot_from,
                                     slot_end=slot_to, community=elder.community, day=on, at=at)
        ranked = rank_candidates(elder.latitude, elder.longitude, at, candidates, weights=weights,
                                 excluded=excluded, top=top, radius_factor=radius_factor, on=on,
                                 measured=measured, favoured=frozenset(favoured))
        if len(ranked) == top and ranked[-1].score > score_ceiling(reach, weights, bool(favoured)):
            return _with_workers(ranked, favoured)
        if widest is None:
            widest = widest_radius_m(session) * radius_factor
        if reach >= widest:
            return _with_workers(ranked, favoured)
        # Too few near by: search everywhere at once. Enough but not provably the best: widen by
        # doubling the area, not the reach, since the rows to read grow with the area.
        reach = widest if len(ranked) < top else min(reach * math.sqrt(2), widest)


def _with_workers(ranked: list[Ranked], favoured: dict[int, int | None]) -> list[Ranked]:
    """Name, in the reasons, the worker of a well-rated provider the elder rated well (once recorded)."""
    for r in ranked:
        worker = favoured.get(r.candidate.provider_id)
        if "continuity" in r.reasons["parts"]:
            r.reasons["continuity"] = {"rated_well": True, **({"worker_id": worker} if worker else {})}
    return ranked


def rated_well(session: Session, elder_id: int) -> dict[int, int | None]:
    """Providers this elder rated 4 or 5 at a callback review (issue 17), each with the worker of its
    latest well-rated visit when that worker was recorded. A provider also rated 2 or less is left out."""
    rows = session.connection().execute(_rated_statement(), {"elder_id": elder_id}).all()
    low = {provider for provider, _, rating in rows if rating <= 2}
    return {provider: worker for provider, worker, rating in rows if rating >= 4 and provider not in low}


@cache
def _rated_statement():
    from dispatcher.models import CallbackReview, Order, Visit

    return (select(Order.provider_id, Visit.worker_id, CallbackReview.rating)
            .join(CallbackReview, CallbackReview.order_id == Order.id)
            .join(Visit, Visit.id == CallbackReview.visit_id)
            .where(Order.elder_id == bindparam("elder_id"), Order.provider_id.is_not(None),
                   CallbackReview.rating.is_not(None))
            .order_by(CallbackReview.id))


def complained_about(session: Session, elder_id: int) -> frozenset[int]:
    """Providers this elder has complained about: never sent to them again."""
    return frozenset(session.connection().scalars(_complained_statement(), {"elder_id": elder_id}))


@cache
def _complained_statement():
    from dispatcher.programmes.supervision import Complaint

    return select(Complaint.provider_id).where(Complaint.elder_id == bindparam("elder_id"))


def quote(session: Session, elder: Elder, item: Item, slot: Slot, policy: Policy,
          now: datetime) -> Charge | None:
    """What the best provider would charge and how it splits, or None if nobody can come."""
    ranked = rank_for(session, elder, item, slot.start)
    if not ranked:
        return None
    return charge_for(session, elder, item, ranked[0].candidate.price_fen, policy, slot.start)


def charge_for(session: Session, elder: Elder, item: Item, price_fen: int, policy: Policy,
               moment: datetime) -> Charge:
    """Price a visit at `moment` under the month's policy version, cap, use and rollover."""
    charge, _ = charge_for_month(session, elder=elder, item=item, price_fen=price_fen,
                                 policy=policy, month=month_of(moment), day=local(moment).date())
    return charge


