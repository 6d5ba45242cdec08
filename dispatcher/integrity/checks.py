"""Run the checks over a period: read the visits once, sorted per worker, and record the flags."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from billing.months import first_day, month_of, next_month
from billing.policy import Policy, load_policy
from dispatcher.clock import LOCAL_TZ
from dispatcher.integrity import holds
from dispatcher.integrity.models import OPEN, IntegrityFlag
from dispatcher.integrity.rules import (
    Denial,
    Finding,
    Rules,
    VisitFacts,
    booked_minutes,
    no_proof,
    outside_window,
    repeated_denials,
    shared_device,
    short_visit,
    sweep_worker_visits,
)
from dispatcher.integrity.settings import at_review, rules_from
from dispatcher.models import CallbackReview, Elder, Item, Order, Visit

# A visit just before the period still decides whether the first one in it overlaps.
CONTEXT = timedelta(days=1)
_CHUNK = 500


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The month's first moment and the next month's, in local time (as UTC-aware datetimes)."""
    start = datetime.combine(first_day(month), datetime.min.time(), LOCAL_TZ)
    end = datetime.combine(first_day(next_month(month)), datetime.min.time(), LOCAL_TZ)
    return start, end


def visit_facts(session: Session, since: datetime, until: datetime, *,
                worker_ids: Iterable[int] | None = None,
                visit_ids: Iterable[int] | None = None) -> list[VisitFacts]:
    """The checked-in visits of the period, sorted by (worker, check-in, id)."""
    stmt = (
        select(Visit.id, Visit.worker_id, Visit.provider_id, Order.elder_id, Order.job_code,
               Visit.checked_in_at, Visit.checked_out_at, Order.window_start_at,
               Order.window_end_at, Elder.latitude, Elder.longitude, Visit.check_in_method,
               Visit.check_out_method, Item.unit)
        .join(Order, Order.id == Visit.order_id)
        .join(Elder, Elder.id == Order.elder_id)
        .join(Item, Item.id == Order.item_id)
        .where(Visit.checked_in_at >= since, Visit.checked_in_at < until)
        .order_by(Visit.worker_id, Visit.checked_in_at, Visit.id)
    )
    if worker_ids is not None and visit_ids is not None:
        stmt = stmt.where(Visit.worker_id.in_(list(worker_ids)) | Visit.id.in_(list(visit_ids)))
    elif worker_ids is not None:
        stmt = stmt.where(Visit.worker_id.in_(list(worker_ids)))
    elif visit_ids is not None:
        stmt = stmt.where(Visit.id.in_(list(visit_ids)))
    return [VisitFacts(*row[:13], booked_minutes(row[13]))
            for row in session.connection().execute(stmt)]


def _denials(session: Session, since: datetime, until: datetime, rules: Rules,
             elder_ids: Iterable[int] | None = None) -> list[Denial]:
    stmt = (
        select(Order.elder_id, Visit.provider_id, Visit.id, Order.job_code,
               CallbackReview.answered_at)
        .join(Visit, Visit.id == CallbackReview.visit_id)
        .join(Order, Order.id == CallbackReview.order_id)
        .where(CallbackReview.did_worker_come.is_(False),
               CallbackReview.answered_at >= since - timedelta(days=rules.denial_days),
               CallbackReview.answered_at < until)
        .order_by(Order.elder_id, Visit.provider_id, CallbackReview.answered_at, Visit.id)
    )
    if elder_ids is not None:
        stmt = stmt.where(Order.elder_id.in_(list(elder_ids)))
    return [Denial(*row) for row in session.connection().execute(stmt)]


def _devices(session: Session, since: datetime, until: datetime,
             rules: Rules) -> dict[int, list[tuple[int, int, str]]]:
    in_period = (Visit.checked_in_at >= since, Visit.checked_in_at < until,
                 Visit.check_in_device.is_not(None))
    suspects = (
        select(Visit.provider_id).where(*in_period).group_by(Visit.provider_id)
        .having(func.count(func.distinct(Visit.check_in_device)) == 1,
                func.count(func.distinct(Visit.worker_id)) >= rules.device_min_workers)
    )
    found: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    rows = session.connection().execute(
        select(Visit.provider_id, Visit.id, Visit.worker_id, Visit.check_in_device)
        .where(*in_period, Visit.provider_id.in_(suspects)).order_by(Visit.id))
    for provider_id, visit_id, worker_id, device in rows:
        found[provider_id].append((visit_id, worker_id, device))
    return found


