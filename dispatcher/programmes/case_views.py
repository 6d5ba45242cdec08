"""The supervisor's page for one case (issue 19): what `GET /supervisor/cases/<id>` shows. The route
is dispatcher.consoles.views.supervisor_act, whose POST takes the actions: one rule for the address,
so an id out of range is a plain 404 whatever the method."""

from __future__ import annotations

from flask import abort, current_app, render_template

from dispatcher.clock import local
from dispatcher.consoles.auth import current_user
from dispatcher.consoles.scope import task_in_scope
from dispatcher.db import get_session
from dispatcher.lifecycle.proof import METHOD_NAMES
from dispatcher.models import OperatorTask
from dispatcher.programmes import cases


def case_page(task_id: int):
    """The case page, for a supervisor (the caller checked the role); 404 outside their area."""
    db = get_session()
    task = db.get(OperatorTask, task_id)
    if task is None or not task_in_scope(db, current_user(), task):
        abort(404)
    return render_template("supervisor_case.html", facts=cases.case_facts(db, task), cv=cases, local=local,
                           methods=METHOD_NAMES, now=current_app.extensions["vnh.clock"].now())
