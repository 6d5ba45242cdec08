"""`vnh import …`: enrollment files into the database."""

from __future__ import annotations

from pathlib import Path

import click

from dispatcher.cliapp import app_for_command, now_of


@click.command("import")
@click.argument("kind", type=click.Choice(["elders", "providers", "offerings"]))
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and report; write nothing.")
def import_command(kind, path, dry_run):
    """Import an enrollment file (CSV with the headers in the README)."""
    from dispatcher.db import session_scope
    from dispatcher.enrollment import ImportFileError, import_file

    app = app_for_command()
    try:
        with session_scope(app) as session:
            report = import_file(session, kind, path, now_of(app), dry_run=dry_run)
            if not report.ok or dry_run:
                session.rollback()
    except ImportFileError as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    for error in report.errors:
        click.echo(f"row {error.row}, {error.column}: {error.reason}", err=True)
    verb = "would add" if dry_run else "added"
    click.echo(f"{kind}: {verb} {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
               f"refused {len({e.row for e in report.errors})} rows")
    if not report.ok:
        raise click.ClickException("the file has bad rows; nothing was imported")
