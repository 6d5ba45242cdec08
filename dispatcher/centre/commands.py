"""`vnh report operations` (the centre's figures) and `vnh bench mixed`."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from dispatcher.commands import app_for_command, now_of, subgroup


@click.command("operations")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--day", default="", help="One day of the month, YYYY-MM-DD (the whole month without it).")
@click.option("--street", default="", help="Only this street's elders (街道), e.g. 东岗街道.")
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "xlsx"]), default="text", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write (needed for xlsx; csv without it goes to standard output).")
def report_operations(month: str, day: str, street: str, fmt: str, output: Path | None):
    """The centre's figures (运营统计) for a month, or a day of it, and optionally one street."""
    from billing.months import MonthError, check_started
    from dispatcher.centre.figures import day_period, figures, month_period
    from dispatcher.centre.report import csv_text, write_operations
    from dispatcher.centre.summary import format_summary
    from dispatcher.db import session_scope

    app = app_for_command()
    now = now_of(app)
    try:
        month = check_started(month, now, "--month")
    except MonthError as exc:
        raise click.BadParameter(str(exc).removeprefix("--month: "), param_hint="--month") from None
    if day:
        try:
            chosen = date.fromisoformat(day)
        except ValueError:
            raise click.BadParameter(f"{day!r} is not a day like 2026-11-25", param_hint="--day") from None
        if f"{chosen:%Y-%m}" != month:
            raise click.BadParameter(f"{day} is not in {month}", param_hint="--day")
        start, end = day_period(chosen)
    else:
        start, end = month_period(month)
    if fmt == "xlsx" and output is None:
        raise click.BadParameter("xlsx needs --output FILE", param_hint="--output")
    with session_scope(app) as session:
        found = figures(session, start=start, end=end, street=street.strip() or None, now=now)
    if fmt == "text":
        text = format_summary(found) + "\n"
    elif output is None:
        text = csv_text(found)
    else:
        try:
            count = write_operations(found, fmt, output)
        except OSError as exc:
            raise click.ClickException(f"--output: cannot write {output}: {exc.strerror}") from None
        click.echo(f"wrote {count} figures for {day or month} to {output}")
        return
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote the figures for {day or month} to {output}")


def register(cli: click.Group) -> None:
    from dispatcher.centre.bench import bench_mixed

    subgroup(cli, "report").add_command(report_operations)
    subgroup(cli, "bench").add_command(bench_mixed)
