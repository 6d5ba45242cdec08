"""The hotline for the call centre's FreeSWITCH: mod_httapi fetches each step of a call from here.

The first request (the profile's gateway-url, /telephony/switch/call) starts the call; every
document names the next URL (`action`, with `?seq=`), as the TwiML's action/Redirect URLs do, and
the answers are stored per (call, seq) by the same Hotline, so a request sent again is answered
the same. What the switch posts (signalwire/freeswitch, mod_httapi.c httapi_sync and
httapi_function): `session_id` (the channel's UUID, our call id), the caller profile as `Caller-*`
fields (`Caller-Caller-ID-Number`), `url`, the keys in the param a tag `name`s, and once the call
has hung up one last request with `exiting=true` (a recording made by <record> rides on it as a
file). The switch authenticates with HTTP basic auth from its profile's `gateway-credentials`
(docs/mod_httapi_doc.txt); the password must be VNH_SWITCH_SECRET.
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, abort, current_app, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from dispatcher.config import Settings
from dispatcher.db import get_session
from dispatcher.hotline.flow import Hotline, Turn
from dispatcher.hotline.httapi import (
    DIGITS_PARAM,
    SwitchSettings,
    goodbye_document,
    render_document,
)
from dispatcher.models import HotlineCall
from telephony.models import CallRecord
from telephony.numbers import caller_e164, mask_phone
from telephony.outbox import STATUS_RANK

bp = Blueprint("switch", __name__, url_prefix="/telephony/switch")
log = logging.getLogger("vnh.hotline.switch")
# Steps whose outcome arrives as the switch's next request: a bridge or a recording ended.
ENDS_ON_HANGUP = ("dialling", "voicemail")


@bp.before_request
def _authenticate():
    secret = current_app.config.get("SWITCH_SECRET") or ""
    if not secret:
        abort(404)
    auth = request.authorization
    given = (auth.password or "") if auth is not None and auth.type == "basic" else ""
    if not hmac.compare_digest(given.encode(), secret.encode()):
        log.warning("switch request refused: bad or missing credentials from %s", request.remote_addr)
        abort(403)


def _xml(body: str):
    # httapi_function parses only a text/xml answer; anything else ends the application.
    return current_app.response_class(body, mimetype="text/xml")


@bp.route("/call", methods=["GET", "POST"])
def call():
    """Answer one fetch of FreeSWITCH's httapi application (GET or POST, as its profile says)."""
    values = request.values
    switch = SwitchSettings.from_config(current_app.config)
    call_id = values.get("session_id", "").strip()
    if not call_id or len(call_id) > 64:
        return _xml(goodbye_document("抱歉，系统暂时无法处理，请稍后再拨。", switch))
    seq = request.args.get("seq", default=0, type=int)
    caller = caller_e164(values.get("Caller-Caller-ID-Number", ""))
    exiting = values.get("exiting", "").lower() == "true"
    # Back at the bridge's action with the caller still on the line: nobody took the call
    # (continue_on_fail); once the caller hung up (exiting) it was the end of the conversation.
    turn = Turn(digits=values.get(DIGITS_PARAM, ""), dial_status="completed" if exiting else "no-answer")
    log.info("switch %s turn %s from %s%s", call_id, seq, mask_phone(caller), " (hung up)" if exiting else "")
    operators = Settings(current_app.config).operator_numbers

    def render(reply, next_seq):
        action = url_for("switch.call", seq=next_seq, _external=True)
        return render_document(reply, action, switch, operators)

    if exiting:
        return _hung_up(call_id, caller, seq, turn, render)
    try:
        return _xml(_respond(call_id, caller, seq, turn, render))
    except OperationalError:
        log.exception("switch %s turn %s: database unavailable, answered the safe goodbye", call_id, seq)
        return _xml(goodbye_document("抱歉，系统繁忙。我们已记下您的来电，会尽快给您回电。再见。", switch))


def _respond(call_id: str, caller: str, seq: int, turn: Turn, render) -> str:
    """The Hotline's answer to turn `seq`, computed once (a copy delivered at once gets the same)."""
    settings = Settings(current_app.config)
    for attempt in range(2):
        session = get_session()
        try:
            catalogue = current_app.extensions["vnh.catalogue"].get(session)
            hotline = Hotline(session, settings, current_app.extensions["vnh.policy"], _now(), catalogue,
                              speech=False)
            body = hotline.respond(call_id, caller, seq, turn, render, expect_new=seq == 0 and attempt == 0)
            session.commit()
            return body
        except IntegrityError:
            session.rollback()
            if attempt:
                raise
        except OperationalError:
            session.rollback()
            raise
    raise AssertionError("unreachable")


def _hung_up(call_id: str, caller: str, seq: int, turn: Turn, render):
    """The call is over: settle a bridge or a voicemail still waiting for its outcome, record the end."""
    session = get_session()
    step = session.scalar(select(HotlineCall.step).where(HotlineCall.call_sid == call_id))
    if step in ENDS_ON_HANGUP:
        # The flow opens the voicemail's callback task here; what it answers is never played.
        _respond(call_id, caller, seq, turn, render)
    record = session.scalar(select(CallRecord).where(CallRecord.call_sid == call_id))
    if record is not None and STATUS_RANK.get("completed", 0) > STATUS_RANK.get(record.status, -1):
        record.status, record.updated_at = "completed", _now()
    session.commit()
    # The switch ignores the answer to its last request (mod_httapi.c my_on_reporting).
    return current_app.response_class("OK", mimetype="text/plain")


def _now():
    return current_app.extensions["vnh.clock"].now()
