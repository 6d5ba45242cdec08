"""The checks over the database: flags with evidence, never twice, and the holds they put on money."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from billing import ledger
from billing.reports import settlement_tables
from dispatcher.integrity.checks import month_bounds, run_checks
from dispatcher.integrity.holds import DecisionError, clear_flag, confirm_flag, is_held
from dispatcher.integrity.models import IntegrityFlag, IntegrityRun
from dispatcher.integrity.rules import Rules
from dispatcher.integrity.sweeper import sweep_due_runs
from dispatcher.models import CallbackReview, StaffUser

MONTH = "2026-11"


def check_month(session, clock, rules=None):
    since, until = month_bounds(MONTH)
    count = run_checks(session, rules or Rules(), since, min(until, clock.now()), clock.now())
    session.commit()
    return count


def flags(session):
    return sorted(session.execute(select(IntegrityFlag.visit_id, IntegrityFlag.check)).all())


def payable(session):
    (table,) = settlement_tables(session, MONTH)
    return sum(row["payable"] for row in table.records())


@pytest.fixture
def supervisor(session, clock):
    from dispatcher.consoles.auth import add_user

    user = add_user(session, username="jiandu", password="long-enough-pw", role="supervisor",
                    display_name="监督员", provider_id=None, now=clock.now())
    session.commit()
    return user


@pytest.fixture
def overlap(make_provider, make_worker, make_visit, make_elder, clock):
    """One worker checked in at two elders' homes at the same time."""
    provider = make_provider()
    worker = make_worker(provider)
    start = clock.now() - timedelta(days=3)
    first = make_visit(provider=provider, worker=worker, start=start, minutes=90)
    second = make_visit(provider=provider, worker=worker, start=start + timedelta(minutes=30),
                        elder=make_elder(latitude=36.07, longitude=103.83))
    return provider, first, second


def test_an_overlap_flags_both_visits_with_each_other_as_evidence(session, clock, overlap):
    _, first, second = overlap
    assert check_month(session, clock) == 2
    rows = session.scalars(select(IntegrityFlag).order_by(IntegrityFlag.visit_id)).all()
    assert [(f.visit_id, f.check, f.state) for f in rows] == [
        (first.id, "overlap", "open"), (second.id, "overlap", "open")]
    assert rows[0].evidence["other"]["visit_id"] == second.id
    assert rows[1].evidence["other"]["job_code"] == first.order.job_code
    assert "重叠60分钟" in rows[1].reason and rows[0].month == MONTH


def test_running_the_checks_again_raises_no_flag_twice(session, clock, overlap):
    assert check_month(session, clock) == 2
    assert check_month(session, clock) == 0
    assert len(flags(session)) == 2


def test_visits_of_one_worker_back_to_back_nearby_raise_nothing(session, clock, make_provider,
                                                                 make_worker, make_visit):
    provider = make_provider()
    worker = make_worker(provider)
    start = clock.now() - timedelta(days=3)
    make_visit(provider=provider, worker=worker, start=start, minutes=60)
    make_visit(provider=provider, worker=worker, start=start + timedelta(minutes=60))
    assert check_month(session, clock) == 0


def test_every_check_trips_on_a_visit_built_for_it(session, clock, make_provider, make_worker,
                                                    make_visit, make_elder):
    provider = make_provider()
    worker = make_worker(provider)
    start = clock.now() - timedelta(days=4)
    near = make_visit(provider=provider, worker=worker, start=start, minutes=60)
    far = make_visit(provider=provider, worker=worker, start=start + timedelta(minutes=70),
                     elder=make_elder(latitude=36.30, longitude=103.83))
    short = make_visit(start=start, minutes=20, item="LC03")  # booked an hour, 50% is 30 minutes
    late = make_visit(start=start, window=(start - timedelta(hours=6), start - timedelta(hours=3)))
    unproved = make_visit(start=start, in_method="none")
    rules = Rules(proof_required_since=start - timedelta(days=1))
    found = set(flags(session) if check_month(session, clock, rules) else [])
    assert {(far.id, "travel"), (short.id, "short"), (late.id, "window"),
            (unproved.id, "no_proof")} <= found
    assert not any(v == near.id for v, _ in found)


