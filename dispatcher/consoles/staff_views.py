"""The administrator's staff pages: the list of accounts, adding one, disabling, resetting, areas."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from dispatcher.consoles import staff
from dispatcher.consoles.auth import ROLES, current_user, role_required
from dispatcher.consoles.scope import SCOPABLE_ROLES
from dispatcher.consoles.security import database_id
from dispatcher.db import get_session
from dispatcher.models import StaffUser

bp = Blueprint("staff_admin", __name__, url_prefix="/admin/staff")
ACTIONS = {"add": "新增", "disable": "停用", "enable": "启用", "reset": "重置密码", "area": "更改区域"}


def _now():
    return current_app.extensions["vnh.clock"].now()


def _account_or_404(db, user_id: int) -> StaffUser:
    user = db.get(StaffUser, user_id)
    if user is None:
        abort(404)
    return user


def _providers(db):
    from sqlalchemy import select

    from providers.models import Provider

    return db.execute(select(Provider.id, Provider.code, Provider.name).order_by(Provider.code)).all()


def _list_page(db, status: int = 200, form=None):
    accounts = staff.all_staff(db)
    return render_template("admin/staff.html", accounts=accounts, changes=staff.changes_of(db),
                           names={a.id: a.username for a in accounts}, providers=_providers(db),
                           actions=ACTIONS, scopable=SCOPABLE_ROLES, form=form or {}), status


@bp.get("/")
@role_required()
def index():
    return _list_page(get_session())


@bp.post("/")
@role_required()
def add():
    db, form = get_session(), request.form
    provider_id = form.get("provider_id", type=database_id) if form.get("role") == "provider" else None
    try:
        user, password = staff.create_staff(
            db, actor=current_user(), username=form.get("username", ""), role=form.get("role", ""),
            display_name=form.get("display_name", "").strip(), provider_id=provider_id,
            street=form.get("street"), community=form.get("community"), password=form.get("password") or None,
            now=_now())
        db.commit()
    except ValueError as exc:
        db.rollback()
        flash(str(exc), "error")
        return _list_page(db, 400, {k: v for k, v in form.items() if k != "password"})
    # Shown in this response only: never in a flash message, which the session cookie would carry.
    return render_template("admin/staff_password.html", account=user,
                           password=password if not form.get("password") else None, added=True)


@bp.get("/<int:user_id>")
@role_required()
def account(user_id: int):
    db = get_session()
    return render_template("admin/staff_account.html", account=_account_or_404(db, user_id),
                           changes=staff.changes_of(db, user_id), actions=ACTIONS, scopable=SCOPABLE_ROLES,
                           names={a.id: a.username for a in staff.all_staff(db)})


@bp.post("/<int:user_id>/disable")
@role_required()
def disable(user_id: int):
    return _set_active(user_id, "disable")


@bp.post("/<int:user_id>/enable")
@role_required()
def enable(user_id: int):
    return _set_active(user_id, "enable")


def _set_active(user_id: int, action: str):
    db = get_session()
    user = _account_or_404(db, user_id)
    try:
        staff.set_active(db, user, current_user(), action == "enable", _now())
        db.commit()
        flash(f"已{ACTIONS[action]}账号 {user.username}" + ("，该账号已在所有设备上退出" if action == "disable" else ""), "success")
    except ValueError as exc:
        db.rollback()
        flash(str(exc), "error")
    return redirect(url_for("staff_admin.account", user_id=user_id))


@bp.post("/<int:user_id>/reset")
@role_required()
def reset(user_id: int):
    db = get_session()
    user = _account_or_404(db, user_id)
    given = request.form.get("password") or None
    try:
        password = staff.reset_password(db, user, current_user(), given, _now())
        db.commit()
    except ValueError as exc:
        db.rollback()
        flash(str(exc), "error")
        return redirect(url_for("staff_admin.account", user_id=user_id))
    return render_template("admin/staff_password.html", account=user, password=None if given else password,
                           added=False)


@bp.post("/<int:user_id>/area")
@role_required()
def area(user_id: int):
    db = get_session()
    user = _account_or_404(db, user_id)
    try:
        staff.set_area(db, user, current_user(), request.form.get("street"), request.form.get("community"), _now())
        db.commit()
        flash(f"账号 {user.username} 的区域已改为：{(user.street or '') + (user.community or '') or '全部区域'}", "success")
    except ValueError as exc:
        db.rollback()
        flash(str(exc), "error")
    return redirect(url_for("staff_admin.account", user_id=user_id))


def init_app(app) -> None:
    from dispatcher.consoles import desk_views

    app.register_blueprint(bp)
    app.register_blueprint(desk_views.bp)  # the operator's desk (issue 19)
    app.jinja_env.globals.setdefault("ROLES", ROLES)
