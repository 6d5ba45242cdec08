"""`vnh import …`: enrollment files into the database."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import click

from dispatcher.commands import app_for_command, now_of

SHOWN_ERRORS = 20
ERRORS_HEADER = ("row", "column", "reason")
# An ID number (18 characters, or the old 15 digits), and anything else with 7 or more digits
# written as a phone may be: reasons quote the values they refuse.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<![\d.*])\+?\d(?:[ \-()]{0,2}\d){6,}(?![\d.*])")
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
_PRECISIONS = {"address": "to a known address", "community": "to their community's centre"}


@click.command("import")
@click.argument("kind", type=click.Choice(["elders", "providers", "offerings", "assessments", "catalogue",
                                                 "workers", "plans"]))
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and report; write nothing.")
@click.option(
    "--skip-bad-rows", is_flag=True, help="Import the good rows; report the bad ones still."
)
def import_command(kind, path, dry_run, skip_bad_rows):
    """Import an enrollment file (CSV in UTF-8 or GB18030, or XLSX; headers in the README).

    Every bad row is named, here and in FILE.errors.csv beside the file (phone and ID numbers
    masked). Without --skip-bad-rows a file with any bad row changes nothing. A catalogue file
    (JSON or CSV, as `vnh catalogue` writes it) is all or nothing.
    """
    if kind == "catalogue":
        from dispatcher.catalogue.commands import import_catalogue_file

        return import_catalogue_file(path, dry_run)
    if kind == "workers":
        return _import_workers(path, dry_run)
    if kind == "plans":
        return _import_plans(path, dry_run)
    from sqlalchemy.exc import SQLAlchemyError

    from billing.outputs import CsvOutput
    from dispatcher.assessments.importer import import_assessments
    from dispatcher.db import session_scope
    from dispatcher.enrollment.geocoding import CachedGeocoder
    from dispatcher.enrollment.importer import ImportFileError, ImportLimits, import_file

    app = app_for_command()
    area_code = _area_code(
        app.config.get("DEFAULT_AREA_CODE") or os.environ.get("VNH_DEFAULT_AREA_CODE", "")
    )
    geocoder = _geocoder(app)
    errors_path = path.with_name(path.name + ".errors.csv")
    progress = _Progress(path.name)
    failure = None
    try:
        # Errors go to the file as they are found, and it replaces the old one only when done.
        with CsvOutput(errors_path, ERRORS_HEADER) as errors_out:
            try:
                with session_scope(app) as session:
                    if geocoder.is_remote:
                        geocoder = CachedGeocoder(session, geocoder, now_of(app))
                    on_error = lambda e: errors_out.write((e.row, e.column, mask_numbers(e.reason)))  # noqa: E731
                    if kind == "assessments":
                        report = import_assessments(
                            session, path, now_of(app), dry_run=dry_run, skip_bad_rows=skip_bad_rows,
                            progress=progress, limits=ImportLimits.from_config(app.config),
                            on_error=on_error,
                        )  # fmt: skip
                    else:
                        report = import_file(
                            session, kind, path, now_of(app), dry_run=dry_run,
                            skip_bad_rows=skip_bad_rows, geocoder=geocoder, area_code=area_code,
                            progress=progress, limits=ImportLimits.from_config(app.config),
                            on_error=on_error,
                        )  # fmt: skip
                    if dry_run:
                        session.rollback()
            except ImportFileError as exc:
                failure = mask_numbers(str(exc))
                errors_out.write(("", "", failure))
            except SQLAlchemyError as exc:
                # Never the statement: its parameters are the elders' ID numbers and addresses.
                failure = f"the database refused the import ({type(exc).__name__})"
                errors_out.write(("", "", failure))
            if failure is None and not report.error_count:
                errors_out.discard()
    except OSError as exc:
        progress.finish()
        raise click.ClickException(f"cannot write {errors_path}: {exc.strerror}") from None
    progress.finish()
    if failure is not None:
        raise click.ClickException(f"{path}: {failure}; nothing was imported")

    echo = click.echo
    echo(f"{path.name} ({report.source}, header on row {report.header_row}): {report.rows} rows")
    for note in report.header_notes:
        echo(note, err=True)
    if report.error_count:
        for error in report.errors[:SHOWN_ERRORS]:
            echo(f"row {error.row}, {error.column}: {mask_numbers(error.reason)}", err=True)
        if report.error_count > SHOWN_ERRORS:
            echo(f"… and {report.error_count - SHOWN_ERRORS} more", err=True)
        echo(f"every bad row is listed in {errors_path}", err=True)
    elif errors_path.exists():
        errors_path.unlink()  # a stale list from an earlier try would mislead
    if report.geocoded:
        parts = ", ".join(
            f"{n} {_PRECISIONS.get(precision, f'by {precision}')}"
            for precision, n in sorted(report.geocoded.items())
        )
        echo(f"geocoded {sum(report.geocoded.values())} addresses ({geocoder.name}): {parts}")
    if kind == "elders":
        echo(f"SMS: {report.landline_only_elders} elders have only landlines and "
             f"{report.landline_contacts} emergency contacts are landlines; they are told by a short "
             "call instead of an SMS")
    refused_everything = bool(report.error_count) and not skip_bad_rows
    verb = "would add" if dry_run else "added"
    echo(
        f"{kind}: {verb} {report.added}, updated {report.updated}, unchanged "
        f"{report.unchanged}, refused {report.refused} rows"
    )
    if refused_everything:
        raise click.ClickException(
            f"{report.refused} bad rows: nothing was imported (fix them, or use --skip-bad-rows)"
        )


def _area_code(raw: str) -> str:
    """The area code for landlines written without one (VNH_DEFAULT_AREA_CODE, default 0931)."""
    code = raw.strip() or "0931"
    if not (code.isascii() and code.isdigit() and code.startswith("0") and 3 <= len(code) <= 4):
        raise click.ClickException(
            f"VNH_DEFAULT_AREA_CODE must be an area code like 0931, got {code!r}"
        )
    return code


def _geocoder(app):
    """The app's geocoder if it has one, else the one VNH_GEOCODER names (built now, here)."""
    from dispatcher.enrollment.geocoding import build_geocoder, geocoder_settings

    if "vnh.geocoder" in app.extensions:
        return app.extensions["vnh.geocoder"]
    try:
        return build_geocoder(geocoder_settings(os.environ))
    except (ValueError, OSError) as exc:
        raise click.ClickException(f"geocoder: {exc}") from None


