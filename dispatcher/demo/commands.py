"""`vnh demo-data`, `vnh simulate` and `vnh call`: the demo district and the phone simulator."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta

import click

from dispatcher.commands import app_for_command, now_of, prepare_database


@click.command("call")
@click.option("--from", "caller", required=True, help="The caller's number, e.g. +8613900000001.")
@click.option("--keys", default="", help="Keys to press at each prompt, comma-separated; empty = silence.")
@click.option("--say", "speech", default=None, help="Say this at the first prompt instead of pressing a key.")
@click.option("--url", default=None, help="Call a running `vnh serve` at this base URL instead of in-process.")
@click.option("--no-answer", is_flag=True, help="Nobody answers at the operator desk.")
def call_command(caller, keys, speech, url, no_answer):
    """Call the hotline as Twilio would and print the conversation."""
    from telephony.simulator import FlaskTransport, HttpTransport, Phone

    if url:
        transport = HttpTransport(url)
        phone = Phone(transport, os.environ.get("TWILIO_AUTH_TOKEN", ""),
                      os.environ.get("VNH_HOTLINE_NUMBER", "+869312345678"), operators_answer=not no_answer)
    else:
        app = app_for_command()
        if app.config["TELEPHONY"] != "local":
            raise click.ClickException("in-process calls need local telephony; use --url for a server")
        phone = Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"],
                      app.config["HOTLINE_NUMBER"], operators_answer=not no_answer)
    pressed = [k.strip() for k in keys.split(",")] if keys else []
    transcript = phone.call_hotline(caller, pressed, {0: speech} if speech is not None else None)
    click.echo(f"call {transcript.call_sid} from {caller}")
    for response in transcript.responses:
        for line in _conversation(response):
            click.echo(line)
    click.echo(f"pressed: {' '.join(transcript.pressed) or '-'}; ended with {transcript.ended_with}")


def _conversation(twiml_text: str) -> list[str]:
    import xml.etree.ElementTree as ET

    lines = []
    for verb in ET.fromstring(twiml_text):
        if verb.tag == "Say":
            lines.append(f"  热线: {''.join(verb.itertext())}")
        elif verb.tag == "Gather":
            lines += [f"  热线: {''.join(s.itertext())}" for s in verb.iter("Say")]
            lines.append("  (waiting for a key or speech)")
        elif verb.tag == "Dial":
            lines.append("  (dialling " + ", ".join(n.text or "" for n in verb.iter("Number")) + ")")
        elif verb.tag == "Record":
            lines.append("  (recording a voicemail)")
        elif verb.tag == "Hangup":
            lines.append("  (hung up)")
    return lines


@click.command("demo-data")
@click.option("--seed", default=1, show_default=True, help="Same seed, same district.")
@click.option("--elders", default=200, show_default=True)
@click.option("--providers", default=12, show_default=True)
@click.option("--staff/--no-staff", default=True, show_default=True,
              help="Also create one staff account per role, with fresh passwords printed once.")
def demo_data(seed, elders, providers, staff):
    """Fill an empty database with a deterministic fictional district (Lanzhou, Chengguan)."""
    from dispatcher.db import session_scope
    from dispatcher.demo.district import build_demo_district

    app = app_for_command()
    prepare_database(app)
    try:
        with session_scope(app) as session:
            summary = build_demo_district(session, seed=seed, elders=elders, providers=providers,
                                          now=now_of(app))
            accounts = _demo_staff(session, app) if staff else []
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"demo district: {summary.streets} streets, {summary.communities} communities, "
               f"{summary.elders} elders, {summary.providers} providers, {summary.offerings} offerings")
    for username, role, password in accounts:
        click.echo(f"staff account {username} ({role}) password {password}")


def new_staff_password() -> str:
    """A fresh random password (16 URL-safe characters) that passes the staff password rule."""
    return secrets.token_urlsafe(12)


def _demo_staff(session, app) -> list[tuple[str, str, str]]:
    from sqlalchemy import select

    from dispatcher.consoles.auth import add_user
    from providers.models import Provider

    first_provider = session.scalar(select(Provider.id).order_by(Provider.id).limit(1))
    accounts = []
    for username, role, name in (("operator", "operator", "话务员小李"), ("supervisor", "supervisor", "监督员老周"),
                                 ("bureau", "bureau", "民政局王科长"), ("admin", "admin", "管理员"),
                                 ("provider1", "provider", "服务商调度")):
        password = new_staff_password()
        add_user(session, username=username, password=password, role=role, display_name=name,
                 provider_id=first_provider if role == "provider" else None, now=now_of(app))
        accounts.append((username, role, password))
    return accounts


@click.command()
@click.option("--seed", default=1, show_default=True, help="Same seed, same callers and the same figures.")
@click.option("--days", type=click.IntRange(1, 366), default=None,
              help="Simulated days (default 30; with --calls, one day per 10 calls).")
@click.option("--calls-per-day", type=click.IntRange(0, 2000), default=7, show_default=True)
@click.option("--calls", type=click.IntRange(1, 100000), default=None,
              help="Calls in all, spread over the days, instead of --calls-per-day.")
@click.option("--mix", default="", help="Persona shares, e.g. decisive=0.4,speaker=0.04; must sum to one "
              "with the defaults they replace (see README).")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="The first simulated day (default: the first of last month, so its report can be verified).")
@click.option("--fresh/--use-database", default=False, show_default=True,
              help="Run on a new temporary SQLite database with the demo district of --seed.")
@click.option("--i-know", is_flag=True, help="Run even though the database is not a demo district.")
def simulate(seed, days, calls_per_day, calls, mix, start, fresh, i_know):
    """Simulate callers who listen, providers and reviews over days, and print the figures."""
    import logging

    from dispatcher.demo.personas import BadMix, parse_mix
    from dispatcher.demo.simulate import Refused, run_simulation

    logging.getLogger("vnh").setLevel(logging.WARNING)  # a month of webhooks, not a log line each
    try:
        shares = parse_mix(mix)
    except BadMix as exc:
        raise click.BadParameter(str(exc), param_hint="--mix") from None
    try:
        result = run_simulation(seed=seed, calls=calls, days=days, calls_per_day=calls_per_day, mix=shares,
                                fresh=fresh, i_know=i_know, start=start.date() if start else None,
                                echo=click.echo)
    except Refused as exc:
        raise click.ClickException(str(exc.code)) from None
    for line in result.table():
        click.echo(line)
    for line in result.figures():
        click.echo(line)
    months = sorted({f"{result.start:%Y-%m}", f"{result.start + timedelta(days=result.days - 1):%Y-%m}"})
    click.echo("the month's reports: " + "; ".join(f"vnh report verify --month {m}" for m in months))
    unexplained = [c for c in result.calls if not c.ok]
    for call in unexplained:
        click.echo(f"not completed ({call.persona}): {call.outcome}: {call.detail}", err=True)
    for failure in result.failures:
        click.echo(f"not completed: {failure}", err=True)
    if unexplained or result.failures:
        raise click.ClickException(f"{len(unexplained) + len(result.failures)} calls or visits did not complete")


def register(cli: click.Group) -> None:
    cli.add_command(call_command)
    cli.add_command(demo_data)
    cli.add_command(simulate)
