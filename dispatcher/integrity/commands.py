"""`vnh integrity check`, `vnh report integrity` and `vnh bench integrity`."""

from __future__ import annotations

from pathlib import Path

import click

from dispatcher.commands import app_for_command, now_of, subgroup


def _month(month: str | None, app) -> str:
    from billing.months import MonthError, check_started, month_of

    if month is None:
        return month_of(now_of(app))
    try:
        return check_started(month, now_of(app), "--month")
    except MonthError as exc:
        raise click.BadParameter(str(exc).removeprefix("--month: "), param_hint="--month") from None


def check_month(app, month: str) -> int:
    """Run every check over the month's visits (up to now) and record the flags; return new ones."""
    from dispatcher.db import session_scope
    from dispatcher.integrity.checks import month_bounds, run_checks
    from dispatcher.integrity.settings import IntegritySettingError, rules_from

    now = now_of(app)
    since, until = month_bounds(month)
    try:
        rules = rules_from(policy=app.extensions["vnh.policy"], month=month)
    except IntegritySettingError as exc:
        raise click.ClickException(str(exc)) from None
    with session_scope(app) as session:
        return run_checks(session, rules, since, min(until, now), now)


@click.group()
def integrity():
    """Integrity checks on visits (诚信核查): overlaps, impossible travel, short visits…"""


@integrity.command("check")
@click.option("--month", default=None, help="YYYY-MM (default: this month)")
def integrity_check(month):
    """Run every check over a month now; flags already raised are not raised again."""
    app = app_for_command()
    month = _month(month, app)
    click.echo(f"{month}: {check_month(app, month)} new flags")


@click.command("integrity")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv",
              show_default=True)
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-check", is_flag=True, help="Report the flags as they are, without checking first.")
def report_integrity(month, fmt, output, no_check):
    """Every integrity flag of the month: visit, provider, worker (masked), reason, evidence, outcome."""
    from billing.exports import write_report
    from dispatcher.db import session_scope
    from dispatcher.integrity.reports import integrity_tables

    app = app_for_command()
    month = _month(month, app)
    if not no_check:
        check_month(app, month)
    try:
        with session_scope(app) as session:
            rows = write_report(integrity_tables(session, month, with_counts=fmt == "xlsx"),
                                fmt, output)
    except OSError as exc:
        raise click.ClickException(f"--output: cannot write {output}: {exc.strerror}") from None
    click.echo(f"wrote {rows} rows of the integrity report for {month} to {output}")


def register(cli: click.Group) -> None:
    from dispatcher.integrity.bench import bench_integrity

    cli.add_command(integrity)
    subgroup(cli, "report").add_command(report_integrity)
    subgroup(cli, "bench").add_command(bench_integrity, "integrity")
