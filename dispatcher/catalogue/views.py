"""The administrator's catalogue page: edit an item, schedule a price change on a date."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from billing.money import yuan_to_fen
from dispatcher.catalogue import PLACES, catalogue_rows
from dispatcher.catalogue.prices import (
    PriceChangeError,
    change_price,
    last_closed_day,
    price_versions,
)
from dispatcher.catalogue.transfer import edit_item
from dispatcher.clock import local
from dispatcher.consoles.auth import current_user, role_required
from dispatcher.db import get_session
from dispatcher.models import Item

bp = Blueprint("catalogue_admin", __name__, url_prefix="/admin/catalogue")
PLACE_NAMES = {"home": "上门", "delivered": "送达", "venue": "到场所", "phone": "电话"}
COLUMN_NAMES = {"name": "名称", "unit": "单位", "place": "服务地点", "venue": "场所", "synonyms": "老人说法",
                "is_free": "免费", "is_emergency": "紧急", "market_price_yuan": "市场价"}


def _now():
    return current_app.extensions["vnh.clock"].now()


def _item_or_404(db, code: str) -> Item:
    item = db.scalar(select(Item).where(Item.code == code))
    if item is None:
        abort(404)
    return item


@bp.get("")
@role_required("admin")
def catalogue_page():
    """Every item at today's market price, by category."""
    rows = catalogue_rows(get_session(), local(_now()).date())
    return render_template("admin/catalogue.html", rows=rows, places=PLACE_NAMES)


@bp.get("/<code>")
@role_required("admin")
def item_page(code: str):
    db = get_session()
    item = _item_or_404(db, code)
    return render_template("admin/catalogue_item.html", item=item, versions=price_versions(db, item),
                           places=PLACES, place_names=PLACE_NAMES, closed=last_closed_day(db),
                           today=local(_now()).date())


@bp.post("/<code>")
@role_required("admin")
def item_save(code: str):
    db = get_session()
    item = _item_or_404(db, code)
    form = {"name": request.form.get("name", ""), "unit": request.form.get("unit", ""),
            "place": request.form.get("place", ""), "venue": request.form.get("venue", ""),
            "is_free": "is_free" in request.form, "is_emergency": "is_emergency" in request.form,
            "synonyms": [s for s in request.form.get("synonyms", "").replace("、", "\n").splitlines()]}
    problems = edit_item(db, item, form, now=_now(), actor=f"staff:{current_user().username}")
    if problems:
        db.rollback()
        for column, reason in problems:
            flash(f"{COLUMN_NAMES.get(column, column)}：{reason}", "error")
    else:
        db.commit()
        flash(f"{item.name}已保存", "success")
    return redirect(url_for("catalogue_admin.item_page", code=code))


@bp.post("/<code>/price")
@role_required("admin")
def item_price(code: str):
    db = get_session()
    item = _item_or_404(db, code)
    try:
        price_fen = yuan_to_fen(request.form.get("price_yuan", ""))
        effective_on = date.fromisoformat(request.form.get("effective_on", ""))
        change_price(db, item, price_fen, effective_on, today=local(_now()).date(), now=_now(),
                     actor=f"staff:{current_user().username}", reason=request.form.get("reason", ""))
    except ValueError as exc:  # PriceChangeError, a bad amount or a bad date
        db.rollback()
        reason = exc.words if isinstance(exc, PriceChangeError) else "请填写金额（元）和生效日期"
        flash(f"价格未改：{reason}", "error")
    else:
        db.commit()
        flash(f"{item.name}的市场价自{effective_on}起为{price_fen / 100:.2f}元", "success")
    return redirect(url_for("catalogue_admin.item_page", code=code))
