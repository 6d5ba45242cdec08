"""Occurrences of care plans become ordinary orders a horizon ahead, batched and idempotent.

A run reads the plans a thousand at a time, finds the occurrences they already have in one query,
and inserts the missing ones at once with ON CONFLICT DO NOTHING against the unique index on
(plan_id, occurrence_date): a restart or a second scheduler never makes an occurrence twice.
Then each new occurrence is settled: given to the provider that took the plan, or, for a plan
nobody has taken yet, its first occurrence is offered (naming the plan) like any order.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from dateutil.rrule import rrule, rrulestr
from sqlalchemy import exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from dispatcher.clock import LOCAL_TZ, local
from dispatcher.config import Settings
from dispatcher.lifecycle import orders
from dispatcher.lifecycle.states import OPEN_STATES, OrderState
from dispatcher.lifecycle.tasks import open_task
from dispatcher.models import Order
from dispatcher.plans.commitment import assign_occurrence, plan_fields, record_change
from dispatcher.plans.models import ENDED, CarePlan, PlanPause
from dispatcher.plans.rules import plan_days
from providers.models import Provider, ProviderDayOff

BATCH = 1000
SLOT_CODE = "plan"
_OPEN = [s.value for s in OPEN_STATES]


@lru_cache(maxsize=4096)
def compiled_rule(text: str, starts_on: date) -> rrule:
    """The plan's rule as dateutil reads it (already validated when the plan was saved)."""
    raw = text.strip()
    return rrulestr(raw[6:] if raw.upper().startswith("RRULE:") else raw,
                    dtstart=datetime.combine(starts_on, time(0)))


def horizon(now: datetime, days: int) -> tuple[date, date]:
    """The local days whose occurrences exist now: today and the next `days - 1`."""
    today = local(now).date()
    return today, today + timedelta(days=days - 1)


@lru_cache(maxsize=4096)
def _rule_days(text: str, starts_on: date, first: date, last: date) -> tuple[date, ...]:
    """The days a rule names in the horizon: plans share a few rules, so each is worked out once."""
    return tuple(plan_days(compiled_rule(text, starts_on), starts_on=starts_on, until=None, first=first, last=last))


@lru_cache(maxsize=8192)
def window_of(day: date, at: time, minutes: int) -> tuple[datetime, datetime]:
    start = datetime.combine(day, at, LOCAL_TZ).astimezone(UTC)
    return start, start + timedelta(minutes=minutes)


def wanted_rows(plans, pauses: dict[int, list[tuple[date, date]]], existing: set[tuple[int, date]],
                first: date, last: date, now: datetime) -> list[dict]:
    """The occurrence rows the plans still lack (without job codes). Pure."""
    rows = []
    for plan in plans:
        paused = pauses.get(plan.id, ())
        for day in _rule_days(plan.rule, plan.starts_on, first, last):
            if (plan.id, day) in existing or (plan.until is not None and day > plan.until) or any(
                    start <= day <= end for start, end in paused):
                continue
            start, end = window_of(day, plan.at_time, plan.duration_min)
            if start <= now:
                continue
            rows.append({"plan_id": plan.id, "occurrence_date": day, "elder_id": plan.elder_id,
                         "item_id": plan.item_id, "window_start_at": start, "window_end_at": end})
    return rows


def insert_occurrences(session: Session, now: datetime, days: int, plan_ids: list[int] | None = None,
                       batch: int = BATCH) -> int:
    """Insert the missing occurrences of every live plan within the horizon; return how many rows were new."""
    first, last = horizon(now, days)
    query = (select(CarePlan.id, CarePlan.elder_id, CarePlan.item_id, CarePlan.rule, CarePlan.at_time,
                    CarePlan.duration_min, CarePlan.starts_on, CarePlan.until)
             .where(CarePlan.state != ENDED, CarePlan.starts_on <= last,
                    (CarePlan.until.is_(None)) | (CarePlan.until >= first))
             .order_by(CarePlan.id).limit(batch))
    if plan_ids is not None:
        query = query.where(CarePlan.id.in_(plan_ids))
    inserted, after = 0, 0
    while True:
        plans = session.execute(query.where(CarePlan.id > after)).all()
        if not plans:
            return inserted
        after = plans[-1].id
        ids = [p.id for p in plans]
        pauses: dict[int, list[tuple[date, date]]] = {}
        for plan_id, start, end in session.execute(
                select(PlanPause.plan_id, PlanPause.starts_on, PlanPause.ends_on)
                .where(PlanPause.plan_id.in_(ids), PlanPause.ends_on >= first, PlanPause.starts_on <= last)):
            pauses.setdefault(plan_id, []).append((start, end))
        existing = set(session.execute(
            select(Order.plan_id, Order.occurrence_date)
            .where(Order.plan_id.in_(ids), Order.occurrence_date >= first, Order.occurrence_date <= last)).all())
        rows = wanted_rows(plans, pauses, existing, first, last, now)
        if rows:
            inserted += _insert(session, rows, now)
        if len(plans) < batch:
            return inserted


