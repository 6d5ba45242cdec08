"""Enrollment files uploaded in the browser: kept in the database between the dry run and the
apply, and run through the same importer as `vnh import`.

A kind of file is one line in `KINDS` (`register`): its Chinese label and the function that
imports it, which takes `(session, path, options)` and returns a report with `added`, `updated`,
`unchanged`, `refused`, `rows`, `error_count` and `errors`. The three the importer knows are
registered here; further kinds (plans, assessments, workers) register theirs beside them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from billing.policy import Policy
from dispatcher.administration.models import Upload
from dispatcher.enrollment.files import ImportFileError, ImportLimits
from dispatcher.enrollment.importer import RowError, import_file
from dispatcher.enrollment.limits import size_text

# An upload not applied within this long is dropped (with the next upload by anyone).
KEPT_FOR = timedelta(days=1)
ERRORS_HEADER = ("row", "column", "reason")


@dataclass
class RunOptions:
    """What every importer is given besides the file."""

    now: datetime
    dry_run: bool
    actor: str
    policy: Policy | None = None
    geocoder: object | None = None
    area_code: str = "0931"
    limits: ImportLimits = field(default_factory=ImportLimits)
    # A dry run counts what the good rows would do even when there are bad ones; an apply never
    # skips a bad row (the file goes in whole or not at all).
    skip_bad_rows: bool = False
    on_error: Callable[[RowError], None] | None = None


Runner = Callable[[Session, Path, RunOptions], object]


@dataclass(frozen=True)
class UploadKind:
    code: str
    label: str
    run: Runner


KINDS: dict[str, UploadKind] = {}


def register(code: str, label: str, run: Runner | None = None) -> None:
    """Offer a kind of enrollment file for upload; by default it is `import_file`'s own kind."""
    KINDS[code] = UploadKind(code, label, run or _importer_kind(code))


def _importer_kind(kind: str) -> Runner:
    def run(session: Session, path: Path, options: RunOptions):
        return import_file(session, kind, path, options.now, dry_run=options.dry_run,
                           skip_bad_rows=options.skip_bad_rows,
                           policy=options.policy, geocoder=options.geocoder,
                           area_code=options.area_code, actor=options.actor,
                           limits=options.limits, on_error=options.on_error)

    return run


register("elders", "老人名册")
register("providers", "服务商")
register("offerings", "服务商项目价格")


def _assessments(session: Session, path: Path, options: RunOptions):
    from dispatcher.assessments.importer import import_assessments

    return import_assessments(session, path, options.now, dry_run=options.dry_run,
                              skip_bad_rows=options.skip_bad_rows, actor=options.actor,
                              limits=options.limits, on_error=options.on_error)


register("assessments", "能力评估", _assessments)


class UploadError(ValueError):
    """The upload cannot be kept or run; the message (Chinese and English) says why."""


def store_upload(session: Session, *, staff_user_id: int, kind: str, filename: str, content: bytes,
                 limits: ImportLimits, now: datetime) -> Upload:
    """Keep an uploaded file under a random token; refuse an unknown kind, an empty or too large file."""
    if kind not in KINDS:
        raise UploadError(f"未知的文件类别 (unknown kind {kind!r})")
    if not content:
        raise UploadError("文件是空的 (the file is empty)")
    if len(content) > limits.max_bytes:
        raise UploadError(f"文件过大：{size_text(len(content))}，上限 {size_text(limits.max_bytes)} "
                          f"(the file is larger than the limit, VNH_IMPORT_MAX_MB)")
    session.execute(delete(Upload).where(Upload.created_at < now - KEPT_FOR))
    upload = Upload(token=secrets.token_urlsafe(24), staff_user_id=staff_user_id, kind=kind,
                    filename=_plain_name(filename), sha256=hashlib.sha256(content).hexdigest(),
                    size=len(content), content=content, created_at=now)
    session.add(upload)
    session.flush()
    return upload


def _plain_name(filename: str) -> str:
    """The file's own name, without any directories a browser sent, for display only."""
    name = os.path.basename(filename.replace("\\", "/")).strip() or "upload"
    return name[-200:]


def upload_of(session: Session, token: str, staff_user_id: int, *, lock: bool = False) -> Upload | None:
    """The upload this member of staff made under `token`, still kept; None for anyone else's.

    With `lock` the row is locked (PostgreSQL) so that two applies of one file run one after the
    other, and the second finds it applied.
    """
    query = select(Upload).where(Upload.token == token)
    upload = session.scalar(query.with_for_update() if lock else query)
    if upload is None or upload.staff_user_id != staff_user_id:
        return None
    if hashlib.sha256(upload.content).hexdigest() != upload.sha256:
        return None
    return upload


def run_upload(session: Session, upload: Upload, options: RunOptions):
    """Run the upload's importer on its content; flush, never commit. Raise ImportFileError for a
    file that cannot be imported at all, and UploadError for one applied already."""
    if not options.dry_run and upload.applied_at is not None:
        raise UploadError("这个文件已经导入过了 (this upload was applied already)")
    suffix = Path(upload.filename).suffix.lower()[:8]
    with tempfile.TemporaryDirectory(prefix="vnh-upload-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(upload.content)
        report = KINDS[upload.kind].run(session, path, options)
    if not options.dry_run and not report.error_count:
        upload.applied_at = options.now
        session.flush()
    return report


def errors_csv(errors: list[RowError], mask: Callable[[str], str]) -> str:
    """Every bad row as CSV (UTF-8 with a BOM, which Excel needs to read Chinese): row, column, reason."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(ERRORS_HEADER)
    for error in errors:
        writer.writerow((error.row, error.column, _no_formula(mask(error.reason))))
    return out.getvalue()


def _no_formula(text: str) -> str:
    # A reason quotes the cell it refuses: never let a spreadsheet read it as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


__all__ = ["KINDS", "ImportFileError", "RunOptions", "UploadError", "register", "run_upload",
           "store_upload", "upload_of", "errors_csv"]
