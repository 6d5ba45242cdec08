"""The short call that tells an elder without a mobile who is coming and when (TwiML)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app
from twilio.twiml.voice_response import VoiceResponse

from dispatcher.config import Settings
from dispatcher.db import get_session
from dispatcher.lifecycle.visits import visit_words
from dispatcher.models import Order
from providers.models import Provider
from telephony.signature import twilio_signed
from telephony.twiml import say, twiml

bp = Blueprint("visit_calls", __name__, url_prefix="/telephony/visit")


@bp.post("/<int:order_id>/<kind>")
@twilio_signed
def visit_call(order_id: int, kind: str):
    if kind not in ("notice", "reminder"):
        abort(404)
    session = get_session()
    order = session.get(Order, order_id)
    if order is None:
        abort(404)
    settings = Settings(current_app.config)
    response = VoiceResponse()
    provider = session.get(Provider, order.provider_id) if order.provider_id else None
    if provider is None:
        say(response, "您好，这里是虚拟养老院。您的服务安排有变动，话务员会与您联系。", settings.voice, settings.speech_rate)
    else:
        words = visit_words(kind, order, provider.name, current_app.extensions["vnh.clock"].now())
        # Said twice: an elder picking up slowly misses the start.
        for _ in range(2):
            say(response, words, settings.voice, settings.speech_rate)
            response.pause(length=1)
    response.hangup()
    return twiml(response)
