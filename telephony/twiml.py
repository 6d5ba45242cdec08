"""TwiML responses built with twilio.twiml, in Mandarin, as Twilio documents them.

- Speech recognition: `<Gather language="cmn-Hans-CN">`, Mandarin (Simplified, China), as Twilio's
  SDK and its speech-recognition language list name it; `zh-CN` is not on that list.
- Text to speech: always a named Mandarin voice (VNH_TTS_VOICE, `Polly.Zhiyu` by default), with
  the language that voice is documented for, never a bare language that leaves Twilio to pick one.
"""

from __future__ import annotations

from flask import Response
from twilio.twiml.voice_response import VoiceResponse

# <Gather> speech recognition language.
LANGUAGE = "cmn-Hans-CN"
DEFAULT_VOICE = "Polly.Zhiyu"
# Amazon's and Google's Mandarin voices are named for cmn-CN; Twilio's basic voices for zh-CN.
_NEURAL_LANGUAGE = "cmn-CN"
_BASIC_LANGUAGE = "zh-CN"
# Neural voices read SSML; Twilio's basic voices ignore it, so prosody is only added for these.
_SSML_VOICES = ("Polly.", "Google.")


def twiml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


def say(node, text: str, voice: str | None = None, rate: str = "90%") -> None:
    """Speak `text` in Mandarin with a named voice, slowly where the voice supports SSML prosody."""
    voice = voice or DEFAULT_VOICE
    if voice.startswith(_SSML_VOICES):
        spoken = node.say(language=_NEURAL_LANGUAGE, voice=voice)
        spoken.prosody(text, rate=rate)
        return
    node.say(text, language=_BASIC_LANGUAGE, voice=voice)
