"""`vnh approve-time VISIT MINUTES`: an operator's approval to bill an hourly visit for longer."""

from __future__ import annotations

import click

from dispatcher.commands import app_for_command, now_of


@click.command("approve-time")
@click.argument("visit_id", type=int)
@click.argument("minutes", type=int)
@click.option("--reason", required=True, help="Why more than the booked hour is approved.")
@click.option("--by", "approved_by", required=True, help="Who approves (operator's username).")
def approve_time(visit_id: int, minutes: int, reason: str, approved_by: str):
    """Approve billing hourly visit VISIT_ID up to MINUTES; a billed visit is re-priced."""
    from billing.duration import ApprovalError, approve_duration
    from dispatcher.db import session_scope
    from dispatcher.models import Visit

    app = app_for_command()
    try:
        with session_scope(app) as session:
            visit = session.get(Visit, visit_id)
            if visit is None:
                raise click.BadParameter(f"no visit {visit_id}", param_hint="VISIT_ID")
            approve_duration(session, visit, minutes=minutes, approved_by=f"cli:{approved_by}",
                             reason=reason, policy=app.extensions["vnh.policy"], now=now_of(app))
    except ApprovalError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"visit {visit_id}: approved up to {minutes} minutes")


def register(cli: click.Group) -> None:
    cli.add_command(approve_time)
