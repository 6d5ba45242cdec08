"""TwiML responses built with twilio.twiml, in Mandarin."""

from __future__ import annotations

from flask import Response
from twilio.twiml.voice_response import VoiceResponse

LANGUAGE = "zh-CN"
# Neural voices read SSML; Twilio's basic voices ignore it, so prosody is only added for these.
_SSML_VOICES = ("Polly.", "Google.")


def twiml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


def say(node, text: str, voice: str | None = None, rate: str = "90%") -> None:
    """Speak `text` in Mandarin, slowly where the configured voice supports SSML prosody."""
    if not voice:
        node.say(text, language=LANGUAGE)
        return
    if voice.startswith(_SSML_VOICES):
        # Amazon's and Google's Mandarin voices are named for cmn-CN.
        spoken = node.say(language="cmn-CN", voice=voice)
        spoken.prosody(text, rate=rate)
        return
    node.say(text, language=LANGUAGE, voice=voice)
