"""The `vnh` command line."""

from __future__ import annotations

import csv
import json
import secrets
import sys
from pathlib import Path

import click

from dispatcher.cliapp import app_for_command as _app
from dispatcher.cliapp import now_of as _now


def _prepare_database(app) -> int:
    from dispatcher.catalogue import load_catalogue
    from dispatcher.db import session_scope
    from dispatcher.migrate import upgrade

    upgrade(app.extensions["vnh.engine"])
    with session_scope(app) as session:
        return load_catalogue(session)


@click.group()
def main():
    """vnh: the virtual nursing home dispatcher (虚拟养老院)."""
    from dispatcher.logs import configure_logging

    configure_logging()


@main.command("call")
@click.option("--from", "caller", required=True, help="The caller's number, e.g. +8613900000001.")
@click.option("--keys", default="", help="Keys to press at each prompt, comma-separated; empty = silence.")
@click.option("--say", "speech", default=None, help="Say this at the first prompt instead of pressing a key.")
@click.option("--url", default=None, help="Call a running `vnh serve` at this base URL instead of in-process.")
@click.option("--no-answer", is_flag=True, help="Nobody answers at the operator desk.")
def call_command(caller, keys, speech, url, no_answer):
    """Call the hotline as Twilio would and print the conversation."""
    import os

    from telephony.simulator import FlaskTransport, HttpTransport, Phone

    if url:
        transport = HttpTransport(url)
        phone = Phone(transport, os.environ.get("TWILIO_AUTH_TOKEN", ""),
                      os.environ.get("VNH_HOTLINE_NUMBER", "+869312345678"), operators_answer=not no_answer)
    else:
        app = _app()
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
            lines.append(f"  热线: {verb.text}")
        elif verb.tag == "Gather":
            lines += [f"  热线: {s.text}" for s in verb.iter("Say")]
            lines.append("  (waiting for a key or speech)")
        elif verb.tag == "Dial":
            lines.append("  (dialling " + ", ".join(n.text or "" for n in verb.iter("Number")) + ")")
        elif verb.tag == "Record":
            lines.append("  (recording a voicemail)")
        elif verb.tag == "Hangup":
            lines.append("  (hung up)")
    return lines


@click.command("dormant")
@click.option("--days", default=30, show_default=True, help="No contact of any kind for this long.")
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
def report_dormant(days, output):
    """List enrolled elders with no call, order or answered review in N days (CSV)."""
    from dispatcher.db import session_scope
    from dispatcher.dormant import write_dormant_csv

    if days < 1:
        raise click.BadParameter("must be at least 1", param_hint="--days")
    app = _app()
    with session_scope(app) as session:
        count = write_dormant_csv(session, days, _now(app), output)
    click.echo(f"wrote {count} elders without contact for {days} days to {output}")


@main.group()
def wellbeing():
    """Daily wellbeing calls (关爱呼叫) for elders who live alone."""


@wellbeing.command("schedule")
@click.option("--at", "at_text", default="10:00", show_default=True, help="Local time of the daily call.")
@click.option("--id-number", default=None, help="One elder, by resident ID number.")
@click.option("--all-living-alone", is_flag=True, help="Every enrolled elder who lives alone.")
def wellbeing_schedule(at_text, id_number, all_living_alone):
    """Call elders every day at a local time; two unanswered calls alert their contacts."""
    from datetime import time

    from sqlalchemy import select

    from dispatcher.db import session_scope
    from dispatcher.models import Elder
    from dispatcher.wellbeing import schedule_call

    try:
        at = time.fromisoformat(at_text)
    except ValueError:
        raise click.BadParameter("must look like 10:00", param_hint="--at") from None
    if bool(id_number) == all_living_alone:
        raise click.UsageError("give either --id-number or --all-living-alone")
    app = _app()
    with session_scope(app) as session:
        query = select(Elder).where(Elder.is_living_alone) if all_living_alone else (
            select(Elder).where(Elder.id_number == id_number.strip().upper()))
        elders = session.scalars(query).all()
        if not elders:
            raise click.ClickException("no such elder")
        for elder in elders:
            schedule_call(session, elder, at, _now(app))
    click.echo(f"{len(elders)} elders will be called every day at {at:%H:%M}")


@main.group()
def bench():
    """Benchmarks: each runs the naive way and ours in the same run and prints both."""


def _register_commands() -> None:
    from billing.bench import bench_report
    from billing.commands import month, report
    from dispatcher.chaos import chaos_command
    from dispatcher.enrollment_bench import bench_import
    from dispatcher.enrollment_commands import import_command
    from dispatcher.hotline.bench import bench_ivr, bench_webhooks
    from providers.bench import bench_match
    from providers.commands import provider

    main.add_command(report)
    report.add_command(report_dormant)
    main.add_command(month)
    main.add_command(import_command)
    bench.add_command(bench_report, "report")
    bench.add_command(bench_import, "import")
    bench.add_command(bench_ivr)
    bench.add_command(bench_webhooks)
    bench.add_command(bench_match)
    main.add_command(provider)
    main.add_command(chaos_command)


@main.command("init-db")
def init_db():
    """Create or upgrade the database schema and load the service catalogue."""
    app = _app()
    items = _prepare_database(app)
    click.echo(f"database ready at {app.extensions['vnh.engine'].url.render_as_string()}; "
               f"catalogue has {items} items")


@main.command("demo-data")
@click.option("--seed", default=1, show_default=True, help="Same seed, same district.")
@click.option("--elders", default=200, show_default=True)
@click.option("--providers", default=12, show_default=True)
@click.option("--staff/--no-staff", default=True, show_default=True,
              help="Also create one staff account per role, with fresh passwords printed once.")
