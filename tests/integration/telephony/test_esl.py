"""The event socket client against a fake FreeSWITCH speaking mod_event_socket's documented shapes.

The fake listens on the loopback: it greets with `Content-Type: auth/request`, answers `auth` with
`+OK accepted` (or `-ERR invalid`), `bgapi` with `+OK Job-UUID: <uuid>` and later a BACKGROUND_JOB
event (text/event-plain, the event's own headers URL-encoded, then its body), and `api uuid_exists`
with an api/response body (https://developer.signalwire.com/freeswitch/programming/esl-inbound/).
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import quote

import pytest

from telephony.esl import SwitchCalls, call_uuid, originate_command
from telephony.ports import DeliveryError

PASSWORD = "ClueCon-test"


class FakeSwitch:
    """A FreeSWITCH event socket on 127.0.0.1: records every command, answers as the docs show.

    `result` is the body of the BACKGROUND_JOB event sent after a bgapi (None: the call is still
    ringing, no event yet; "ok": `+OK <the origination_uuid>`); `live` the channel uuids that exist.
    """

    def __init__(self, password: str = PASSWORD):
        self.password = password
        self.commands: list[str] = []
        self.result: str | None = "ok"
        self.live: set[str] = set()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def originates(self) -> list[str]:
        return [c for c in self.commands if c.startswith("bgapi originate")]

    def close(self) -> None:
        self.server.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                self._session(conn)

    def _session(self, conn: socket.socket) -> None:
        conn.sendall(b"Content-Type: auth/request\n\n")
        buffer = b""
        while True:
            while b"\n\n" not in buffer:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            raw, buffer = buffer.split(b"\n\n", 1)
            line, *header_lines = raw.decode().split("\n")
            headers = dict(h.split(": ", 1) for h in header_lines)
            self.commands.append(line)
            if line.startswith("auth "):
                if line[5:] != self.password:
                    conn.sendall(b"Content-Type: command/reply\nReply-Text: -ERR invalid\n\n")
                    return
                conn.sendall(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
            elif line.startswith("event "):
                conn.sendall(b"Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n")
            elif line.startswith("bgapi "):
                job = headers.get("Job-UUID", "7f4db78a-17d7-11dd-b7a0-db4edd065621")
                conn.sendall(f"Content-Type: command/reply\nReply-Text: +OK Job-UUID: {job}\n"
                             f"Job-UUID: {job}\n\n".encode())
                self._background_job(conn, job, line)
            elif line.startswith("api uuid_exists "):
                body = "true" if line.split()[-1] in self.live else "false"
                conn.sendall(f"Content-Type: api/response\nContent-Length: {len(body)}\n\n{body}".encode())
            elif line == "exit":
                conn.sendall(b"Content-Type: command/reply\nReply-Text: +OK bye\n\n")
                return
            else:
                conn.sendall(b"Content-Type: command/reply\nReply-Text: -ERR command not found\n\n")

    def _background_job(self, conn, job: str, line: str) -> None:
        if self.result is None:
            return
        channel = line.split("origination_uuid=", 1)[1].split(",", 1)[0] if "origination_uuid=" in line else ""
        body = f"+OK {channel}\n" if self.result == "ok" else self.result
        if self.result == "ok":
            self.live.add(channel)
        event = (f"Event-Name: BACKGROUND_JOB\nCore-UUID: 42bdf272-16e6-11dd-b7a0-db4edd065621\n"
                 f"Job-UUID: {job}\nJob-Command: originate\nJob-Command-Arg: {quote(line[16:60])}\n"
                 f"Content-Length: {len(body.encode())}\n\n{body}").encode()
        conn.sendall(f"Content-Length: {len(event)}\nContent-Type: text/event-plain\n\n".encode() + event)


@pytest.fixture
def switch():
    fake = FakeSwitch()
    yield fake
    fake.close()


def _calls(switch: FakeSwitch, password: str = PASSWORD, wait: float = 2.0) -> SwitchCalls:
    return SwitchCalls(host="127.0.0.1", port=switch.port, password=password, caller_id="09312345678",
                       fast_failure_wait_s=wait)


def test_a_bridge_authenticates_subscribes_and_originates_the_first_leg_then_bridges_the_second(switch):
    channel = _calls(switch).bridge(first="sofia/gateway/carrier/13700000009",
                                    then="sofia/gateway/carrier/13912340001", key="outbox-7")

    assert channel == call_uuid("outbox-7")
    assert switch.commands[:2] == [f"auth {PASSWORD}", "event plain BACKGROUND_JOB"]
    (command,) = switch.originates
    assert command == (
        f"bgapi originate {{origination_uuid={channel},origination_caller_id_number=09312345678,"
        "originate_timeout=30,ignore_early_media=true,hangup_after_bridge=true}"
        "sofia/gateway/carrier/13700000009 &bridge({origination_caller_id_number=09312345678,"
        "originate_timeout=30}sofia/gateway/carrier/13912340001)")


def test_a_call_still_ringing_when_the_wait_ends_counts_as_placed(switch):
    switch.result = None
    assert _calls(switch, wait=0.2).bridge(first="user/1001", then="user/1002", key="outbox-8") == call_uuid("outbox-8")


@pytest.mark.parametrize("result, permanent", [("-ERR USER_BUSY\n", False), ("-ERR NO_ANSWER\n", False),
                                               ("-ERR INVALID_GATEWAY\n", True)])
def test_an_originate_the_switch_reports_failed_at_once_is_an_error_naming_the_cause(switch, result, permanent):
    switch.result = result
    with pytest.raises(DeliveryError) as failed:
        _calls(switch).bridge(first="user/1001", then="user/1002", key="outbox-9")
    assert failed.value.permanent is permanent and result.strip()[5:] in str(failed.value)


def test_a_wrong_password_is_permanent_and_no_call_is_originated(switch):
    with pytest.raises(DeliveryError, match="password") as refused:
        _calls(switch, password="guess").bridge(first="user/1001", then="user/1002", key="outbox-1")
    assert refused.value.permanent and switch.originates == []


def test_a_switch_that_does_not_listen_is_worth_trying_again():
    unused = socket.create_server(("127.0.0.1", 0))
    port = unused.getsockname()[1]
    unused.close()
    calls = SwitchCalls(host="127.0.0.1", port=port, password=PASSWORD, caller_id="09312345678")
    with pytest.raises(DeliveryError) as failed:
        calls.bridge(first="user/1001", then="user/1002", key="outbox-1")
    assert failed.value.permanent is False


def test_after_a_crash_a_call_is_found_while_its_channel_is_up(switch):
    calls = _calls(switch)
    assert calls.exists("outbox-3") is False
    calls.bridge(first="user/1001", then="user/1002", key="outbox-3")
    assert calls.exists("outbox-3") is True


@pytest.mark.parametrize("bad", ["user/1001 &park", "sofia/gateway/x/${evil}", "a'b", ""])
def test_a_dial_string_that_could_change_the_command_is_refused(bad):
    with pytest.raises(DeliveryError):
        originate_command(bad, "user/1002", "u", "09312345678")
