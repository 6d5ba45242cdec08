"""The hotline's replies as FreeSWITCH mod_httapi documents: the call centre's switch plays TwiML's part.

Read in signalwire/freeswitch, src/mod/applications/mod_httapi/:
- docs/mod_httapi_doc.txt: a response is `<document type="xml/freeswitch-httapi">` holding a required
  `<work>` of tags run in order: `<speak engine voice name action input-timeout digit-timeout>` (text to
  speech), `<pause milliseconds>`, `<record file name limit action>`, `<execute application data
  action>`, `<hangup cause>`; a tag that collects keys holds `<bind strip>EXPR</bind>` children.
- mod_httapi.c, parse_common: a tag's `action` becomes the URL of the next request as soon as the tag
  runs. parse_playback: keys matching a bind (a leading `~` makes EXPR a regular expression) are
  posted on the next request as the tag's `name`, with `input_type=dtmf`, and end the tag;
  `input-timeout` is the wait after the prompt, `digit-timeout` the wait between keys. With no key
  the work simply ends and the switch fetches the action URL again without digits — exactly what
  Twilio's `<Redirect>` after a `<Gather>` does, so the flow counts the silence the same way.
- mod_dptools.c, audio_bridge_function: a failed `bridge` hangs the caller up unless the channel has
  `continue_on_fail=true`; with it the work goes on and the switch fetches the action URL, which is
  how the flow learns that no operator answered (README: the dialplan sets it).

Speech recognition: httapi only detects speech in `<playback asr-engine asr-grammar>` of a recorded
file and posts the engine's raw result (NLSML for unimrcp); the hotline does not read that yet, so
on the switch callers use keys only, and the flow is told not to invite speech.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import phonenumbers

from dispatcher.hotline.flow import Reply

DOCUMENT_TYPE = "xml/freeswitch-httapi"
# The param the switch posts the keys in (the tags' `name`; httapi's default is dialed_digits).
DIGITS_PARAM = "vnh_digits"
# Twilio's <Gather timeout=6>: the wait after the prompt, and between the keys of a code.
WAIT_MS = 6000
# Twilio's <Dial timeout=25>, <Record max_length=120>.
DIAL_TIMEOUT_S = 25
RECORD_LIMIT_S = 120
KEYS_THEN_HASH = "~^[0-9*]+#$"
BEEP = "tone_stream://%(500,0,800)"


@dataclass(frozen=True)
class SwitchSettings:
    """How the switch speaks and where it sends callers (VNH_SWITCH_* settings)."""

    secret: str = ""
    tts_engine: str = "unimrcp"
    tts_voice: str = ""
    # The desks' bridge string, e.g. "user/1001,user/1002" (rung together, as Twilio's <Dial>).
    operator_bridge: str = ""
    # A phone number's dial string; {national} or {e164} is replaced by the number.
    gateway: str = "sofia/gateway/carrier/{national}"

    @classmethod
    def from_config(cls, config) -> SwitchSettings:
        return cls(secret=config.get("SWITCH_SECRET") or "",
                   tts_engine=config.get("SWITCH_TTS_ENGINE") or cls.tts_engine,
                   tts_voice=config.get("SWITCH_TTS_VOICE") or "",
                   operator_bridge=config.get("SWITCH_OPERATOR_BRIDGE") or "",
                   gateway=config.get("SWITCH_GATEWAY") or cls.gateway)


def render_document(reply: Reply, action: str, switch: SwitchSettings, operator_numbers: list[str]) -> str:
    """Turn a Reply into an httapi document whose next request goes to `action` (an absolute URL)."""
    document = ET.Element("document", type=DOCUMENT_TYPE)
    work = ET.SubElement(document, "work")
    text = "".join(reply.say)
    if reply.gather:
        if text:
            ask = _speak(work, text, switch)
        else:
            ask = ET.SubElement(work, "pause", milliseconds=str(WAIT_MS))
        ask.set("name", DIGITS_PARAM)
        ask.set("action", action)
        ask.set("input-timeout", str(WAIT_MS))
        if reply.digits:
            ET.SubElement(ask, "bind").text = f"~^[0-9*#]{{{reply.digits}}}$"
        else:
            # A code ended by #, as <Gather finish_on_key="#">; the # is not posted.
            ask.set("digit-timeout", str(WAIT_MS))
            ET.SubElement(ask, "bind", strip="#").text = KEYS_THEN_HASH
        return _xml(document)
    if text:
        _speak(work, text, switch)
    if reply.dial:
        ET.SubElement(work, "execute", application="bridge",
                      data=bridge_data(reply.dial, switch, operator_numbers), action=action)
    elif reply.record:
        ET.SubElement(work, "record", {"file": "voicemail.wav", "name": "recording", "beep-file": BEEP,
                                       "limit": str(RECORD_LIMIT_S), "action": action})
    else:
        ET.SubElement(work, "hangup")
    return _xml(document)


def goodbye_document(text: str, switch: SwitchSettings) -> str:
    """Say `text` and hang up: the answer when the hotline cannot run the call."""
    document = ET.Element("document", type=DOCUMENT_TYPE)
    work = ET.SubElement(document, "work")
    _speak(work, text, switch)
    ET.SubElement(work, "hangup")
    return _xml(document)


def bridge_data(numbers: list[str], switch: SwitchSettings, operator_numbers: list[str]) -> str:
    """The `bridge` application's data: the operator desks, or phone numbers through the gateway."""
    if switch.operator_bridge and list(numbers) == list(operator_numbers):
        targets = switch.operator_bridge
    else:
        targets = ",".join(switch.gateway.format(national=national_number(n), e164=n) for n in numbers)
    if targets.startswith("{"):
        return targets  # the desks' string sets its own originate variables
    # mod_httapi refuses `$` in execute data unless expand-vars is allowed: none is written here.
    return f"{{originate_timeout={DIAL_TIMEOUT_S}}}{targets}"


def national_number(e164: str) -> str:
    """A number as dialled inside China: 09312345678 for a landline, 13912340001 for a mobile."""
    try:
        parsed = phonenumbers.parse(e164, "CN")
    except phonenumbers.NumberParseException:
        return e164.lstrip("+")
    if parsed.country_code != 86:
        return "00" + e164.lstrip("+")
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(ch for ch in national if ch.isdigit())


def _speak(work: ET.Element, text: str, switch: SwitchSettings) -> ET.Element:
    speak = ET.SubElement(work, "speak", engine=switch.tts_engine)
    if switch.tts_voice:
        speak.set("voice", switch.tts_voice)
    # parse_playback reads a <speak>'s text from its body when it has no text/file attribute.
    speak.text = text
    return speak


def _xml(document: ET.Element) -> str:
    return ET.tostring(document, encoding="unicode")
