"""The operator's desk (issue 19): a transferred call's card as a page, voicemail played through the
app, and the template filters that write data the way staff read it."""

from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, render_template
from sqlalchemy import select

from dispatcher.consoles import desk
from dispatcher.consoles.auth import current_user, role_required
from dispatcher.db import get_session

bp = Blueprint("desk", __name__)
CONSOLE_ROLES = ("operator", "supervisor")
# A voicemail the call centre's switch recorded is kept in the database and named by this path.
SWITCH_RECORDING = re.compile(r"^/telephony/switch/recordings/(\d+)$")


def _now():
    return current_app.extensions["vnh.clock"].now()


@bp.app_template_filter("phone_cn")
def phone_cn(number: str | None) -> str:
    """A number as staff write it, masked for roles that must not read it in full."""
    from dispatcher.consoles.operator import phone_for

    user = current_user()
    return phone_for(user.role if user else "", number)


@bp.app_template_global()
def takes_sms(number: str | None) -> bool:
    """Whether a number can receive SMS (a mobile); a landline is told by a short call instead."""
    from telephony.numbers import is_mobile

    return bool(number) and is_mobile(number)


@bp.app_template_filter("age")
def age(birth) -> str:
    return desk.age_in_years(birth, _now())


@bp.app_template_global()
def ranking_words(reasons, nearest: bool = False) -> str:
    return desk.ranking_words(reasons, nearest)


@bp.app_template_global()
def waited_until(moment) -> str:
    return desk.remaining(moment, _now())


@bp.app_template_global()
def close_outcomes() -> tuple[str, ...]:
    return desk.OUTCOMES


@bp.get("/console/transfers/<int:task_id>")
@role_required(*CONSOLE_ROLES)
def transfer_page(task_id: int):
    """A transferred call's card on a page of its own: where the desk's list of waiting calls leads."""
    from dispatcher.consoles import operator as c
    from dispatcher.consoles.views import _task_or_404, caller_card

    db = get_session()
    task = _task_or_404(db, task_id)
    return render_template("console/transfer.html", task=task, card=caller_card(db, task), c=c)


@bp.get("/console/tasks/<int:task_id>/recording")
@role_required(*CONSOLE_ROLES)
def task_recording(task_id: int):
    """A voicemail, fetched by the app with the operator's session (the browser never holds the
    network's credentials): the switch's from the database, Twilio's through the telephony port."""
    from dispatcher.consoles.views import _task_or_404
    from telephony.models import CallRecording

    db = get_session()
    task = _task_or_404(db, task_id)
    url = (task.recording_url or "").strip()
    if not url:
        abort(404)
    switch = SWITCH_RECORDING.match(url)
    if switch:
        found = db.get(CallRecording, int(switch.group(1)))
        if found is None:
            found = db.scalar(select(CallRecording).where(CallRecording.call_sid == task.call_sid))
        if found is None:
            abort(404)
        audio, content_type = found.audio, found.content_type
    else:
        fetch = getattr(current_app.extensions["vnh.telephony"], "fetch_recording", None)
        try:
            fetched = fetch(url) if fetch is not None else None
        except ValueError:
            fetched = None
        if fetched is None:
            abort(404)
        audio, content_type = fetched
    response = current_app.response_class(audio, mimetype=content_type)
    response.headers["Cache-Control"] = "private, no-store"
    return response
