"""A Twilio-like phone: places calls and sends SMS to the app through its signed webhooks.

It follows each TwiML response exactly as Twilio does: speak the <Say>s, press the next key into
the <Gather>'s action, follow <Redirect>s, stop at <Dial> or <Hangup>. `vnh simulate`, `vnh call`
and the web tests use it, over the Flask test client or over real HTTP.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from twilio.request_validator import RequestValidator

MAX_STEPS = 40


class FlaskTransport:
    """Talk to an app in this process through its WSGI interface (every layer but the socket)."""

    base_url = "http://localhost"

    def __init__(self, client):
        self.client = client

    def post(self, url: str, form: dict, headers: dict) -> tuple[int, str]:
        response = self.client.post(_path(url), data=form, headers=headers)
        return response.status_code, response.get_data(as_text=True)

    def get_json(self, path: str):
        return self.client.get(path).get_json()


class HttpTransport:
    """Talk to a running `vnh serve` over HTTP."""

    def __init__(self, base_url: str, timeout: float = 10):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def post(self, url: str, form: dict, headers: dict) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(self._absolute(url), data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def get_json(self, path: str):
        with urllib.request.urlopen(self._absolute(path), timeout=self.timeout) as response:
            return json.loads(response.read().decode())

    def _absolute(self, url: str) -> str:
        return url if url.startswith("http") else self.base_url + url


def _path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class CallTranscript:
    call_sid: str
    said: list[str] = field(default_factory=list)
    pressed: list[str] = field(default_factory=list)
    ended_with: str = ""
    dialled: list[str] = field(default_factory=list)
    recorded: bool = False
    responses: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)  # the words of each <Gather>, as heard
    dialled_unanswered: int = 0

    @property
    def text(self) -> str:
        return "".join(self.said)


@dataclass(frozen=True)
class Spoken:
    """What a caller says at a prompt instead of pressing a key."""

    text: str
    confidence: float = 0.9


class Phone:
    """Plays Twilio for the app: signs every request with the auth token, as Twilio does."""

    def __init__(self, transport, auth_token: str = "", hotline_number: str = "+869312345678",
                 operators_answer: bool = True):
        self.transport = transport
        # When False, every <Dial> goes unanswered and the call follows the <Dial>'s action.
        self.operators_answer = operators_answer
        self.validator = RequestValidator(auth_token) if auth_token else None
        self.hotline_number = hotline_number

    def post(self, url: str, form: dict) -> tuple[int, str]:
        absolute = url if url.startswith("http") else self.transport.base_url + url
        headers = {}
        if self.validator is not None:
            headers["X-Twilio-Signature"] = self.validator.compute_signature(absolute, form)
        return self.transport.post(absolute, form, headers)

    def call_hotline(self, caller: str, keys: list[str], speech: dict[int, str] | None = None) -> CallTranscript:
        """Dial the hotline from `caller` and answer each prompt with the next key."""
        base = {"From": caller, "To": self.hotline_number, "Direction": "inbound",
                "CallStatus": "in-progress"}
        return self.follow("/telephony/voice", base, keys, speech or {})

    def answer_call(self, outbox_call: dict, keys: list[str]) -> CallTranscript:
        """Answer a call the app placed (an outbox entry) and press `keys` in turn."""
        base = {"From": outbox_call["from"], "To": outbox_call["to"], "Direction": "outbound-api",
                "CallStatus": "in-progress"}
        return self.follow(outbox_call["url"], base, keys, {})

    def follow(self, url: str, base: dict, keys: list[str], speech: dict[int, str]) -> CallTranscript:
        transcript = CallTranscript(call_sid="CA" + uuid.uuid4().hex)
        form = {**base, "CallSid": transcript.call_sid, "AccountSid": "AC" + "0" * 32}
        pending = list(keys)
        turn = 0
        for _ in range(MAX_STEPS):
            status, body = self.post(url, form)
            if status != 200:
                transcript.ended_with = f"http {status}"
                return transcript
            transcript.responses.append(body)
            root = ET.fromstring(body)
            next_url, form = None, {**base, "CallSid": transcript.call_sid,
                                    "AccountSid": "AC" + "0" * 32}
            for verb in root:
                if verb.tag == "Say":
                    transcript.said.append("".join(verb.itertext()))
                elif verb.tag == "Gather":
                    transcript.said.extend("".join(s.itertext()) for s in verb.iter("Say"))
                    said = speech.get(turn)
                    if said is not None:
                        form["SpeechResult"], form["Confidence"] = said, "0.9"
                        transcript.pressed.append(f"「{said}」")
                        next_url = verb.get("action")
                        break
                    if pending:
                        key = pending.pop(0)
                        if key:
                            form["Digits"] = key
                            transcript.pressed.append(key)
                            next_url = verb.get("action")
                            break
                        transcript.pressed.append("(silence)")
                elif verb.tag == "Redirect":
                    next_url = (verb.text or "").strip()
                    break
                elif verb.tag == "Dial":
                    transcript.dialled = [n.text or "" for n in verb.iter("Number")]
                    if self.operators_answer or not verb.get("action"):
                        transcript.ended_with = "dial"
                        return transcript
                    form["DialCallStatus"] = "no-answer"
                    next_url = verb.get("action")
                    break
                elif verb.tag == "Record":
                    transcript.recorded = True
                    form["RecordingUrl"] = f"https://api.twilio.com/recordings/RE{uuid.uuid4().hex}"
                    form["RecordingDuration"] = "7"
                    next_url = verb.get("action")
                    break
                elif verb.tag == "Hangup":
                    transcript.ended_with = "hangup"
                    return transcript
            if next_url is None:
                transcript.ended_with = "hangup"
                return transcript
            if not pending and not {"Digits", "SpeechResult", "DialCallStatus", "RecordingUrl"} & set(form):
                transcript.ended_with = "no more keys"
                return transcript
            url = next_url
            turn += 1
        transcript.ended_with = "too many steps"
        return transcript

    def converse(self, caller: str, answer, on_dial=None, url: str = "/telephony/voice",
                 direction: str = "inbound", to: str | None = None) -> CallTranscript:
        """Call as a person who listens: `answer(heard)` gets the words of each prompt and returns
        the keys to press, a `Spoken` phrase, "" to stay silent, or None to hang up.

        `on_dial(numbers)` decides what becomes of a <Dial> that has an action: "completed"
        (a person answered; the call ends there) or another DialCallStatus to follow on.
        """
        base = {"From": caller, "To": to or self.hotline_number, "Direction": direction,
                "CallStatus": "in-progress"}
        transcript = CallTranscript(call_sid="CA" + uuid.uuid4().hex)
        fresh = {**base, "CallSid": transcript.call_sid, "AccountSid": "AC" + "0" * 32}
        form = dict(fresh)
        for _ in range(MAX_STEPS):
            status, body = self.post(url, form)
            if status != 200:
                transcript.ended_with = f"http {status}"
                return transcript
            transcript.responses.append(body)
            form, next_url = dict(fresh), None
            for verb in ET.fromstring(body):
                if verb.tag == "Say":
                    transcript.said.append("".join(verb.itertext()))
                elif verb.tag == "Gather":
                    heard = "".join("".join(s.itertext()) for s in verb.iter("Say"))
                    transcript.said.append(heard)
                    transcript.prompts.append(heard)
                    reply = answer(heard)
                    if reply is None:
                        transcript.ended_with = "caller hung up"
                        return transcript
                    if isinstance(reply, Spoken):
                        form["SpeechResult"], form["Confidence"] = reply.text, str(reply.confidence)
                        transcript.pressed.append(f"「{reply.text}」")
                    elif reply:
                        form["Digits"] = reply
                        transcript.pressed.append(reply)
                    else:
                        transcript.pressed.append("(silence)")
                        continue
                    next_url = verb.get("action")
                    break
                elif verb.tag == "Redirect":
                    next_url = (verb.text or "").strip()
                    break
                elif verb.tag == "Dial":
                    transcript.dialled = [n.text or "" for n in verb.iter("Number")]
                    outcome = "completed" if on_dial is None else on_dial(transcript.dialled)
                    if outcome == "completed" or not verb.get("action"):
                        transcript.ended_with = "dial"
                        if verb.get("action") and on_dial is not None:
                            # The person's talk takes no simulated time: answered when reported.
                            form["DialCallStatus"], form["DialCallDuration"] = "completed", "0"
                            self.post(verb.get("action"), form)
                        return transcript
                    transcript.dialled_unanswered += 1
                    form["DialCallStatus"] = outcome
                    next_url = verb.get("action")
                    break
                elif verb.tag == "Record":
                    transcript.recorded = True
                    form["RecordingUrl"] = f"https://api.twilio.com/recordings/RE{uuid.uuid4().hex}"
                    form["RecordingDuration"] = "7"
                    next_url = verb.get("action")
                    break
                elif verb.tag == "Hangup":
                    transcript.ended_with = "hangup"
                    return transcript
            if next_url is None:
                transcript.ended_with = "hangup"
                return transcript
            url = next_url
        transcript.ended_with = "too many steps"
        return transcript

    def send_sms(self, sender: str, body: str, to: str | None = None) -> str:
        """Text the app from `sender`; return the reply the app answers with."""
        form = {"MessageSid": "SM" + uuid.uuid4().hex, "From": sender, "To": to or self.hotline_number,
                "Body": body, "AccountSid": "AC" + "0" * 32}
        status, text = self.post("/telephony/sms", form)
        if status != 200:
            raise RuntimeError(f"SMS webhook answered {status}")
        message = ET.fromstring(text).find("Message")
        return "" if message is None else (message.text or "")

    def outbox(self, after: int = 0) -> list[dict]:
        """What the app has sent, oldest first; with `after`, only what came after that id."""
        return self.transport.get_json(f"/simulator/outbox?after={after}" if after else "/simulator/outbox")
