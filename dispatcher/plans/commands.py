"""`vnh plan …` (care plans) and `vnh bench plans`; `vnh import plans` is in the enrollment package."""

from __future__ import annotations

import json

import click

from dispatcher.commands import app_for_command, now_of, subgroup


@click.group()
def plan():
    """Care plans (服务计划): standing services whose occurrences become ordinary orders."""


def _elder(session, id_number):
    from sqlalchemy import select

    from dispatcher.models import Elder

    found = session.scalar(select(Elder).where(Elder.id_number == id_number.strip().upper()))
    if found is None:
        raise click.ClickException("no elder with that ID number")
    return found


def _item(session, code):
    from sqlalchemy import select

    from dispatcher.models import Item

    found = session.scalar(select(Item).where(Item.code == code.strip().upper()))
    if found is None:
        raise click.ClickException(f"no item with the code {code!r}")
    return found


def _provider(session, code):
    from providers.queries import provider_by_code

    found = provider_by_code(session, code.strip())
    if found is None:
        raise click.ClickException(f"no provider with the code {code!r}")
    return found


def _plan(session, plan_id):
    from dispatcher.plans.models import CarePlan

    found = session.get(CarePlan, plan_id)
    if found is None:
        raise click.ClickException(f"no care plan {plan_id}")
    return found


def _day(text, what):
    from dispatcher.plans.service import PlanError, parse_day

    try:
        return parse_day(text, what) if text else None
    except PlanError as exc:
        raise click.ClickException(str(exc)) from None


def _run(app, action):
    """Run `action(session, settings, now)` in one transaction; a refused plan changes nothing.
    Then make the plans' occurrences within the horizon at once, as the scheduler would."""
    from dispatcher.config import Settings
    from dispatcher.db import session_scope
    from dispatcher.plans import generation
    from dispatcher.plans.service import PlanError

    settings, now = Settings(app.config), now_of(app)
    try:
        with session_scope(app) as session:
            result = action(session, settings, now)
    except PlanError as exc:
        raise click.ClickException(f"refused, nothing changed: {exc}") from None
    with session_scope(app) as session:
        generation.sweep(session, settings, now)
    return result


@plan.command("add")
@click.option("--id-number", required=True, help="The elder's ID number.")
@click.option("--item", "item_code", required=True, help="The item's code, e.g. MS01.")
@click.option("--rule", required=True, help="An iCalendar RRULE: FREQ=DAILY, FREQ=WEEKLY;BYDAY=TU …")
@click.option("--at", "at_text", required=True, help="The time of day, HH:MM.")
@click.option("--starts", help="The first day, YYYY-MM-DD (default today).")
@click.option("--until", help="The last day, YYYY-MM-DD (default open-ended).")
@click.option("--provider", "provider_code", help="A preferred provider's code: offered the plan first.")
@click.option("--duration", default=60, show_default=True, help="Minutes each visit lasts.")
@click.option("--notes", default="", help="Notes for the provider and the operators.")
def add_command(id_number, item_code, rule, at_text, starts, until, provider_code, duration, notes):
    """Add a care plan; print its id. Its occurrences within the horizon are made at once."""
    from dispatcher.clock import local
    from dispatcher.plans.service import PlanError, add_plan, parse_time

    app = app_for_command()
    try:
        at = parse_time(at_text)
    except PlanError as exc:
        raise click.ClickException(str(exc)) from None

    def action(session, settings, now):
        return add_plan(session, elder=_elder(session, id_number), item=_item(session, item_code), rule=rule,
                        at=at, starts_on=_day(starts, "开始日期") or local(now).date(),
                        until=_day(until, "结束日期"),
                        provider=_provider(session, provider_code) if provider_code else None,
                        duration_min=duration, notes=notes, now=now).id

    click.echo(_run(app, action))


