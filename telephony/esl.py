"""Calls placed through the call centre's FreeSWITCH over its event socket (mod_event_socket).

Alibaba Cloud's voice API has no two-leg call (ring a person, then connect them to an elder), so a
supervisor's call-back and a wellbeing call's key 9 are originated by the call centre's switch.
No well-kept Python client of the event socket is on the registry (the one there, aioesl, was last
released in 2016), so this is a small client of the documented plain-text protocol:
- https://developer.signalwire.com/freeswitch/FreeSWITCH-Explained/Modules/mod_event_socket_1048924
  and https://developer.signalwire.com/freeswitch/programming/esl-inbound/ : inbound mode, the
  switch greets with `Content-Type: auth/request`; `auth <password>` is answered by a
  `command/reply` whose `Reply-Text` is `+OK accepted` (or `-ERR invalid`); every command ends with
  an empty line; `bgapi <command>` answers at once `Reply-Text: +OK Job-UUID: <uuid>` (a
  `Job-UUID:` header on the command chooses the uuid) and the result comes later as a
  BACKGROUND_JOB event (subscribed with `event plain BACKGROUND_JOB`), its body `+OK <uuid>` or
  `-ERR <cause>`; `api <command>` answers an `api/response` with a Content-Length body.
- https://developer.signalwire.com/freeswitch/FreeSWITCH-Explained/Examples/Originate-Example_10682745
  and https://developer.signalwire.com/freeswitch/recipes/click-to-call/ :
  `originate {vars}<A-leg> &bridge({vars}<B-leg>)` rings A and, once A answers, bridges A to B.
- https://developer.signalwire.com/freeswitch/Channel-Variables-Catalog/origination_uuid_16353330 :
  `origination_uuid` names the new channel, so its uuid is known before the switch answers (it is
  the call's SID, and what is asked after a crash: `api uuid_exists <uuid>`).
"""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass
from urllib.parse import unquote

from telephony.ports import DeliveryError

DEFAULT_PORT = 8021
# How long to wait for the switch to answer a command, and for an originate that fails at once
# (no such gateway, a bad dial string) to say so; a call still ringing after that counts as placed.
TIMEOUT_S = 5.0
FAST_FAILURE_WAIT_S = 2.0
# The A-leg rings this long, as Twilio's <Dial timeout=30>.
RING_S = 30
_NAMESPACE = uuid.UUID("6f1d3c52-8a0e-4d53-9a43-0c2b1f5e7a10")


def call_uuid(key: str) -> str:
    """The channel uuid of the call that carries outbox message `key` (stable across a crash)."""
    return str(uuid.uuid5(_NAMESPACE, key))


@dataclass
class Frame:
    headers: dict[str, str]
    body: str = ""


class EventSocket:
    """One inbound connection to mod_event_socket: authenticate, send commands, read frames."""

    def __init__(self, host: str, port: int, password: str, timeout_s: float = TIMEOUT_S):
        self.host, self.port, self.password, self.timeout_s = host, port, password, timeout_s
        self.sock: socket.socket | None = None
        self.buffer = b""

    def __enter__(self) -> EventSocket:
        try:
            self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
            greeting = self.read()
            if greeting.headers.get("Content-Type") != "auth/request":
                raise DeliveryError(f"freeswitch: expected auth/request, got {greeting.headers}", permanent=False)
            reply = self.command(f"auth {self.password}")
        except OSError as exc:
            self.close()
            raise DeliveryError(f"freeswitch event socket unreachable: {exc}", permanent=False) from exc
        if not reply.headers.get("Reply-Text", "").startswith("+OK"):
            self.close()
            # A wrong password needs a person (VNH_SWITCH_ESL_PASSWORD), not another try.
            raise DeliveryError("freeswitch refused the event socket password", permanent=True)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.sendall(b"exit\n\n")
            except OSError:
                pass
            self.sock.close()
            self.sock = None

    def command(self, line: str, headers: dict[str, str] | None = None) -> Frame:
        """Send one command (and its headers) and return the switch's reply to it."""
        text = line + "".join(f"\n{k}: {v}" for k, v in (headers or {}).items()) + "\n\n"
        if "\n\n" in text[:-2] or "\r" in text:
            raise DeliveryError("freeswitch: a command may not contain a blank line", permanent=True)
        self.sock.sendall(text.encode())
        while True:
            frame = self.read()
            if frame.headers.get("Content-Type") in ("command/reply", "api/response"):
                return frame

    def read(self) -> Frame:
        """Read one frame: headers up to an empty line, then Content-Length bytes of body."""
        head = self._until(b"\n\n")
        headers = _headers(head)
        length = int(headers.get("Content-Length", "0") or 0)
        body = self._exactly(length).decode() if length else ""
        return Frame(headers, body)

    def wait_job(self, job_uuid: str, timeout_s: float) -> str | None:
        """The body of the BACKGROUND_JOB event of `job_uuid`, or None if it has not come yet."""
        self.sock.settimeout(timeout_s)
        try:
            while True:
                frame = self.read()
                if frame.headers.get("Content-Type") != "text/event-plain":
                    continue
                # An event-plain body is the event's own headers (URL-encoded), an empty line, its body.
                event_head, _, event_body = frame.body.partition("\n\n")
                event = {k: unquote(v) for k, v in _headers(event_head).items()}
                if event.get("Event-Name") == "BACKGROUND_JOB" and event.get("Job-UUID") == job_uuid:
                    return event_body
        except TimeoutError:
            return None
        finally:
            self.sock.settimeout(self.timeout_s)

    def _until(self, marker: bytes) -> str:
        while marker not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(marker, 1)
        return head.decode()

    def _exactly(self, length: int) -> bytes:
        while len(self.buffer) < length:
            self._fill()
        data, self.buffer = self.buffer[:length], self.buffer[length:]
        return data

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("freeswitch closed the event socket")
        self.buffer += chunk


