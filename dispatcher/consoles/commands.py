"""`vnh user …`: staff accounts."""

from __future__ import annotations

import click

from dispatcher.commands import app_for_command, now_of, subgroup


@click.group()
def user():
    """Staff accounts."""


@user.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["operator", "supervisor", "provider", "bureau", "admin"]))
@click.option("--name", "display_name", default="", help="Name shown on screens.")
@click.option("--provider", "provider_code", default=None, help="Provider code (provider staff only).")
@click.option("--street", default=None, help="Bind the account to this street (街道工作人员).")
@click.option("--community", default=None, help="Bind the account to this community of --street (社区工作人员).")
@click.password_option()
def user_add(username, role, display_name, provider_code, street, community, password):
    """Add a staff account; the password is asked for, or read from --password."""
    from dispatcher.consoles.staff import create_staff
    from dispatcher.db import session_scope
    from providers.queries import provider_by_code

    app = app_for_command()
    try:
        with session_scope(app) as session:
            provider_id = None
            if provider_code:
                provider = provider_by_code(session, provider_code)
                if provider is None:
                    raise ValueError(f"no provider with code {provider_code!r}")
                provider_id = provider.id
            create_staff(session, actor=None, username=username, password=password, role=role,
                         display_name=display_name, provider_id=provider_id, street=street,
                         community=community, now=now_of(app))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    area = f" of {street}{community or ''}" if street else ""
    click.echo(f"added {role} {username}{area}")


@user.command("password")
@click.argument("username")
@click.password_option()
def user_password(username, password):
    """Give a staff account a new password and end every session it has open."""
    from sqlalchemy import select

    from dispatcher.consoles.staff import reset_password
    from dispatcher.db import session_scope
    from dispatcher.models import StaffUser

    app = app_for_command()
    try:
        with session_scope(app) as session:
            account = session.scalar(select(StaffUser).where(StaffUser.username == username))
            if account is None:
                raise ValueError(f"no user {username!r}")
            reset_password(session, account, None, password, now_of(app))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"new password for {username}; every session of theirs has ended")


def register(cli: click.Group) -> None:
    from dispatcher.consoles.bench import bench_queue

    cli.add_command(user)
    subgroup(cli, "bench").add_command(bench_queue, "queue")
