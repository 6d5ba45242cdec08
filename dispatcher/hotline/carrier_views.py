"""Alibaba Cloud's HTTP batch pushes: SMS delivery reports, providers' SMS replies, call reports.

Each push is a JSON array (one request may carry several reports) answered with {"code": 0, ...}; the
carrier checks only that `code` is a number and the HTTP status is 200, and otherwise (or on a
timeout) pushes again after 1, 5 and 10 minutes, then gives up, so a database outage answers 503.
A report may arrive twice: every handler is idempotent. Documented formats:
- SmsUp (上行): phone_number, content, send_time, dest_code, sequence_id
  https://help.aliyun.com/zh/sms/developer-reference/smsup-http
- SmsReport: phone_number, send_time, report_time, success (a JSON boolean), err_code (DELIVERED or
  the operator's code), err_msg, sms_size, biz_id (SendSms's BizId), out_id (our OutId)
  https://help.aliyun.com/zh/sms/developer-reference/smsreport-2 (document_detail/101867)
- VoiceCallReport (呼叫中间状态, during the call): call_id, status_code, dtmf (set when status_code is
  300000), status_time, out_id  https://help.aliyun.com/zh/vms/voicecallreport-7
- VoiceReport (呼叫记录, once the call has ended): call_id, status_code, status_msg, out_id, caller,
  callee, start_time, end_time, duration, dtmf, hangup_direction…
  https://help.aliyun.com/zh/vms/voicereport-6 (HTTP batch push) and
  https://help.aliyun.com/zh/vms/developer-reference/voicereport-1
Both call pushes carry out_id, the OutId we placed the call with (`outbox-<id>`): a report for a
call a crash left unrecorded names its claim, and adopts it (telephony.outbox.adopt_reported).
The pushes carry no signature, so the URL carries a secret (VNH_ALIYUN_CALLBACK_TOKEN) that only
the console's callback settings know; a wrong one is refused with 403 and nothing changes.
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, abort, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from dispatcher.config import Settings
from dispatcher.db import get_session
from dispatcher.hotline import sms
from dispatcher.lifecycle import reviews
from dispatcher.models import CallbackReview
from dispatcher.programmes import wellbeing
from providers.queries import provider_by_phone
from telephony.models import OutboxMessage
from telephony.numbers import caller_e164, mask_phone
from telephony.outbox import adopt_reported, enqueue_call, enqueue_sms, record_status
from telephony.templates import reply_template

bp = Blueprint("carrier", __name__, url_prefix="/telephony/aliyun/<token>")
log = logging.getLogger("vnh.carrier")

ACCEPTED = {"code": 0, "msg": "成功"}
# The carrier's call status codes (运营商回执错误码) in Twilio's words, which the outbox and the
# review and wellbeing machinery already understand ("busy" and "no-answer" are tried again).
# https://help.aliyun.com/zh/vms/developer-reference/operators-receipt-error-code
CALL_STATUS = {
    "200000": "completed",  # heard the whole message
    "200001": "completed",  # hung up before the end
    "200002": "busy",
    "200003": "no-answer",
    "200004": "failed",  # not a valid number
    "200005": "failed",  # could not be reached (the network, or the callee refused)
    "200006": "failed",  # the voice could not be played (a template's format)
    "200007": "failed",  # out of coverage
    "200008": "no-answer",  # answered but pressed no key in time: nobody was reached, try again
    "200010": "failed",  # switched off
    "200011": "failed",  # suspended
    "200117": "failed",  # the show number may not be used (a person must fix the number)
    "200118": "busy",  # the carrier restricts calls at this hour: try again later
    "200121": "busy",  # over the account's concurrent calls: try again
}


@bp.url_value_preprocessor
def _check_token(endpoint, values):
    token = (values or {}).pop("token", "")
    expected = current_app.config.get("ALIYUN_CALLBACK_TOKEN") or ""
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        items = request.get_json(silent=True)
        numbers = [mask_phone(caller_e164(str(i.get("phone_number", "")))) for i in items if isinstance(i, dict)] \
            if isinstance(items, list) else []
        log.warning("aliyun push to %s refused: bad callback token (numbers %s)", endpoint, numbers)
        abort(403)


def _items() -> list[dict]:
    items = request.get_json(silent=True)
    if not isinstance(items, list):
        abort(400, description="expected a JSON array")
    return [item for item in items if isinstance(item, dict)]


def _now():
    return current_app.extensions["vnh.clock"].now()


def _busy():
    return jsonify({"code": 1, "msg": "系统繁忙"}), 503


@bp.post("/sms-report")
def sms_report():
    """Delivery reports move the outbox message forward, as Twilio's status callbacks do."""
    session = get_session()
    try:
        for item in _items():
            delivered = item.get("success") in (True, "true")
            message = record_status(session, str(item.get("biz_id", "")), "delivered" if delivered else "undelivered")
            if message is not None and not delivered:
                message.last_error = f"aliyun {item.get('err_code', '')}: {item.get('err_msg', '')}"[:300]
        session.commit()
    except OperationalError:
        session.rollback()
        return _busy()
    return jsonify(ACCEPTED)


