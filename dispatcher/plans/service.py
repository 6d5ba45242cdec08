"""Creating, changing, pausing and ending care plans; what a plan looks like with its occurrences.

Services flush, never commit. Every change is appended to the plan's record (`PlanChange`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.clock import local
from dispatcher.config import Settings
from dispatcher.lifecycle import orders
from dispatcher.lifecycle.states import OrderState
from dispatcher.models import Elder, Item, Order
from dispatcher.plans import generation
from dispatcher.plans.commitment import plan_fields, record_change
from dispatcher.plans.models import ACTIVE, ENDED, PAUSED, CarePlan, PlanPause
from dispatcher.plans.rules import BadRule, parse_rule, plan_days
from providers.models import Offering, Provider

MIN_DURATION, MAX_DURATION = 5, 600
# Not yet started: these occurrences may be cancelled by a pause, an end or a new schedule.
NOT_STARTED = (OrderState.NEW.value, OrderState.OFFERED.value, OrderState.UNASSIGNED.value,
               OrderState.ACCEPTED.value)


class PlanError(ValueError):
    """A plan refused, with the reason (in Chinese, for the console and the command line)."""


@dataclass(frozen=True)
class Actor:
    """Who changes a plan: where from (cli, console, import) and which member of staff."""

    source: str = "cli"
    staff_user_id: int | None = None


def parse_time(text: str) -> time:
    try:
        hour, minute = (int(part) for part in (text or "").strip().replace("：", ":").split(":"))
        return time(hour, minute)
    except (ValueError, TypeError):
        raise PlanError(f"时间“{text}”应写成 HH:MM，如 11:30") from None


def parse_day(text: str, what: str = "日期") -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise PlanError(f"{what}“{text}”应写成 YYYY-MM-DD") from None


def _check(session: Session, *, item: Item, rule: str, starts_on: date, until: date | None,
           duration_min: int, provider: Provider | None) -> None:
    try:
        parse_rule(rule, starts_on, until)
    except BadRule as exc:
        raise PlanError(str(exc)) from None
    if not MIN_DURATION <= duration_min <= MAX_DURATION:
        raise PlanError(f"时长应在{MIN_DURATION}到{MAX_DURATION}分钟之间，不是{duration_min}")
    if provider is not None and session.scalar(select(Offering.id).where(
            Offering.provider_id == provider.id, Offering.item_id == item.id)) is None:
        raise PlanError(f"{provider.name}不提供{item.name}")


def add_plan(session: Session, *, elder: Elder, item: Item, rule: str, at: time, starts_on: date,
             until: date | None = None, provider: Provider | None = None, duration_min: int = 60,
             notes: str = "", actor: Actor = Actor(), now: datetime) -> CarePlan:
    """Create a plan after checking its rule, dates, duration and preferred provider."""
    if starts_on < local(now).date():
        raise PlanError(f"开始日期{starts_on}已过")
    _check(session, item=item, rule=rule, starts_on=starts_on, until=until, duration_min=duration_min,
           provider=provider)
    plan = CarePlan(elder_id=elder.id, item_id=item.id, rule=rule.strip().removeprefix("RRULE:"), at_time=at,
                    duration_min=duration_min, starts_on=starts_on, until=until,
                    preferred_provider_id=provider.id if provider else None, notes=notes or "",
                    state=ACTIVE, created_at=now, updated_at=now)
    session.add(plan)
    session.flush()
    record_change(session, plan, "added", {}, source=actor.source, actor_id=actor.staff_user_id, now=now)
    return plan


def _open_occurrences(session: Session, plan: CarePlan, first: date, last: date | None = None) -> list[Order]:
    query = select(Order).where(Order.plan_id == plan.id, Order.state.in_(NOT_STARTED),
                                Order.occurrence_date >= first)
    if last is not None:
        query = query.where(Order.occurrence_date <= last)
    return list(session.scalars(query.order_by(Order.occurrence_date)))


def _cancel(session: Session, occurrences: list[Order], reason: str, settings: Settings, now: datetime) -> int:
    for order in occurrences:
        orders.cancel_order(session, order, reason, settings, now)
    return len(occurrences)


def pause_plan(session: Session, plan: CarePlan, *, starts_on: date, ends_on: date, reason: str,
               settings: Settings, actor: Actor = Actor(), now: datetime) -> int:
    """Pause the plan for these days (inclusive); their occurrences not yet started are cancelled
    (their provider is told). Return how many were cancelled."""
    if plan.state == ENDED:
        raise PlanError(f"服务计划#{plan.id}已结束")
    if ends_on < starts_on:
        raise PlanError(f"暂停的结束日期{ends_on}早于开始日期{starts_on}")
    if not (reason or "").strip():
        raise PlanError("请写明暂停原因（如：住院）")
    before = plan_fields(plan)
    plan.pauses.append(PlanPause(starts_on=starts_on, ends_on=ends_on, reason=reason.strip()[:200], created_at=now))
    plan.updated_at = now
    session.flush()
    record_change(session, plan, "paused", before | {"pause": [str(starts_on), str(ends_on), reason]},
                  source=actor.source, actor_id=actor.staff_user_id, now=now)
    return _cancel(session, _open_occurrences(session, plan, starts_on, ends_on),
                   f"服务计划暂停：{reason.strip()}"[:200], settings, now)


def end_plan(session: Session, plan: CarePlan, *, on: date | None, settings: Settings,
             actor: Actor = Actor(), now: datetime) -> int:
    """End the plan after `on` (default today): later occurrences not yet started are cancelled."""
    on = on or local(now).date()
    before = plan_fields(plan)
    plan.until = on if plan.until is None else min(plan.until, on)
    plan.state, plan.updated_at = ENDED, now
    record_change(session, plan, "ended", before, source=actor.source, actor_id=actor.staff_user_id, now=now)
    return _cancel(session, _open_occurrences(session, plan, date.fromordinal(on.toordinal() + 1)),
                   "服务计划已结束", settings, now)


_UNSET = object()


def change_plan(session: Session, plan: CarePlan, *, settings: Settings, rule: str | None = None,
                at: time | None = None, until=_UNSET, provider=_UNSET, notes: str | None = None,
                duration_min: int | None = None, actor: Actor = Actor(), now: datetime) -> int:
    """Change the schedule, last day, preferred provider or notes; the occurrences ahead that no
    longer fit are cancelled and the new ones made at the next run. Return how many were cancelled.

    A new provider releases the plan from the one that took it: the new one is offered the plan.
    """
    if plan.state == ENDED:
        raise PlanError(f"服务计划#{plan.id}已结束")
    item = session.get(Item, plan.item_id)
    new_rule = rule.strip().removeprefix("RRULE:") if rule is not None else plan.rule
    new_until = plan.until if until is _UNSET else until
    if provider is _UNSET:
        new_provider = session.get(Provider, plan.preferred_provider_id) if plan.preferred_provider_id else None
    else:
        new_provider = provider
    new_duration = duration_min if duration_min is not None else plan.duration_min
    today = local(now).date()
    _check(session, item=item, rule=new_rule, starts_on=max(plan.starts_on, today) if rule else plan.starts_on,
           until=new_until, duration_min=new_duration, provider=new_provider)
    before = plan_fields(plan)
    plan.rule, plan.until, plan.duration_min = new_rule, new_until, new_duration
    plan.at_time = at or plan.at_time
    if notes is not None:
        plan.notes = notes
    released = provider is not _UNSET and (provider.id if provider else None) != plan.preferred_provider_id
    if released:
        plan.preferred_provider_id = provider.id if provider else None
        plan.provider_id = None
    plan.updated_at = now
    record_change(session, plan, "changed", before, source=actor.source, actor_id=actor.staff_user_id, now=now)
    ahead = _open_occurrences(session, plan, today)
    if not ahead:
        return 0
    days = set(plan_days(generation.compiled_rule(plan.rule, plan.starts_on), starts_on=plan.starts_on,
                         until=plan.until, first=today, last=ahead[-1].occurrence_date))
    stale = [o for o in ahead if released or o.occurrence_date not in days
             or o.window_start_at != generation.window_of(o.occurrence_date, plan.at_time, plan.duration_min)[0]]
    cancelled = _cancel(session, stale, "服务计划已调整", settings, now)
    # A cancelled occurrence keeps its day (a pause's or a skipped one is never made again), except
    # one the new schedule replaces: it lets go of the day, so the next run makes it anew.
    for order in stale:
        order.occurrence_date = None
    return cancelled


def plan_state(plan: CarePlan, today: date) -> str:
    """active, paused (a pause covers today) or ended."""
    if plan.state == ENDED or (plan.until is not None and plan.until < today):
        return ENDED
    if any(p.starts_on <= today <= p.ends_on for p in plan.pauses):
        return PAUSED
    return ACTIVE


def plans_of(session: Session, elder_id: int | None = None) -> list[CarePlan]:
    query = select(CarePlan).order_by(CarePlan.id)
    if elder_id is not None:
        query = query.where(CarePlan.elder_id == elder_id)
    return list(session.scalars(query))


def upcoming(session: Session, plan_ids: list[int], now: datetime) -> dict[int, list[tuple[Order, str | None]]]:
    """Each plan's occurrences from today on (cancelled ones left out), with their provider's code."""
    rows = session.execute(
        select(Order, Provider.code).outerjoin(Provider, Provider.id == Order.provider_id)
        .where(Order.plan_id.in_(plan_ids), Order.occurrence_date >= local(now).date(),
               Order.state != OrderState.CANCELLED.value)
        .order_by(Order.plan_id, Order.window_start_at)).all()
    found: dict[int, list[tuple[Order, str | None]]] = {}
    for order, code in rows:
        found.setdefault(order.plan_id, []).append((order, code))
    return found


def plan_summary(session: Session, plan: CarePlan, occurrences: list[tuple[Order, str | None]],
                 now: datetime) -> dict:
    """The plan as `vnh plan list --format json` prints it."""
    elder, item = session.get(Elder, plan.elder_id), session.get(Item, plan.item_id)
    providers = {p.id: p.code for p in session.scalars(select(Provider).where(
        Provider.id.in_([i for i in (plan.provider_id, plan.preferred_provider_id) if i])))}
    return {
        "id": plan.id, "id_number": elder.id_number, "elder": elder.name, "item": item.code,
        "item_name": item.name, "rule": plan.rule, "at": f"{plan.at_time:%H:%M}",
        "duration_min": plan.duration_min, "starts_on": str(plan.starts_on),
        "until": str(plan.until) if plan.until else None, "state": plan_state(plan, local(now).date()),
        "provider": providers.get(plan.provider_id), "preferred_provider": providers.get(plan.preferred_provider_id),
        "notes": plan.notes,
        "pauses": [{"from": str(p.starts_on), "to": str(p.ends_on), "reason": p.reason} for p in plan.pauses],
        "occurrences": [{"date": str(o.occurrence_date), "time": f"{local(o.window_start_at):%H:%M}",
                         "job_code": o.job_code, "state": o.state, "provider": code}
                        for o, code in occurrences],
    }