def test_an_elder_denying_one_provider_twice_flags_both_visits(session, clock, make_provider,
                                                                 make_visit, make_elder):
    provider, elder = make_provider(), make_elder()
    visits = [make_visit(provider=provider, elder=elder, start=clock.now() - timedelta(days=d))
              for d in (10, 3)]
    for visit in visits:
        session.add(CallbackReview(visit_id=visit.id, order_id=visit.order_id, state="denied",
                                   due_at=clock.now(), did_worker_come=False,
                                   answered_at=visit.checked_out_at + timedelta(hours=2)))
    session.commit()
    check_month(session, clock)
    assert flags(session) == [(visits[0].id, "denials"), (visits[1].id, "denials")]


def test_a_provider_whose_three_workers_check_in_from_one_device_is_flagged(
        session, clock, make_provider, make_worker, make_visit):
    shared, honest = make_provider(), make_provider()
    start = clock.now() - timedelta(days=2)
    for provider, devices in ((shared, ("tab", "tab", "tab")), (honest, ("a", "b", "b"))):
        for n, device in enumerate(devices):
            make_visit(provider=provider, worker=make_worker(provider), device=device,
                       start=start + timedelta(hours=n))
    check_month(session, clock)
    rows = session.scalars(select(IntegrityFlag)).all()
    assert {f.provider_id for f in rows} == {shared.id} and len(rows) == 3
    assert {f.check for f in rows} == {"device"}


def test_a_flag_takes_back_a_verified_subsidy_until_a_supervisor_clears_it(
        session, clock, overlap, bill, supervisor):
    _, first, second = overlap
    bill(first, verified=True)
    bill(second, verified=True)
    assert payable(session) == 8000
    check_month(session, clock)
    assert payable(session) == 0
    assert ledger.pending_subsidy(session, second.id) == 4000
    flag = session.scalar(select(IntegrityFlag).where(IntegrityFlag.visit_id == second.id))
    assert clear_flag(session, flag, supervisor, "老人确认两单都已上门，时间记录有误", clock.now())
    session.commit()
    assert payable(session) == 4000  # the first visit's own flag still holds it
    assert flag.decided_by == supervisor.id and flag.decided_at == clock.now()
    with pytest.raises(DecisionError):
        clear_flag(session, flag, supervisor, "again", clock.now())


def test_a_confirmed_fraud_is_withheld_by_reversal_and_docks_the_provider(
        session, clock, overlap, bill, supervisor, settings, policy):
    provider, first, _ = overlap
    bill(first, verified=True)
    check_month(session, clock)
    flag = session.scalar(select(IntegrityFlag).where(IntegrityFlag.visit_id == first.id))
    before = provider.quality_score
    with pytest.raises(DecisionError):
        confirm_flag(session, flag, supervisor, "  ", policy=policy, suspend_below=0.0,
                     hotline_number=settings.hotline_number, now=clock.now())
    confirm_flag(session, flag, supervisor, "核实：同时段不可能在两处", policy=policy,
                 suspend_below=0.0, hotline_number=settings.hotline_number, now=clock.now())
    session.commit()
    assert ledger.visit_outcome(session, first.id) == ledger.WITHHOLD
    kinds = [t.kind for t in ledger.visit_transactions(session, first.id)]
    assert "reverse_verify" in kinds and "reverse_charge" in kinds
    assert payable(session) == 0
    session.refresh(provider)
    assert provider.quality_score < before and provider.quality_parts["fraud_count"] == 1
    assert is_held(session, first.id)


def test_the_elders_confirmation_of_a_flagged_visit_leaves_its_subsidy_pending(
        session, clock, overlap, bill, supervisor):
    from dispatcher.lifecycle.reviews import record_review_answer

    _, first, second = overlap
    bill(first)
    bill(second)
    review = session.scalar(select(CallbackReview).where(CallbackReview.visit_id == second.id))
    record_review_answer(session, review, True, clock.now())
    session.commit()
    assert ledger.visit_outcome(session, second.id) is None
    assert ledger.pending_subsidy(session, second.id) == 4000
    assert {c for _, c in flags(session)} == {"overlap"}
    for flag in session.scalars(select(IntegrityFlag)).all():
        clear_flag(session, flag, supervisor, "核实无误", clock.now())
    session.commit()
    assert ledger.visit_outcome(session, second.id) == ledger.VERIFY
    assert ledger.visit_outcome(session, first.id) is None  # its elder has not answered yet


