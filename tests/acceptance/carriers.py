"""The three phone networks of issue 15's lifecycle test, each faked at its own boundary.

local: the app's own network (LocalTelephony) — nothing to fake, its sends are rows in
`local_network_sends`. twilio: the real TwilioTelephony over a fake `twilio.http.HttpClient`
answering with the recorded API JSON of tests/faults/test_twilio_adapter.py. aliyun: the real
AliyunTelephony with `DaraCore.do_action` faked by tests/web/test_carrier_lifecycle.py's Carrier.
Every network answers `sms()` and `calls()` with what it was asked to carry.
"""

from __future__ import annotations

import itertools
import json
import socket
from datetime import UTC, datetime

from faults.test_twilio_adapter import ACCOUNT, RecordedTwilio, _call, _message
from integration.telephony.test_esl import PASSWORD as ESL_PASSWORD
from integration.telephony.test_esl import FakeSwitch
from sqlalchemy import select
from web.test_carrier_lifecycle import SMS_TEMPLATES, TOKEN, VOICE_TEMPLATES, Carrier

from telephony.models import LocalNetworkSend, OutboxMessage
from telephony.ports import TwilioTelephony

__all__ = ["ESL_PASSWORD", "SMS_TEMPLATES", "TOKEN", "VOICE_TEMPLATES", "AliyunNetwork", "LocalNetwork", "TwilioNetwork",
           "refuse_network"]

LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost")


def refuse_network(monkeypatch) -> None:
    """Make any Python-level lookup or connection beyond this machine fail the test at once."""
    lookup, connect = socket.getaddrinfo, socket.socket.connect

    def local_lookup(host, *args, **kwargs):
        if host not in LOCAL_HOSTS:
            raise AssertionError(f"a test tried to reach {host}")
        return lookup(host, *args, **kwargs)

    def local_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOCAL_HOSTS:
            raise AssertionError(f"a test tried to connect to {address}")
        return connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", local_lookup)
    monkeypatch.setattr(socket.socket, "connect", local_connect)


class LocalNetwork:
    """LocalTelephony: what it carried, read back with the outbox row each send belongs to."""

    config: dict = {"TELEPHONY": "local"}

    def __init__(self):
        self.app = None

    def adapter(self):
        return None

    def _sent(self, kind: str) -> list[dict]:
        with self.app.extensions["vnh.sessionmaker"]() as s:
            rows = s.execute(select(LocalNetworkSend, OutboxMessage)
                             .join(OutboxMessage, OutboxMessage.sid == LocalNetworkSend.sid)
                             .where(LocalNetworkSend.kind == kind).order_by(LocalNetworkSend.id)).all()
            return [{"to": send.to_number, "from": send.from_number, "body": message.body, "url": message.url}
                    for send, message in rows]

    def sms(self) -> list[dict]:
        return self._sent("sms")

    def calls(self) -> list[dict]:
        return self._sent("call")


class AnsweringTwilio(RecordedTwilio):
    """Twilio's REST API as recorded: every Messages.json and Calls.json create accepted (201)."""

    def __init__(self):
        super().__init__()
        self.sids = itertools.count(1)

    def request(self, method, uri, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):
        created = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        n = next(self.sids)
        if uri.endswith("/Messages.json"):
            self.answers.append((201, _message(f"SM{n:032d}", (data or {}).get("Body", ""), created, "queued",
                                               to=(data or {}).get("To", ""))))
        else:
            self.answers.append((201, _call(f"CA{n:032d}", created, "queued")))
        return super().request(method, uri, params, data, headers, auth, timeout, allow_redirects)


class TwilioNetwork:
    config: dict = {"TELEPHONY": "twilio", "TWILIO_ACCOUNT_SID": ACCOUNT}

    def __init__(self):
        self.http = AnsweringTwilio()

    def adapter(self):
        return TwilioTelephony(ACCOUNT, "unused: the HTTP client is faked", http_client=self.http)

    def _sent(self, resource: str) -> list[dict]:
        return [{"to": data.get("To"), "from": data.get("From"), "body": data.get("Body"), "url": data.get("Url")}
                for method, uri, _params, data in self.http.requests
                if method == "POST" and uri.endswith(f"/{resource}.json")]

    def sms(self) -> list[dict]:
        return self._sent("Messages")

    def calls(self) -> list[dict]:
        return self._sent("Calls")


class AliyunNetwork:
    config: dict = {
        "TELEPHONY": "aliyun", "ALIYUN_ACCESS_KEY_ID": "LTAI5tTest", "ALIYUN_ACCESS_KEY_SECRET": "secret",
        "ALIYUN_SMS_SIGN": "虚拟养老院", "ALIYUN_SMS_TEMPLATES": SMS_TEMPLATES,
        "ALIYUN_VOICE_TEMPLATES": VOICE_TEMPLATES, "ALIYUN_SHOW_NUMBER": "09312345678",
        "ALIYUN_CALLBACK_TOKEN": TOKEN,
    }

    def __init__(self):
        self.carrier = Carrier()
        # The call centre's FreeSWITCH, whose event socket places the two-leg calls.
        self.switch = FakeSwitch()
        self.config = {**self.config, "SWITCH_ESL_HOST": "127.0.0.1", "SWITCH_ESL_PORT": str(self.switch.port),
                       "SWITCH_ESL_PASSWORD": ESL_PASSWORD}

    def adapter(self):
        return None  # built by create_app; the SDK's HTTP layer is patched by the test

    def sms(self) -> list[dict]:
        return [{"to": q["PhoneNumbers"], "template": q["TemplateCode"], "params": json.loads(q["TemplateParam"])}
                for q in self.carrier.sent("SendSms")]

    def calls(self) -> list[dict]:
        return [{"to": q["CalledNumber"], "template": q["StartCode"]} for q in self.carrier.sent("IvrCall")]
