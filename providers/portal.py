"""The provider portal (服务商门户): a provider's staff answer offers, check visits in and out, and
see the month's settlement — their own company's only.

Each action calls the same service in `dispatcher.lifecycle.orders` as an SMS reply or an API call does, and
commits once. Another company's offer or job is "not found" (404), as it is in the API.
"""

from __future__ import annotations

from datetime import datetime
from functools import wraps

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from billing.closing import closed_month
from billing.months import MonthError, check_started, month_of, months_ending
from billing.reports import SUBSIDY_COLUMNS, settlement_tables, subsidy_rows
from dispatcher.clock import local
from dispatcher.config import Settings
from dispatcher.consoles.auth import current_user, role_required
from dispatcher.db import get_session
from dispatcher.enrollment.identity import mask_id_number
from dispatcher.lifecycle import attendance, orders
from dispatcher.lifecycle.proof import METHOD_NAMES, device_hash
from dispatcher.models import Order
from providers import jobs, visit_checks, workers
from providers.models import Offer, Provider, Worker

bp = Blueprint("portal", __name__, url_prefix="/portal", template_folder="templates")

CHANNEL = "portal"
OFFER_STATUSES = {"offered": "待答复", "accepted": "已接单", "declined": "已拒绝",
                  "expired": "已过期", "withdrawn": "已撤回"}
ORDER_STATES = {"accepted": "待上门", "in_progress": "服务中", "completed": "已完成",
                "verified": "已回访核实", "disputed": "回访有争议", "cancelled": "已取消",
                "offered": "派单中", "unassigned": "待人工派单", "new": "新建"}
WORKER_REF_MAX = 20


def provider_staff(view):
    """Let only signed-in provider staff through, and remember whose company they act for."""

    @role_required("provider")
    @wraps(view)
    def wrapper(*args, **kwargs):
        provider_id = current_user().provider_id
        if provider_id is None:
            # An admin passes role_required but belongs to no company: there is nothing to show.
            abort(403)
        g.portal_provider_id = provider_id
        return view(*args, **kwargs)

    return wrapper


def _now() -> datetime:
    return current_app.extensions["vnh.clock"].now()


@bp.app_template_filter("local_time")
def _local_time(moment: datetime | None, fmt: str = "%m月%d日 %H:%M") -> str:
    return local(moment).strftime(fmt) if moment is not None else ""


@bp.errorhandler(404)
def _not_found(exc):
    get_session().rollback()
    return render_template("portal/not_found.html"), 404


def _own_offer(offer_id: int) -> Offer:
    offer = jobs.own_offer(get_session(), g.portal_provider_id, offer_id)
    if offer is None:
        abort(404)
    return offer


def _own_order(order_id: int) -> Order:
    order = jobs.own_order(get_session(), g.portal_provider_id, order_id)
    if order is None:
        abort(404)
    return order


def _finish(outcome: orders.Outcome, target: str):
    """Commit what an action did, or undo it, and tell the staff member either way."""
    session = get_session()
    if outcome.ok or outcome.keep:
        session.commit()
    else:
        session.rollback()
    flash(outcome.message)
    return redirect(target, code=303)


def call_number() -> str:
    """The number the portal's 致电老人 link dials. Provider staff never see an elder's number (phones
    are shown in full only to operators and admins), so it is the programme's relay line
    (VNH_PORTAL_CALL_NUMBER, e.g. a privacy-number service) or else the hotline, whose operators
    connect the worker to the elder."""
    return current_app.config.get("PORTAL_CALL_NUMBER") or Settings(current_app.config).hotline_number


def _cards_context() -> dict:
    session, now = get_session(), _now()
    today, upcoming = jobs.day_plan(session, g.portal_provider_id, now)
    return dict(provider=session.get(Provider, g.portal_provider_id), now=now,
                offers=jobs.open_offers(session, g.portal_provider_id, now), today=today, upcoming=upcoming,
                title=lambda elder: orders.elder_title(elder, now), states=ORDER_STATES,
                workers=workers.workers_of(session, g.portal_provider_id, active_only=True),
                call_number=call_number())


@bp.get("/")
@provider_staff
def index():
    return render_template("portal/index.html", **_cards_context())


@bp.get("/cards")
@provider_staff
def cards():
    """The cards alone (an HTML fragment), which the portal page fetches every 15 s to refresh in place."""
    response = current_app.make_response(render_template("portal/_cards.html", **_cards_context()))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/offers/<int:offer_id>")
@provider_staff
def offer(offer_id: int):
    offer = _own_offer(offer_id)
    order, now = get_session().get(Order, offer.order_id), _now()
    return render_template("portal/offer.html", offer=offer, order=order, now=now,
                           is_open=offer.status == "offered" and offer.expires_at > now,
                           statuses=OFFER_STATUSES)


