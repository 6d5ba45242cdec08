"""The care programmes in the browser: wellbeing-call schedules and the dormant-elder list, each of
the signed-in account's area only (dispatcher.consoles.scope)."""

from __future__ import annotations

import csv
import io
from datetime import time

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from billing.outputs import BOM, neutralise
from dispatcher.consoles.auth import current_user, role_required
from dispatcher.consoles.scope import Area, in_scope, scope_filter
from dispatcher.consoles.security import database_id
from dispatcher.db import get_session
from dispatcher.models import Elder
from dispatcher.programmes import dormant, wellbeing

bp = Blueprint("programmes", __name__, url_prefix="/programmes")
ROLES = ("operator", "supervisor", "bureau")
DEFAULT_DAYS = 30


def _now():
    return current_app.extensions["vnh.clock"].now()


def _communities(db) -> list[Area]:
    """The communities the account may pick among (those of its area with an enrolled elder)."""
    rows = db.execute(select(Elder.street, Elder.community).where(scope_filter(current_user(), Elder.id))
                      .distinct().order_by(Elder.street, Elder.community)).all()
    return [Area(street, community) for street, community in rows]


def _picked_area() -> Area | None:
    """The street and community picked on a form or in the query ("街道/社区", or street alone);
    one outside the account's reach is not found (404), as another area's ids are."""
    values = request.form if request.method == "POST" else request.args
    street, _, community = (values.get("area") or "").partition("/")
    if not street:
        return None
    picked = Area(street, community or None)
    reachable = _communities(get_session())
    if picked not in reachable and Area(street) not in {Area(a.street) for a in reachable}:
        abort(404)
    return picked


def _days() -> int:
    days = request.values.get("days", DEFAULT_DAYS, type=int)
    if not 1 <= days <= dormant.MAX_DAYS:
        abort(400, description=f"days: 1 到 {dormant.MAX_DAYS} 天 (1 to {dormant.MAX_DAYS})")
    return days


def _at() -> time:
    try:
        return time.fromisoformat(request.form.get("at", "10:00"))
    except ValueError:
        abort(400, description="at: 请填写每天呼叫的时间，如 10:00 (a time like 10:00)")


# -- wellbeing calls ------------------------------------------------------------------------------
@bp.get("/wellbeing")
@role_required(*ROLES)
def wellbeing_page():
    db = get_session()
    return render_template("programmes/wellbeing.html", schedules=wellbeing.schedules(db, current_user()),
                           communities=_communities(db))


@bp.post("/wellbeing/elder")
@role_required(*ROLES)
def schedule_elder():
    """One elder, by record id (from the elder's page) or resident ID number."""
    db, at = get_session(), _at()
    elder_id = request.form.get("elder_id", type=database_id)
    if elder_id is not None:
        elder = db.get(Elder, elder_id)
        if elder is None or not in_scope(db, current_user(), elder.id):
            abort(404)
    else:
        id_number = request.form.get("id_number", "").strip().upper()
        elder = db.scalar(select(Elder).where(Elder.id_number == id_number, scope_filter(current_user(), Elder.id)))
        if elder is None:
            flash(f"id_number: 本区域没有身份证号为 {id_number[-4:].rjust(len(id_number), '*')} 的老人", "error")
            return redirect(url_for("programmes.wellbeing_page"))
    wellbeing.schedule_call(db, elder, at, _now())
    db.commit()
    flash(f"已安排每天 {at:%H:%M} 给{elder.name}打关爱电话", "success")
    return redirect(url_for("programmes.wellbeing_page"))


@bp.post("/wellbeing/area")
@role_required(*ROLES)
def schedule_area():
    """Everyone who lives alone in the picked street or community (within the account's own area)."""
    db, at = get_session(), _at()
    elders = wellbeing.living_alone(db, current_user(), _picked_area())
    for elder in elders:
        wellbeing.schedule_call(db, elder, at, _now())
    db.commit()
    flash(f"已安排每天 {at:%H:%M} 给 {len(elders)} 位独居老人打关爱电话" if elders else "所选区域没有独居老人", "success")
    return redirect(url_for("programmes.wellbeing_page"))


@bp.post("/wellbeing/<int:schedule_id>/stop")
@role_required(*ROLES)
def stop_schedule(schedule_id: int):
    db = get_session()
    schedule = db.get(wellbeing.WellbeingSchedule, schedule_id)
    if schedule is None or not in_scope(db, current_user(), schedule.elder_id):
        abort(404)
    schedule.is_active = False
    db.commit()
    flash(f"已停止给{schedule.elder.name}打关爱电话", "success")
    return redirect(url_for("programmes.wellbeing_page"))


# -- dormant elders -------------------------------------------------------------------------------
@bp.get("/dormant")
@role_required(*ROLES)
def dormant_page():
    db, days, picked = get_session(), _days(), _picked_area()
    rows = list(dormant.dormant_elders(db, days, _now(), current_user(), picked))
    return render_template("programmes/dormant.html", rows=rows, days=days, communities=_communities(db),
                           picked=picked)


@bp.get("/dormant.csv")
@role_required(*ROLES)
def dormant_csv():
    db, days = get_session(), _days()
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow(dormant.COLUMNS)
    for row in dormant.dormant_elders(db, days, _now(), current_user(), _picked_area()):
        writer.writerow([neutralise(row[c]) for c in dormant.COLUMNS])
    return Response(out.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename=dormant-{days}d.csv"})


@bp.post("/dormant/call")
@role_required(*ROLES)
def call_dormant():
    """Call them: today's wellbeing call to every elder on the list (once a day however often asked);
    an unanswered one reaches the operator queue as any wellbeing alarm does."""
    db, days, now = get_session(), _days(), _now()
    placed = listed = 0
    for row in list(dormant.dormant_elders(db, days, now, current_user(), _picked_area())):
        listed += 1
        placed += wellbeing.call_today(db, db.get(Elder, row["elder_id"]), now)
    db.commit()
    flash(f"已给 {placed} 位老人安排关爱电话" + (f"（{listed - placed} 位今天已安排过）" if listed > placed else ""), "success")
    return redirect(url_for("programmes.dormant_page", days=days, area=request.form.get("area", "")))
