"""Twilio webhooks of the hotline: the inbound call flow, provider SMS, and review calls."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, request, url_for
from sqlalchemy.exc import IntegrityError, OperationalError
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse

from dispatcher.config import Settings
from dispatcher.db import get_session
from dispatcher.hotline import review_call, sms
from dispatcher.hotline import wellbeing_call as wellbeing_call_flow
from dispatcher.hotline.call_state import LEG_EVENTS
from dispatcher.hotline.flow import Hotline, Reply, Turn
from dispatcher.lifecycle import tasks
from telephony import templates
from telephony.numbers import caller_e164
from telephony.signature import twilio_signed
from telephony.twiml import LANGUAGE, say, twiml

bp = Blueprint("hotline", __name__, url_prefix="/telephony")
log = logging.getLogger("vnh.hotline")
# The turns of one call are numbered from 0 (stored in a 32-bit column); no call comes near this.
MAX_TURN = 9999


def _now():
    return current_app.extensions["vnh.clock"].now()


def render_reply(reply: Reply, next_seq: int, settings: Settings) -> str:
    """Turn a Reply into TwiML whose next step is `/telephony/voice?seq=next_seq`."""
    response = VoiceResponse()
    action = url_for("hotline.incoming_call", seq=next_seq)

    def speak(node, text):
        say(node, text, settings.voice, settings.speech_rate)

    if reply.gather:
        options = {"num_digits": reply.digits} if reply.digits else {"finish_on_key": "#"}
        gather = Gather(input="dtmf speech" if reply.speech else "dtmf", language=LANGUAGE,
                        action=action, method="POST", timeout=6, speech_timeout="auto",
                        hints=",".join(reply.hints) or None, **options)
        for line in reply.say:
            speak(gather, line)
        response.append(gather)
        # No key and no speech: Twilio falls through to here, and the flow counts the silence.
        response.redirect(action, method="POST")
        return str(response)
    for line in reply.say:
        speak(response, line)
    if reply.dial:
        dial = response.dial(action=action, method="POST", timeout=25)
        # The operator's leg reports ringing, answered and completed: the desk shows the call's state.
        leg_status = settings.url(url_for("telephony.call_status"))
        for number in reply.dial:
            dial.number(number, status_callback=leg_status, status_callback_event=LEG_EVENTS,
                        status_callback_method="POST")
        return str(response)
    if reply.record:
        response.record(action=action, method="POST", max_length=120, timeout=5, play_beep=True,
                        finish_on_key="#")
        return str(response)
    response.hangup()
    return str(response)


@bp.post("/voice")
@twilio_signed
def incoming_call():
    form = request.form
    call_sid = form.get("CallSid", "").strip()
    if not call_sid:
        response = VoiceResponse()
        say(response, "抱歉，系统暂时无法处理，请稍后再拨。")
        response.hangup()
        return twiml(response)
    settings = Settings(current_app.config)
    seq = request.args.get("seq", default=0, type=int)
    if not 0 <= seq <= MAX_TURN:  # Twilio follows only the URLs the app gave it; this one was made up
        abort(404)
    turn = Turn(digits=form.get("Digits", ""), speech=form.get("SpeechResult", ""),
                confidence=form.get("Confidence", type=float), dial_status=form.get("DialCallStatus", ""),
                recording_url=form.get("RecordingUrl", ""))
    caller = caller_e164(form.get("From", ""))
    log.info("voice %s turn %s from %s", call_sid, seq, caller)
    for attempt in range(2):
        session = get_session()
        try:
            catalogue = current_app.extensions["vnh.catalogue"].get(session)
            hotline = Hotline(session, settings, current_app.extensions["vnh.policy"], _now(), catalogue)
            body = hotline.respond(call_sid, caller, seq, turn,
                                   lambda r, n: render_reply(r, n, settings),
                                   expect_new=seq == 0 and attempt == 0)
            talk = form.get("DialCallDuration", type=int)
            if turn.dial_status == "completed" and talk is not None:
                tasks.record_answer(session, call_sid=call_sid, ended_at=hotline.now, talk_seconds=talk)
            session.commit()
            return current_app.response_class(body, mimetype="text/xml")
        except IntegrityError:
            # The same webhook delivered twice (at once, or a call's first webhook again): the
            # other delivery's answer stands.
            session.rollback()
            if attempt:
                raise
        except OperationalError:
            session.rollback()
            log.exception("voice %s turn %s: database unavailable, answered the safe goodbye", call_sid, seq)
            return twiml(_safe_goodbye())
    raise AssertionError("unreachable")


def _safe_goodbye() -> VoiceResponse:
    response = VoiceResponse()
    say(response, "抱歉，系统繁忙。我们已记下您的来电，会尽快给您回电。再见。")
    response.hangup()
    return response


@bp.post("/sms")
@twilio_signed
def incoming_sms():
    session = get_session()
    form = request.form
    try:
        try:
            reply = _inbound_sms(session, form)
        except IntegrityError:
            # The same SMS delivered twice at once: answer what the first delivery answered.
            session.rollback()
            reply = _inbound_sms(session, form)
    except OperationalError:
        session.rollback()
        log.exception("sms %s: database unavailable", form.get("MessageSid", ""))
        # Twilio does not retry an SMS webhook that answered; the provider is asked to resend.
        reply = templates.render("reply_busy", {})
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return twiml(response)


def _inbound_sms(session, form) -> str:
    reply = sms.handle_inbound_sms(
        session, message_sid=form.get("MessageSid") or form.get("SmsSid") or "",
        sender=caller_e164(form.get("From", "")), to=form.get("To", ""), body=form.get("Body", ""),
        settings=Settings(current_app.config), policy=current_app.extensions["vnh.policy"], now=_now(),
    )
    session.commit()
    return reply


@bp.post("/review/<int:review_id>")
@twilio_signed
def review(review_id: int):
    session = get_session()
    step = request.args.get("step", "ask")
    tries = request.args.get("try", default=0, type=int)
    response = review_call.respond(
        session, review_id, step=step, tries=tries, digits=request.form.get("Digits", ""),
        url=lambda **args: url_for("hotline.review", review_id=review_id, **args),
        voice=Settings(current_app.config).voice, now=_now(), settings=Settings(current_app.config),
        answered_by=request.form.get("AnsweredBy", ""), recording_url=request.form.get("RecordingUrl", ""),
    )
    session.commit()
    return twiml(response)


@bp.post("/wellbeing/<int:call_id>")
@twilio_signed
def wellbeing_call(call_id: int):
    session = get_session()
    response = wellbeing_call_flow.respond(
        session, call_id, step=request.args.get("step", ""), digits=request.form.get("Digits", ""),
        answered_by=request.form.get("AnsweredBy", ""),
        url=lambda **args: url_for("hotline.wellbeing_call", call_id=call_id, **args),
        settings=Settings(current_app.config), now=_now(),
    )
    session.commit()
    return twiml(response)


@bp.post("/bridge/<int:task_id>")
@twilio_signed
def bridge(task_id: int):
    """The supervisor answered their phone: connect them to the elder of the case."""
    from dispatcher.models import OperatorTask
    from dispatcher.programmes.supervision import elder_number

    session = get_session()
    settings = Settings(current_app.config)
    response = VoiceResponse()
    task = session.get(OperatorTask, task_id)
    number = elder_number(session, task) if task is not None else None
    if number is None:
        say(response, "没有找到老人的电话。", settings.voice, settings.speech_rate)
        response.hangup()
    else:
        say(response, "正在为您接通老人。", settings.voice, settings.speech_rate)
        response.dial(number, caller_id=settings.hotline_number, timeout=30)
    return twiml(response)
