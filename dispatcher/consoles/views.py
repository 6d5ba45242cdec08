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

from dispatcher.clock import local
from dispatcher.consoles.auth import current_user, record_elder_view, role_required
from dispatcher.consoles.scope import in_scope, task_in_scope
from dispatcher.consoles.security import database_id
from dispatcher.db import get_session
from dispatcher.lifecycle.states import OPEN_STATES
from dispatcher.models import OperatorTask, Order

bp = Blueprint("views", __name__)


@bp.get("/")
@role_required("operator", "supervisor", "provider", "bureau")
def home():
    return render_template("home.html", user=current_user())


@bp.get("/healthz")
def healthz():
    """Liveness and backlog for load balancers and monitoring; no personal data."""
    from dispatcher.operations.health import health_report

    report = health_report(get_session(), current_app.extensions["vnh.clock"].now())
    return jsonify(report), 200 if report["ok"] else 503


# -- the operator console ---------------------------------------------------------------------------
CONSOLE_ROLES = ("operator", "supervisor")


def _now():
    return current_app.extensions["vnh.clock"].now()


def _settings():
    from dispatcher.config import Settings

    return Settings(current_app.config)


@bp.app_template_global()
def phone(number: str | None) -> str:
    """A phone number as this member of staff may see it."""
    from dispatcher.consoles.operator import phone_for

    return phone_for(current_user().role, number)


@bp.app_template_global()
def takes_sms(number: str | None) -> bool:
    """Whether a number can receive SMS (a mobile); a landline is told by a short call instead."""
    from telephony.numbers import is_mobile

    return bool(number) and is_mobile(number)


@bp.app_template_global()
def id_number(number: str | None) -> str:
    from dispatcher.consoles.operator import id_number_for

    return id_number_for(current_user().role, number)


@bp.app_template_filter("lt")
def local_time(moment, fmt: str = "%m-%d %H:%M") -> str:
    """A moment as Asia/Shanghai wall-clock time."""
    return local(moment).strftime(fmt) if moment else ""