def demo_data(seed, elders, providers, staff):
    """Fill an empty database with a deterministic fictional district (Lanzhou, Chengguan)."""
    from dispatcher.db import session_scope
    from dispatcher.demo import build_demo_district

    app = _app()
    _prepare_database(app)
    try:
        with session_scope(app) as session:
            summary = build_demo_district(session, seed=seed, elders=elders, providers=providers,
                                          now=_now(app))
            accounts = _demo_staff(session, app) if staff else []
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"demo district: {summary.streets} streets, {summary.communities} communities, "
               f"{summary.elders} elders, {summary.providers} providers, {summary.offerings} offerings")
    for username, role, password in accounts:
        click.echo(f"staff account {username} ({role}) password {password}")


def _demo_staff(session, app) -> list[tuple[str, str, str]]:
    from sqlalchemy import select

    from dispatcher.auth import add_user
    from providers.models import Provider

    first_provider = session.scalar(select(Provider.id).order_by(Provider.id).limit(1))
    accounts = []
    for username, role, name in (("operator", "operator", "话务员小李"), ("supervisor", "supervisor", "监督员老周"),
                                 ("bureau", "bureau", "民政局王科长"), ("admin", "admin", "管理员"),
                                 ("provider1", "provider", "服务商调度")):
        password = secrets.token_urlsafe(9)
        add_user(session, username=username, password=password, role=role, display_name=name,
                 provider_id=first_provider if role == "provider" else None, now=_now(app))
        accounts.append((username, role, password))
    return accounts


@main.group()
def user():
    """Staff accounts."""


@user.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["operator", "supervisor", "provider", "bureau", "admin"]))
@click.option("--name", "display_name", default="", help="Name shown on screens.")
@click.option("--provider", "provider_code", default=None, help="Provider code (provider staff only).")
@click.password_option()
def user_add(username, role, display_name, provider_code, password):
    """Add a staff account; the password is asked for, or read from --password."""
    from dispatcher.auth import add_user
    from dispatcher.db import session_scope
    from providers.queries import provider_by_code

    app = _app()
    try:
        with session_scope(app) as session:
            provider_id = None
            if provider_code:
                provider = provider_by_code(session, provider_code)
                if provider is None:
                    raise ValueError(f"no provider with code {provider_code!r}")
                provider_id = provider.id
            add_user(session, username=username, password=password, role=role,
                     display_name=display_name, provider_id=provider_id, now=_now(app))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"added {role} {username}")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
def catalogue(fmt):
    """List the service catalogue."""
    from dispatcher.catalogue import catalogue_rows
    from dispatcher.db import session_scope

    app = _app()
    with session_scope(app) as session:
        rows = catalogue_rows(session)
    if not rows:
        raise click.ClickException("the catalogue is empty: run `vnh init-db` first")
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--workers", default=2, show_default=True, help="Web worker processes.")
@click.option("--threads", default=8, show_default=True, help="Threads per worker process.")
@click.option("--scheduler/--no-scheduler", default=True, show_default=True,
              help="Also run the scheduler tick, in one process of its own.")
def serve(host, port, workers, threads, scheduler):
    """Serve the web app with gunicorn and, by default, run the scheduler tick beside it."""
    import os

    from dispatcher.server import serve as run_server

    if not os.environ.get("VNH_PUBLIC_URL"):
        os.environ["VNH_PUBLIC_URL"] = f"http://{host}:{port}"
    app = _app()
    if not os.environ.get("VNH_SECRET_KEY"):
        # Local mode without a key (twilio mode refused to start above): one random key for every
        # worker process, or a sign-in answered by one worker is refused by the next.
        os.environ["VNH_SECRET_KEY"] = secrets.token_hex(32)
    _prepare_database(app)
    app.extensions["vnh.engine"].dispose()
    click.echo(f"vnh serving on http://{host}:{port} with {workers} worker processes "
               f"(telephony: {app.config['TELEPHONY']}; scheduler: {'on' if scheduler else 'off'})")
    run_server(host, port, workers, threads, scheduler)


@main.command("status")
def status_command():
    """Print the health report: database, scheduler lock holder, outbox backlog, overdue work."""
    from dispatcher.db import session_scope
    from dispatcher.health import health_report

    app = _app()
    with session_scope(app) as session:
        report = health_report(session, _now(app))
    for key, value in report.items():
        click.echo(f"{key}: {value}")
    if not report["ok"]:
        raise SystemExit(1)


@main.command("scheduler")
def scheduler_command():
    """Run only the scheduler tick (one ticking process at a time on PostgreSQL)."""
    import time

    from dispatcher.sweepers import start_scheduler

    app = _app()
    start_scheduler(app)
    click.echo(f"scheduler ticking every {app.config['TICK_S']} s; Ctrl-C stops it")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


@main.command()
@click.option("--seed", default=1, show_default=True)
@click.option("--calls", default=10, show_default=True)
@click.option("--fresh/--use-database", default=False, show_default=True,
              help="Run on a new temporary SQLite database with the demo district of --seed.")
def simulate(seed, calls, fresh):
    """Drive N whole lifecycles through the HTTP layer, acting as Twilio, providers and elders."""
    from dispatcher.simulate import run_simulation

    result = run_simulation(seed=seed, calls=calls, fresh=fresh, echo=click.echo)
    click.echo(result.summary())
    for failure in result.failures:
        click.echo(f"not completed: {failure}", err=True)
    if result.failures:
        raise click.ClickException(f"{len(result.failures)} lifecycles did not complete")


_register_commands()


if __name__ == "__main__":
    main()
