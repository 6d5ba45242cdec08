"""The scheduler's runs of the checks: one due row per period, claimed once, however many tick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.months import month_of
from billing.policy import Policy
from dispatcher.integrity.checks import month_bounds, run_checks
from dispatcher.integrity.models import IntegrityRun
from dispatcher.integrity.settings import every_s, rules_from

# Late check-outs and reviews of last month are still checked in the first days of this one.
LOOKBACK = timedelta(days=3)


def ensure_run(session: Session, now: datetime, every: int) -> None:
    """Make the row for the period `now` falls in (its key is unique, so two schedulers agree)."""
    slot = int(now.timestamp()) // every
    key = f"checks:{every}:{slot}"
    if session.scalar(select(IntegrityRun.id).where(IntegrityRun.run_key == key)) is not None:
        return
    due = datetime.fromtimestamp(slot * every, UTC)
    since, _ = month_bounds(month_of(now - LOOKBACK))
    try:
        with session.begin_nested():
            session.add(IntegrityRun(run_key=key, since_at=since, until_at=now, due_at=due,
                                     state="due", flags_found=0))
    except IntegrityError:
        pass  # the other scheduler made it first


def sweep_due_runs(session: Session, policy: Policy, now: datetime, env=None) -> int:
    """Run the checks for each due run (claimed with SKIP LOCKED); return the new flags."""
    ensure_run(session, now, every_s(env))
    runs = session.scalars(
        select(IntegrityRun).where(IntegrityRun.state == "due", IntegrityRun.due_at <= now)
        .order_by(IntegrityRun.due_at).limit(1).with_for_update(skip_locked=True)
    ).all()
    found = 0
    for run in runs:
        rules = rules_from(env, policy=policy, month=month_of(run.until_at))
        run.flags_found = run_checks(session, rules, run.since_at, run.until_at, now)
        run.state, run.finished_at = "done", now
        found += run.flags_found
    return found
