"""Pages: add and edit one elder or one provider in a form, with the enrollment file's rules."""

from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from dispatcher.administration import records
from dispatcher.administration.settings import area_code_of, geocoder_for
from dispatcher.consoles.auth import current_user, record_elder_view, role_required
from dispatcher.db import get_session
from dispatcher.enrollment.identity import mask_id_number
from dispatcher.enrollment.rows import ELDER_COLUMNS, PROVIDER_COLUMNS

bp = Blueprint("admin_records", __name__, url_prefix="/admin")
# Who may add and edit records by hand (administrators always may).
RECORD_ROLES: tuple[str, ...] = ()

LABELS = {
    "id_number": "身份证号", "name": "姓名", "gender": "性别（男/女）", "birth_date": "出生日期",
    "phone": "联系电话", "other_phones": "其他电话（用;分隔）", "address": "住址", "street": "街道",
    "community": "社区", "latitude": "纬度（可空，按地址定位）", "longitude": "经度（可空）",
    "elder_class": "老人类别", "disability_level": "失能等级", "lives_alone": "是否独居（是/否）",
    "emergency_contact_name": "紧急联系人", "emergency_contact_phone": "紧急联系电话",
    "code": "服务商编号", "license_no": "统一社会信用代码", "dispatch_phone": "派单电话",
    "service_radius_km": "服务半径（公里）", "capacity_per_day": "日接单量", "hours": "营业时间（如08:00-18:00）",
}  # fmt: skip


def _now():
    return current_app.extensions["vnh.clock"].now()


def _actor() -> str:
    user = current_user()
    return f"{user.username}（网页）"


def _area_code() -> str:
    return area_code_of(current_app)


def _geocoder():
    return geocoder_for(current_app, get_session(), _now())


def _shown() -> dict[str, str]:
    """The record as the form showed it (to compare with what is stored now)."""
    try:
        shown = json.loads(request.form.get("shown", "{}"))
    except ValueError:
        return {}
    if not isinstance(shown, dict):
        return {}
    return {str(k): str(v) for k, v in shown.items()}


def _form(template_args: dict, *, columns, values, shown, result=None, status=200):
    return render_template(
        "administration/record_form.html", columns=columns, labels=LABELS, values=values,
        shown_json=json.dumps(records.lock_view(shown), ensure_ascii=False), problems=(result.problems if result else []),
        conflict=(result.conflict if result else {}), **template_args), status


def _after_refusal(result, typed: dict, now_stored: dict, stored: dict) -> tuple[dict, dict]:
    """The form's values and its record-as-shown after a refused save.

    Bad fields: the form as typed, against the record as it was shown. A conflict: what is stored
    now, with only the fields this administrator changed put back on top, against what is stored
    now — so saving again keeps the other's changes and overwrites only what is on the screen.
    """
    shown = _shown()
    if not result.conflict:
        return typed, shown or records.lock_view(stored)
    mine = {k: v for k, v in typed.items() if k in shown and v != shown[k]}
    return now_stored | mine, records.lock_view(now_stored)


# -- elders ------------------------------------------------------------------------------------------
@bp.get("/")
@role_required(*RECORD_ROLES)
def index():
    return redirect(url_for(".elders"))


@bp.get("/elders")
@role_required(*RECORD_ROLES)
def elders():
    q = request.args.get("q", "")[:50]
    return render_template("administration/elders.html", elders=records.elders_page(get_session(), q), q=q)


@bp.route("/elders/new", methods=["GET", "POST"])
@role_required(*RECORD_ROLES)
def elder_new():
    return _elder_form(None)


@bp.route("/elders/<int:elder_id>", methods=["GET", "POST"])
@role_required(*RECORD_ROLES)
def elder_edit(elder_id: int):
    return _elder_form(elder_id)


def _elder_form(elder_id: int | None):
    session = get_session()
    elder = records.elder_for_edit(session, elder_id) if elder_id else None
    if elder_id and elder is None:
        abort(404)
    stored = records.elder_snapshot(elder)
    args = {"title": f"老人档案：{elder.name}" if elder else "新增老人", "key_column": "id_number",
            "is_new": elder is None, "history": [],
            "masked_key": mask_id_number(elder.id_number) if elder else "",
            "back": url_for(".elders")}
    if elder is not None:
        args["history"] = records.history(session, "elder", args["masked_key"])
    if request.method == "GET":
        if elder is not None:
            record_elder_view(elder.id)  # the full record is on the screen: audited like the console's
            session.commit()
        return _form(args, columns=ELDER_COLUMNS, values=stored, shown=stored)
    classes = current_app.extensions["vnh.policy"].versions[-1].classes
    try:
        result = records.save_elder(session, elder_id, request.form, shown=_shown(), classes=classes,
                                    actor=_actor(), now=_now(), geocoder=_geocoder(), area_code=_area_code())
    except LookupError:
        abort(404)
    if not result.ok:
        session.rollback()
        typed = {c: request.form.get(c, "") for c in ELDER_COLUMNS}
        now_stored = records.elder_snapshot(records.elder_for_edit(session, elder_id)) if elder_id else stored
        values, shown = _after_refusal(result, typed, now_stored, stored)
        if elder_id:
            values["id_number"] = stored["id_number"]
        return _form(args, columns=ELDER_COLUMNS, values=values, shown=shown, result=result,
                     status=409 if result.conflict else 422)
    session.commit()
    flash(f"已保存：{result.record.name}", "success")
    return redirect(url_for(".elder_edit", elder_id=result.record.id))


# -- providers' own record (the registry's other parts are on the provider's page) ---------------------
@bp.route("/providers/new", methods=["GET", "POST"])
@role_required(*RECORD_ROLES)
def provider_new():
    return _provider_form(None)


@bp.route("/providers/<int:provider_id>/record", methods=["GET", "POST"])
@role_required(*RECORD_ROLES)
def provider_edit(provider_id: int):
    return _provider_form(provider_id)


def _provider_form(provider_id: int | None):
    session = get_session()
    provider = records.provider_for_edit(session, provider_id) if provider_id else None
    if provider_id and provider is None:
        abort(404)
    stored = records.provider_snapshot(provider)
    args = {"title": f"服务商：{provider.name}" if provider else "签约新服务商", "key_column": "code",
            "is_new": provider is None, "masked_key": provider.code if provider else "",
            "history": records.history(session, "provider", provider.code) if provider else [],
            "back": url_for("admin_providers.index")}
    if request.method == "GET":
        return _form(args, columns=PROVIDER_COLUMNS, values=stored, shown=stored)
    try:
        result = records.save_provider(session, provider_id, request.form, shown=_shown(), actor=_actor(),
                                       now=_now(), geocoder=_geocoder(), area_code=_area_code())
    except LookupError:
        abort(404)
    if not result.ok:
        session.rollback()
        typed = {c: request.form.get(c, "") for c in PROVIDER_COLUMNS}
        now_stored = (records.provider_snapshot(records.provider_for_edit(session, provider_id))
                      if provider_id else stored)
        values, shown = _after_refusal(result, typed, now_stored, stored)
        if provider_id:
            values["code"] = stored["code"]
        return _form(args, columns=PROVIDER_COLUMNS, values=values, shown=shown, result=result,
                     status=409 if result.conflict else 422)
    session.commit()
    flash(f"已保存：{result.record.name}", "success")
    return redirect(url_for("admin_providers.show", provider_id=result.record.id))