def mask_numbers(text: str) -> str:
    """Mask the ID numbers and phone numbers a reason quotes (dates are left as they are)."""
    from dispatcher.enrollment.identity import mask_id_number
    from telephony.numbers import mask_phone

    text = _ID_NUMBER.sub(lambda m: mask_id_number(m.group().upper()), text)

    def phone(match: re.Match) -> str:
        found = match.group()
        if _DATE.fullmatch(found):
            return found
        if found.startswith("+"):
            return mask_phone(found)
        # Written nationally (13912340001, 0931-8123456): keep the first three, the last four.
        return found[:3] + "*" * (len(found) - 7) + found[-4:]

    return _PHONE.sub(phone, text)


class _Progress:
    """A progress bar on stderr, started on the first report of progress."""

    def __init__(self, label: str):
        self.label = label
        self.bar = None
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(
                length=max(total, 1), label=self.label, file=sys.stderr, show_pos=False
            )
            self.bar.__enter__()
        self.bar.update(max(done - self.done, 0))
        self.done = done

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def register(cli: click.Group) -> None:
    from dispatcher.commands import subgroup
    from dispatcher.enrollment.bench import bench_import

    cli.add_command(import_command)
    subgroup(cli, "bench").add_command(bench_import, "import")


def _import_workers(path: Path, dry_run: bool) -> None:
    """`vnh import workers FILE`: every bad row named; a file with any bad row changes nothing."""
    from dispatcher.db import session_scope
    from dispatcher.enrollment.limits import ImportFileError
    from providers.worker_import import import_workers

    app = app_for_command()
    try:
        with session_scope(app) as session:
            report = import_workers(session, path, now_of(app), dry_run=dry_run)
    except ImportFileError as exc:
        raise click.ClickException(f"{path}: {mask_numbers(str(exc))}; nothing was imported") from None
    for row, column, reason in report.errors[:SHOWN_ERRORS]:
        click.echo(f"row {row}, {column}: {mask_numbers(reason)}", err=True)
    verb = "would add" if dry_run else "added"
    click.echo(f"workers: {verb} {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
               f"refused {len({e[0] for e in report.errors})} rows")
    if report.errors:
        raise click.ClickException(f"{path}: {len(report.errors)} bad rows; nothing was imported")


def _import_plans(path: Path, dry_run: bool) -> None:
    """`vnh import plans FILE`: every bad row named; a file with any bad row changes nothing. The
    plans' occurrences within the horizon are made at once, as `vnh plan add` does."""
    from dispatcher.config import Settings
    from dispatcher.db import session_scope
    from dispatcher.enrollment.limits import ImportFileError
    from dispatcher.plans import generation
    from dispatcher.plans.importer import import_plans

    app = app_for_command()
    try:
        with session_scope(app) as session:
            report = import_plans(session, path, now_of(app), dry_run=dry_run)
    except ImportFileError as exc:
        raise click.ClickException(f"{path}: {mask_numbers(str(exc))}; nothing was imported") from None
    for row, column, reason in report.errors[:SHOWN_ERRORS]:
        click.echo(f"row {row}, {column}: {mask_numbers(reason)}", err=True)
    if len(report.errors) > SHOWN_ERRORS:
        click.echo(f"… and {len(report.errors) - SHOWN_ERRORS} more", err=True)
    verb = "would add" if dry_run else "added"
    click.echo(f"plans: {verb} {report.added}, refused {len({e[0] for e in report.errors})} rows")
    if report.errors:
        raise click.ClickException(f"{path}: {len(report.errors)} bad rows; nothing was imported")
    if report.plan_ids and not dry_run:
        with session_scope(app) as session:
            generation.sweep(session, Settings(app.config), now_of(app))
