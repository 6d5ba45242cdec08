"""Continuity (issue 17): matching prefers the provider, and names the worker, the elder rated well."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import select

from dispatcher.lifecycle import orders, ranking
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import CallbackReview, Item, Order, Visit
from providers.models import Offer

_SERIAL = itertools.count(1)


def _reviewed_visit(session, clock, elder, provider, rating, worker=None):
    """A past, verified visit of `provider` to `elder`, rated `rating` at the callback review."""
    n = [next(_SERIAL)]
    item = session.scalar(select(Item).where(Item.code == "HK01"))
    past = clock.now() - timedelta(days=7 + n[0])
    order = Order(order_no=f"2026110{n[0]}00000{n[0]}", job_code=f"90000{n[0]}", elder=elder, item=item,
                  state="verified", source="phone", slot_code="asap", window_start_at=past,
                  window_end_at=past + timedelta(hours=3), provider_id=provider.id, created_at=past, updated_at=past)
    session.add(order)
    session.flush()
    visit = Visit(order_id=order.id, provider_id=provider.id, checked_in_at=past, checked_out_at=past,
                  worker_id=worker.id if worker else None)
    session.add(visit)
    session.flush()
    session.add(CallbackReview(visit_id=visit.id, order_id=order.id, state="answered", due_at=past, rating=rating))
    session.commit()


def _two(make_elder, make_provider):
    elder = make_elder()
    near = make_provider(offerings={"HK01": 4800}, latitude=36.0585, longitude=103.8275)
    farther = make_provider(offerings={"HK01": 4800}, latitude=36.0620, longitude=103.8300)
    return elder, near, farther


def test_without_ratings_the_nearer_provider_wins(session, clock, make_elder, make_provider):
    elder, near, _ = _two(make_elder, make_provider)
    item = session.scalar(select(Item).where(Item.code == "HK01"))

    ranked = ranking.rank_for(session, elder, item, clock.now())

    assert ranked[0].candidate.provider_id == near.id
    assert all("continuity" not in r.reasons["parts"] for r in ranked)


def test_a_provider_the_elder_rated_well_is_preferred_and_the_part_is_stored_on_the_offer(
        session, clock, settings, make_elder, make_provider, make_worker):
    elder, near, farther = _two(make_elder, make_provider)
    worker = make_worker(farther, work_number="30001")
    _reviewed_visit(session, clock, elder, farther, 5, worker)
    _reviewed_visit(session, clock, elder, near, 3)
    item = session.scalar(select(Item).where(Item.code == "HK01"))

    order = orders.place_order(session, elder=elder, item=item, slot=slot_for("asap", clock.now()),
                               source="phone", call_sid=None, settings=settings, now=clock.now())
    session.commit()

    (offer,) = session.scalars(select(Offer).where(Offer.order_id == order.id)).all()
    assert offer.provider_id == farther.id
    assert offer.reasons["parts"]["continuity"] == 0.1
    assert offer.reasons["continuity"] == {"rated_well": True, "worker_id": worker.id}
    assert abs(offer.score - sum(offer.reasons["parts"].values())) < 1e-6


def test_a_low_rating_cancels_a_good_one(session, clock, make_elder, make_provider):
    elder, near, farther = _two(make_elder, make_provider)
    _reviewed_visit(session, clock, elder, farther, 5)
    _reviewed_visit(session, clock, elder, farther, 1)
    item = session.scalar(select(Item).where(Item.code == "HK01"))

    assert ranking.rated_well(session, elder.id) == {}
    assert ranking.rank_for(session, elder, item, clock.now())[0].candidate.provider_id == near.id


def test_continuity_is_modest_a_far_provider_is_not_sent(session, clock, make_elder, make_provider):
    elder = make_elder()
    near = make_provider(offerings={"HK01": 4800}, latitude=36.0585, longitude=103.8275)
    far = make_provider(offerings={"HK01": 4800}, latitude=36.0900, longitude=103.8600, service_radius_m=8000)
    _reviewed_visit(session, clock, elder, far, 5)
    item = session.scalar(select(Item).where(Item.code == "HK01"))

    ranked = ranking.rank_for(session, elder, item, clock.now())

    assert [r.candidate.provider_id for r in ranked[:2]] == [near.id, far.id]
