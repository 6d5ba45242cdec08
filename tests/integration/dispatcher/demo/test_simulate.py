"""`vnh simulate`: callers who listen, the same figures for the same seed, figures that match the rows,
and what it refuses to run against."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from dispatcher.db import session_scope
from dispatcher.demo.district import build_demo_district
from dispatcher.demo.personas import DEFAULT_MIX, BadMix, parse_mix
from dispatcher.demo.simulate import MAX_FAILED_PROMPTS, Refused, run_simulation
from dispatcher.models import CallbackReview, HotlineCall, OperatorTask, Order, Visit

START = date(2027, 1, 4)


@pytest.fixture
def demo_app(app, clock):
    with session_scope(app) as session:
        build_demo_district(session, seed=5, elders=40, providers=6, now=clock.now())
    return app


def test_the_same_seed_gives_the_same_figures():
    def figures():
        result = run_simulation(seed=3, calls=14, days=2, fresh=True, start=START, echo=lambda *a: None)
        return result.table() + result.figures()

    first = figures()
    assert any("booked" in line for line in first), first
    assert figures() == first


def test_the_figures_it_prints_are_the_counts_of_the_rows(demo_app):
    result = run_simulation(seed=11, calls=16, days=2, app=demo_app, start=START, echo=lambda *a: None)

    assert [c for c in result.calls if not c.ok] == [] and result.failures == []
    seen = result.seen
    with demo_app.extensions["vnh.sessionmaker"]() as session:
        assert seen.calls == len(result.calls) == session.scalar(select(func.count()).select_from(HotlineCall))
        tasks = dict(session.execute(select(OperatorTask.kind, func.count()).where(OperatorTask.call_sid.is_not(None))
                                     .group_by(OperatorTask.kind)).all())
        assert seen.transferred == tasks
        assert seen.calls - sum(tasks.values()) == seen.ivr_alone
        assert seen.orders == session.scalar(select(func.count()).select_from(Order))
        assert seen.completed == result.checked_out == session.scalar(
            select(func.count()).select_from(Visit).where(Visit.checked_out_at.is_not(None)))
        answered = session.scalars(select(CallbackReview.rating).where(CallbackReview.did_worker_come.is_not(None))).all()
        assert seen.reviews_answered == len(answered)
        assert seen.satisfied == sum((r or 0) >= 4 for r in answered)
    booked = sum(c.outcome.startswith("booked") for c in result.calls)
    assert booked == seen.orders_by_phone
    assert any(f"calls offered {seen.calls}" in line for line in result.figures())
    # The centre's own figures (运营统计) over the same days agree with the simulation's count.
    from dispatcher.centre.figures import figures as centre_figures
    from dispatcher.demo.simulate import at

    with demo_app.extensions["vnh.sessionmaker"]() as session:
        centre = centre_figures(session, start=at(START, time(0)), end=at(START + timedelta(days=2), time(0)))
    assert centre.calls_offered == seen.calls
    assert centre.transferred == sum(seen.transferred.values())
    assert centre.ratings_satisfied == seen.satisfied
    assert result.centre.startswith("运营统计") and result.centre in "\n".join(result.figures())


def test_a_month_on_the_demo_district_meets_the_hotlines_goals_and_its_report_reconciles(app, clock):
    """Issue 21's goals, as the simulation measures them on the demo district over 30 days: at
    least 80% of ordinary requests booked without an operator, every emergency at a <Dial> within
    one step, no caller hearing more than three failed prompts; and the month's subsidy reports
    agree with the ledger to the fen (`vnh report verify`)."""
    from billing.verify import verify_month

    with session_scope(app) as session:
        build_demo_district(session, seed=7, now=clock.now())
    result = run_simulation(seed=7, days=30, app=app, start=START, echo=lambda *a: None)

    assert result.failures == [] and [c for c in result.calls if not c.ok] == []
    asked, alone = result.ordinary()
    assert asked >= 150 and alone >= 0.8 * asked, (alone, asked)
    emergencies = [c for c in result.calls if c.persona == "emergency"]
    assert emergencies and {c.outcome for c in emergencies} == {"reached a person (emergency)"}
    assert max(c.failed_prompts for c in result.calls) <= MAX_FAILED_PROMPTS
    with session_scope(app) as session:
        verified = verify_month(session, START.strftime("%Y-%m"), app.extensions["vnh.policy"])
    assert verified.ok, verified.problems
    assert verified.expected["visits"] >= 100 and verified.expected["subsidy"] > 0


def test_a_database_that_is_not_a_demo_district_is_refused_unless_told(app, make_elder):
    make_elder(phone="+8613900009999")
    with pytest.raises(Refused, match="not a demo district"):
        run_simulation(seed=1, calls=1, app=app, start=START, echo=lambda *a: None)
    result = run_simulation(seed=1, calls=1, app=app, start=START, i_know=True, echo=lambda *a: None)
    assert len(result.calls) == 1


def test_it_runs_only_with_local_telephony(monkeypatch, tmp_path):
    from dispatcher.cli import main as cli

    monkeypatch.setenv("VNH_TELEPHONY", "twilio")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "token")
    monkeypatch.setenv("VNH_PUBLIC_URL", "https://vnh.example.org")
    monkeypatch.setenv("VNH_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("VNH_DATABASE_URL", f"sqlite:///{tmp_path / 'vnh.sqlite'}")
    outcome = CliRunner().invoke(cli, ["simulate", "--calls", "1"])
    assert outcome.exit_code != 0 and "local telephony" in outcome.output, outcome.output


def test_a_persona_mix_that_does_not_sum_to_one_is_refused_with_the_sum():
    assert parse_mix("") == DEFAULT_MIX
    assert parse_mix("decisive=0.25,speaker=0.19")["speaker"] == 0.19
    with pytest.raises(BadMix, match="sums to 1.2"):
        parse_mix("decisive=0.5")
    with pytest.raises(BadMix, match="unknown persona"):
        parse_mix("pirate=0.1")
    from dispatcher.cli import main as cli

    outcome = CliRunner().invoke(cli, ["simulate", "--mix", "emergency=0.5"])
    assert outcome.exit_code == 2 and "sum to one" in outcome.output, outcome.output
