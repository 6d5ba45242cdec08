"""The hotline for the call centre's FreeSWITCH: mod_httapi fetches each step of a call from here.

The first request (the profile's gateway-url, /telephony/switch/call) starts the call; every
document names the next URL (`action`, with `?seq=`), as the TwiML's action/Redirect URLs do, and
the answers are stored per (call, seq) by the same Hotline, so a request sent again is answered
the same. What the switch posts (signalwire/freeswitch, mod_httapi.c httapi_sync and
httapi_function): `session_id` (the channel's UUID, our call id), the caller profile as `Caller-*`
fields (`Caller-Caller-ID-Number`), `url`, the keys in the param a tag `name`s, and once the call
has hung up one last request with `exiting=true`. The switch authenticates with HTTP basic auth
from its profile's `gateway-credentials` (docs/mod_httapi_doc.txt); the password must be
VNH_SWITCH_SECRET.

Voicemail: `<record file="voicemail.wav" name="recording">` "records a file ... and posts the file
back to the target url" (docs/mod_httapi_doc.txt). mod_httapi.c parse_record adds it to the next
request as the param `attach_file:recording:voicemail.wav`, which switch_curl_process_form_post_params
turns into a multipart/form-data POST with a file part named `recording` (filename voicemail.wav)
beside the usual params: on the action URL when the caller ends the message with a key or the limit,
on the `exiting=true` request when they hang up. It is kept as a CallRecording and the operator plays
it at /telephony/switch/recordings/<id> (signed-in operators and supervisors only).
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, abort, current_app, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from dispatcher.config import Settings
from dispatcher.consoles.auth import role_required
from dispatcher.db import get_session
from dispatcher.hotline.call_state import record_call_status
from dispatcher.hotline.flow import Hotline, Turn
from dispatcher.hotline.httapi import (
    DIGITS_PARAM,
    SwitchSettings,
    goodbye_document,
    render_document,
)
from dispatcher.models import HotlineCall
from telephony.models import CallRecord, CallRecording
from telephony.numbers import caller_e164, mask_phone
from telephony.outbox import STATUS_RANK

bp = Blueprint("switch", __name__, url_prefix="/telephony/switch")
# The file part a <record name="recording"> upload arrives in (httapi.render_document).
RECORDING_PARAM = "recording"
# 120 s of 16-bit audio at 16 kHz is under 4 MB; the app refuses bodies over 5 MB anyway.
MAX_RECORDING_BYTES = 4 * 1024 * 1024
log = logging.getLogger("vnh.hotline.switch")
# Steps whose outcome arrives as the switch's next request: a bridge or a recording ended.
ENDS_ON_HANGUP = ("dialling", "voicemail")


@bp.before_request
def _authenticate():
    if request.endpoint == "switch.recording":
        return None  # staff, signed in to the console: role_required checks them
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
    turn = Turn(digits=values.get(DIGITS_PARAM, ""), dial_status="completed" if exiting else "no-answer",
                recording_url=_keep_recording(call_id))
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
    record_call_status(session, call_id, "", "completed")  # the operator's desk: the call has ended
    record = session.scalar(select(CallRecord).where(CallRecord.call_sid == call_id))
    if record is not None and STATUS_RANK.get("completed", 0) > STATUS_RANK.get(record.status, -1):
        record.status, record.updated_at = "completed", _now()
    session.commit()
    # The switch ignores the answer to its last request (mod_httapi.c my_on_reporting).
    return current_app.response_class("OK", mimetype="text/plain")


def _keep_recording(call_id: str) -> str:
    """Store the voicemail a request carries (once per call); return the path that plays it, or ""."""
    upload = request.files.get(RECORDING_PARAM)
    if upload is None:
        return ""
    audio = upload.read(MAX_RECORDING_BYTES + 1)
    if not audio or len(audio) > MAX_RECORDING_BYTES:
        log.warning("switch %s: voicemail of %d bytes not kept (empty or over %d)", call_id, len(audio),
                    MAX_RECORDING_BYTES)
        return ""
    session = get_session()
    try:
        recording = session.scalar(select(CallRecording).where(CallRecording.call_sid == call_id))
        if recording is None:
            recording = CallRecording(call_sid=call_id, content_type=_audio_type(upload), audio=audio,
                                      size_bytes=len(audio), created_at=_now())
            session.add(recording)
            session.commit()
    except IntegrityError:
        # The same upload delivered twice at once: the first copy stands.
        session.rollback()
        recording = session.scalar(select(CallRecording).where(CallRecording.call_sid == call_id))
    return url_for("switch.recording", recording_id=recording.id)


def _audio_type(upload) -> str:
    kind = (upload.mimetype or "").lower()
    return kind if kind.startswith("audio/") else "audio/wav"


@bp.get("/recordings/<int:recording_id>")
@role_required("operator", "supervisor")
def recording(recording_id: int):
    """Play a voicemail the switch recorded, as the console's 听留言 link does for Twilio's."""
    found = get_session().get(CallRecording, recording_id)
    if found is None:
        abort(404)
    response = current_app.response_class(found.audio, mimetype=found.content_type)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _now():
    return current_app.extensions["vnh.clock"].now()