def _insert(session: Session, rows: list[dict], now: datetime) -> int:
    codes = _free_job_codes(session, len(rows))
    stamp = f"{local(now):%Y%m%d}"
    for row, code in zip(rows, codes, strict=True):
        row.update(job_code=code, order_no=f"{stamp}{code}", state=OrderState.NEW.value, source="plan",
                   slot_code=SLOT_CODE, visit_code_failures=0, created_at=now, updated_at=now)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    # Conflicts with any unique index are skipped: the occurrence (or a job code a racing run
    # took a moment ago, which the next run makes again with another code).
    table = Order.__table__
    made = session.execute(dialect.insert(table).on_conflict_do_nothing().returning(table.c.id), rows).all()
    return len(made)


def _free_job_codes(session: Session, n: int) -> list[str]:
    """`n` distinct job codes no open order holds (one query a round; collisions are drawn again)."""
    codes: list[str] = []
    while len(codes) < n:
        drawn = {f"{secrets.randbelow(900000) + 100000}" for _ in range(n - len(codes))} - set(codes)
        taken: set[str] = set()
        for chunk in _chunks(sorted(drawn), 5000):
            taken |= set(session.scalars(select(Order.job_code).where(Order.job_code.in_(chunk),
                                                                      Order.state.in_(_OPEN))))
        codes.extend(sorted(drawn - taken))
    return codes[:n]


def _chunks(values: list, size: int):
    for i in range(0, len(values), size):
        yield values[i:i + size]


def settle_occurrences(session: Session, settings: Settings, now: datetime,
                       plan_ids: list[int] | None = None) -> int:
    """Give new occurrences to their plan's provider, offer the first of an untaken plan, and
    re-dispatch the occurrences of a provider that dropped out. Return how many orders moved."""
    moved = _release_dropped(session, settings, now, plan_ids)
    query = (select(Order, CarePlan).join(CarePlan, CarePlan.id == Order.plan_id)
             .where(Order.state == OrderState.NEW.value, Order.window_start_at > now,
                    CarePlan.provider_id.is_not(None)).order_by(Order.window_start_at, Order.id))
    if plan_ids is not None:
        query = query.where(CarePlan.id.in_(plan_ids))
    for order, plan in session.execute(query).all():
        if not assign_occurrence(session, order, plan, settings, now):
            orders.dispatch(session, order, settings, now)
        moved += 1
    return moved + _offer_untaken(session, settings, now, plan_ids)


def _offer_untaken(session: Session, settings: Settings, now: datetime, plan_ids: list[int] | None) -> int:
    """Offer the first waiting occurrence of each plan nobody has taken and nobody is being asked."""
    asking = aliased(Order)
    pending = exists().where(asking.plan_id == CarePlan.id,
                             asking.state.in_((OrderState.OFFERED.value, OrderState.UNASSIGNED.value)))
    waiting = aliased(Order)
    has_new = exists().where(waiting.plan_id == CarePlan.id, waiting.state == OrderState.NEW.value,
                             waiting.window_start_at > now)
    query = (select(CarePlan).where(CarePlan.provider_id.is_(None), CarePlan.state != ENDED, ~pending, has_new)
             .order_by(CarePlan.id))
    if plan_ids is not None:
        query = query.where(CarePlan.id.in_(plan_ids))
    offered = 0
    for plan_id in session.scalars(query.with_only_columns(CarePlan.id)).all():
        # The plan's row lock: a second scheduler skips the plan, then finds it being asked.
        plan = session.scalar(select(CarePlan).where(CarePlan.id == plan_id, CarePlan.provider_id.is_(None), ~pending)
                              .with_for_update(skip_locked=True).execution_options(populate_existing=True))
        if plan is None:
            continue
        lead = session.scalar(select(Order).where(Order.plan_id == plan.id, Order.state == OrderState.NEW.value,
                                                  Order.window_start_at > now)
                              .order_by(Order.window_start_at).limit(1))
        if lead is None:
            continue
        _offer_lead(session, lead, plan, settings, now)
        offered += 1
    return offered