def test_an_unflagged_visit_is_paid_on_the_elders_confirmation_as_before(
        session, clock, make_visit, bill):
    from dispatcher.lifecycle.reviews import record_review_answer

    visit = make_visit()
    bill(visit)
    review = session.scalar(select(CallbackReview).where(CallbackReview.visit_id == visit.id))
    record_review_answer(session, review, True, clock.now())
    session.commit()
    assert ledger.visit_outcome(session, visit.id) == ledger.VERIFY
    assert flags(session) == []


def test_the_scheduler_runs_the_checks_once_per_period(session, clock, overlap, policy):
    assert sweep_due_runs(session, policy, clock.now(), env={}) == 2
    session.commit()
    assert sweep_due_runs(session, policy, clock.now() + timedelta(minutes=5), env={}) == 0
    session.commit()
    assert session.scalar(select(func.count()).select_from(IntegrityRun)) == 1
    later = clock.now() + timedelta(hours=1)
    assert sweep_due_runs(session, policy, later, env={}) == 0
    session.commit()
    runs = session.scalars(select(IntegrityRun).order_by(IntegrityRun.id)).all()
    assert [r.state for r in runs] == ["done", "done"] and [r.flags_found for r in runs] == [2, 0]
    assert len(flags(session)) == 2


def test_two_schedulers_sweeping_at_once_raise_each_flag_once(app, clock, overlap, policy):
    maker = app.extensions["vnh.sessionmaker"]
    barrier = threading.Barrier(2)
    errors = []

    def sweep():
        with maker() as session:
            try:
                barrier.wait()
                sweep_due_runs(session, policy, clock.now(), env={})
                session.commit()
            except Exception as exc:  # noqa: BLE001 - reported below
                session.rollback()
                errors.append(exc)

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with maker() as session:
        assert len(flags(session)) == 2
        assert session.scalar(select(func.count()).select_from(IntegrityRun)) == 1
    # SQLite lets one writer through and the other may find the database busy; neither duplicates.
    assert all("locked" in str(e) for e in errors)


def test_a_supervisor_is_needed_to_decide(session, clock, overlap, supervisor):
    check_month(session, clock)
    flag = session.scalars(select(IntegrityFlag)).first()
    assert isinstance(supervisor, StaffUser)
    with pytest.raises(DecisionError, match="处理说明"):
        clear_flag(session, flag, supervisor, "", clock.now())


def test_a_dispute_on_a_flagged_visit_waits_for_the_flag(session, clock, overlap, bill, supervisor,
                                                         policy):
    from dispatcher.lifecycle.tasks import open_task
    from dispatcher.programmes.supervision import CaseError, resolve_dispute

    _, first, _ = overlap
    bill(first)
    check_month(session, clock)
    task = open_task(session, kind="dispute", reason="老人表示未上门", dedupe_key="dispute:t",
                     order_id=first.order_id, elder_id=first.order.elder_id, now=clock.now())
    with pytest.raises(CaseError, match="诚信核查"):
        resolve_dispute(session, task, supervisor, visit_happened=True, note="属实",
                        policy=policy, now=clock.now())
    assert ledger.visit_outcome(session, first.id) is None


def test_a_visit_code_entered_wrongly_three_times_is_flagged(session, clock, make_visit):
    visit = make_visit(start=clock.now() - timedelta(days=2), in_method="visit_code")
    visit.order.visit_code_failures = 3
    session.commit()
    check_month(session, clock)
    (flag,) = session.scalars(select(IntegrityFlag).where(IntegrityFlag.visit_id == visit.id)).all()
    assert flag.check == "no_proof" and "输错3次" in flag.reason and flag.evidence["failed_codes"] == 3