@bp.app_template_global()
def waited(since) -> str:
    """How long ago, in words: 3分钟, 2小时5分, 1天3小时."""
    minutes = max(0, int((_now() - since).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes}分钟"
    if minutes < 24 * 60:
        return f"{minutes // 60}小时{minutes % 60}分"
    return f"{minutes // 1440}天{minutes % 1440 // 60}小时"


def _elder_or_404(db, elder_id: int):
    from dispatcher.models import Elder

    elder = db.get(Elder, elder_id)
    if elder is None or not in_scope(db, current_user(), elder.id):
        abort(404)  # another area's elder is as unknown to a scoped account as a missing one
    return elder


def _order_or_404(db, order_id: int) -> Order:
    order = db.get(Order, order_id)
    if order is None or not in_scope(db, current_user(), order.elder_id):
        abort(404)
    return order


def _task_or_404(db, task_id: int) -> OperatorTask:
    task = db.get(OperatorTask, task_id)
    if task is None or not task_in_scope(db, current_user(), task):
        abort(404)
    return task


@bp.get("/console")
@role_required(*CONSOLE_ROLES)
def console():
    from dispatcher.consoles import operator as c

    db, user = get_session(), current_user()
    if request.args.get("partial") == "queue":
        return render_template("console/_queue.html", queue=c.operator_queue(db, _now(), user), c=c)
    return render_template("console.html", queue=c.operator_queue(db, _now(), user), c=c,
                           transfers=c.live_transfers(db, _now(), user))


@bp.get("/console/transfers.json")
@role_required(*CONSOLE_ROLES)
def console_transfers():
    """What the screen-pop polls: calls being handed to a person now (no personal detail but a name)."""
    from dispatcher.consoles import operator as c

    db, user = get_session(), current_user()
    return jsonify(transfers=[
        {"task_id": t.task_id, "kind": t.kind, "kind_name": c.KIND_NAMES.get(t.kind, t.kind),
         "reason": t.reason, "caller": phone(t.caller), "elder_id": t.elder_id, "elder_name": t.elder_name,
         "at": local_time(t.created_at, "%H:%M:%S"), "waited": waited(t.created_at),
         "connected": t.is_connected,
         "card_url": url_for("views.console_card", task_id=t.task_id)}
        for t in c.live_transfers(db, _now(), user)
    ], open_orders=c.count_open(db, user))


@bp.get("/console/transfers/<int:task_id>/card")
@role_required(*CONSOLE_ROLES)
def console_card(task_id: int):
    """The screen-pop card of one transferred call: who is calling and why (an audited view)."""
    from dispatcher.consoles import operator as c
    from dispatcher.models import Elder

    db = get_session()
    task = _task_or_404(db, task_id)
    card = None
    if task.elder_id is not None:
        card = c.elder_card(db, db.get(Elder, task.elder_id), current_app.extensions["vnh.policy"], _now())
        record_elder_view(task.elder_id)
        db.commit()
    return render_template("console/_pop.html", task=task, card=card, c=c)


@bp.get("/console/elders")
@role_required(*CONSOLE_ROLES)
def console_search():
    """Find elders by name or number: every search is audited and counted against a per-minute limit."""
    from dispatcher.consoles import audit
    from dispatcher.consoles import operator as c

    query = "".join(ch for ch in request.args.get("q", "") if ch.isprintable()).strip()
    if not query:
        return render_template("console/search.html", q=query, elders=[])
    db, user = get_session(), current_user()
    searches = audit.record_search(db, staff_user_id=user.id, query=query, remote_addr=request.remote_addr,
                                   now=_now())
    db.commit()
    if searches > current_app.config.get("SEARCHES_PER_MINUTE", audit.SEARCHES_PER_MINUTE):
        flash("查找过于频繁，请一分钟后再试。")
        return render_template("console/search.html", q=query, elders=[]), 429, {"Retry-After": "60"}
    return render_template("console/search.html", q=query, elders=c.find_elders(db, query, user.role, who=user))


@bp.get("/console/elders/<int:elder_id>")
@role_required(*CONSOLE_ROLES)
def console_elder(elder_id: int):
    """An elder's full record with the order form (an audited view)."""
    from dispatcher.consoles import operator as c
    from dispatcher.lifecycle.slots import slot_options
    from dispatcher.models import Category

    db = get_session()
    elder = _elder_or_404(db, elder_id)
    card = c.elder_card(db, elder, current_app.extensions["vnh.policy"], _now())
    categories = db.scalars(select(Category).order_by(Category.position)).all()
    record_elder_view(elder_id)
    db.commit()
    return render_template("console/elder.html", card=card, c=c, categories=categories,
                           slots=slot_options(_now()), task_id=request.args.get("task", type=database_id),
                           today=local_time(_now(), "%Y-%m-%d"))


@bp.post("/console/elders/<int:elder_id>/family")
@role_required(*CONSOLE_ROLES)
def console_family_add(elder_id: int):
    """Name a family member of the elder (issue 18): visit SMS, statement, review contact."""
    from dispatcher.lifecycle.family import FamilyError, FamilyFields, add_family_member

    db = get_session()
    elder = _elder_or_404(db, elder_id)
    form = request.form
    try:
        add_family_member(db, elder, FamilyFields(form.get("name", ""), form.get("phone", ""), form.get("relation", ""),
                                                  bool(form.get("visit_sms")), bool(form.get("statement")),
                                                  bool(form.get("review_contact"))), _now())
    except FamilyError as exc:
        db.rollback()
        flash(f"未添加：{exc}")
    else:
        db.commit()
        flash("已添加家属。")
    return redirect(url_for("views.console_elder", elder_id=elder_id), code=303)


@bp.post("/console/elders/<int:elder_id>/family/review")
@role_required(*CONSOLE_ROLES)
def console_family_review(elder_id: int):
    """Turn "review via family" on or off for the elder."""
    from dispatcher.lifecycle.family import FamilyError, set_reviewed_via_family

    db = get_session()
    elder = _elder_or_404(db, elder_id)
    try:
        set_reviewed_via_family(db, elder, bool(request.form.get("on")))
    except FamilyError as exc:
        db.rollback()
        flash(f"未更改：{exc}")
    else:
        db.commit()
        flash("已更改回访对象。")
    return redirect(url_for("views.console_elder", elder_id=elder_id), code=303)


def _order_form(db):
    from dispatcher.models import Item

    item = db.scalar(select(Item).where(Item.code == request.form.get("item_code", "")))
    if item is None:
        abort(400, description="请选择服务项目")
    return item, _slot_form()


def _slot_form():
    """The visit time a form chose: one of the first windows, or any date with a half-day or a time."""
    from dispatcher.lifecycle.slots import SlotRefused, slot_from_form

    form = request.form
    try:
        return slot_from_form(form.get("slot_code", ""), form.get("day", ""), form.get("part", ""),
                              form.get("at", ""), _now())
    except SlotRefused as refused:
        abort(400, description=str(refused))


@bp.post("/console/elders/<int:elder_id>/orders/preview")
@role_required(*CONSOLE_ROLES)
def console_preview(elder_id: int):
    """Read the order back before placing it: provider, distance, price, subsidy and co-pay."""
    from dispatcher.consoles import operator as c

    db = get_session()
    elder = _elder_or_404(db, elder_id)
    item, slot = _order_form(db)
    preview = c.preview_order(db, elder, item, slot, current_app.extensions["vnh.policy"])
    return render_template("console/confirm.html", p=preview, c=c, sketch=_sketch_of(elder, preview.ranked),
                           task_id=request.form.get("task_id", type=database_id))


@bp.post("/console/elders/<int:elder_id>/orders")
@role_required(*CONSOLE_ROLES)
def console_place(elder_id: int):
    from dispatcher.consoles import operator as c

    db = get_session()
    elder = _elder_or_404(db, elder_id)
    item, slot = _order_form(db)
    order = c.place_by_hand(db, elder, item, slot, _settings(), _now())
    task = db.get(OperatorTask, request.form.get("task_id", type=database_id) or 0)
    if (task is not None and task_in_scope(db, current_user(), task) and task.resolved_at is None and task.elder_id == elder.id
            and c.may_close(current_user().role, task.kind)):
        c.close_task(task, current_user(), f"话务员代下单{order.order_no}", _now())
    db.commit()
    flash(f"已下单：工单{order.order_no}（{c.STATE_NAMES[order.state]}）")
    return redirect(url_for("views.console_order", order_id=order.id))


def _sketch_of(elder, ranked):
    from dispatcher.consoles import operator as c

    if elder.latitude is None or elder.longitude is None:
        return None
    return c.sketch(elder.latitude, elder.longitude,
                    [(str(n), r.candidate.latitude, r.candidate.longitude, r.distance_m)
                     for n, r in enumerate(ranked, 1)])


@bp.get("/console/orders/<int:order_id>")
@role_required(*CONSOLE_ROLES)
def console_order(order_id: int):
    """One order: its state, who was asked and why, and who could be asked now."""
    from dispatcher.consoles import operator as c
    from dispatcher.lifecycle.evv import order_facts

    db = get_session()
    order = _order_or_404(db, order_id)
    candidates = c.candidates_for(db, order) if order.state in OPEN_STATES else c.Candidates([])
    return render_template("console/order.html", order=order, cands=candidates, c=c,
                           sketch=_sketch_of(order.elder, candidates.ranked), facts=order_facts(db, order),
                           today=local_time(_now(), "%Y-%m-%d"))


@bp.post("/console/orders/<int:order_id>/move")
@role_required(*CONSOLE_ROLES)
def console_move(order_id: int):
    """改期: move the order to another date and time (its provider asked again if that does not suit)."""
    from dispatcher.lifecycle import changes

    db = get_session()
    order = _order_or_404(db, order_id)
    slot = _slot_form()
    outcome = changes.move(db, order, slot, actor=f"staff:{current_user().username}", settings=_settings(),
                           now=_now())
    if outcome.ok:
        db.commit()
        flash(outcome.message)
    else:
        db.rollback()
        flash(f"未改期：{outcome.message}")
    return redirect(url_for("views.console_order", order_id=order_id), code=303)


@bp.post("/console/orders/<int:order_id>/skip")
@role_required(*CONSOLE_ROLES)
def console_skip(order_id: int):
    """跳过: skip this visit (a plan occurrence) or cancel it, refused once it has started."""
    from dispatcher.lifecycle import changes

    db = get_session()
    order = _order_or_404(db, order_id)
    reason = request.form.get("reason", "").strip() or "话务员操作跳过"
    outcome = changes.skip(db, order, actor=f"staff:{current_user().username}", reason=reason[:200],
                           settings=_settings(), now=_now())
    if outcome.ok:
        db.commit()
        flash(outcome.message)
    else:
        db.rollback()
        flash(f"未跳过：{outcome.message}")
    return redirect(url_for("views.console_order", order_id=order_id), code=303)


@bp.post("/console/orders/<int:order_id>/redispatch")
@role_required(*CONSOLE_ROLES)
def console_redispatch(order_id: int):
    from dispatcher.consoles import operator as c

    db = get_session()
    order = _order_or_404(db, order_id)
    try:
        offer = c.redispatch(db, order, request.form.get("provider_id", type=database_id) or 0, current_user(),
                             _settings(), _now())
        db.commit()
        flash(f"已改派给{offer.provider.name}，等待接单")
    except c.ConsoleError as exc:
        db.rollback()
        flash(str(exc))
    return redirect(url_for("views.console_order", order_id=order_id))


@bp.post("/console/orders/<int:order_id>/cancel")
@role_required(*CONSOLE_ROLES)
def console_cancel(order_id: int):
    from dispatcher.consoles import operator as c

    db = get_session()
    order = _order_or_404(db, order_id)
    try:
        c.cancel_by_hand(db, order, current_user(), request.form.get("reason", ""), _settings(), _now())
        db.commit()
        flash("工单已取消")
    except c.ConsoleError as exc:
        db.rollback()
        flash(str(exc))
    return redirect(url_for("views.console_order", order_id=order_id))


@bp.post("/console/tasks/<int:task_id>/close")
@role_required(*CONSOLE_ROLES)
def console_close_task(task_id: int):
    from dispatcher.consoles import operator as c

    db = get_session()
    task = _task_or_404(db, task_id)
    if not c.may_close(current_user().role, task.kind):
        abort(403)
    try:
        c.close_task(task, current_user(), request.form.get("note", ""), _now())
        db.commit()
        flash("事项已办结")
    except c.ConsoleError as exc:
        db.rollback()
        flash(str(exc))
    return redirect(request.form.get("back", "") if request.form.get("back", "").startswith("/console")
                    else url_for("views.console"))


@bp.post("/console/tasks/<int:task_id>/call")
@role_required(*CONSOLE_ROLES)
def console_call(task_id: int):
    """Click-to-call: ring the operator's phone, then bridge to the elder (as the supervisor does)."""
    from dispatcher.programmes.supervision import CaseError, call_elder_through

    db = get_session()
    task = _task_or_404(db, task_id)
    try:
        call_elder_through(db, task, current_user(), _settings(), _now())
        db.commit()
        flash("正在拨打您的电话，接通后转接老人")
    except CaseError as exc:
        db.rollback()
        flash(str(exc))
    return redirect(url_for("views.console"))


@bp.get("/console/board")
@role_required(*CONSOLE_ROLES)
def console_board():
    """Today's board: every open order and its state, by street and category."""
    from dispatcher.consoles import operator as c

    db = get_session()
    street, category = request.args.get("street", ""), request.args.get("category", "")
    rows = c.open_orders(db, street, category, who=current_user())
    streets, categories = c.board_filters(db, current_user())
    names = c.provider_names(db, {o.provider_id for o in rows if o.provider_id})
    template = "console/_board_rows.html" if request.args.get("partial") else "console/board.html"
    return render_template(template, rows=rows, streets=streets, categories=categories, street=street,
                           category=category, names=names, c=c)


@bp.get("/supervisor")
@role_required("supervisor")
def supervisor():
    from dispatcher.enrollment.identity import mask_id_number
    from dispatcher.programmes.supervision import supervisor_queue
    from providers.models import Provider
    from providers.workers import workers_at_several_providers

    db = get_session()
    providers = db.scalars(select(Provider).order_by(Provider.contract_status.desc(),
                                                     Provider.quality_score)).all()
    by_id = {p.id: p for p in providers}
    # Issue 18: one person on record at several providers is allowed, but supervisors see it.
    shared = [(mask_id_number(number), found[0].name, [(by_id[w.provider_id].code, w.work_number) for w in found])
              for number, found in workers_at_several_providers(db)]
    return render_template("supervisor.html", cases=supervisor_queue(db, current_user()), local=local,
                           providers=providers, now=current_app.extensions["vnh.clock"].now(), shared=shared)


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
    from dispatcher.programmes.supervision import (
        CaseError,
        call_elder_through,
        close_case,
        log_complaint,
        resolve_dispute,
    )
    from providers.quality import recompute

    db = get_session()
    task = _task_or_404(db, task_id)
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
