"""The Telephony port and its two adapters: Twilio's REST API and the local phone network."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker


class DeliveryError(Exception):
    """A send failed; `permanent` says whether trying again can help."""

    def __init__(self, message: str, *, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


class Telephony(Protocol):
    def send_sms(self, *, to: str, from_: str, body: str, status_callback: str | None, key: str,
                 template: str | None = None, params: dict | None = None) -> str:
        """Send an SMS and return its MessageSid; `key` names the outbox message it carries.

        `template` is the purpose's template code (telephony.templates) and `params` its
        parameters: a carrier that sends filed templates uses them, the others send `body`.
        """

    def place_call(self, *, to: str, from_: str, url: str, status_callback: str | None, key: str) -> str:
        """Place a call that fetches TwiML from `url` when answered; return its CallSid."""

    def find_sent(self, *, key: str, kind: str, to: str, from_: str, body: str | None,
                  since: datetime, url: str | None = None) -> str | None:
        """Return the SID of the send of `key` made at or after `since`, or None if none went out.

        `url` is a call's TwiML URL (what the call was about).

        Asked after a crash left a message claimed but unrecorded: adopting the SID instead of
        sending again makes delivery exactly-once. Raises DeliveryError when it cannot tell.
        """


class LocalTelephony:
    """The app as its own phone network: nothing leaves the machine.

    What the app meant to send is the outbox (`GET /simulator/outbox`); what the network carried
    is a row per send in `local_network_sends`, written on a connection of its own as Twilio
    would keep its records, so that `find_sent` can answer after a crash.
    """

    def __init__(self, engine=None):
        self.sessionmaker = sessionmaker(engine) if engine is not None else None

    def send_sms(self, *, to, from_, body, status_callback, key, template=None, params=None):
        return self._carry("sms", "SM", to, from_, key)

    def place_call(self, *, to, from_, url, status_callback, key):
        return self._carry("call", "CA", to, from_, key)

    def find_sent(self, *, key, kind, to, from_, body, since, url=None):
        if self.sessionmaker is None:
            return None
        from telephony.models import LocalNetworkSend

        with self.sessionmaker() as session, session.begin():
            # A key names one outbox message, so any send carrying it is that message's.
            return session.scalar(select(LocalNetworkSend.sid).where(LocalNetworkSend.key == key)
                                  .order_by(LocalNetworkSend.id).limit(1))

    def fetch_recording(self, url: str) -> tuple[bytes, str] | None:
        """A voicemail as the network would hand it over: here, a second of silence (nothing is fetched)."""
        return silent_wav(), "audio/wav"

    def _carry(self, kind, prefix, to, from_, key) -> str:
        sid = prefix + uuid.uuid4().hex
        if self.sessionmaker is not None:
            from telephony.models import LocalNetworkSend

            with self.sessionmaker() as session, session.begin():
                session.add(LocalNetworkSend(key=key, sid=sid, kind=kind, to_number=to,
                                             from_number=from_, sent_at=datetime.now(UTC)))
        return sid


# The outbound calls whose flow reads AnsweredBy (dispatcher/hotline/review_call.py, wellbeing_call.py).
_READS_ANSWERED_BY = ("/telephony/review/", "/telephony/wellbeing/")


def reads_answered_by(url: str) -> bool:
    """Whether the call fetching `url` acts on answering-machine detection."""
    return any(part in url for part in _READS_ANSWERED_BY)


# Twilio error codes that no retry will fix: invalid or unreachable numbers, blocked content.
_PERMANENT_CODES = {21211, 21214, 21217, 21219, 21401, 21407, 21408, 21421, 21610, 21612, 21614, 30003, 30005, 30006, 30007}


# Where Twilio keeps recordings; a stored URL anywhere else is not fetched.
TWILIO_RECORDING = re.compile(r"^https://api\.twilio\.com/2010-04-01/Accounts/AC\w+/Recordings/RE\w+$")


def silent_wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A WAV file of silence: what the local network plays for a voicemail."""
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(rate)
        out.writeframes(b"\x80" * int(rate * seconds))
    return buffer.getvalue()


