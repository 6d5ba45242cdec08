"""The supervisor's integrity page: the month's flags, one flag's evidence, clear or confirm it."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from billing.views import requested_month
from dispatcher.config import Settings
from dispatcher.consoles.auth import current_user, role_required
from dispatcher.consoles.scope import area_of, in_scope
from dispatcher.db import get_session
from dispatcher.integrity.holds import DecisionError, clear_flag, confirm_flag
from dispatcher.integrity.models import STATES, IntegrityFlag
from dispatcher.integrity.reports import OUTCOMES, flag_counts, flag_detail, flag_records
from dispatcher.integrity.rules import CHECKS
from dispatcher.models import Visit

bp = Blueprint("integrity", __name__, url_prefix="/supervisor/integrity",
               template_folder="templates")


def _now():
    return current_app.extensions["vnh.clock"].now()


@bp.get("/")
@role_required("supervisor")
def flags():
    month = requested_month()
    state = request.args.get("state") or None
    check = request.args.get("check") or None
    if state not in (None, *STATES) or check not in (None, *CHECKS):
        abort(400, description="state or check: not one the page knows")
    db, who = get_session(), current_user()
    # Counts per provider span every area: shown to accounts of every area only.
    counts = flag_counts(db, month) if area_of(who) is None else []
    return render_template("integrity/flags.html", month=month, state=state, check=check,
                           rows=flag_records(db, month, state=state, check=check, who=who),
                           counts=counts, checks=CHECKS, states=STATES,
                           outcomes=OUTCOMES)


def _flag_or_404(db, flag_id: int) -> IntegrityFlag:
    flag = db.get(IntegrityFlag, flag_id)
    if flag is None or not _flag_in_scope(db, flag):
        abort(404)
    return flag


def _flag_in_scope(db, flag: IntegrityFlag) -> bool:
    visit = db.get(Visit, flag.visit_id)
    return visit is not None and in_scope(db, current_user(), visit.order.elder_id)


@bp.get("/<int:flag_id>")
@role_required("supervisor")
def flag(flag_id: int):
    _flag_or_404(get_session(), flag_id)
    detail = flag_detail(get_session(), flag_id)
    if detail is None:
        abort(404)
    return render_template("integrity/flag.html", checks=CHECKS, outcomes=OUTCOMES, **detail)


@bp.post("/<int:flag_id>/decide")
@role_required("supervisor")
def decide(flag_id: int):
    """Clear the flag (the visit is paid as usual) or confirm it (withheld, provider docked)."""
    db = get_session()
    item = _flag_or_404(db, flag_id)
    action, note = request.form.get("action", ""), request.form.get("note", "")
    staff, now = current_user(), _now()
    try:
        if action == "clear":
            clear_flag(db, item, staff, note, now)
        elif action == "confirm":
            settings = Settings(current_app.config)
            confirm_flag(db, item, staff, note, policy=current_app.extensions["vnh.policy"],
                         suspend_below=settings.suspend_below,
                         hotline_number=settings.hotline_number, now=now)
        else:
            abort(400, description="action: must be clear or confirm")
        db.commit()
        flash("已排除，补贴照常支付" if action == "clear" else "已确认违规，补贴已追回", "success")
    except DecisionError as exc:
        db.rollback()
        flash(str(exc), "error")
    return redirect(url_for("integrity.flag", flag_id=flag_id))
