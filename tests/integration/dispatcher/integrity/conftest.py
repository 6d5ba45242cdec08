"""Visits built directly with the proof columns h18a fills, and their ledger entries."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

_serial = itertools.count(1)


@pytest.fixture
def make_worker(session, clock):
    from providers.models import Worker

    def make(provider, **fields):
        n = next(_serial)
        worker = Worker(provider_id=provider.id, work_number=f"W{n:04d}", name="张建国",
                        phone=f"+86137{n:08d}", id_number=f"62010219800101{n:04d}", active=True,
                        created_at=clock.now(), **fields)
        session.add(worker)
        session.commit()
        return worker

    return make


@pytest.fixture
def make_visit(session, clock, make_elder, make_provider):
    """A checked-in (and by default checked-out) visit; keywords set its columns directly."""
    from dispatcher.models import Item, Order, Visit

    def make(*, provider=None, worker=None, elder=None, start=None, minutes=60, item="HK01",
             window=None, checked_out=True, in_method="location", out_method="location",
             device=None, state="completed"):
        n = next(_serial)
        provider = provider or make_provider()
        elder = elder or make_elder()
        start = start or clock.now() - timedelta(days=2)
        window = window or (start - timedelta(minutes=30), start + timedelta(hours=2, minutes=30))
        order = Order(order_no=f"T{n:012d}", job_code=f"{n:06d}", elder_id=elder.id,
                      item_id=session.query(Item).filter_by(code=item).one().id, state=state,
                      source="test", slot_code="asap", window_start_at=window[0],
                      window_end_at=window[1], quoted_price_fen=4800, provider_id=provider.id,
                      created_at=start, updated_at=start)
        visit = Visit(order=order, provider_id=provider.id, checked_in_at=start,
                      checked_out_at=start + timedelta(minutes=minutes) if checked_out else None,
                      check_in_source="portal", check_out_source="portal" if checked_out else None,
                      worker_id=worker.id if worker else None, check_in_method=in_method,
                      check_out_method=out_method if checked_out else None,
                      check_in_device=device)
        session.add(visit)
        session.commit()
        return visit

    return make


@pytest.fixture
def bill(session, clock):
    """Book a visit's charge (4800 fen, 4000 subsidy) and, if asked, the elder's confirmation."""
    from billing import ledger
    from billing.charges import ref_for
    from dispatcher.models import CallbackReview

    def book(visit, *, verified=False, review=True):
        ref = ref_for(visit)
        ledger.post_charge(session, ref, price_fen=4800, subsidy_fen=4000, copay_fen=800,
                           policy_version="2026-01", now=clock.now())
        if review:
            session.add(CallbackReview(visit_id=visit.id, order_id=visit.order_id,
                                       state="verified" if verified else "scheduled",
                                       due_at=clock.now(), did_worker_come=True if verified else None,
                                       answered_at=clock.now() if verified else None))
        if verified:
            ledger.post_verification(session, ref, clock.now())
        session.commit()
        return ref

    return book