def _headers(text: str) -> dict[str, str]:
    headers = {}
    for line in text.split("\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip()] = value.strip()
    return headers


class SwitchCalls:
    """Two-leg calls through the switch: ring `first`, and when answered bridge it to `then`."""

    def __init__(self, *, host: str, port: int, password: str, caller_id: str,
                 timeout_s: float = TIMEOUT_S, fast_failure_wait_s: float = FAST_FAILURE_WAIT_S):
        self.host, self.port, self.password = host, port, password
        self.caller_id, self.timeout_s, self.fast_failure_wait_s = caller_id, timeout_s, fast_failure_wait_s

    def connect(self) -> EventSocket:
        return EventSocket(self.host, self.port, self.password, self.timeout_s)

    def bridge(self, *, first: str, then: str, key: str) -> str:
        """Originate the call of outbox message `key` in the background; return its channel uuid.

        Raises DeliveryError when the switch refuses it or reports a failure within a moment (a
        call still ringing then is placed: the switch does the rest, as Twilio would).
        """
        channel = call_uuid(key)
        job = str(uuid.uuid4())
        command = "bgapi " + originate_command(first, then, channel, self.caller_id)
        with self.connect() as esl:
            try:
                esl.command("event plain BACKGROUND_JOB")
                reply = esl.command(command, {"Job-UUID": job})
                text = reply.headers.get("Reply-Text", "")
                if not text.startswith("+OK"):
                    raise DeliveryError(f"freeswitch refused the originate: {text}", permanent=True)
                job = reply.headers.get("Job-UUID") or job
                result = esl.wait_job(job, self.fast_failure_wait_s)
            except (OSError, ConnectionError) as exc:
                raise DeliveryError(f"freeswitch event socket failed: {exc}", permanent=False) from exc
        if result is not None and not result.startswith("+OK"):
            # -ERR NO_ANSWER, USER_BUSY…: nobody took it; -ERR INVALID_GATEWAY and the like need a person.
            cause = result.strip().removeprefix("-ERR").strip() or "unknown"
            temporary = cause in ("NO_ANSWER", "USER_BUSY", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL",
                                  "NORMAL_TEMPORARY_FAILURE", "RECOVERY_ON_TIMER_EXPIRE", "CALL_REJECTED")
            raise DeliveryError(f"freeswitch originate failed: {cause}", permanent=not temporary)
        return channel

    def exists(self, key: str) -> bool:
        """Whether the call of `key` is still up on the switch (`api uuid_exists`)."""
        with self.connect() as esl:
            try:
                answer = esl.command(f"api uuid_exists {call_uuid(key)}")
            except (OSError, ConnectionError) as exc:
                raise DeliveryError(f"freeswitch event socket failed: {exc}", permanent=False) from exc
        return answer.body.strip() == "true"


def originate_command(first: str, then: str, channel: str, caller_id: str) -> str:
    """`originate {vars}<first> &bridge({vars}<then>)`; the arguments are split on spaces."""
    for part in (first, then, caller_id):
        if any(ch in part for ch in " \n\r'$") or not part:
            raise DeliveryError(f"freeswitch: unusable dial string {part!r}", permanent=True)
    first = with_vars(first, {"origination_uuid": channel, "origination_caller_id_number": caller_id,
                              "originate_timeout": str(RING_S), "ignore_early_media": "true",
                              "hangup_after_bridge": "true"})
    then = with_vars(then, {"origination_caller_id_number": caller_id, "originate_timeout": str(RING_S)})
    return f"originate {first} &bridge({then})"


def with_vars(dial: str, variables: dict[str, str]) -> str:
    """Put `variables` in the dial string's leading {…}, keeping any the string already sets."""
    own = ""
    if dial.startswith("{") and "}" in dial:
        own, dial = dial[1:].split("}", 1)
    named = {item.split("=", 1)[0] for item in own.split(",") if item}
    ours = [f"{k}={v}" for k, v in variables.items() if k not in named]
    return "{" + ",".join(ours + ([own] if own else [])) + "}" + dial
