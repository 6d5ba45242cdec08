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
    queue, total = c.operator_queue(db, user, limit=c.QUEUE_ROWS)
    shown = {"queue": queue, "queue_total": total, "c": c}
    if request.args.get("partial") == "queue":
        return render_template("console/_queue.html", **shown)
    return render_template("console.html", transfers=c.live_transfers(db, _now(), user), **shown)


@bp.get("/console/transfers.json")
@role_required(*CONSOLE_ROLES)
def console_transfers():
    """What every operator's page polls (desk.js): calls being handed to a person now (no personal
    detail but a name), and the count of open orders; reused by the area's polls for a moment."""
    from dispatcher.consoles import operator as c
    from dispatcher.consoles.scope import area_of
    from dispatcher.hotline.call_state import STATE_NAMES

    db, user, now = get_session(), current_user(), _now()
    transfers, open_orders = current_app.extensions["vnh.polls"].get(
        ("transfers", area_of(user)), lambda: (c.live_transfers(db, now, user), c.count_open(db, user)))
    return jsonify(transfers=[
        {"task_id": t.task_id, "kind": t.kind, "kind_name": c.KIND_NAMES.get(t.kind, t.kind),
         "reason": t.reason, "caller": phone(t.caller), "elder_id": t.elder_id, "elder_name": t.elder_name,
         "at": local_time(t.created_at, "%H:%M:%S"), "waited": waited(t.created_at),
         "waited_s": max(0, int((now - t.created_at).total_seconds())),
         "connected": t.is_connected, "state": t.state, "state_name": STATE_NAMES[t.state],
         "card_url": url_for("views.console_card", task_id=t.task_id),
         "page_url": url_for("desk.transfer_page", task_id=t.task_id)}
        for t in transfers
    ], open_orders=open_orders)


@bp.get("/console/transfers/<int:task_id>/card")
@role_required(*CONSOLE_ROLES)
def console_card(task_id: int):
    """The screen-pop card of one transferred call: who is calling and why (an audited view)."""
    from dispatcher.consoles import operator as c

    db = get_session()
    task = _task_or_404(db, task_id)
    return render_template("console/_pop.html", task=task, card=caller_card(db, task), c=c)


def caller_card(db, task):
    """The card of the elder a transferred call is about (None for an unknown caller); the view is audited."""
    from dispatcher.consoles import operator as c
    from dispatcher.models import Elder

    if task.elder_id is None:
        return None
    card = c.elder_card(db, db.get(Elder, task.elder_id), current_app.extensions["vnh.policy"], _now())
    record_elder_view(task.elder_id)
    db.commit()
    return card


@bp.get("/console/elders")
@role_required(*CONSOLE_ROLES)
def console_search():
    """Find elders by name or number: every search is audited and counted against a per-minute limit."""
    from dispatcher.consoles import audit
    from dispatcher.consoles import operator as c

    query = "".join(ch for ch in request.args.get("q", "") if ch.isprintable()).strip()
    if not query:
        return render_template("console/search.html", q=query, elders=[], orders=[])
    db, user = get_session(), current_user()
    searches = audit.record_search(db, staff_user_id=user.id, query=query, remote_addr=request.remote_addr,
                                   now=_now())
    db.commit()
    if searches > current_app.config.get("SEARCHES_PER_MINUTE", audit.SEARCHES_PER_MINUTE):
        flash("查找过于频繁，请一分钟后再试。", "warning")
        return render_template("console/search.html", q=query, elders=[], orders=[]), 429, {"Retry-After": "60"}
    from dispatcher.consoles.desk import find_orders

    return render_template("console/search.html", q=query, elders=c.find_elders(db, query, user.role, who=user),
                           orders=find_orders(db, query, who=user), c=c)


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
        flash(f"未添加：{exc}", "error")
    else:
        db.commit()
        flash("已添加家属。", "success")
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
        flash(f"未更改：{exc}", "error")
    else:
        db.commit()
        flash("已更改回访对象。", "success")
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
        c.close_task(task, current_user(), f"已下单：话务员代下单{order.order_no}", _now())
    db.commit()
    flash(f"已下单：工单{order.order_no}（{c.STATE_NAMES[order.state]}）", "success")
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
    from dispatcher.consoles.desk import who_and_when

    candidates = c.candidates_for(db, order) if order.state in OPEN_STATES else c.Candidates([])
    provider, deadline = who_and_when(db, order)
    return render_template("console/order.html", order=order, cands=candidates, c=c,
                           sketch=_sketch_of(order.elder, candidates.ranked), facts=order_facts(db, order),
                           provider=provider, deadline=deadline, today=local_time(_now(), "%Y-%m-%d"))


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
    return _changed(db, order_id, outcome, "未改期")


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
    return _changed(db, order_id, outcome, "未跳过")


def _changed(db, order_id: int, outcome, refused: str):
    """Keep a move or skip that worked and say so; roll back a refused one and say why."""
    if outcome.ok:
        db.commit()
        flash(outcome.message, "success")
    else:
        db.rollback()
        flash(f"{refused}：{outcome.message}", "error")
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
        flash(f"已改派给{offer.provider.name}，等待接单", "success")
    except c.ConsoleError as exc:
        db.rollback()
        flash(str(exc), "error")
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
        flash("工单已取消", "success")
    except c.ConsoleError as exc:
        db.rollback()
        flash(str(exc), "error")
    return redirect(url_for("views.console_order", order_id=order_id))


