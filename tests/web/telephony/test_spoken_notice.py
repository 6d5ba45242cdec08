"""The spoken-notice call's TwiML: signed like every Twilio webhook, the outbox row's words read twice."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from twilio.request_validator import RequestValidator

from telephony.outbox import enqueue_notice, enqueue_sms

LANDLINE = "+869318765432"
BASE = "http://localhost"
PARAMS = {"contact_name": "王小明", "elder_name": "王秀英", "time": "09:30"}


def _notice(app, session, clock, to=LANDLINE, key="emergency:1"):
    message = enqueue_notice(session, to=to, purpose="emergency_contact", params=PARAMS, dedupe_key=key,
                             from_=app.config["HOTLINE_NUMBER"], now=clock.now(), public_url=BASE)
    session.commit()
    return message


def _post(app, path, form, signature="valid"):
    headers = {}
    if signature == "valid":
        headers["X-Twilio-Signature"] = RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature(
            BASE + path, form)
    elif signature:
        headers["X-Twilio-Signature"] = signature
    return app.test_client().post(path, data=form, headers=headers)


FORM = {"CallSid": "CA" + "1" * 32, "From": "+869312345678", "To": LANDLINE,
        "CallStatus": "in-progress", "Direction": "outbound-api"}


def test_a_signed_request_gets_the_words_twice_then_a_hangup(app, session, clock):
    message = _notice(app, session, clock)

    response = _post(app, f"/telephony/spoken/{message.id}", FORM)

    assert response.status_code == 200 and response.mimetype == "text/xml"
    root = ET.fromstring(response.get_data(as_text=True))
    said = ["".join(node.itertext()) for node in root.iter("Say")]
    assert said == [message.body, message.body]
    assert said[0].startswith("这里是虚拟养老院。王小明您好，王秀英于09:30拨打热线")
    assert root[-1].tag == "Hangup"


def test_an_unsigned_or_badly_signed_request_is_refused(app, session, clock):
    message = _notice(app, session, clock)
    assert _post(app, f"/telephony/spoken/{message.id}", FORM, signature=None).status_code == 403
    assert _post(app, f"/telephony/spoken/{message.id}", FORM, signature="bad").status_code == 403


def test_a_replayed_request_answers_the_same(app, session, clock):
    message = _notice(app, session, clock)
    first = _post(app, f"/telephony/spoken/{message.id}", FORM).get_data(as_text=True)
    assert _post(app, f"/telephony/spoken/{message.id}", FORM).get_data(as_text=True) == first


def test_only_a_spoken_notice_call_can_be_read_out(app, session, clock):
    sms = enqueue_sms(session, to="+8613700000001", purpose="emergency_contact", params=PARAMS,
                      dedupe_key="sms:1", from_=app.config["HOTLINE_NUMBER"], now=clock.now())
    session.commit()
    assert _post(app, f"/telephony/spoken/{sms.id}", FORM).status_code == 404
    assert _post(app, "/telephony/spoken/999999", FORM).status_code == 404