# How long a Twilio API request may take before it counts as a network error (and is retried).
TWILIO_TIMEOUT_S = 15
# Twilio's clock and ours disagree a little; look this much earlier than the claim for a send.
CLOCK_SKEW = timedelta(seconds=120)


class TwilioTelephony:
    """Send through Twilio's REST API; the client is built once, in create_app."""

    def __init__(self, account_sid: str, auth_token: str, client=None, http_client=None):
        if client is None:
            from twilio.http.http_client import TwilioHttpClient
            from twilio.rest import Client

            client = Client(account_sid, auth_token,
                            http_client=http_client or TwilioHttpClient(timeout=TWILIO_TIMEOUT_S))
        self.client = client

    def send_sms(self, *, to, from_, body, status_callback, key, template=None, params=None):
        kwargs = {"to": to, "from_": from_, "body": body}
        if status_callback:
            kwargs["status_callback"] = status_callback
        return self._call(lambda: self.client.messages.create(**kwargs)).sid

    def place_call(self, *, to, from_, url, status_callback, key):
        kwargs = {"to": to, "from_": from_, "url": url}
        if status_callback:
            kwargs["status_callback"] = status_callback
            kwargs["status_callback_event"] = ["initiated", "ringing", "answered", "completed"]
            if reads_answered_by(url):
                # Only review and wellbeing calls care whether a machine answered (a voicemail is
                # "not reached", tried again). Asynchronous detection lets the elder hear the call
                # at once; the verdict arrives at the status callback as AnsweredBy.
                kwargs.update(machine_detection="Enable", async_amd="true",
                              async_amd_status_callback=status_callback,
                              async_amd_status_callback_method="POST")
        return self._call(lambda: self.client.calls.create(**kwargs)).sid

    def fetch_recording(self, url: str) -> tuple[bytes, str] | None:
        """A voicemail Twilio recorded, fetched with the account's credentials (its URL names no
        format: ".mp3" asks for MP3). Only Twilio's own API host is asked; None if it is not there."""
        import requests

        if not TWILIO_RECORDING.match(url or ""):
            return None
        try:
            reply = requests.get(url + ".mp3", auth=(self.client.username, self.client.password),
                                 timeout=TWILIO_TIMEOUT_S)
        except requests.RequestException as exc:
            raise ValueError(f"recording not fetched: {exc}") from exc
        return (reply.content, "audio/mpeg") if reply.status_code == 200 else None

    def find_sent(self, *, key, kind, to, from_, body, since, url=None):
        """Ask Twilio for our latest messages (or calls) to `to` created since the claim.

        An SMS matches by its body; a call by recipient and time alone, which is enough because
        the outbox sends one message at a time to each recipient (per-recipient order). No date
        filter is sent: an SMS Twilio accepted but has not yet sent has no `date_sent`.
        """
        after = since - CLOCK_SKEW
        if kind == "sms":
            found = self._call(lambda: self.client.messages.list(to=to, from_=from_, limit=20))
            found = [m for m in found if m.body == body]
        else:
            found = self._call(lambda: self.client.calls.list(to=to, from_=from_, limit=20))
        found = [r for r in found if r.date_created is not None and r.date_created >= after]
        # The first one after the claim is the send the crash interrupted.
        found.sort(key=lambda r: r.date_created)
        return found[0].sid if found else None

    @staticmethod
    def _call(send):
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            return send()
        except TwilioRestException as exc:
            permanent = exc.status < 500 and exc.status != 429 or exc.code in _PERMANENT_CODES
            raise DeliveryError(f"twilio {exc.status} {exc.code}: {exc.msg}", permanent=permanent) from exc
        except (TwilioException, OSError) as exc:
            raise DeliveryError(f"twilio unreachable: {exc}", permanent=False) from exc
