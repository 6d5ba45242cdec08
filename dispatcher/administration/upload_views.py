"""Pages: upload an enrollment file, see its dry run, apply it or download its bad rows."""

from __future__ import annotations

import os

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.exc import SQLAlchemyError

from dispatcher.administration import uploads
from dispatcher.administration.settings import area_code_of, geocoder_for
from dispatcher.administration.uploads import KINDS, ImportFileError, RunOptions, UploadError
from dispatcher.consoles.auth import current_user, role_required
from dispatcher.consoles.errors import error_page
from dispatcher.db import get_session
from dispatcher.enrollment.commands import mask_numbers
from dispatcher.enrollment.files import ImportLimits

bp = Blueprint("admin_uploads", __name__, url_prefix="/admin/uploads")
# Who may enrol from a file (administrators always may).
UPLOAD_ROLES: tuple[str, ...] = ()
SHOWN_ERRORS = 200


def _now():
    return current_app.extensions["vnh.clock"].now()


def _options(*, dry_run: bool, upload, on_error=None) -> RunOptions:
    config = current_app.config
    user = current_user()
    return RunOptions(
        now=_now(), dry_run=dry_run, actor=f"{user.username}（网页导入 {upload.filename}）"[:200],
        policy=current_app.extensions["vnh.policy"], geocoder=_geocoder(),
        area_code=area_code_of(current_app),
        limits=ImportLimits.from_config(config), skip_bad_rows=dry_run, on_error=on_error)


def _geocoder():
    return geocoder_for(current_app, get_session(), _now())


def _dry_run(upload, on_error=None):
    """The upload's dry run, nothing written (a caching geocoder's answers are dropped too)."""
    session = get_session()
    savepoint = session.begin_nested()
    try:
        return uploads.run_upload(session, upload, _options(dry_run=True, upload=upload, on_error=on_error))
    finally:
        savepoint.rollback()


def _upload_or_404(token: str, *, lock: bool = False):
    upload = uploads.upload_of(get_session(), token, current_user().id, lock=lock)
    if upload is None:
        abort(404)
    return upload


@bp.get("")
@role_required(*UPLOAD_ROLES)
def new():
    return render_template("administration/upload.html", kinds=KINDS.values(), problem=None,
                           limits=ImportLimits.from_config(current_app.config))


@bp.post("")
@role_required(*UPLOAD_ROLES)
def create():
    session = get_session()
    file = request.files.get("file")
    kind = request.form.get("kind", "")
    limits = ImportLimits.from_config(current_app.config)
    problem = None
    if file is None or not file.filename:
        problem = "请选择要上传的文件 (choose a file)"
    else:
        try:
            upload = uploads.store_upload(session, staff_user_id=current_user().id, kind=kind,
                                          filename=file.filename, content=file.read(limits.max_bytes + 1),
                                          limits=limits, now=_now())
            _dry_run(upload)
        except UploadError as exc:
            problem = str(exc)
        except ImportFileError as exc:
            problem = f"文件无法导入，未写入任何内容：{mask_numbers(str(exc))}"
    if problem is not None:
        session.rollback()
        return render_template("administration/upload.html", kinds=KINDS.values(), problem=problem,
                               limits=limits, chosen=kind), 422
    session.commit()
    return redirect(url_for(".review", token=upload.token))


@bp.get("/<token>")
@role_required(*UPLOAD_ROLES)
def review(token: str):
    upload = _upload_or_404(token)
    try:
        report = _dry_run(upload)
    except ImportFileError as exc:
        report, problem = None, mask_numbers(str(exc))
    else:
        problem = None
    return render_template("administration/review.html", upload=upload, kind=KINDS[upload.kind],
                           report=report, problem=problem, errors=_shown(report), applied=False,
                           mask=mask_numbers)


def _shown(report):
    return [] if report is None else report.errors[:SHOWN_ERRORS]


@bp.post("/<token>/apply")
@role_required(*UPLOAD_ROLES)
def apply(token: str):
    session = get_session()
    upload = _upload_or_404(token, lock=True)
    try:
        report = uploads.run_upload(session, upload, _options(dry_run=False, upload=upload))
    except UploadError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".review", token=token))
    except (ImportFileError, SQLAlchemyError) as exc:
        session.rollback()
        reason = mask_numbers(str(exc)) if isinstance(exc, ImportFileError) else type(exc).__name__
        flash(f"导入失败，未写入任何内容：{reason}", "error")
        return redirect(url_for(".review", token=token))
    session.commit()
    status = 200 if report.error_count == 0 else 422
    return render_template("administration/review.html", upload=upload, kind=KINDS[upload.kind],
                           report=report, problem=None, errors=_shown(report),
                           applied=report.error_count == 0, mask=mask_numbers), status


@bp.get("/<token>/errors.csv")
@role_required(*UPLOAD_ROLES)
def errors(token: str):
    upload = _upload_or_404(token)
    found = []
    try:
        _dry_run(upload, on_error=found.append)
    except ImportFileError as exc:
        found = [uploads.RowError(0, "", str(exc))]
    body = uploads.errors_csv(found, mask_numbers)
    name = f"{os.path.splitext(upload.filename)[0]}.errors.csv"
    return Response(body.encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": _attachment(name)})


def _attachment(name: str) -> str:
    from urllib.parse import quote

    return f"attachment; filename=\"errors.csv\"; filename*=UTF-8''{quote(name)}"


@bp.errorhandler(413)
def too_large(error):
    user = current_user()
    if user is None or (user.role not in UPLOAD_ROLES and user.role != "admin"):
        return error_page(error)
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    problem = (f"文件过大：网页上传不超过 {limit // (1 << 20)} MB；更大的文件请分成几份，或用 vnh import 导入 "
               "(the file is larger than the upload limit)")
    return render_template("administration/upload.html", kinds=KINDS.values(), problem=problem,
                           limits=ImportLimits.from_config(current_app.config)), 413