@bp.post("/sms-up")
def sms_up():
    """Providers' replies: the same grammar as by Twilio; each answer goes out as a template SMS."""
    session = get_session()
    settings, policy = Settings(current_app.config), current_app.extensions["vnh.policy"]
    try:
        for item in _items():
            _reply(session, item, settings, policy)
    except OperationalError:
        session.rollback()
        log.exception("aliyun sms-up: database unavailable, the carrier will push again")
        return _busy()
    return jsonify(ACCEPTED)


def _reply(session, item: dict, settings: Settings, policy) -> None:
    sender = caller_e164(str(item.get("phone_number", "")))
    sequence = str(item.get("sequence_id", "")).strip()
    if not sequence:
        log.warning("aliyun sms-up from %s without a sequence_id ignored", mask_phone(sender))
        return
    if provider_by_phone(session, sender) is None:
        # Nobody else may answer offers; an unknown sender changes nothing and gets no SMS back.
        log.warning("aliyun sms-up from unknown number %s refused", mask_phone(sender))
        return
    message_sid = f"smsup-{sequence}"
    for attempt in range(2):
        try:
            reply = sms.handle_inbound_sms(
                session, message_sid=message_sid, sender=sender, to=str(item.get("dest_code", "")),
                body=str(item.get("content", "")), settings=settings, policy=policy, now=_now())
            if reply:
                # Each answer as its own filed template (telephony.templates.REPLY_PURPOSES), never free text.
                purpose, params = reply_template(reply)
                enqueue_sms(session, to=sender, params=params, purpose=purpose,
                            dedupe_key=f"sms-reply:{message_sid}", from_=settings.hotline_number, now=_now())
            session.commit()
            return
        except IntegrityError:
            # The same push delivered twice at once: the other delivery's answer stands.
            session.rollback()
            if attempt:
                raise


@bp.post("/voice-report")
def voice_report():
    """Call reports: the key pressed goes to the review or wellbeing machinery, then the outcome."""
    session = get_session()
    settings = Settings(current_app.config)
    try:
        for item in _items():
            _call_report(session, item, settings, _now())
        session.commit()
    except OperationalError:
        session.rollback()
        return _busy()
    return jsonify(ACCEPTED)


def _call_report(session, item: dict, settings: Settings, now) -> None:
    call_id = str(item.get("call_id", ""))
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.sid == call_id))
    if message is None and call_id:
        # A crash between placing the call and recording it: the report's out_id names the claim.
        message = adopt_reported(session, str(item.get("out_id") or ""), call_id, now)
    if message is None:
        return
    key = str(item.get("dtmf") or "").strip()[:1]
    if key:
        record_status(session, call_id, "answered")
        press_key(session, message, key, settings, now)
    status = CALL_STATUS.get(str(item.get("status_code", "")))
    if status is None:
        return
    record_status(session, call_id, status)
    if message.purpose == "review" and message.review_id is not None:
        reviews.review_call_ended(session, message.review_id, status, settings, now)
    elif message.purpose == "wellbeing":
        wellbeing.wellbeing_call_ended(session, message.dedupe_key, status, settings, now)


def press_key(session, message: OutboxMessage, key: str, settings: Settings, now) -> None:
    """Apply a key pressed on a carrier IVR call as the TwiML review and wellbeing flows do."""
    if message.purpose == "review" and message.review_id is not None:
        review = session.get(CallbackReview, message.review_id)
        if review is None or key not in "012345":
            return
        reviews.record_review_answer(session, review, key != "0", now, settings.review_sample_share,
                                     settings.plan_review_every_days)
        if key != "0":
            reviews.record_review_rating(session, review, int(key), now)
        reviews.refresh_provider_quality(session, review, settings, now)
    elif message.purpose == "wellbeing" and key in ("1", "9"):
        call = session.get(wellbeing.WellbeingCall, wellbeing.call_id_of(message.dedupe_key))
        if call is not None:
            wellbeing.record_wellbeing_answer(session, call, key, settings, now)
            if key == "9":
                transfer_to_operators(session, call, settings, now)


def transfer_to_operators(session, call, settings: Settings, now) -> None:
    """Key 9 on the carrier's IVR: the carrier cannot transfer, so the call centre's switch rings
    the operator desks and, when one answers, the elder (telephony/esl.py)."""
    enqueue_call(session, to=settings.operator_numbers[0], url=settings.url(f"/telephony/bridge/wellbeing/{call.id}"),
                 purpose="emergency_bridge", dedupe_key=f"wellbeing-help-bridge:{call.id}",
                 from_=settings.hotline_number, now=now)
