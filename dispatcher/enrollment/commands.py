"""`vnh import …`: enrollment files into the database."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import click

from dispatcher.commands import app_for_command, now_of

SHOWN_ERRORS = 20
_PRECISIONS = {"address": "to a known address", "community": "to their community's centre"}


@click.command("import")
@click.argument("kind", type=click.Choice(["elders", "providers", "offerings"]))
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and report; write nothing.")
@click.option(
    "--skip-bad-rows", is_flag=True, help="Import the good rows; report the bad ones still."
)
def import_command(kind, path, dry_run, skip_bad_rows):
    """Import an enrollment file (CSV in UTF-8 or GB18030, or XLSX; headers in the README).

    Every bad row is named, here and in FILE.errors.csv beside the file. Without
    --skip-bad-rows a file with any bad row changes nothing.
    """
    from dispatcher.db import session_scope
    from dispatcher.enrollment.geocoding import CachedGeocoder
    from dispatcher.enrollment.importer import ImportFileError, import_file

    app = app_for_command()
    area_code = _area_code(
        app.config.get("DEFAULT_AREA_CODE") or os.environ.get("VNH_DEFAULT_AREA_CODE", "")
    )
    geocoder = _geocoder(app)
    errors_path = path.with_name(path.name + ".errors.csv")
    progress = _Progress(path.name)
    try:
        with session_scope(app) as session:
            if geocoder.is_remote:
                geocoder = CachedGeocoder(session, geocoder, now_of(app))
            report = import_file(
                session, kind, path, now_of(app), dry_run=dry_run, skip_bad_rows=skip_bad_rows,
                geocoder=geocoder, area_code=area_code, progress=progress,
            )  # fmt: skip
            if dry_run:
                session.rollback()
    except ImportFileError as exc:
        progress.finish()
        _write_errors(errors_path, [("", "", str(exc))])
        raise click.ClickException(f"{path}: {exc}; nothing was imported") from None
    progress.finish()

    echo = click.echo
    echo(f"{path.name} ({report.source}, header on row {report.header_row}): {report.rows} rows")
    if report.errors:
        _write_errors(errors_path, [(e.row, e.column, e.reason) for e in report.errors])
        for error in report.errors[:SHOWN_ERRORS]:
            echo(f"row {error.row}, {error.column}: {error.reason}", err=True)
        if len(report.errors) > SHOWN_ERRORS:
            echo(f"… and {len(report.errors) - SHOWN_ERRORS} more", err=True)
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
    refused_everything = bool(report.errors) and not skip_bad_rows
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


def _write_errors(path: Path, rows) -> None:
    # UTF-8 with a BOM so that Excel shows the Chinese reasons and values.
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("row", "column", "reason"))
        writer.writerows(rows)


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