@bp.post("/offers/<int:offer_id>/accept")
@provider_staff
def accept(offer_id: int):
    offer = _own_offer(offer_id)
    outcome = orders.accept_offer(get_session(), offer, g.portal_provider_id, CHANNEL,
                                  Settings(current_app.config), _now())
    if outcome.ok and outcome.order is not None:
        # The shared answer is the SMS reply, which tells the sender to text back; on the web page
        # the next steps are this page's buttons.
        outcome = orders.Outcome(True, f"已接单：工单{outcome.order.job_code}。到达老人家后在本页点“签到”，"
                                       "服务完成后点“签退”。", outcome.order)
    target = (url_for("portal.job", order_id=offer.order_id) if outcome.ok
              else url_for("portal.index"))
    return _finish(outcome, target)


@bp.post("/offers/<int:offer_id>/decline")
@provider_staff
def decline(offer_id: int):
    offer = _own_offer(offer_id)
    outcome = orders.decline_offer(get_session(), offer, g.portal_provider_id, CHANNEL,
                                   Settings(current_app.config), _now())
    return _finish(outcome, url_for("portal.index"))


@bp.get("/jobs/<int:order_id>")
@provider_staff
def job(order_id: int):
    session, now = get_session(), _now()
    order = _own_order(order_id)
    elder = order.elder
    primary = next((p.phone for p in elder.phones if p.is_primary), None)
    visit = order.visit
    return render_template(
        "portal/job.html", order=order, elder=elder, item=order.item, visit=visit,
        workers=workers.workers_of(session, g.portal_provider_id, active_only=True),
        worker=session.get(Worker, visit.worker_id) if visit and visit.worker_id else None,
        methods=METHOD_NAMES,
        title=orders.elder_title(elder, now), phone=primary,
        id_masked=mask_id_number(elder.id_number), price_fen=jobs.accepted_price_fen(session, order),
        states=ORDER_STATES, call_number=call_number(),
        confirmations=visit_checks.confirmations(session, order.order_no),
        confirm_words=visit_checks.CONFIRM_WORDS,
    )


def _visit_evidence() -> dict | str:
    """What the check-in or check-out form gives: the worker, the visit code, the phone's location
    (the page asks the browser for it); a refusal (Chinese) when a field is malformed."""
    form = request.form
    evidence: dict = {"device": device_hash("portal", current_user().id)}
    worker = form.get("worker", "").strip()
    if len(worker) > WORKER_REF_MAX:
        return f"服务人员工号不能超过{WORKER_REF_MAX}个字符。"
    if worker:
        evidence["worker"] = worker
    code = form.get("visit_code", "").strip()
    if code:
        if not (code.isdigit() and len(code) == 4):
            return "验证码应为老人告知的4位数字。"
        evidence["code"] = code
    lat, lng = form.get("latitude", "").strip(), form.get("longitude", "").strip()
    if lat or lng:
        try:
            evidence["lat"], evidence["lng"] = float(lat), float(lng)
        except ValueError:
            evidence["lat"] = evidence["lng"] = None  # unreadable: kept as unverified, not refused
    return evidence


def _second_look(order: Order, step: str):
    """The warning page (200, the card with a confirm button) when this step needs a second look and
    the form did not confirm it; else (None, warning) — the warning to record once the step is done."""
    now = _now()
    rules = visit_checks.rules_for(current_app.extensions["vnh.policy"], now)
    warning = (visit_checks.check_in_warning(order, now, rules) if step == "check_in" and order.state == "accepted"
               else visit_checks.check_out_warning(order, now, rules) if step == "check_out" else None)
    if warning is None or request.form.get("confirmed") == "1":
        return None, warning
    session = get_session()
    row = jobs.JobRow(order, order.item, order.elder, jobs.accepted_price_fen(session, order), order.visit)
    values = {k: request.form.get(k, "") for k in ("worker", "visit_code", "latitude", "longitude")}
    page = render_template("portal/confirm.html", row=row, warning=warning, values=values,
                           title=lambda elder: orders.elder_title(elder, now), states=ORDER_STATES,
                           workers=[], call_number=call_number())
    session.rollback()
    return page, warning


def _confirmed(outcome: orders.Outcome, order: Order, step: str, warning: str | None) -> None:
    if outcome.ok and warning is not None:
        visit_checks.record_confirmation(get_session(), order, step, warning,
                                         f"portal:{current_user().username}", _now())


