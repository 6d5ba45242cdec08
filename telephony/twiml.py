"""TwiML responses built with twilio.twiml, in Mandarin."""

from __future__ import annotations

from flask import Response
from twilio.twiml.voice_response import VoiceResponse

LANGUAGE = "zh-CN"


def twiml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


def say(node, text: str, voice: str | None = None) -> None:
    """Speak `text` in Mandarin with the configured voice."""
    if voice:
        node.say(text, language=LANGUAGE, voice=voice)
    else:
        node.say(text, language=LANGUAGE)
