"""The console's assessment form and history on the elder page, and the operator's approval to
bill an hourly visit for more time than was booked."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for

from billing.duration import ApprovalError, approve_duration, is_hourly
from dispatcher.assessments.records import BadAssessment, history, record_assessment
from dispatcher.assessments.rules import LEVELS, parse_score
from dispatcher.clock import local
from dispatcher.consoles.auth import current_user, role_required
from dispatcher.consoles.scope import in_scope
from dispatcher.db import get_session
from dispatcher.enrollment.rows import parse_date
from dispatcher.models import Elder, Visit

bp = Blueprint("assessments", __name__)
FIELD_NAMES = {"assessed_on": "评估日期", "level": "评估等级", "score": "评估得分",
               "assessor": "评估人", "organisation": "评估机构", "valid_until": "有效期至"}
SOURCE_NAMES = {"enrollment": "登记表", "import": "批量导入", "console": "话务台录入"}


def _now():
    return current_app.extensions["vnh.clock"].now()


@bp.app_template_global()
def assessment_history(elder_id: int) -> list:
    """The elder's assessments, newest first, for the elder page."""
    return history(get_session(), elder_id)


@bp.app_template_global()
def assessment_form_options() -> dict:
    return {"levels": LEVELS, "sources": SOURCE_NAMES}


@bp.app_template_global()
def bills_by_time(visit) -> bool:
    return visit is not None and is_hourly(visit.order.item) and visit.checked_out_at is not None


def _form_date(name: str, problems: list) -> date | None:
    text = request.form.get(name, "").strip()
    if not text:
        return None
    try:
        return parse_date(text)
    except ValueError:
        problems.append((name, f"“{text}”不是日期"))
        return None


@bp.post("/console/elders/<int:elder_id>/assessments")
@role_required("operator", "supervisor")
def add_assessment(elder_id: int):
    """Record an assessment typed in the console; name every bad field."""
    db = get_session()
    elder = db.get(Elder, elder_id)
    if elder is None or not in_scope(db, current_user(), elder.id):
        abort(404)
    problems: list[tuple[str, str]] = []
    assessed_on = _form_date("assessed_on", problems)
    valid_until = _form_date("valid_until", problems)
    if assessed_on is None and not any(p[0] == "assessed_on" for p in problems):
        problems.append(("assessed_on", "必填"))
    try:
        score = parse_score(request.form.get("score", ""))
    except ValueError:
        problems.append(("score", "须为0到100的整数"))
        score = None
    user = current_user()
    if not problems:
        try:
            record_assessment(
                db, elder, assessed_on=assessed_on, level=request.form.get("level", "").strip(),
                assessor=request.form.get("assessor", ""),
                organisation=request.form.get("organisation", "")[:100], score=score,
                valid_until=valid_until, source="console", recorded_by=f"staff:{user.username}",
                today=local(_now()).date(), now=_now(),
            )
            db.commit()
            flash("已记录能力评估", "success")
        except BadAssessment as exc:
            db.rollback()
            problems = exc.problems
    for field, reason in problems:
        flash(f"未记录：{FIELD_NAMES.get(field, field)}：{reason}", "error")
    return redirect(url_for("views.console_elder", elder_id=elder_id))


@bp.post("/console/visits/<int:visit_id>/approve-time")
@role_required("operator", "supervisor")
def approve_time(visit_id: int):
    """Approve billing an hourly visit for more than its booked hour; it is re-priced at once."""
    db = get_session()
    visit = db.get(Visit, visit_id)
    if visit is None or not in_scope(db, current_user(), visit.order.elder_id):
        abort(404)
    user = current_user()
    minutes = request.form.get("minutes", type=int) or 0
    try:
        approve_duration(db, visit, minutes=minutes, approved_by=f"staff:{user.username}",
                         reason=request.form.get("reason", ""),
                         policy=current_app.extensions["vnh.policy"], now=_now())
        db.commit()
        flash(f"已批准按{minutes}分钟计费", "success")
    except ApprovalError as exc:
        db.rollback()
        flash(f"未批准：{exc}", "error")
    return redirect(url_for("views.console_order", order_id=visit.order_id))
