"""Staff pages: the landing page, the operator console, the bureau's report downloads."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from dispatcher.auth import current_user, role_required
from dispatcher.clock import local
from dispatcher.db import get_session
from dispatcher.models import OperatorTask, Order
from dispatcher.states import OPEN_STATES

bp = Blueprint("views", __name__)


@bp.get("/")
@role_required("operator", "supervisor", "provider", "bureau")
def home():
    return render_template("home.html", user=current_user())


@bp.get("/healthz")
def healthz():
    """Liveness and backlog for load balancers and monitoring; no personal data."""
    from dispatcher.health import health_report

    report = health_report(get_session(), current_app.extensions["vnh.clock"].now())
    return jsonify(report), 200 if report["ok"] else 503


@bp.get("/console")
@role_required("operator", "supervisor")
def console():
    db = get_session()
    tasks = db.scalars(
        select(OperatorTask).where(OperatorTask.resolved_at.is_(None)).order_by(OperatorTask.created_at)
    ).all()
    open_orders = db.scalars(
        select(Order).where(Order.state.in_(OPEN_STATES)).order_by(Order.window_start_at)
    ).all()
    return render_template("console.html", tasks=tasks, orders=open_orders, local=local)


@bp.get("/supervisor")
@role_required("supervisor")
def supervisor():
    from dispatcher.supervision import supervisor_queue
    from providers.models import Provider

    db = get_session()
    providers = db.scalars(select(Provider).order_by(Provider.contract_status.desc(),
                                                     Provider.quality_score)).all()
    return render_template("supervisor.html", cases=supervisor_queue(db), local=local,
                           providers=providers, now=current_app.extensions["vnh.clock"].now())


@bp.post("/supervisor/providers/<int:provider_id>/reinstate")
@role_required("supervisor")
def reinstate_provider(provider_id: int):
    from providers.quality import reinstate

    db = get_session()
    if reinstate(db, provider_id, current_user().id, current_app.extensions["vnh.clock"].now()):
        db.commit()
        flash("已恢复派单")
    else:
        flash("该服务商未被暂停")
    return redirect(url_for("views.supervisor"))


@bp.post("/supervisor/cases/<int:task_id>")
@role_required("supervisor")
def supervisor_act(task_id: int):
    """One action on a case: close it, settle a dispute, log a complaint, or call the elder."""
    from dispatcher.config import Settings
    from dispatcher.supervision import (
        CaseError,
        call_elder_through,
        close_case,
        log_complaint,
        resolve_dispute,
    )
    from providers.quality import recompute

    db = get_session()
    task = db.get(OperatorTask, task_id)
    if task is None:
        abort(404)
    staff, now = current_user(), current_app.extensions["vnh.clock"].now()
    action, note = request.form.get("action", ""), request.form.get("note", "")
    try:
        if action == "close":
            close_case(task, staff, note, now)
        elif action in ("dispute_happened", "dispute_not_happened"):
            resolve_dispute(db, task, staff, visit_happened=action == "dispute_happened", note=note,
                            policy=current_app.extensions["vnh.policy"], now=now)
        elif action == "complaint":
            if task.order_id is None:
                raise CaseError("这个事项没有工单，无法记录投诉")
            complaint = log_complaint(db, db.get(Order, task.order_id), staff, note, now)
            settings = Settings(current_app.config)
            recompute(db, complaint.provider_id, threshold=settings.suspend_below,
                      hotline_number=settings.hotline_number, now=now)
        elif action == "call":
            call_elder_through(db, task, staff, Settings(current_app.config), now)
        else:
            abort(400, description="unknown action")
        db.commit()
        flash("已处理" if action != "call" else "正在拨打您的电话，接通后转接老人")
    except CaseError as exc:
        db.rollback()
        flash(str(exc))
    return redirect(url_for("views.supervisor"))
