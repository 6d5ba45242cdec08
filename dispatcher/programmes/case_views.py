"""The supervisor's page for one case (issue 19): `/supervisor/cases/<id>` (GET; the actions post to
the same address, handled in dispatcher.consoles.views)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template

from dispatcher.clock import local
from dispatcher.consoles.auth import current_user, role_required
from dispatcher.consoles.scope import task_in_scope
from dispatcher.db import get_session
from dispatcher.lifecycle.proof import METHOD_NAMES
from dispatcher.models import OperatorTask
from dispatcher.programmes import cases
from dispatcher.programmes.supervision import SUPERVISOR_KINDS

bp = Blueprint("cases", __name__)


@bp.get("/supervisor/cases/<int:task_id>")
@role_required("supervisor")
def case(task_id: int):
    db = get_session()
    task = db.get(OperatorTask, task_id)
    if task is None or task.kind not in SUPERVISOR_KINDS or not task_in_scope(db, current_user(), task):
        abort(404)
    return render_template("supervisor_case.html", facts=cases.case_facts(db, task), cv=cases, local=local,
                           methods=METHOD_NAMES, now=current_app.extensions["vnh.clock"].now())
