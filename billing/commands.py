"""`vnh report …` and `vnh month …`: the bureau's reports and the monthly close."""

from __future__ import annotations

import re
from pathlib import Path

import click

from dispatcher.cliapp import app_for_command

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def _check_month(month: str) -> str:
    if not MONTH.fullmatch(month):
        raise click.BadParameter("must look like 2026-11", param_hint="--month")
    return month


@click.group()
def report():
    """The bureau's reports."""


@report.command("subsidy")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
def report_subsidy(month, fmt, output):
    """Write the subsidy detail: one row per billed visit of the month."""
    from billing.reports import write_subsidy_csv
    from dispatcher.db import session_scope

    _check_month(month)
    app = app_for_command()
    with session_scope(app) as session:
        rows = write_subsidy_csv(session, month, output)
    click.echo(f"wrote {rows} visits to {output}")


@click.group()
def month():
    """Monthly close."""
