"""The centre's operations page (运营统计), for the bureau and the centre's supervisors."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, current_app, render_template, request
from markupsafe import Markup
from sqlalchemy import select

from billing.months import MonthError, check_started, month_of
from dispatcher.centre.charts import charts
from dispatcher.centre.figures import day_period, figures, month_period
from dispatcher.centre.summary import period_label, summary_lines
from dispatcher.consoles.auth import current_user, role_required
from dispatcher.consoles.scope import Area, area_of
from dispatcher.db import get_session
from dispatcher.models import Elder

bp = Blueprint("centre", __name__, url_prefix="/centre", template_folder="templates")
ROLES = ("bureau", "supervisor")


def _now():
    return current_app.extensions["vnh.clock"].now()


def requested_period() -> tuple[str, date | None]:
    """The page's `month` (this month by default) and optional `day` of it; 400, in Chinese, for
    a month that is malformed or not started, or a day that is malformed or outside the month."""
    month = request.args.get("month") or month_of(_now())
    try:
        month = check_started(month, _now())
    except MonthError:
        abort(400, description=f"月份“{month[:20]}”无效：请按 2026-11 的格式选择一个已经开始的月份。")
    text = request.args.get("day") or ""
    if not text:
        return month, None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        abort(400, description=f"日期“{text[:20]}”无效：请按 2026-11-25 的格式填写。")
    if f"{day:%Y-%m}" != month:
        abort(400, description=f"日期 {day} 不在 {month} 月内。")
    return month, day


def requested_area() -> Area | None:
    """The street asked for, within the account's own area; 403 for a street outside it."""
    own = area_of(current_user())
    street = (request.args.get("street") or "").strip()
    if own is not None:
        if street and street != own.street:
            abort(403, description="您的账号只能查看本辖区的统计。")
        return own
    return Area(street) if street else None


@bp.get("/operations")
@role_required(*ROLES)
def operations():
    month, day = requested_period()
    area = requested_area()
    start, end = day_period(day) if day else month_period(month)
    db = get_session()
    found = figures(db, start=start, end=end, area=area, now=_now())
    streets = ([area_of(current_user()).street] if area_of(current_user()) else
               list(db.scalars(select(Elder.street).distinct().order_by(Elder.street))))
    return render_template(
        "centre/operations.html", month=month, day=day, area=area, streets=streets,
        bound=area_of(current_user()) is not None, label=period_label(found), lines=summary_lines(found),
        charts={k: Markup(v) for k, v in charts(found).items()},  # pygal escapes every label it draws
    )


@bp.get("/operations.csv")
@role_required(*ROLES)
def operations_csv():
    from dispatcher.centre.report import csv_text

    month, day = requested_period()
    area = requested_area()
    start, end = day_period(day) if day else month_period(month)
    found = figures(get_session(), start=start, end=end, area=area, now=_now())
    name = f"operations-{day or month}.csv"
    return Response(csv_text(found), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}"})