@bp.post("/jobs/<int:order_id>/check-in")
@provider_staff
def check_in(order_id: int):
    order = _own_order(order_id)
    target = url_for("portal.job", order_id=order_id)
    evidence = _visit_evidence()
    if isinstance(evidence, str):
        flash(evidence + "未签到。")
        return redirect(target, code=303)
    page, warning = _second_look(order, "check_in")
    if page is not None:
        return page
    outcome = attendance.check_in(get_session(), order, g.portal_provider_id, CHANNEL, _now(), evidence,
                                  Settings(current_app.config))
    _confirmed(outcome, order, "check_in", warning)
    return _finish(outcome, target)


@bp.post("/jobs/<int:order_id>/check-out")
@provider_staff
def check_out(order_id: int):
    order = _own_order(order_id)
    target = url_for("portal.job", order_id=order_id)
    evidence = _visit_evidence()
    if isinstance(evidence, str):
        flash(evidence + "未签退。")
        return redirect(target, code=303)
    page, warning = _second_look(order, "check_out")
    if page is not None:
        return page
    try:
        outcome = attendance.check_out(get_session(), order, g.portal_provider_id, CHANNEL,
                                   current_app.extensions["vnh.policy"], Settings(current_app.config),
                                   _now(), evidence)
    except ValueError as exc:
        # The visit cannot be priced (e.g. the elder's class is missing): an operator must look.
        outcome = orders.Outcome(False, f"无法结算该工单，请联系话务员：{exc}")
    _confirmed(outcome, order, "check_out", warning)
    return _finish(outcome, target)


@bp.get("/settlement")
@provider_staff
def settlement():
    """The month's settlement for this provider: the bureau's own figures, this company's row."""
    session, now = get_session(), _now()
    month = request.args.get("month") or month_of(now)
    try:
        month = check_started(month, now)
    except MonthError:
        flash(f"月份“{month}”无效，已显示本月。")
        month = month_of(now)
    provider = session.get(Provider, g.portal_provider_id)
    (table,) = settlement_tables(session, month, provider.id)
    totals = next(iter(table.records()), None)
    visits = [dict(zip(SUBSIDY_COLUMNS, row, strict=True)) for row in subsidy_rows(session, month, provider.id)]
    return render_template("portal/settlement.html", provider=provider, month=month,
                           months=months_ending(month_of(now), 6), totals=totals, visits=visits,
                           closed=closed_month(session, month))


# -- workers on record (issue 18): the provider's staff keep their own list ----------------------------

@bp.get("/workers")
@provider_staff
def workers_page():
    session = get_session()
    listed = [(w, workers.certificates_of(session, w.id)) for w in workers.workers_of(session, g.portal_provider_id)]
    return render_template("portal/workers.html", listed=listed, mask_id=mask_id_number,
                           today=local(_now()).date())


def _worker_fields() -> workers.WorkerFields:
    form = request.form
    items = [c for c in form.get("items", "").replace("，", ",").split(",") if c.strip()]
    return workers.WorkerFields(form.get("name", ""), form.get("phone", ""), form.get("id_number", ""),
                                items or None, form.get("work_number", ""))


@bp.post("/workers")
@provider_staff
def add_worker():
    session = get_session()
    try:
        added = workers.add_worker(session, session.get(Provider, g.portal_provider_id), _worker_fields(), _now())
    except workers.WorkerError as exc:
        session.rollback()
        flash(f"未添加：{exc}")
    else:
        session.commit()
        flash(f"已添加服务人员{added.name}，工号{added.work_number}。")
    return redirect(url_for("portal.workers_page"), code=303)


def _own_worker(worker_id: int) -> Worker:
    found = get_session().get(Worker, worker_id)
    if found is None or found.provider_id != g.portal_provider_id:
        abort(404)
    return found


@bp.post("/workers/<int:worker_id>/active")
@provider_staff
def worker_active(worker_id: int):
    found = _own_worker(worker_id)
    workers.set_active(get_session(), found, bool(request.form.get("active")))
    get_session().commit()
    flash(f"服务人员{found.name}已{'启用' if found.active else '停用'}。")
    return redirect(url_for("portal.workers_page"), code=303)


@bp.post("/workers/<int:worker_id>/certificates")
@provider_staff
def worker_certificate(worker_id: int):
    found, session = _own_worker(worker_id), get_session()
    try:
        expires = datetime.strptime(request.form.get("expires_on", ""), "%Y-%m-%d").date() \
            if request.form.get("expires_on") else None
        workers.add_certificate(session, found, request.form.get("kind", ""), request.form.get("level"), expires)
    except (ValueError, workers.WorkerError) as exc:
        session.rollback()
        flash(f"未添加证书：{exc if isinstance(exc, workers.WorkerError) else '有效期应为YYYY-MM-DD'}")
    else:
        session.commit()
        flash("已添加证书。")
    return redirect(url_for("portal.workers_page"), code=303)
