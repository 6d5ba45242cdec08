"""`vnh wellbeing …` and `vnh report dormant`: the care programmes from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from dispatcher.commands import app_for_command, now_of, subgroup
from dispatcher.programmes.dormant import MAX_DAYS


@click.command("dormant")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, MAX_DAYS),
              help=f"No contact of any kind for this long (1 to {MAX_DAYS}).")
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
def report_dormant(days, output):
    """List enrolled elders with no call, order or answered review in N days (CSV)."""
    from dispatcher.db import session_scope
    from dispatcher.programmes.dormant import write_dormant_csv

    app = app_for_command()
    try:
        with session_scope(app) as session:
            count = write_dormant_csv(session, days, now_of(app), output)
    except OSError as exc:
        raise click.ClickException(f"--output: cannot write {output}: {exc.strerror}") from None
    click.echo(f"wrote {count} elders without contact for {days} days to {output}")


@click.group()
def wellbeing():
    """Daily wellbeing calls (关爱呼叫) for elders who live alone."""


@wellbeing.command("schedule")
@click.option("--at", "at_text", default="10:00", show_default=True, help="Local time of the daily call.")
@click.option("--id-number", default=None, help="One elder, by resident ID number.")
@click.option("--all-living-alone", is_flag=True, help="Every enrolled elder who lives alone.")
@click.option("--street", default=None, help="With --all-living-alone: only this street.")
@click.option("--community", default=None, help="With --all-living-alone and --street: only this community.")
def wellbeing_schedule(at_text, id_number, all_living_alone, street, community):
    """Call elders every day at a local time; two unanswered calls alert their contacts."""
    from datetime import time

    from sqlalchemy import select

    from dispatcher.consoles.scope import Area
    from dispatcher.db import session_scope
    from dispatcher.models import Elder
    from dispatcher.programmes.wellbeing import living_alone, schedule_call

    try:
        at = time.fromisoformat(at_text)
    except ValueError:
        raise click.BadParameter("must look like 10:00", param_hint="--at") from None
    if bool(id_number) == all_living_alone:
        raise click.UsageError("give either --id-number or --all-living-alone")
    if ((street or community) and not all_living_alone) or (community and not street):
        raise click.UsageError("--street goes with --all-living-alone, and --community with --street")
    app = app_for_command()
    with session_scope(app) as session:
        within = Area(street, community or None) if street else None
        elders = living_alone(session, within=within) if all_living_alone else session.scalars(
            select(Elder).where(Elder.id_number == id_number.strip().upper())).all()
        if not elders:
            raise click.ClickException("no such elder")
        for elder in elders:
            schedule_call(session, elder, at, now_of(app))
    click.echo(f"{len(elders)} elders will be called every day at {at:%H:%M}")


def register(cli: click.Group) -> None:
    cli.add_command(wellbeing)
    subgroup(cli, "report").add_command(report_dormant)