def _offer_lead(session: Session, order: Order, plan: CarePlan, settings: Settings, now: datetime) -> None:
    if plan.preferred_provider_id is not None:
        refusal, chosen = orders._chosen_provider(session, order, plan.preferred_provider_id)  # noqa: SLF001
        if chosen is not None:
            orders.send_offers(session, order, [chosen], 0, settings, now)
            return
    orders.dispatch(session, order, settings, now)


def _release_dropped(session: Session, settings: Settings, now: datetime, plan_ids: list[int] | None) -> int:
    """Occurrences held by a provider that can no longer come (suspended, contract over, a day off)."""
    day_off = exists().where(ProviderDayOff.provider_id == Order.provider_id,
                             ProviderDayOff.day == Order.occurrence_date)
    out_of_contract = (Provider.contract_status != "active") | (
        Provider.contract_ends_on.is_not(None) & (Provider.contract_ends_on < Order.occurrence_date))
    query = (select(Order, CarePlan, Provider).join(CarePlan, CarePlan.id == Order.plan_id)
             .join(Provider, Provider.id == Order.provider_id)
             .where(Order.state == OrderState.ACCEPTED.value, Order.window_start_at > now,
                    day_off | out_of_contract).order_by(Order.window_start_at))
    if plan_ids is not None:
        query = query.where(CarePlan.id.in_(plan_ids))
    moved = 0
    for order, plan, provider in session.execute(query).all():
        whole = provider.contract_status != "active" or (
            provider.contract_ends_on is not None and provider.contract_ends_on < order.occurrence_date)
        if whole and plan.provider_id == provider.id:
            before = plan_fields(plan)
            plan.provider_id, plan.updated_at = None, now
            record_change(session, plan, "released", before, source="scheduler", actor_id=None, now=now)
        why = "合同已停止" if whole else f"{order.occurrence_date}休息"
        open_task(session, kind="plan_provider_dropped", elder_id=order.elder_id, order_id=order.id, now=now,
                  reason=f"服务计划#{plan.id}：{provider.name}{why}，{order.occurrence_date}的服务已改派",
                  dedupe_key=f"plan_dropped:{order.id}:{provider.id}")
        if orders.redispatch_order(session, order, now, settings=settings).ok:
            moved += 1
    return moved


def sweep(session: Session, settings: Settings, now: datetime) -> int:
    """The scheduler's pass: make the horizon's occurrences, then settle them."""
    made = insert_occurrences(session, now, settings.plan_horizon_days)
    return made + settle_occurrences(session, settings, now)


def naive_insert(session: Session, now: datetime, days: int) -> int:
    """The per-plan loop `vnh bench plans` compares with: a query per occurrence, an ORM insert each."""
    first, last = horizon(now, days)
    made = 0
    for plan in session.scalars(select(CarePlan).where(CarePlan.state != ENDED).order_by(CarePlan.id)):
        pauses = [(p.starts_on, p.ends_on) for p in plan.pauses]
        for day in plan_days(compiled_rule(plan.rule, plan.starts_on), starts_on=plan.starts_on,
                             until=plan.until, first=first, last=last, pauses=pauses):
            start, end = window_of(day, plan.at_time, plan.duration_min)
            if start <= now or session.scalar(select(Order.id).where(
                    Order.plan_id == plan.id, Order.occurrence_date == day)) is not None:
                continue
            code = orders._new_job_code(session)  # noqa: SLF001
            session.add(Order(job_code=code, order_no=f"{local(now):%Y%m%d}{code}", elder_id=plan.elder_id,
                              item_id=plan.item_id, state=OrderState.NEW.value, source="plan", slot_code=SLOT_CODE,
                              window_start_at=start, window_end_at=end, plan_id=plan.id, occurrence_date=day,
                              created_at=now, updated_at=now))
            session.flush()
            made += 1
    return made