@plan.command("list")
@click.option("--id-number", help="Only this elder's plans.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def list_command(id_number, fmt):
    """Each plan with its upcoming occurrences (date, time, job code, state, provider)."""
    from dispatcher.db import session_scope
    from dispatcher.plans.service import plan_summary, plans_of, upcoming

    app = app_for_command()
    now = now_of(app)
    with session_scope(app) as session:
        elder_id = _elder(session, id_number).id if id_number else None
        plans = plans_of(session, elder_id)
        found = upcoming(session, [p.id for p in plans], now)
        summaries = [plan_summary(session, p, found.get(p.id, []), now) for p in plans]
    if fmt == "json":
        click.echo(json.dumps(summaries, ensure_ascii=False, indent=2))
        return
    for s in summaries:
        click.echo(f"#{s['id']} {s['elder']} {s['item_name']}({s['item']}) {s['rule']} {s['at']} "
                   f"{s['starts_on']}–{s['until'] or ''} [{s['state']}] provider {s['provider'] or '-'}")
        for p in s["pauses"]:
            click.echo(f"    paused {p['from']}–{p['to']}: {p['reason']}")
        for o in s["occurrences"]:
            click.echo(f"    {o['date']} {o['time']} job {o['job_code']} {o['state']} {o['provider'] or '-'}")


@plan.command("pause")
@click.argument("plan_id", type=int)
@click.option("--from", "first", required=True, help="The first paused day, YYYY-MM-DD.")
@click.option("--to", "last", required=True, help="The last paused day, YYYY-MM-DD.")
@click.option("--reason", required=True, help="e.g. 住院")
def pause_command(plan_id, first, last, reason):
    """Pause a plan for some days: their occurrences not yet started are cancelled."""
    from dispatcher.plans.service import pause_plan

    app = app_for_command()
    cancelled = _run(app, lambda session, settings, now: pause_plan(
        session, _plan(session, plan_id), starts_on=_day(first, "暂停开始日期"), ends_on=_day(last, "暂停结束日期"),
        reason=reason, settings=settings, now=now))
    click.echo(f"plan {plan_id} paused {first}–{last}; {cancelled} occurrences cancelled")


@plan.command("end")
@click.argument("plan_id", type=int)
@click.option("--on", "on", help="The last day it runs, YYYY-MM-DD (default today).")
def end_command(plan_id, on):
    """End a plan: its occurrences after the last day are cancelled."""
    from dispatcher.plans.service import end_plan

    app = app_for_command()
    cancelled = _run(app, lambda session, settings, now: end_plan(
        session, _plan(session, plan_id), on=_day(on, "结束日期"), settings=settings, now=now))
    click.echo(f"plan {plan_id} ended; {cancelled} occurrences cancelled")


@plan.command("change")
@click.argument("plan_id", type=int)
@click.option("--rule", help="A new RRULE.")
@click.option("--at", "at_text", help="A new time of day, HH:MM.")
@click.option("--until", help="A new last day, YYYY-MM-DD, or 'none'.")
@click.option("--provider", "provider_code", help="A new preferred provider's code, or 'none'.")
@click.option("--duration", type=int, help="Minutes each visit lasts.")
@click.option("--notes", help="New notes.")
def change_command(plan_id, rule, at_text, until, provider_code, duration, notes):
    """Change a plan; occurrences ahead that no longer fit are cancelled and made again."""
    from dispatcher.plans.service import _UNSET, PlanError, change_plan, parse_time

    app = app_for_command()
    try:
        at = parse_time(at_text) if at_text else None
    except PlanError as exc:
        raise click.ClickException(str(exc)) from None

    def action(session, settings, now):
        extra = {}
        if until is not None:
            extra["until"] = None if until.lower() == "none" else _day(until, "结束日期")
        if provider_code is not None:
            extra["provider"] = None if provider_code.lower() == "none" else _provider(session, provider_code)
        return change_plan(session, _plan(session, plan_id), settings=settings, rule=rule, at=at, notes=notes,
                           duration_min=duration, now=now, **{k: v for k, v in extra.items() if v is not _UNSET})

    cancelled = _run(app, action)
    click.echo(f"plan {plan_id} changed; {cancelled} occurrences cancelled")


@plan.command("generate")
def generate_command():
    """Make the occurrences within VNH_PLAN_HORIZON_DAYS now (the scheduler does it every tick)."""
    from dispatcher.config import Settings
    from dispatcher.db import session_scope
    from dispatcher.plans import generation

    app = app_for_command()
    with session_scope(app) as session:
        made = generation.sweep(session, Settings(app.config), now_of(app))
    click.echo(f"{made} occurrences made or settled")


def register(cli: click.Group) -> None:
    from dispatcher.plans.bench import bench_plans

    cli.add_command(plan)
    subgroup(cli, "bench").add_command(bench_plans, "plans")
