"""Status callbacks from Twilio, and the local simulator's outbox."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from sqlalchemy import select

from dispatcher.db import get_session
from telephony.models import CallRecord, OutboxMessage
from telephony.outbox import STATUS_RANK, record_status, status_words
from telephony.signature import twilio_signed

bp = Blueprint("telephony", __name__, url_prefix="/telephony")
simulator_bp = Blueprint("simulator", __name__, url_prefix="/simulator", template_folder="templates")


@bp.post("/status/sms")
@twilio_signed
def sms_status():
    session = get_session()
    sid = request.form.get("MessageSid") or request.form.get("SmsSid") or ""
    record_status(session, sid, request.form.get("MessageStatus", ""))
    session.commit()
    return "", 204


@bp.post("/status/call")
@twilio_signed
def call_status():
    session = get_session()
    sid = request.form.get("CallSid", "")
    status = request.form.get("CallStatus", "")
    message = record_status(session, sid, status)
    answered_by = request.form.get("AnsweredBy", "")
    _hotline_call_status(session, sid, request.form.get("ParentCallSid", ""), status)
    if message is not None and message.purpose in ("review", "wellbeing"):
        if answered_by.startswith("machine") or answered_by == "fax":
            # Asynchronous answering-machine detection's verdict: a voicemail is not the elder.
            _call_to_elder_ended(session, message, "voicemail")
        elif status:
            _call_to_elder_ended(session, message, status)
    record = session.scalar(select(CallRecord).where(CallRecord.call_sid == sid))
    if record is not None and STATUS_RANK.get(status, -1) > STATUS_RANK.get(record.status, 0):
        record.status = status
        record.updated_at = current_app.extensions["vnh.clock"].now()
        duration = request.form.get("CallDuration", "")
        if duration.isdigit():
            record.duration_s = int(duration)
    session.commit()
    return "", 204


def _hotline_call_status(session, sid: str, parent_sid: str, status: str) -> None:
    """A call handed to an operator: ringing, talking or ended, for the operator's desk."""
    from dispatcher.hotline.call_state import record_call_status

    record_call_status(session, sid, parent_sid, status)


def _call_to_elder_ended(session, message, status: str) -> None:
    """Tell the review or wellbeing machinery how its call ended, so it can try again."""
    from dispatcher.config import Settings
    from dispatcher.lifecycle.reviews import review_call_ended
    from dispatcher.programmes.wellbeing import wellbeing_call_ended

    settings, now = Settings(current_app.config), current_app.extensions["vnh.clock"].now()
    if message.purpose == "review":
        review_call_ended(session, message.review_id, status, settings, now)
    else:
        wellbeing_call_ended(session, message.dedupe_key, status, settings, now)


@bp.post("/spoken/<int:message_id>")
@twilio_signed
def spoken_notice(message_id: int):
    """The TwiML of a spoken-notice call: a landline is told what a mobile would have read.

    The words are the outbox row's own (the SMS template said aloud), read twice, since an
    elder or a relative picking up slowly misses the start.
    """
    from twilio.twiml.voice_response import VoiceResponse

    from telephony.twiml import say, twiml

    message = get_session().get(OutboxMessage, message_id)
    if message is None or message.kind != "call" or not message.template_code or not message.body:
        abort(404)
    response = VoiceResponse()
    for _ in range(2):
        say(response, message.body, current_app.config.get("VOICE") or None,
            current_app.config.get("SPEECH_RATE") or "90%")
        response.pause(length=1)
    response.hangup()
    return twiml(response)


@simulator_bp.get("/outbox")
def outbox():
    """Every SMS and call the app has sent, newest last."""
    after = request.args.get("after", 0, type=int)
    messages = get_session().scalars(select(OutboxMessage).where(OutboxMessage.id > after)
                                     .order_by(OutboxMessage.id))
    return jsonify([_outbox_json(m) for m in messages])


def _outbox_json(message: OutboxMessage) -> dict:
    data = {
        "id": message.id,
        "kind": message.kind,
        "to": message.to_number,
        "from": message.from_number,
        "status": message.status,
        "status_text": status_words(message.status),
        # The SID the network gave it: Twilio's status callbacks name the call or SMS by it.
        "sid": message.sid,
        "purpose": message.purpose,
        "created_at": message.created_at.isoformat(),
    }
    if message.kind == "sms":
        data["body"] = message.body
    else:
        data["url"] = message.url
    return data


@simulator_bp.get("")
def simulator_page():
    """A phone in the browser: call the hotline, press keys, read SMS, answer the app's calls."""
    return render_template("simulator.html", hotline=current_app.config["HOTLINE_NUMBER"])


@simulator_bp.post("/api/post")
def simulator_post():
    """Post one webhook for the page, signed as Twilio signs it, and return the app's answer."""
    from telephony.simulator import FlaskTransport, Phone

    payload = request.get_json(silent=True) or {}
    url, form = payload.get("url"), payload.get("form")
    if not isinstance(url, str) or not url.startswith("/telephony/") or not isinstance(form, dict):
        abort(400, description="url must be a /telephony/ path and form an object")
    phone = Phone(FlaskTransport(current_app.test_client()), current_app.config["TWILIO_AUTH_TOKEN"],
                  current_app.config["HOTLINE_NUMBER"])
    status, body = phone.post(url, {str(k): str(v) for k, v in form.items()})
    return jsonify({"status": status, "body": body})
