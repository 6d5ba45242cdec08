"""Generation on a real database: idempotent under hypothesis, and two schedulers at once on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date, time, timedelta

import pytest
from conftest import PG_URL
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from dispatcher.models import Item, Order
from dispatcher.plans import generation, service
from dispatcher.plans.models import CarePlan
from providers.models import Offer

TODAY = date(2026, 11, 25)
RULES = ["FREQ=DAILY", "FREQ=DAILY;INTERVAL=2", "FREQ=WEEKLY;BYDAY=TU,TH", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"]


def _add(session, clock, elder, rule, *, starts=TODAY, hour=11, pause=None, settings=None):
    item = session.scalar(select(Item).where(Item.code == "ML01"))
    plan = service.add_plan(session, elder=elder, item=item, rule=rule, at=time(hour, 30), starts_on=starts,
                            now=clock.now())
    if pause:
        service.pause_plan(session, plan, starts_on=pause[0], ends_on=pause[1], reason="住院", settings=settings,
                           now=clock.now())
    session.commit()
    return plan


def _live(session, plan_ids) -> list[tuple[int, date]]:
    session.expire_all()
    return list(session.execute(select(Order.plan_id, Order.occurrence_date).where(
        Order.plan_id.in_(plan_ids), Order.state != "cancelled")).all())


@hypothesis_settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(st.tuples(st.sampled_from(RULES), st.integers(0, 5), st.integers(8, 17),
                                st.one_of(st.none(), st.tuples(st.integers(0, 8), st.integers(0, 3)))),
                      min_size=1, max_size=4),
       runs=st.lists(st.integers(0, 36), min_size=1, max_size=4))
def test_repeated_runs_make_each_occurrence_once_and_none_on_a_paused_day(
        session, settings, clock, make_elder, specs, runs):
    start = clock.now()
    plans = []
    for rule, offset, hour, pause in specs:
        span = (TODAY + timedelta(days=pause[0]), TODAY + timedelta(days=pause[0] + pause[1])) if pause else None
        plans.append((_add(session, clock, make_elder(), rule, starts=TODAY + timedelta(days=offset), hour=hour,
                           pause=span, settings=settings), span))
    ids = [p.id for p, _ in plans]
    for hours in runs:  # a restart, later the same day or the next
        clock.advance(hours * 3600)
        generation.insert_occurrences(session, clock.now(), 7, plan_ids=ids)
        session.commit()
    made = _live(session, ids)
    assert len(made) == len(set(made))
    for plan, span in plans:
        days = {d for p, d in made if p == plan.id}
        if span:
            assert not {d for d in days if span[0] <= d <= span[1]}
        # Every day the rule names up to the horizon of the last run is there (after its own start).
        expected = generation.plan_days(generation.compiled_rule(plan.rule, plan.starts_on),
                                        starts_on=plan.starts_on, until=None, first=TODAY,
                                        last=generation.horizon(clock.now(), 7)[1],
                                        pauses=[span] if span else [])
        expected = {d for d in expected if generation.window_of(d, plan.at_time, 60)[0] > start}
        assert days >= {d for d in expected if generation.window_of(d, plan.at_time, 60)[0] > clock.now()}
        assert days <= expected
    clock.advance(-sum(runs) * 3600)


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (VNH_TEST_DATABASE_URL) for two schedulers at once")
def test_two_schedulers_generating_at_once_make_no_occurrence_twice_and_offer_each_plan_once(
        app, session, settings, clock, make_elder, make_provider):
    make_provider(latitude=36.0590, longitude=103.8280, offerings={"ML01": 1200}, capacity_per_day=100)
    elder = make_elder()
    ids = [_add(session, clock, elder, RULES[n % len(RULES)], hour=8 + n % 10).id for n in range(40)]
    factory = app.extensions["vnh.sessionmaker"]
    barrier = threading.Barrier(2)
    errors = []

    def scheduler():
        with factory() as own:
            try:
                barrier.wait(timeout=10)
                generation.sweep(own, settings, clock.now())
                own.commit()
            except Exception as exc:  # collected and asserted on below
                own.rollback()
                errors.append(exc)

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    made = _live(session, ids)
    assert len(made) == len(set(made))
    expected = sum(
        1 for plan in (session.get(CarePlan, i) for i in ids)
        for day in generation.plan_days(generation.compiled_rule(plan.rule, TODAY), starts_on=TODAY, until=None,
                                        first=TODAY, last=TODAY + timedelta(days=6))
        if generation.window_of(day, plan.at_time, 60)[0] > clock.now())
    assert len(made) == expected
    offered = session.execute(select(Order.plan_id, func.count()).join(Offer, Offer.order_id == Order.id)
                              .where(Order.plan_id.in_(ids)).group_by(Order.plan_id)).all()
    assert {plan_id for plan_id, _ in offered} == set(ids) and {n for _, n in offered} == {1}
