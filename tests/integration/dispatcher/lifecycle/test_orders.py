"""Dispatch, visits, billing and review as services on a real database, driven by a fake clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from conftest import PG_URL
from sqlalchemy import func, select

from billing import ledger
from billing.models import LedgerPosting
from dispatcher.lifecycle import attendance, orders, reviews
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import CallbackReview, Item, OperatorTask, Order
from providers.matching import haversine_m
from providers.models import Offer
from telephony.models import OutboxMessage

ELDER_AT = (36.0580, 103.8270)
# Distances from ELDER_AT: about 140 m, 1 km, 2.4 km and 3.6 km, all inside a 5 km radius.
NEAR = (36.0590, 103.8280)
MID = (36.0650, 103.8350)
FAR = (36.0750, 103.8450)
FARTHER = (36.0850, 103.8550)


def _item(session, code="HK01") -> Item:
    return session.scalar(select(Item).where(Item.code == code))


def _place(session, elder, settings, clock, item_code="HK01") -> Order:
    order = orders.place_order(
        session, elder=elder, item=_item(session, item_code), slot=slot_for("asap", clock.now()),
        source="phone", call_sid=None, settings=settings, now=clock.now(),
    )
    session.commit()
    return order


def _offers(session, order) -> list[Offer]:
    session.expire_all()
    return list(session.scalars(select(Offer).where(Offer.order_id == order.id).order_by(Offer.id)))


def _open_offer(session, order) -> Offer:
    (offer,) = [o for o in _offers(session, order) if o.status == "offered"]
    return offer


def _tasks(session, kind=None) -> list[OperatorTask]:
    query = select(OperatorTask).order_by(OperatorTask.id)
    if kind:
        query = query.where(OperatorTask.kind == kind)
    return list(session.scalars(query))


def _snapshot(session, order) -> tuple:
    """Everything an answer to an offer could change."""
    session.expire_all()
    fresh = session.get(Order, order.id)
    return (
        fresh.state, fresh.provider_id,
        [(o.provider_id, o.status, o.responded_at) for o in _offers(session, order)],
        session.scalar(select(func.count()).select_from(OutboxMessage)),
        session.scalar(select(func.count()).select_from(OperatorTask)),
        session.scalar(select(func.count()).select_from(LedgerPosting)),
    )


def _extra_offer(session, order, provider, now, window_s) -> Offer:
    """An offer written directly, as an emergency multi-offer would: several open at once."""
    offer = Offer(order_id=order.id, provider_id=provider.id, status="offered", rank=9,
                  price_fen=4800, distance_m=1000, score=0.5, reasons={"manual": True},
                  offered_at=now, expires_at=now + timedelta(seconds=window_s))
    session.add(offer)
    session.commit()
    return offer


def _complete_visit(session, order, policy, settings, clock) -> Order:
    """Accept the open offer, check in half an hour later, check out an hour after that."""
    offer = _open_offer(session, order)
    assert orders.accept_offer(session, offer, offer.provider_id, "sms", settings, clock.now()).ok
    clock.advance(1800)
    assert attendance.check_in(session, order, offer.provider_id, "sms", clock.now()).ok
    clock.advance(3600)
    assert attendance.check_out(session, order, offer.provider_id, "sms", policy, settings, clock.now()).ok
    session.commit()
    return order


def _postings(session, order, kind) -> dict[str, int]:
    rows = session.scalars(
        select(LedgerPosting).where(LedgerPosting.order_id == order.id, LedgerPosting.kind == kind)
    )
    return {row.account: row.amount_fen for row in rows}


def _review(session, order) -> CallbackReview:
    session.expire_all()
    return session.scalar(select(CallbackReview).where(CallbackReview.order_id == order.id))


# -- matching and the first offer -------------------------------------------------------------

def test_the_nearest_eligible_provider_is_offered_first_and_the_offer_keeps_its_reasons(
    session, settings, clock, make_elder, make_provider
):
    elder = make_elder(latitude=ELDER_AT[0], longitude=ELDER_AT[1])
    make_provider(latitude=36.0581, longitude=103.8271, contract_status="suspended")
    make_provider(latitude=36.0582, longitude=103.8272, offerings={"HK02": 2400})
    near = make_provider(latitude=NEAR[0], longitude=NEAR[1])
    make_provider(latitude=MID[0], longitude=MID[1])

    order = _place(session, elder, settings, clock)

    (offer,) = _offers(session, order)
    assert order.state == "offered"
    assert offer.provider_id == near.id and offer.rank == 1 and offer.status == "offered"
    assert offer.expires_at == clock.now() + timedelta(seconds=settings.asap_offer_window_s)
    expected_m = haversine_m(*ELDER_AT, *NEAR)
    assert abs(offer.distance_m - expected_m) < 0.01 * expected_m
    assert offer.reasons["distance_m"] == offer.distance_m
    assert set(offer.reasons["parts"]) == {"distance", "quality", "load"}
    assert offer.reasons["score"] == pytest.approx(sum(offer.reasons["parts"].values()))


def test_an_offer_sms_naming_the_job_code_goes_to_the_offered_provider(
    session, settings, clock, make_elder, make_provider
):
    elder = make_elder()
    near = make_provider(latitude=NEAR[0], longitude=NEAR[1])

    order = _place(session, elder, settings, clock)

    (sms,) = session.scalars(select(OutboxMessage)).all()
    assert sms.to_number == near.dispatch_phone and sms.purpose == "offer"
    assert f"工单号:{order.job_code}" in sms.body


# -- moving on: declines, expiry, the operator queue ------------------------------------------

def test_a_decline_cascades_to_the_next_provider_with_the_same_job_code(
    session, settings, clock, make_elder, make_provider
):
    elder = make_elder()
    near = make_provider(latitude=NEAR[0], longitude=NEAR[1])
    mid = make_provider(latitude=MID[0], longitude=MID[1])
    order = _place(session, elder, settings, clock)
    first = _open_offer(session, order)

    outcome = orders.decline_offer(session, first, near.id, "sms", settings, clock.now())
    session.commit()

    assert outcome.ok
    declined, second = _offers(session, order)
    assert (declined.provider_id, declined.status) == (near.id, "declined")
    assert (second.provider_id, second.status, second.rank) == (mid.id, "offered", 2)
    assert session.get(Order, order.id).state == "offered"
    sms = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == f"offer:{second.id}"))
    assert sms.to_number == mid.dispatch_phone
    assert f"工单号:{order.job_code}" in sms.body


def test_an_offer_left_unanswered_past_its_window_goes_to_the_next_provider(
    session, settings, clock, make_elder, make_provider
):
    elder = make_elder()
    near = make_provider(latitude=NEAR[0], longitude=NEAR[1])
    mid = make_provider(latitude=MID[0], longitude=MID[1])
    order = _place(session, elder, settings, clock)

    clock.advance(settings.asap_offer_window_s - 1)
    assert orders.expire_due_offers(session, settings, clock.now()) == 0
    clock.advance(2)
    assert orders.expire_due_offers(session, settings, clock.now()) == 1
    session.commit()

    expired, second = _offers(session, order)
    assert (expired.provider_id, expired.status) == (near.id, "expired")
    assert (second.provider_id, second.status) == (mid.id, "offered")
    assert second.expires_at == clock.now() + timedelta(seconds=settings.asap_offer_window_s)


def test_the_scheduler_expires_each_offer_in_a_transaction_of_its_own_within_its_budget(
    app, session, settings, clock, make_elder, make_provider
):
    """A cold snap's backlog: each expiry commits alone (a short lock on one order), and a tick
    stops at its time budget, leaving the rest for the next tick, which takes them."""
    from dispatcher.operations.sweepers import expire_offers

    make_provider(latitude=NEAR[0], longitude=NEAR[1])
    make_provider(latitude=MID[0], longitude=MID[1])
    placed = [_place(session, make_elder(name=f"老人{n}", phone=f"+861391234100{n}"), settings, clock)
              for n in range(3)]
    clock.advance(settings.asap_offer_window_s + 1)

    assert expire_offers(app, settings, clock.now(), budget_s=0) == 1  # the budget spent: one, committed
    session.expire_all()
    assert [o.status for o in _offers(session, placed[0])] == ["expired", "offered"]
    assert [o.status for o in _offers(session, placed[1])] == ["offered"]
    session.rollback()  # SQLite: no read of this test's left open while the scheduler writes
    assert expire_offers(app, settings, clock.now()) == 2  # the next tick takes the rest
    session.expire_all()
    assert all([o.status for o in _offers(session, order)] == ["expired", "offered"] for order in placed)


def test_after_max_offers_unanswered_the_order_waits_for_an_operator_with_the_reason(
    session, settings, clock, make_elder, make_provider
):
    assert settings.max_offers == 3
    elder = make_elder()
    providers = [make_provider(latitude=lat, longitude=lon) for lat, lon in (NEAR, MID, FAR, FARTHER)]
    order = _place(session, elder, settings, clock)

    for _ in range(3):
        clock.advance(settings.asap_offer_window_s + 1)
        orders.expire_due_offers(session, settings, clock.now())
        session.commit()

    offers = _offers(session, order)
    assert [o.provider_id for o in offers] == [p.id for p in providers[:3]]
    assert all(o.status == "expired" for o in offers)
    order = session.get(Order, order.id)
    assert order.state == "unassigned"
    (task,) = _tasks(session)
    assert (task.kind, task.order_id) == ("unassigned", order.id)
    assert "3家" in task.reason and task.reason == order.queue_reason


def test_when_the_only_provider_declines_the_order_waits_for_an_operator_with_the_reason(
    session, settings, clock, make_elder, make_provider
):
    elder = make_elder()
    only = make_provider(latitude=NEAR[0], longitude=NEAR[1])
    order = _place(session, elder, settings, clock)

    orders.decline_offer(session, _open_offer(session, order), only.id, "sms", settings, clock.now())
    session.commit()

    order = session.get(Order, order.id)
    assert order.state == "unassigned"
    (task,) = _tasks(session, "unassigned")
    assert task.order_id == order.id and task.reason == order.queue_reason == "其余服务商均不符合条件"


def test_an_order_nobody_nearby_can_take_waits_for_an_operator_with_the_reason(
    session, settings, clock, make_elder, make_provider
):
    elder = make_elder()
    make_provider(latitude=36.2000, longitude=104.0000)  # about 24 km away

    order = _place(session, elder, settings, clock)

    assert order.state == "unassigned" and _offers(session, order) == []
    (task,) = _tasks(session, "unassigned")
    assert task.order_id == order.id and task.elder_id == elder.id
    assert task.reason == order.queue_reason == "附近没有可接单的服务商"


def test_an_elder_without_coordinates_goes_to_the_operator_queue_with_that_reason(
    session, settings, clock, make_elder, make_provider
):
    elder = make_elder(latitude=None, longitude=None)
    make_provider(latitude=NEAR[0], longitude=NEAR[1])

    order = _place(session, elder, settings, clock)

    assert order.state == "unassigned" and _offers(session, order) == []
    (task,) = _tasks(session, "unassigned")
    assert task.order_id == order.id
    assert "坐标" in task.reason and task.reason == order.queue_reason
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


# -- answers that must be refused --------------------------------------------------------------

@pytest.mark.parametrize("swept", [False, True], ids=["before the sweeper ran", "after the sweeper ran"])
def test_accepting_an_expired_offer_is_refused_and_changes_nothing(
    swept, session, settings, clock, make_elder, make_provider
):
    elder = make_elder()
    near = make_provider(latitude=NEAR[0], longitude=NEAR[1])
    make_provider(latitude=MID[0], longitude=MID[1])
    order = _place(session, elder, settings, clock)
    late = _open_offer(session, order)
    clock.advance(settings.asap_offer_window_s + 1)
    if swept:
        orders.expire_due_offers(session, settings, clock.now())
        session.commit()
    before = _snapshot(session, order)

    outcome = orders.accept_offer(session, late, near.id, "sms", settings, clock.now())
    session.commit()

    assert not outcome.ok
    assert _snapshot(session, order) == before
    assert session.get(Order, order.id).provider_id is None


def test_accepting_a_withdrawn_offer_is_refused_and_changes_nothing(
    session, settings, clock, make_elder, make_provider
):
    elder = make_elder()
    near = make_provider(latitude=NEAR[0], longitude=NEAR[1])
    mid = make_provider(latitude=MID[0], longitude=MID[1])
    order = _place(session, elder, settings, clock)
    first = _open_offer(session, order)
    other = _extra_offer(session, order, mid, clock.now(), settings.offer_window_s)
    assert orders.accept_offer(session, first, near.id, "sms", settings, clock.now()).ok
    session.commit()
    assert session.get(Offer, other.id).status == "withdrawn"
    before = _snapshot(session, order)

    outcome = orders.accept_offer(session, other, mid.id, "sms", settings, clock.now())
    session.commit()

    assert not outcome.ok
    assert _snapshot(session, order) == before
    assert session.get(Order, order.id).provider_id == near.id


def test_accepting_another_providers_offer_is_refused_and_changes_nothing(
    session, settings, clock, make_elder, make_provider
):
    elder = make_elder()
    make_provider(latitude=NEAR[0], longitude=NEAR[1])
    intruder = make_provider(latitude=MID[0], longitude=MID[1])
    order = _place(session, elder, settings, clock)
    offer = _open_offer(session, order)
    before = _snapshot(session, order)

    outcome = orders.accept_offer(session, offer, intruder.id, "api", settings, clock.now())
    session.commit()

    assert not outcome.ok
    assert _snapshot(session, order) == before


# -- the visit, the bill, the review -----------------------------------------------------------

def test_check_out_books_a_balanced_charge_with_the_subsidy_pending_and_schedules_the_review(
    session, settings, policy, clock, make_elder, make_provider
):
    elder = make_elder(elder_class="低保")  # 80% of the price, up to 400 yuan a month
    make_provider(latitude=NEAR[0], longitude=NEAR[1], offerings={"HK01": 4800})
    order = _place(session, elder, settings, clock)

    _complete_visit(session, order, policy, settings, clock)

    charge = _postings(session, order, "charge")
    assert charge == {ledger.SUBSIDY_PENDING: 3840, ledger.ELDER_COPAY: 960,
                      ledger.PROVIDER_REVENUE: -4800}
    assert sum(charge.values()) == 0
    assert ledger.pending_subsidy(session, session.get(Order, order.id).visit.id) == 3840
    assert session.get(Order, order.id).state == "completed"
    review = _review(session, order)
    assert review.state == "scheduled"
    # Checked out at 10:30 Beijing time: the review is due an hour later, outside quiet hours.
    assert clock.now() == datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    assert review.due_at == clock.now() + timedelta(seconds=settings.review_delay_s)


def test_a_review_that_would_fall_in_quiet_hours_waits_until_they_end(
    session, settings, policy, clock, make_elder, make_provider
):
    elder = make_elder()
    make_provider(latitude=NEAR[0], longitude=NEAR[1])
    order = _place(session, elder, settings, clock)
    offer = _open_offer(session, order)
    orders.accept_offer(session, offer, offer.provider_id, "sms", settings, clock.now())
    attendance.check_in(session, order, offer.provider_id, "sms", clock.now())
    clock.set(datetime(2026, 11, 25, 12, 30, tzinfo=UTC))  # 20:30 Beijing time; +1 h is 21:30

    assert attendance.check_out(session, order, offer.provider_id, "sms", policy, settings, clock.now()).ok
    session.commit()

    # 08:00 Beijing time the next morning.
    assert _review(session, order).due_at == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)


def test_an_elder_saying_the_worker_came_verifies_the_order_and_makes_the_subsidy_payable(
    session, settings, policy, clock, make_elder, make_provider
):
    elder = make_elder(elder_class="低保")
    make_provider(latitude=NEAR[0], longitude=NEAR[1], offerings={"HK01": 4800})
    order = _place(session, elder, settings, clock)
    _complete_visit(session, order, policy, settings, clock)

    reviews.record_review_answer(session, _review(session, order), True, clock.now())
    session.commit()

    assert session.get(Order, order.id).state == "verified"
    assert _review(session, order).state == "verified"
    assert _postings(session, order, "verify") == {ledger.SUBSIDY_PENDING: -3840,
                                                   ledger.SUBSIDY_PAYABLE: 3840}
    assert ledger.pending_subsidy(session, _review(session, order).visit_id) == 0
    assert _tasks(session, "dispute") == []


def test_an_elder_saying_the_worker_did_not_come_withholds_the_subsidy_and_opens_a_dispute(
    session, settings, policy, clock, make_elder, make_provider
):
    elder = make_elder(elder_class="低保")
    make_provider(latitude=NEAR[0], longitude=NEAR[1], offerings={"HK01": 4800})
    order = _place(session, elder, settings, clock)
    _complete_visit(session, order, policy, settings, clock)

    reviews.record_review_answer(session, _review(session, order), False, clock.now())
    session.commit()

    assert session.get(Order, order.id).state == "disputed"
    assert _postings(session, order, "withhold") == {ledger.SUBSIDY_PENDING: -3840,
                                                     ledger.SUBSIDY_WITHHELD: 3840}
    assert _postings(session, order, "verify") == {}
    (task,) = _tasks(session, "dispute")
    assert task.order_id == order.id and task.elder_id == elder.id


@pytest.mark.parametrize("first", [True, False], ids=["came", "did not come"])
@pytest.mark.parametrize("second", [True, False], ids=["then came", "then did not come"])
def test_answering_a_review_a_second_time_changes_nothing(
    first, second, session, settings, policy, clock, make_elder, make_provider
):
    elder = make_elder(elder_class="低保")
    make_provider(latitude=NEAR[0], longitude=NEAR[1])
    order = _place(session, elder, settings, clock)
    _complete_visit(session, order, policy, settings, clock)
    reviews.record_review_answer(session, _review(session, order), first, clock.now())
    session.commit()
    before = (_snapshot(session, order), _review(session, order).state,
              _review(session, order).did_worker_come, _review(session, order).answered_at)

    clock.advance(600)
    reviews.record_review_answer(session, _review(session, order), second, clock.now())
    session.commit()

    after = (_snapshot(session, order), _review(session, order).state,
             _review(session, order).did_worker_come, _review(session, order).answered_at)
    assert after == before


def test_a_gaoling_elder_never_gets_more_than_the_monthly_cap_however_many_visits(
    session, settings, policy, clock, make_elder, make_provider
):
    elder = make_elder(elder_class="高龄")  # 50% of the price, up to 200 yuan a month
    make_provider(latitude=NEAR[0], longitude=NEAR[1], offerings={"HK06": 12800})
    placed = []
    for day in range(5):
        clock.set(datetime(2026, 11, 25 + day, 1, 0, tzinfo=UTC))  # 09:00 each morning
        order = _place(session, elder, settings, clock, item_code="HK06")
        _complete_visit(session, order, policy, settings, clock)
        if day < 2:  # verifying moves the subsidy to payable; it must still count once
            reviews.record_review_answer(session, _review(session, order), True, clock.now())
            session.commit()
        placed.append(order)

    subsidies = [_postings(session, o, "charge")[ledger.SUBSIDY_PENDING] for o in placed]
    copays = [_postings(session, o, "charge")[ledger.ELDER_COPAY] for o in placed]
    assert subsidies == [6400, 6400, 6400, 800, 0]
    assert [s + c for s, c in zip(subsidies, copays, strict=True)] == [12800] * 5
    assert ledger.subsidy_used(session, elder.id, "2026-11") == 20000


# -- racing answers (PostgreSQL: real row locks) -----------------------------------------------

def _race(app, settings, clock, attempts: list[tuple[int, int]]) -> tuple[list, list]:
    """Run accept_offer for each (offer_id, provider_id) in its own thread and session at once."""
    factory = app.extensions["vnh.sessionmaker"]
    barrier = threading.Barrier(len(attempts))
    outcomes, errors = [], []
    lock = threading.Lock()

    def attempt(offer_id: int, provider_id: int) -> None:
        with factory() as own:
            try:
                offer = own.get(Offer, offer_id)
                barrier.wait(timeout=10)
                outcome = orders.accept_offer(own, offer, provider_id, "api", settings, clock.now())
                own.commit()
                with lock:
                    outcomes.append((provider_id, outcome.ok, outcome.message))
            except Exception as exc:  # collected and asserted on below
                own.rollback()
                with lock:
                    errors.append(exc)

    threads = [threading.Thread(target=attempt, args=pair) for pair in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes, errors


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (VNH_TEST_DATABASE_URL) for row locks")
def test_eight_providers_accepting_the_same_order_at_once_leave_exactly_one_winner(
    app, session, settings, clock, make_elder, make_provider
):
    elder = make_elder()
    providers = [make_provider(latitude=NEAR[0] + i * 0.001, longitude=NEAR[1]) for i in range(8)]
    order = _place(session, elder, settings, clock)
    first = _open_offer(session, order)
    for provider in providers:
        if provider.id != first.provider_id:
            _extra_offer(session, order, provider, clock.now(), settings.offer_window_s)
    attempts = [(o.id, o.provider_id) for o in _offers(session, order)]
    assert len(attempts) == 8
    session.rollback()

    outcomes, errors = _race(app, settings, clock, attempts)

    assert errors == []
    winners = [provider_id for provider_id, ok, _ in outcomes if ok]
    assert len(outcomes) == 8 and len(winners) == 1
    statuses = {o.provider_id: o.status for o in _offers(session, order)}
    assert statuses[winners[0]] == "accepted"
    assert sorted(s for p, s in statuses.items() if p != winners[0]) == ["withdrawn"] * 7
    fresh = session.get(Order, order.id)
    assert fresh.state == "accepted" and fresh.provider_id == winners[0]


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (VNH_TEST_DATABASE_URL) for row locks")
def test_one_provider_accepting_its_offer_twice_at_once_accepts_it_once_without_error(
    app, session, settings, clock, make_elder, make_provider
):
    elder = make_elder()
    near = make_provider(latitude=NEAR[0], longitude=NEAR[1])
    order = _place(session, elder, settings, clock)
    offer = _open_offer(session, order)
    session.rollback()

    outcomes, errors = _race(app, settings, clock, [(offer.id, near.id), (offer.id, near.id)])

    assert errors == []
    assert [ok for _, ok, _ in outcomes] == [True, True]
    assert sum(message.startswith("已接单") for _, _, message in outcomes) == 1
    (accepted,) = _offers(session, order)
    assert accepted.status == "accepted"
    assert session.get(Order, order.id).provider_id == near.id
    confirmations = session.scalars(
        select(OutboxMessage).where(OutboxMessage.purpose == "elder_confirmation")
    ).all()
    assert len(confirmations) == 1
