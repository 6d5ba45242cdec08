"""`vnh report …` and `vnh month …`: the bureau's reports and the monthly close."""

from __future__ import annotations

from pathlib import Path

import click

from dispatcher.commands import app_for_command, now_of


def _app():
    from billing.policy import PolicyError

    try:
        return app_for_command()
    except PolicyError as exc:
        raise click.ClickException(f"subsidy policy: {exc}") from None


def _started_month(month: str, app) -> str:
    from billing.months import MonthError, check_started

    try:
        return check_started(month, now_of(app), "--month")
    except MonthError as exc:
        raise click.BadParameter(str(exc).removeprefix("--month: "), param_hint="--month") from None


@click.group()
def report():
    """The bureau's reports."""


def _report_command(kind: str, doc: str):
    @report.command(kind, help=doc)
    @click.option("--month", required=True, help="YYYY-MM")
    @click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv",
                  show_default=True)
    @click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
                  help="zh: Chinese headers and values, for people; en: the column names "
                       "systems read.")
    def command(month: str, fmt: str, output: Path, lang: str):
        from billing.exports import write_report
        from billing.reports import report_tables
        from dispatcher.db import session_scope

        app = _app()
        month = _started_month(month, app)
        try:
            with session_scope(app) as session:
                rows = write_report(report_tables(session, kind, month), fmt, output, lang)
        except OSError as exc:
            raise click.ClickException(f"--output: cannot write {output}: {exc.strerror}") from None
        click.echo(f"wrote {rows} rows of the {kind} report for {month} to {output}")

    return command


_report_command("subsidy", "The subsidy detail: one row per visit booked in the month.")
_report_command("summary", "Totals by street, community, category, elder class and provider.")
_report_command("settlement", "Per provider: visits, outcomes, payable, withheld, adjustments.")


@report.command("source")
@click.option("--source", "source", required=True,
              help="A funding source of the policy, e.g. national_voucher")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv",
              show_default=True)
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="zh: Chinese headers and values, for people; en: the column names systems read.")
def report_source(source: str, month: str, fmt: str, output: Path, lang: str):
    """For the body funding one source: every visit it paid for in the month."""
    from billing.exports import write_report
    from billing.source_report import source_tables
    from dispatcher.db import session_scope

    app = _app()
    month = _started_month(month, app)
    codes = app.extensions["vnh.policy"].source_codes()
    if source not in codes:
        raise click.BadParameter(f"{source!r} is not a funding source of the policy (sources: "
                                 f"{', '.join(codes)})", param_hint="--source")
    try:
        with session_scope(app) as session:
            rows = write_report(source_tables(session, month, source), fmt, output, lang)
    except OSError as exc:
        raise click.ClickException(f"--output: cannot write {output}: {exc.strerror}") from None
    click.echo(f"wrote {rows} rows of the {source} report for {month} to {output}")


@report.command("verify")
@click.option("--month", required=True, help="YYYY-MM")
def report_verify(month):
    """Recompute every report's totals from the ledger; fail naming any difference."""
    from billing.money import fen_to_yuan
    from billing.verify import verify_month
    from dispatcher.db import session_scope

    app = _app()
    month = _started_month(month, app)
    with session_scope(app) as session:
        result = verify_month(session, month, app.extensions["vnh.policy"])
    totals = result.expected
    if not result.ok:
        for problem in result.problems:
            click.echo(f"DIFFERENCE {problem}", err=True)
        raise click.ClickException(
            f"{month}: {len(result.problems)} differences between the reports and the ledger")
    click.echo(
        f"{month}: subsidy detail, 5 summaries and the settlement agree with the ledger to the "
        f"fen — {totals['visits']} visits, {totals['adjustments']} adjustments, price "
        f"{fen_to_yuan(totals['price'])}, subsidy {fen_to_yuan(totals['subsidy'])} (payable "
        f"{fen_to_yuan(totals['payable'])}, withheld {fen_to_yuan(totals['withheld'])}, pending "
        f"{fen_to_yuan(totals['pending'])}), co-pay {fen_to_yuan(totals['copay'])} yuan")
    if result.sources:
        click.echo("funding sources sum to the subsidy: " + ", ".join(
            f"{code} {fen_to_yuan(fen)}" for code, fen in sorted(result.sources.items())))


@click.group()
def month():
    """Monthly close."""


@month.command("close")
@click.argument("month_text", metavar="YYYY-MM")
@click.option("--force", is_flag=True,
              help="Close even with reviews pending; their outcomes go to the next open month.")
def month_close(month_text, force):
    """Lock a month that has ended: later postings for it go to the next open month."""
    from billing.closing import PendingReviewsBlockClose, close_month
    from billing.months import MonthError
    from dispatcher.db import session_scope

    app = _app()
    try:
        with session_scope(app) as session:
            result = close_month(session, month_text, policy=app.extensions["vnh.policy"],
                                 now=now_of(app), force=force)
    except MonthError as exc:
        raise click.BadParameter(str(exc).removeprefix("month: "), param_hint="YYYY-MM") from None
    except PendingReviewsBlockClose as exc:
        for pending in exc.pending:
            click.echo(f"pending: {pending}", err=True)
        raise click.ClickException(str(exc)) from None
    except ValueError as exc:  # e.g. no policy version in force for the month
        raise click.ClickException(str(exc)) from None
    if result.was_closed_already:
        click.echo(f"{result.month} was already closed at {result.closed.closed_at:%Y-%m-%d %H:%M} "
                   f"UTC; nothing changed")
        return
    for pending in result.pending:
        click.echo(f"pending at close: {pending}")
    click.echo(f"closed {result.month} under policy version {result.closed.policy_version}"
               + (f" with {len(result.pending)} reviews pending" if result.pending else ""))


@month.command("list")
def month_list():
    """List the closed months."""
    from billing.closing import closed_months
    from dispatcher.db import session_scope

    app = _app()
    with session_scope(app) as session:
        for closed in closed_months(session):
            forced = f", forced with {closed.pending_reviews} reviews pending" if closed.is_forced else ""
            click.echo(f"{closed.month} closed {closed.closed_at:%Y-%m-%d %H:%M} UTC, policy "
                       f"{closed.policy_version}{forced}")


def register(cli: click.Group) -> None:
    from billing.bench import bench_report
    from dispatcher.commands import subgroup

    cli.add_command(report)
    cli.add_command(month)
    subgroup(cli, "bench").add_command(bench_report, "report")
