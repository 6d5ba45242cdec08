"""The bureau's page: the month's totals, downloads of every report, and charts."""

from __future__ import annotations

import os
import tempfile

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    send_file,
    stream_with_context,
)
from markupsafe import Markup

from billing.charts import charts, monthly_series
from billing.closing import closed_month
from billing.exports import csv_lines, write_xlsx
from billing.language import LANGUAGES
from billing.ledger import source_totals
from billing.money import fen_to_yuan
from billing.months import MonthError, check_started, month_of, months_ending
from billing.reports import REPORTS, report_tables
from billing.source_report import source_tables
from billing.verify import expected_totals, verify_month
from dispatcher.consoles.auth import current_user, role_required
from dispatcher.consoles.scope import area_of
from dispatcher.db import get_session
from dispatcher.integrity.reports import check_totals, flag_counts

bp = Blueprint("bureau", __name__, url_prefix="/bureau", template_folder="templates")
bp.add_app_template_filter(lambda fen: f"{fen_to_yuan(fen)} 元", "yuan")
TITLES = {"subsidy": "补贴明细", "summary": "汇总（街道、社区、类别、老人类别、服务商）",
          "settlement": "服务商结算"}


def _now():
    return current_app.extensions["vnh.clock"].now()


def requested_month() -> str:
    """The page's `month` argument (this month by default); 400 for one not started or malformed."""
    text = request.args.get("month") or month_of(_now())
    try:
        return check_started(text, _now())
    except MonthError as exc:
        abort(400, description=f"月份应为本月或以前的年月，如 {month_of(_now())} ({exc})")


@bp.get("/")
@role_required("bureau", "supervisor")
def page():
    month = requested_month()
    db, area = get_session(), area_of(current_user())
    svgs = charts(monthly_series(db, months_ending(month, 6), area))
    policy = current_app.extensions["vnh.policy"]
    # Integrity counts and the per-source totals span every area: for accounts of every area only.
    flags = flag_counts(db, month) if area is None else []
    return render_template(
        "billing/bureau.html", month=month, this_month=month_of(_now()), closed=closed_month(db, month), area=area,
        totals=expected_totals(db, month, area), titles=TITLES,
        sources=source_totals(db, month) if area is None else {},
        source_names=policy.source_names(),
        charts={k: Markup(v) for k, v in svgs.items()},  # pygal escapes every label it draws
        flags=flags, flag_totals=check_totals(flags),
    )


@bp.get("/verify")
@role_required("bureau", "supervisor")
def verify():
    if area_of(current_user()) is not None:
        abort(403)  # the whole ledger's check; an area's account reads its area's totals on the page
    month = requested_month()
    result = verify_month(get_session(), month, current_app.extensions["vnh.policy"])
    return render_template("billing/verify.html", month=month, result=result)


@bp.get("/reports/<kind>.<fmt>")
@role_required("bureau", "supervisor")
def download(kind: str, fmt: str):
    if kind not in REPORTS or fmt not in ("csv", "xlsx"):
        abort(404)
    month, area = requested_month(), area_of(current_user())
    lang = _lang()
    return _send(lambda session: report_tables(session, kind, month, area),
                 f"{kind}-{month}.{fmt}", fmt, lang)


def _lang() -> str:
    lang = request.args.get("lang", "zh")
    if lang not in LANGUAGES:
        abort(400, description=f"lang: must be one of {', '.join(LANGUAGES)}")
    return lang


@bp.get("/reports/source/<source>.<fmt>")
@role_required("bureau", "supervisor")
def download_source(source: str, fmt: str):
    """The report for the body funding one source (for accounts of every area)."""
    if source not in current_app.extensions["vnh.policy"].source_codes() or fmt not in (
            "csv", "xlsx"):
        abort(404)
    if area_of(current_user()) is not None:
        abort(403)
    month = requested_month()
    return _send(lambda session: source_tables(session, month, source),
                 f"source-{source}-{month}.{fmt}", fmt, _lang())


def _send(tables, name: str, fmt: str, lang: str):
    if fmt == "csv":
        # The generator runs after the view's own session is closed; it opens its own, which
        # the end of the stream closes.
        def generate():
            yield from csv_lines(tables(get_session()), lang=lang)

        return Response(stream_with_context(generate()), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f"attachment; filename={name}"})
    # A zip cannot be streamed as it is written: build it in a temporary file, then send that.
    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        write_xlsx(tables(get_session()), path, lang)
        handle = open(path, "rb")  # noqa: SIM115 - send_file closes it
    finally:
        os.unlink(path)
    return send_file(handle, download_name=name, as_attachment=True,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