def failed_code_counts(session: Session, visit_ids: list[int]) -> dict[int, int]:
    """Wrong visit codes entered per visit (kept on the order as the worker enters them)."""
    found: dict[int, int] = {}
    for chunk in range(0, len(visit_ids), 900):
        found.update(session.execute(
            select(Visit.id, Order.visit_code_failures).join(Order, Order.id == Visit.order_id)
            .where(Visit.id.in_(visit_ids[chunk:chunk + 900]), Order.visit_code_failures > 0)).all())
    return found


def find(session: Session, rules: Rules, since: datetime, until: datetime, *,
         worker_ids: Iterable[int] | None = None,
         visit_ids: Iterable[int] | None = None) -> list[Finding]:
    """Every finding of every check for visits checked in during [since, until).

    Narrowed to some workers' or visits' visits (a review's own check), the provider-wide
    device check is left to the scheduler's full runs.
    """
    facts = visit_facts(session, since - CONTEXT, until, worker_ids=worker_ids,
                        visit_ids=visit_ids)
    found: dict[tuple[int, str], Finding] = {}

    def keep(finding: Finding | None) -> None:
        if finding is not None:
            found.setdefault((finding.visit_id, finding.check), finding)

    failed = failed_code_counts(session, [v.visit_id for v in facts])
    for v in facts:
        if v.checked_in_at < since:
            continue
        keep(short_visit(v, rules))
        keep(outside_window(v, rules))
        keep(no_proof(v, rules, failed.get(v.visit_id, 0)))
    for finding in sweep_worker_visits(facts, rules, until):
        keep(finding)
    narrowed = worker_ids is not None or visit_ids is not None
    elders = {v.elder_id for v in facts} if narrowed else None
    for finding in repeated_denials(_denials(session, since, until, rules, elders), rules):
        keep(finding)
    if not narrowed:
        for finding in shared_device(_devices(session, since, until, rules), rules):
            keep(finding)
    return list(found.values())


def _chunks(values: list, size: int = _CHUNK) -> Iterable[list]:
    for i in range(0, len(values), size):
        yield values[i:i + size]


def _insert(session: Session):
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(IntegrityFlag)


def record(session: Session, findings: list[Finding], now: datetime) -> int:
    """Write a flag per finding not flagged before (safe to race: the key is unique), hold every
    visit with an open flag among them, and return how many flags are new."""
    if not findings:
        return 0
    visit_ids = sorted({f.visit_id for f in findings})
    info, existing = {}, set()
    for chunk in _chunks(visit_ids):
        info.update({vid: (provider_id, worker_id, checked_in_at) for vid, provider_id, worker_id,
                     checked_in_at in session.execute(
                         select(Visit.id, Visit.provider_id, Visit.worker_id, Visit.checked_in_at)
                         .where(Visit.id.in_(chunk)))})
        existing.update(tuple(row) for row in session.execute(
            select(IntegrityFlag.visit_id, IntegrityFlag.check)
            .where(IntegrityFlag.visit_id.in_(chunk))))
    new = [f for f in findings if (f.visit_id, f.check) not in existing]
    values = [{"visit_id": f.visit_id, "check": f.check, "provider_id": info[f.visit_id][0],
               "worker_id": info[f.visit_id][1], "month": month_of(info[f.visit_id][2]),
               "reason": f.reason[:300], "evidence": f.evidence, "state": OPEN, "found_at": now}
              for f in new]
    for chunk in _chunks(values):
        session.execute(_insert(session).on_conflict_do_nothing(
            index_elements=["visit_id", "check"]), chunk)
    session.flush()
    holds.hold_flagged(session, visit_ids, now)
    return len(new)


def run_checks(session: Session, rules: Rules, since: datetime, until: datetime,
               now: datetime, **narrow) -> int:
    """Find and record; return the number of new flags."""
    return record(session, find(session, rules, since, until, **narrow), now)


@lru_cache(maxsize=4)
def _policy_file(path: str) -> Policy:
    return load_policy(path or None)


def before_payable(session: Session, visit: Visit, now: datetime,
                   policy: Policy | None = None) -> bool:
    """Run the visit's own checks (its worker's visits around it) as the elder confirms it;
    return whether a flag holds its subsidy back from becoming payable.

    `policy` defaults to the one VNH_POLICY_FILE names (or the shipped one).
    """
    if at_review() and visit.checked_in_at is not None:
        month = month_of(visit.checked_in_at)
        policy = policy or _policy_file(os.environ.get("VNH_POLICY_FILE", "").strip())
        rules = rules_from(policy=policy, month=month)
        since = visit.checked_in_at - timedelta(days=1)
        until = (visit.checked_out_at or visit.checked_in_at) + timedelta(days=1)
        workers = [visit.worker_id] if visit.worker_id is not None else None
        run_checks(session, rules, since, min(until, now + CONTEXT), now,
                   worker_ids=workers, visit_ids=[visit.id])
    return holds.is_held(session, visit.id)
