"""Care plans in the browser: an elder's plans for the operators (add, change, pause, end), and a
provider's week in the portal (every occurrence per day)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from dispatcher.clock import local
from dispatcher.config import Settings
from dispatcher.consoles.auth import current_user, role_required
from dispatcher.consoles.scope import in_scope
from dispatcher.db import get_session
from dispatcher.lifecycle.slots import local_day_bounds
from dispatcher.lifecycle.states import OrderState
from dispatcher.models import Elder, Item, Order
from dispatcher.plans import generation, service
from dispatcher.plans.commitment import schedule_words
from dispatcher.plans.models import CarePlan
from providers.portal import ORDER_STATES, provider_staff
from providers.queries import provider_by_code

bp = Blueprint("plans", __name__, template_folder="templates")
CONSOLE_ROLES = ("operator", "supervisor")
WEEK_STATES = (OrderState.ACCEPTED.value, OrderState.IN_PROGRESS.value, OrderState.COMPLETED.value,
               OrderState.VERIFIED.value, OrderState.DISPUTED.value)


def _now() -> datetime:
    return current_app.extensions["vnh.clock"].now()


def _elder_or_404(db, elder_id: int) -> Elder:
    elder = db.get(Elder, elder_id)
    if elder is None or not in_scope(db, current_user(), elder.id):
        abort(404)  # another area's elder is as unknown to a scoped account as a missing one
    return elder


def _plan_or_404(db, plan_id: int) -> CarePlan:
    plan = db.get(CarePlan, plan_id)
    if plan is None:
        abort(404)
    _elder_or_404(db, plan.elder_id)
    return plan


def _actor() -> service.Actor:
    return service.Actor("console", current_user().id)


def _provider(db, code: str):
    if not code.strip():
        return None
    provider = provider_by_code(db, code.strip())
    if provider is None:
        raise service.PlanError(f"没有编号为“{code.strip()}”的服务商")
    return provider


def _apply(db, elder_id: int, action, done: str):
    """Run one plan service, commit and make the occurrences, or roll back and say why."""
    try:
        action()
    except service.PlanError as exc:
        db.rollback()
        flash(f"未保存：{exc}", "error")
    else:
        db.commit()
        generation.sweep(db, Settings(current_app.config), _now())
        db.commit()
        flash(done, "success")
    return redirect(url_for("plans.elder_plans", elder_id=elder_id), code=303)


@bp.get("/console/elders/<int:elder_id>/plans")
@role_required(*CONSOLE_ROLES)
def elder_plans(elder_id: int):
    db, now = get_session(), _now()
    elder = _elder_or_404(db, elder_id)
    plans = service.plans_of(db, elder.id)
    found = service.upcoming(db, [p.id for p in plans], now)
    return render_template(
        "plans/elder.html", elder=elder, now=now, today=local(now).date(),
        plans=[service.plan_summary(db, p, found.get(p.id, []), now) for p in plans],
        items=db.scalars(select(Item).order_by(Item.position)).all(), states=ORDER_STATES)


@bp.post("/console/elders/<int:elder_id>/plans/add")
@role_required(*CONSOLE_ROLES)
def add_plan(elder_id: int):
    db, now, form = get_session(), _now(), request.form
    elder = _elder_or_404(db, elder_id)

    def action():
        item = db.scalar(select(Item).where(Item.code == form.get("item", "")))
        if item is None:
            raise service.PlanError("请选择服务项目")
        service.add_plan(db, elder=elder, item=item, rule=form.get("rule", ""), at=service.parse_time(form.get("at")),
                         starts_on=service.parse_day(form.get("starts"), "开始日期"),
                         until=service.parse_day(form["until"], "结束日期") if form.get("until") else None,
                         provider=_provider(db, form.get("provider", "")),
                         duration_min=_minutes(form.get("duration")), notes=form.get("notes", "").strip(),
                         actor=_actor(), now=now)

    return _apply(db, elder.id, action, "已建立服务计划。")


def _minutes(text: str | None) -> int:
    text = (text or "60").strip()
    if not text.isdigit():
        raise service.PlanError(f"时长“{text}”应为分钟数")
    return int(text)


@bp.post("/console/plans/<int:plan_id>/change")
@role_required(*CONSOLE_ROLES)
def change_plan(plan_id: int):
    db, now, form = get_session(), _now(), request.form
    plan = _plan_or_404(db, plan_id)

    def action():
        service.change_plan(
            db, plan, settings=Settings(current_app.config), rule=form.get("rule") or None,
            at=service.parse_time(form["at"]) if form.get("at") else None,
            until=service.parse_day(form["until"], "结束日期") if form.get("until") else None,
            provider=_provider(db, form.get("provider", "")), notes=form.get("notes", "").strip(),
            duration_min=_minutes(form.get("duration")), actor=_actor(), now=now)

    return _apply(db, plan.elder_id, action, f"服务计划#{plan_id}已调整。")


@bp.post("/console/plans/<int:plan_id>/pause")
@role_required(*CONSOLE_ROLES)
def pause_plan(plan_id: int):
    db, now, form = get_session(), _now(), request.form
    plan = _plan_or_404(db, plan_id)
    return _apply(db, plan.elder_id, lambda: service.pause_plan(
        db, plan, starts_on=service.parse_day(form.get("from"), "暂停开始日期"),
        ends_on=service.parse_day(form.get("to"), "暂停结束日期"), reason=form.get("reason", ""),
        settings=Settings(current_app.config), actor=_actor(), now=now), f"服务计划#{plan_id}已暂停。")


@bp.post("/console/plans/<int:plan_id>/end")
@role_required(*CONSOLE_ROLES)
def end_plan(plan_id: int):
    db, now, form = get_session(), _now(), request.form
    plan = _plan_or_404(db, plan_id)
    return _apply(db, plan.elder_id, lambda: service.end_plan(
        db, plan, on=service.parse_day(form["on"], "结束日期") if form.get("on") else None,
        settings=Settings(current_app.config), actor=_actor(), now=now), f"服务计划#{plan_id}已结束。")


def week_of(db, provider_id: int, now: datetime, days: int = 7) -> list[tuple]:
    """The provider's held occurrences and orders of the next `days` local days, per day."""
    start = local_day_bounds(now)[0]
    rows = db.execute(
        select(Order, Item, Elder, CarePlan).join(Item, Item.id == Order.item_id)
        .join(Elder, Elder.id == Order.elder_id).outerjoin(CarePlan, CarePlan.id == Order.plan_id)
        .where(Order.provider_id == provider_id, Order.state.in_(WEEK_STATES),
               Order.window_start_at >= start, Order.window_start_at < start + timedelta(days=days))
        .order_by(Order.window_start_at, Order.id)).all()
    week = [(local(start + timedelta(days=n)).date(), []) for n in range(days)]
    for row in rows:
        day = local(row[0].window_start_at).date()
        for when, found in week:
            if when == day:
                found.append(row)
    return week


@bp.get("/portal/week")
@provider_staff
def portal_week():
    db, now = get_session(), _now()
    return render_template("plans/week.html", week=week_of(db, g.portal_provider_id, now), now=now,
                           states=ORDER_STATES, schedule=schedule_words)
