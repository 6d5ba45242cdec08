"""Reviews that fit plans: one call a window, the rest payable on proved check-out, held if denied."""

from __future__ import annotations

from datetime import date, time, timedelta

from sqlalchemy import select

from billing import ledger
from dispatcher.lifecycle import attendance, orders, reviews
from dispatcher.models import CallbackReview, Item, OperatorTask, Order
from dispatcher.plans import generation, service
from providers.models import Offer

TODAY = date(2026, 11, 25)


def _taken_plan(session, settings, clock, make_elder, make_provider):
    provider = make_provider(latitude=36.0590, longitude=103.8280, offerings={"ML01": 1200})
    elder = make_elder()
    plan = service.add_plan(session, elder=elder, item=session.scalar(select(Item).where(Item.code == "ML01")),
                            rule="FREQ=DAILY", at=time(11, 30), starts_on=TODAY, now=clock.now())
    session.commit()
    generation.sweep(session, settings, clock.now())
    lead = session.scalar(select(Order).where(Order.plan_id == plan.id).order_by(Order.occurrence_date).limit(1))
    offer = session.scalar(select(Offer).where(Offer.order_id == lead.id))
    assert orders.accept_offer(session, offer, provider.id, "sms", settings, clock.now()).ok
    session.commit()
    return provider, elder, plan


def _visit_day(session, settings, policy, clock, provider, elder, plan, day: int, proved=True) -> Order:
    """Do the occurrence `day` days from today at 11:30–12:00, proved by the worker's location."""
    order = session.scalar(select(Order).where(Order.plan_id == plan.id,
                                               Order.occurrence_date == TODAY + timedelta(days=day)))
    target = generation.window_of(order.occurrence_date, time(11, 30), 60)[0]
    clock.advance((target - clock.now()).total_seconds())
    here = {"lat": elder.latitude, "lng": elder.longitude} if proved else {}
    assert attendance.check_in(session, order, provider.id, "portal", clock.now(), dict(here), settings).ok
    clock.advance(1800)
    assert attendance.check_out(session, order, provider.id, "portal", policy, settings, clock.now(), dict(here)).ok
    session.commit()
    return order


def _review(session, order) -> CallbackReview:
    session.expire_all()
    return session.scalar(select(CallbackReview).where(CallbackReview.order_id == order.id))


def test_only_the_first_occurrence_of_a_week_is_called_and_the_others_are_payable_at_check_out(
        session, settings, policy, clock, make_elder, make_provider):
    provider, elder, plan = _taken_plan(session, settings, clock, make_elder, make_provider)
    done = [_visit_day(session, settings, policy, clock, provider, elder, plan, day) for day in range(3)]

    assert [_review(session, o).state for o in done] == ["scheduled", "covered", "covered"]
    assert ledger.pending_subsidy(session, done[0].visit.id) > 0
    assert [ledger.pending_subsidy(session, o.visit.id) for o in done[1:]] == [0, 0]
    assert [session.get(Order, o.id).state for o in done] == ["completed", "verified", "verified"]


def test_an_occurrence_without_proof_is_called_even_within_a_reviewed_week(
        session, settings, policy, clock, make_elder, make_provider):
    provider, elder, plan = _taken_plan(session, settings, clock, make_elder, make_provider)
    _visit_day(session, settings, policy, clock, provider, elder, plan, 0)
    unproved = _visit_day(session, settings, policy, clock, provider, elder, plan, 1, proved=False)
    assert _review(session, unproved).state == "scheduled"


def test_a_denied_weekly_review_holds_the_other_occurrences_of_its_week(
        session, settings, policy, clock, make_elder, make_provider):
    provider, elder, plan = _taken_plan(session, settings, clock, make_elder, make_provider)
    first = _visit_day(session, settings, policy, clock, provider, elder, plan, 0)
    second = _visit_day(session, settings, policy, clock, provider, elder, plan, 1)
    assert ledger.pending_subsidy(session, second.visit.id) == 0

    reviews.record_review_answer(session, _review(session, first), False, clock.now())
    session.commit()
    third = _visit_day(session, settings, policy, clock, provider, elder, plan, 2)

    assert _review(session, second).state == "held" and ledger.pending_subsidy(session, second.visit.id) > 0
    assert _review(session, third).state == "held" and ledger.pending_subsidy(session, third.visit.id) > 0
    (task,) = session.scalars(select(OperatorTask).where(OperatorTask.kind == "plan_review_denied"))
    assert f"服务计划#{plan.id}" in task.reason


def test_the_next_week_gets_its_own_review_call(session, settings, policy, clock, make_elder, make_provider):
    provider, elder, plan = _taken_plan(session, settings, clock, make_elder, make_provider)
    first = _visit_day(session, settings, policy, clock, provider, elder, plan, 0)
    reviews.record_review_answer(session, _review(session, first), True, clock.now())
    session.commit()
    clock.advance(2 * 86400)  # the horizon now reaches day 7
    generation.sweep(session, settings, clock.now())
    session.commit()
    week_two = _visit_day(session, settings, policy, clock, provider, elder, plan, 7)
    assert _review(session, week_two).state == "scheduled"