@bp.post("/console/tasks/<int:task_id>/close")
@role_required(*CONSOLE_ROLES)
def console_close_task(task_id: int):
    from dispatcher.consoles import operator as c

    db = get_session()
    task = _task_or_404(db, task_id)
    if not c.may_close(current_user().role, task.kind):
        abort(403)
    from dispatcher.consoles.desk import EMERGENCY_CONFIRM, CloseRefused, closing_note

    try:
        # Issue 19: an outcome from the short list, and for an emergency a confirmation, or nothing closes.
        note = closing_note(task, request.form.get("outcome", ""), request.form.get("note", ""),
                            bool(request.form.get(EMERGENCY_CONFIRM)))
    except CloseRefused as exc:
        return render_template("console/refused.html", message=str(exc), back=_back()), 400
    try:
        c.close_task(task, current_user(), note, _now())
        db.commit()
        flash("事项已办结", "success")
    except c.ConsoleError as exc:
        db.rollback()
        flash(str(exc), "warning")
    return redirect(_back())


def _back() -> str:
    back = request.form.get("back", "")
    return back if back.startswith("/console") and not back.startswith("//") else url_for("views.console")


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
        flash("正在拨打您的电话，接通后转接老人", "success")
    except CaseError as exc:
        db.rollback()
        flash(str(exc), "error")
    return redirect(url_for("views.console"))


@bp.get("/console/board")
@role_required(*CONSOLE_ROLES)
def console_board():
    """Today's board: every open order and its state, by street and category."""
    from dispatcher.consoles import operator as c

    db = get_session()
    street, category = request.args.get("street", ""), request.args.get("category", "")
    from dispatcher.consoles.desk import counts_by_state, waiting_offers

    rows = c.open_orders(db, street, category, who=current_user(), limit=c.BOARD_ROWS)
    counted = c.open_order_counts(db, street, category, who=current_user())
    streets, categories = c.board_filters(db, current_user())
    waiting = waiting_offers(db, [o.id for o in rows if o.state == "offered"])
    names = c.provider_names(db, {o.provider_id for o in rows if o.provider_id} | {p for p, _ in waiting.values()})
    template = "console/_board_rows.html" if request.args.get("partial") else "console/board.html"
    return render_template(template, rows=rows, streets=streets, categories=categories, street=street,
                           category=category, names=names, c=c, waiting=waiting, counts=counts_by_state(counted),
                           total=sum(counted.values()))


@bp.get("/supervisor")
@role_required("supervisor")
def supervisor():
    from dispatcher.enrollment.identity import mask_id_number
    from dispatcher.programmes import cases as case_view
    from providers.models import Provider
    from providers.workers import workers_at_several_providers

    db = get_session()
    providers = db.scalars(select(Provider).order_by(Provider.contract_status.desc(),
                                                     Provider.quality_score)).all()
    by_id = {p.id: p for p in providers}
    # Issue 18: one person on record at several providers is allowed, but supervisors see it.
    shared = [(mask_id_number(number), found[0].name, [(by_id[w.provider_id].code, w.work_number) for w in found])
              for number, found in workers_at_several_providers(db)]
    # Issue 19: resolved cases stay, searchable (?resolved=1&q=…).
    resolved, query = request.args.get("resolved") == "1", request.args.get("q", "")
    found = case_view.find_cases(db, current_user(), resolved=resolved, query=query)
    orders = {o.id: o for o in db.scalars(select(Order).where(Order.id.in_({c.order_id for c in found if c.order_id})))}
    return render_template("supervisor.html", cases=found, orders=orders, resolved=resolved, query=query,
                           cv=case_view, local=local, providers=providers,
                           now=current_app.extensions["vnh.clock"].now(), shared=shared)


@bp.post("/supervisor/providers/<int:provider_id>/reinstate")
@role_required("supervisor")
def reinstate_provider(provider_id: int):
    from providers.quality import reinstate

    db = get_session()
    if reinstate(db, provider_id, current_user().id, current_app.extensions["vnh.clock"].now()):
        db.commit()
        flash("已恢复派单", "success")
    else:
        flash("该服务商未被暂停", "warning")
    return redirect(url_for("views.supervisor"))


@bp.route("/supervisor/cases/<int:task_id>", methods=["GET", "POST"])
@role_required("supervisor")
def supervisor_act(task_id: int):
    """GET: the case page (issue 19). POST: one action on a case: close it, settle a dispute, log a
    complaint, or call the elder."""
    if request.method == "GET":
        from dispatcher.programmes.case_views import case_page

        return case_page(task_id)
    from dispatcher.config import Settings
    from dispatcher.programmes.cases import record_action
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
            # The verdict is what moves the provider's score (issue 19), so refresh it now.
            order = db.get(Order, task.order_id)
            if order.provider_id is not None:
                settings = Settings(current_app.config)
                recompute(db, order.provider_id, threshold=settings.suspend_below,
                          hotline_number=settings.hotline_number, now=now)
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
        record_action(db, task, staff, action, note, now)
        db.commit()
        flash("已处理" if action != "call" else "正在拨打您的电话，接通后转接老人", "success")
    except CaseError as exc:
        db.rollback()
        flash(str(exc), "error")
    back = request.form.get("back", "")
    return redirect(url_for("views.supervisor_act", task_id=task.id) if back == "case" else url_for("views.supervisor"))
