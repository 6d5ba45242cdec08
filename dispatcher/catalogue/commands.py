"""`vnh catalogue` (export) and `vnh import catalogue FILE` (add and update items)."""

from __future__ import annotations

import click

from dispatcher.commands import app_for_command, now_of


@click.command()
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
def catalogue(fmt):
    """List the service catalogue, each item at today's market price (re-importable)."""
    from dispatcher.catalogue.transfer import export_text
    from dispatcher.clock import local
    from dispatcher.db import session_scope

    app = app_for_command()
    with session_scope(app) as session:
        text = export_text(session, fmt, local(now_of(app)).date())
    if text.count("\n") <= 1 or text.strip() == "[]":
        raise click.ClickException("the catalogue is empty: run `vnh init-db` first")
    click.echo(text, nl=False)


def import_catalogue_file(path, dry_run: bool) -> None:
    """`vnh import catalogue FILE`: every bad row named, and nothing written if there is one."""
    from dispatcher.catalogue.transfer import import_catalogue
    from dispatcher.clock import local
    from dispatcher.db import session_scope

    app = app_for_command()
    now = now_of(app)
    with session_scope(app) as session:
        try:
            report = import_catalogue(session, path, now, today=local(now).date(),
                                      actor=f"import:{path.name}", dry_run=dry_run)
        except (ValueError, OSError) as exc:
            raise click.ClickException(f"{path}: {exc}; nothing was imported") from None
        if dry_run or not report.ok:
            session.rollback()
    for row, column, reason in report.errors:
        click.echo(f"row {row}, {column}: {reason}", err=True)
    if not report.ok:
        raise click.ClickException(f"{path}: {len({r for r, _, _ in report.errors})} bad rows: nothing was imported")
    verb = "would add" if dry_run else "added"
    click.echo(f"catalogue: {verb} {report.added}, updated {report.updated} ({report.price_changes} price "
               f"changes), unchanged {report.unchanged}")


def register(cli: click.Group) -> None:
    cli.add_command(catalogue)
