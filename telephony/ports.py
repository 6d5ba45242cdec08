"""The Telephony port and its two adapters: Twilio's REST API and the local phone network."""

from __future__ import annotations

import uuid
from typing import Protocol


class DeliveryError(Exception):
    """A send failed; `permanent` says whether trying again can help."""

    def __init__(self, message: str, *, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


class Telephony(Protocol):
    def send_sms(self, *, to: str, from_: str, body: str, status_callback: str | None) -> str:
        """Send an SMS and return its MessageSid."""

    def place_call(self, *, to: str, from_: str, url: str, status_callback: str | None) -> str:
        """Place a call that fetches TwiML from `url` when answered; return its CallSid."""


class LocalTelephony:
    """The app as its own phone network: nothing leaves the machine.

    What was sent is the outbox itself (`GET /simulator/outbox`); this adapter only hands out SIDs.
    """

    def send_sms(self, *, to, from_, body, status_callback):
        return "SM" + uuid.uuid4().hex

    def place_call(self, *, to, from_, url, status_callback):
        return "CA" + uuid.uuid4().hex


# Twilio error codes that no retry will fix: invalid or unreachable numbers, blocked content.
_PERMANENT_CODES = {21211, 21214, 21217, 21219, 21401, 21407, 21408, 21421, 21610, 21612, 21614, 30003, 30005, 30006, 30007}


class TwilioTelephony:
    """Send through Twilio's REST API; the client is built once, in create_app."""

    def __init__(self, account_sid: str, auth_token: str, client=None):
        if client is None:
            from twilio.rest import Client

            client = Client(account_sid, auth_token)
        self.client = client

    def send_sms(self, *, to, from_, body, status_callback):
        kwargs = {"to": to, "from_": from_, "body": body}
        if status_callback:
            kwargs["status_callback"] = status_callback
        return self._call(lambda: self.client.messages.create(**kwargs)).sid

    def place_call(self, *, to, from_, url, status_callback):
        # Answering machines are told apart, so a voicemail counts as "not reached".
        kwargs = {"to": to, "from_": from_, "url": url, "machine_detection": "Enable"}
        if status_callback:
            kwargs["status_callback"] = status_callback
            kwargs["status_callback_event"] = ["initiated", "ringing", "answered", "completed"]
        return self._call(lambda: self.client.calls.create(**kwargs)).sid

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
