"""The hotline through the call centre's FreeSWITCH: mod_httapi's requests, its documents' action URLs.

`Switch` plays mod_httapi as signalwire/freeswitch's mod_httapi.c does it: every request carries
session_id, the Caller-* fields and `url`; a tag's `action` becomes the next URL as soon as the tag
runs; keys that match a <bind> are posted once under the tag's `name` (what `strip` names removed);
no key, or a bridge nobody answers (continue_on_fail), just fetches the current URL again; after
hang-up one last request says exiting=true.
"""

from __future__ import annotations

import base64
import io
import re
import threading
import uuid
import wave
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from conftest import PG_URL
from sqlalchemy import func, select

from dispatcher.models import HotlineCall, HotlineTurn, OperatorTask, Order
from telephony.models import CallRecord, OutboxMessage
from telephony.simulator import FlaskTransport, Phone

ELDER = "+8613912340001"
SECRET = "switch-secret"
DESKS = "user/1001,user/1002"
MAX_REQUESTS = 30


def _wav(seconds: float = 0.25) -> bytes:
    """A short 8 kHz 16-bit mono recording, as FreeSWITCH writes a PSTN call's voicemail."""
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(8000)
        file.writeframes(b"\x00\x01" * int(8000 * seconds))
    return out.getvalue()


VOICEMAIL = _wav()

# The work tags and attributes docs/mod_httapi_doc.txt lists, and the two of <record> that it lists
# for <recordCall> only and parse_record reads too (`limit`, `beep-file`).
DOCUMENTED = {
    "speak": {"file", "name", "error-file", "action", "temp-action", "digit-timeout", "input-timeout",
              "loops", "engine", "voice"},
    "pause": {"name", "error-file", "action", "temp-action", "digit-timeout", "input-timeout", "loops",
              "milliseconds"},
    "execute": {"application", "data", "action", "temp-action"},
    "record": {"file", "name", "error-file", "action", "temp-action", "digit-timeout", "input-timeout",
               "limit", "beep-file"},
    "hangup": {"cause", "action", "temp-action"},
}


@dataclass
class SwitchCall:
    session_id: str
    said: list[str] = field(default_factory=list)
    bridged: list[str] = field(default_factory=list)
    recorded: bool = False
    ended_with: str = ""
    documents: list[str] = field(default_factory=list)
    requests: int = 0

    @property
    def text(self) -> str:
        return "".join(self.said)


class Switch:
    """FreeSWITCH running `httapi` for one call at a time, against the Flask test client."""

    def __init__(self, client, secret: str = SECRET, desks_answer: bool = True):
        self.client, self.secret, self.desks_answer = client, secret, desks_answer

    def post(self, url: str, form: dict, secret: str | None = None):
        token = base64.b64encode(f"freeswitch:{self.secret if secret is None else secret}".encode()).decode()
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return self.client.post(path, data=form, headers={"Authorization": f"Basic {token}"})

    def call(self, caller: str, keys: list[str], session_id: str | None = None) -> SwitchCall:
        call = SwitchCall(session_id=session_id or str(uuid.uuid4()))
        sticky = {"session_id": call.session_id, "hostname": "fs1", "Caller-Caller-ID-Number": caller,
                  "Caller-Destination-Number": "12345", "Caller-Unique-ID": call.session_id}
        url = "http://localhost/telephony/switch/call"
        pending = list(keys)
        once: dict = {}
        while call.requests < MAX_REQUESTS:
            response = self.post(url, {**sticky, "url": url, **once})
            call.requests += 1
            once = {}
            assert response.status_code == 200, response.status_code
            assert response.mimetype == "text/xml"
            body = response.get_data(as_text=True)
            call.documents.append(body)
            outcome, url, once = self._work(call, ET.fromstring(body), url, pending)
            if outcome:
                call.ended_with = outcome
                self._hang_up(sticky, url, once)
                return call
        call.ended_with = "too many requests"
        return call

    def _work(self, call: SwitchCall, document: ET.Element, url: str, pending: list[str]):
        """Run a document's <work>; return (how the call ended or "", the next URL, one-time params)."""
        once: dict = {}
        for tag in document.find("work"):
            url = tag.get("action") or url  # parse_common, before the tag runs
            if tag.tag in ("speak", "pause"):
                if tag.tag == "speak":
                    call.said.append(tag.text or "")
                bind = tag.find("bind")
                if bind is None:
                    continue
                if not pending:
                    return "hung up at a prompt", url, {}
                key = pending.pop(0)
                if key and re.fullmatch(bind.text[1:], key):
                    for ch in bind.get("strip", ""):
                        key = key.replace(ch, "")
                    once = {tag.get("name"): key, "input_type": "dtmf"}
            elif tag.tag == "execute" and tag.get("application") == "bridge":
                call.bridged.append(tag.get("data"))
                if self.desks_answer:
                    return "bridge", url, {}
            elif tag.tag == "record":
                call.recorded = True
                # The caller hangs up after the message; the file rides on the last request as
                # parse_record's `attach_file:<name>:<file>` param: a multipart part named <name>.
                return "recorded", url, {tag.get("name"): (io.BytesIO(VOICEMAIL), tag.get("file"), "audio/wav")}
            elif tag.tag == "hangup":
                return "hangup", url, {}
        return "", url, once

    def _hang_up(self, sticky: dict, url: str, once: dict) -> None:
        response = self.post(url, {**sticky, "url": url, **once, "exiting": "true"})
        assert response.status_code == 200


@pytest.fixture
def switch_app(app):
    app.config.update(SWITCH_SECRET=SECRET, SWITCH_OPERATOR_BRIDGE=DESKS, SWITCH_TTS_VOICE="xiaoyun")
    return app


@pytest.fixture
def switch(switch_app):
    return Switch(switch_app.test_client())


@pytest.fixture
def phone(app):
    return Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"],
                 app.config["HOTLINE_NUMBER"])


@pytest.fixture
def provider(make_elder, make_provider):
    make_elder(phone=ELDER, contacts=[("王小明", "+8613711110000")])
    return make_provider(offerings={"HK01": 4800, "ML01": 1200}, latitude=36.0590, longitude=103.8280)


def _rows(app, statement):
    with app.extensions["vnh.sessionmaker"]() as session:
        return session.scalars(statement).all()


def _check_shape(body: str) -> None:
    """The document as docs/mod_httapi_doc.txt describes it."""
    root = ET.fromstring(body)
    assert root.tag == "document" and root.get("type") == "xml/freeswitch-httapi"
    assert [child.tag for child in root] == ["work"]
    work = list(root.find("work"))
    assert work, "an empty <work> makes the switch give up"
    for tag in work:
        assert tag.tag in DOCUMENTED, tag.tag
        assert set(tag.attrib) <= DOCUMENTED[tag.tag], (tag.tag, tag.attrib)
        action = tag.get("action")
        if action is not None:
            assert re.fullmatch(r"http://localhost/telephony/switch/call\?seq=\d+", action), action
        if tag.tag == "speak":
            assert tag.get("engine") == "unimrcp" and tag.get("voice") == "xiaoyun"
            assert (tag.text or "").strip()
        if tag.tag == "execute":
            assert tag.get("application") == "bridge" and "$" not in tag.get("data")
        for bind in tag.findall("bind"):
            assert tag.tag in ("speak", "pause") and tag.get("name") and action
            assert bind.text.startswith("~")
            re.compile(bind.text[1:])
    # Only the last tag may end the document's turn: a bridge, a recording, a hang-up or a prompt.
    assert all(t.tag == "speak" and t.find("bind") is None for t in work[:-1])


def test_an_elder_books_a_visit_by_keys_through_the_switch(switch_app, switch, provider):
    # The switch gives the caller ID as the carrier sends it in China: national, with a trunk 0.
    call = switch.call("013912340001", ["2", "1", "1", "1"])

    assert call.ended_with == "hangup", call.text
    assert "王奶奶您好" in call.text and "已为您下单，工单号" in call.text
    (order,) = _rows(switch_app, select(Order))
    assert order.call_sid == call.session_id
    (record,) = _rows(switch_app, select(CallRecord))
    assert (record.call_sid, record.from_number, record.status) == (call.session_id, ELDER, "completed")
    assert call.requests == 5
    for body in call.documents:
        _check_shape(body)


def test_the_emergency_key_reaches_the_desks_bridge_in_one_step(switch_app, switch, provider):
    call = switch.call(ELDER, ["9"])

    assert call.requests == 2
    assert call.bridged == ["{originate_timeout=25}" + DESKS]
    assert "正在为您紧急转接话务员" in call.text
    (task,) = _rows(switch_app, select(OperatorTask))
    assert task.kind == "emergency" and task.priority == 0
    told = _rows(switch_app, select(OutboxMessage).where(OutboxMessage.purpose == "emergency_contact"))
    assert [m.to_number for m in told] == ["+8613711110000"]


def test_a_replayed_request_gets_the_same_document_and_changes_nothing(switch_app, switch, provider):
    session_id = str(uuid.uuid4())
    form = {"session_id": session_id, "Caller-Caller-ID-Number": ELDER}
    first = switch.post("http://localhost/telephony/switch/call", form)
    again = switch.post("http://localhost/telephony/switch/call", form)
    assert first.get_data(as_text=True) == again.get_data(as_text=True)
    action = ET.fromstring(first.get_data(as_text=True)).find("work/speak").get("action")

    keyed = {**form, "vnh_digits": "2", "input_type": "dtmf"}
    answers = [switch.post(action, keyed).get_data(as_text=True) for _ in range(2)]

    assert answers[0] == answers[1] and "按1" in answers[0]
    assert len(_rows(switch_app, select(HotlineTurn))) == 2
    (call,) = _rows(switch_app, select(HotlineCall))
    assert call.step == "item"


def test_a_bad_or_missing_secret_is_refused_and_changes_nothing(switch_app, switch, provider):
    form = {"session_id": str(uuid.uuid4()), "Caller-Caller-ID-Number": ELDER}

    assert switch.post("http://localhost/telephony/switch/call", form, secret="guess").status_code == 403
    assert switch_app.test_client().post("/telephony/switch/call", data=form).status_code == 403
    assert _rows(switch_app, select(func.count()).select_from(HotlineCall)) == [0]


def test_without_a_secret_configured_the_switch_endpoints_are_not_there(app, provider):
    app.config["SWITCH_SECRET"] = ""
    response = Switch(app.test_client(), secret="").post(
        "http://localhost/telephony/switch/call", {"session_id": "x", "Caller-Caller-ID-Number": ELDER})

    assert response.status_code == 404


def test_the_switch_may_fetch_with_get_as_httapi_does_by_default(switch_app, provider):
    token = base64.b64encode(f"fs:{SECRET}".encode()).decode()
    response = switch_app.test_client().get(
        "/telephony/switch/call", headers={"Authorization": f"Basic {token}"},
        query_string={"session_id": str(uuid.uuid4()), "Caller-Caller-ID-Number": ELDER})

    assert response.status_code == 200
    assert "王奶奶您好" in response.get_data(as_text=True)


def test_silence_twice_reaches_the_desks_and_no_prompt_invites_speech(switch_app, switch, provider):
    call = switch.call(ELDER, ["", ""])

    assert "没有听到您的选择" in call.text
    assert "直接说" not in call.text  # the switch path does not recognise speech
    assert call.bridged == ["{originate_timeout=25}" + DESKS]


def test_a_worker_keys_a_job_code_and_number_ended_by_hash(switch_app, switch, phone, provider, make_worker):
    make_worker(provider, work_number="20731")  # issue 18: a worker on record
    booked = switch.call(ELDER, ["2", "1", "1", "1"])
    code = booked.text.split("工单号")[1].split("。")[0].replace("，", "")
    assert "已接单" in phone.send_sms(provider.dispatch_phone, f"{code} 接")

    call = switch.call(ELDER, ["7", f"{code}#", "20731#", "1"])

    assert "已签到" in call.text, call.text
    for body in call.documents:
        _check_shape(body)


def test_nobody_at_the_desks_leads_to_a_voicemail_kept_for_a_call_back(switch_app, provider):
    switch = Switch(switch_app.test_client(), desks_answer=False)

    call = switch.call("+8613711112222", [])

    assert call.recorded and call.ended_with == "recorded"
    (task,) = _rows(switch_app, select(OperatorTask))
    assert task.kind == "unknown_caller"
    (hotline_call,) = _rows(switch_app, select(HotlineCall))
    assert hotline_call.step == "done"
    for body in call.documents:
        _check_shape(body)


def test_a_caller_who_hangs_up_at_a_menu_changes_nothing_more(switch_app, switch, provider):
    call = switch.call(ELDER, ["2"])  # then no more keys: the caller hangs up at the item menu

    assert call.ended_with == "hung up at a prompt" and call.requests == 2
    (hotline_call,) = _rows(switch_app, select(HotlineCall))
    assert hotline_call.step == "item" and hotline_call.data["failures"] == 0
    assert _rows(switch_app, select(OperatorTask)) == []
    (record,) = _rows(switch_app, select(CallRecord))
    assert record.status == "completed"


def test_an_emergency_nobody_answers_at_the_desks_rings_the_fallback_through_the_gateway(
        switch_app, provider):
    switch_app.config.update(EMERGENCY_FALLBACK_NUMBER="+8613911112222",
                             SWITCH_GATEWAY="sofia/gateway/unicom/{national}")
    switch = Switch(switch_app.test_client(), desks_answer=False)

    call = switch.call(ELDER, ["9"])

    assert call.bridged == ["{originate_timeout=25}" + DESKS,
                            "{originate_timeout=25}sofia/gateway/unicom/13911112222"]
    assert "正在继续为您转接" in call.text


@pytest.mark.skipif(not PG_URL, reason="real concurrent transactions need PostgreSQL")
def test_each_fetch_of_a_booking_sent_four_times_at_once_books_once(switch_app, provider):
    form = {"session_id": str(uuid.uuid4()), "Caller-Caller-ID-Number": ELDER}
    base = "http://localhost/telephony/switch/call"
    for url, keys in ((base, None), (f"{base}?seq=1", "2"), (f"{base}?seq=2", "1"),
                      (f"{base}?seq=3", "1"), (f"{base}?seq=4", "1")):
        sent = {**form, **({"vnh_digits": keys, "input_type": "dtmf"} if keys else {})}
        barrier, answers = threading.Barrier(4), []

        def fetch(url=url, sent=sent, barrier=barrier, answers=answers):
            switch = Switch(switch_app.test_client())
            barrier.wait()
            response = switch.post(url, sent)
            answers.append((response.status_code, response.get_data(as_text=True)))

        threads = [threading.Thread(target=fetch) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(answers) == 4 and {status for status, _ in answers} == {200}
        assert len({body for _, body in answers}) == 1, "every copy gets the same document"

    assert len(_rows(switch_app, select(Order))) == 1


def test_a_voicemail_the_switch_uploads_is_kept_and_an_operator_plays_it(switch_app, provider, operator_client):
    switch = Switch(switch_app.test_client(), desks_answer=False)

    call = switch.call("+8613711112222", [])

    assert call.recorded
    (task,) = _rows(switch_app, select(OperatorTask))
    assert task.recording_url and task.recording_url.startswith("/telephony/switch/recordings/")
    played = operator_client.get(task.recording_url)
    assert played.status_code == 200 and played.mimetype == "audio/wav" and played.data == VOICEMAIL
    # Not for the switch's credentials, nor for anyone not signed in.
    assert switch_app.test_client().get(task.recording_url).status_code == 302
    assert switch.client.get(task.recording_url, headers={"Authorization": "Basic " + base64.b64encode(
        f"freeswitch:{SECRET}".encode()).decode()}).status_code == 302


def test_a_voicemail_ended_by_a_key_arrives_on_the_action_url_and_is_kept_once(switch_app, provider):
    from telephony.models import CallRecording

    switch = Switch(switch_app.test_client(), desks_answer=False)
    sticky = {"session_id": "5d2c4a0e-0000-4000-8000-00000000abcd", "Caller-Caller-ID-Number": "+8613711112222"}
    url = "http://localhost/telephony/switch/call"
    for _ in range(6):
        document = ET.fromstring(switch.post(url, {**sticky, "url": url}).get_data(as_text=True))
        record = document.find("work/record")
        url = next((t.get("action") for t in document.find("work") if t.get("action")), url)
        if record is not None:
            break
    assert record is not None and record.get("name") == "recording"
    upload = {**sticky, "url": url, "recording": (io.BytesIO(VOICEMAIL), "voicemail.wav", "audio/wav")}
    assert switch.post(url, upload).status_code == 200
    again = {**sticky, "url": url, "exiting": "true", "recording": (io.BytesIO(VOICEMAIL), "voicemail.wav")}
    assert switch.post(url, again).status_code == 200

    (kept,) = _rows(switch_app, select(CallRecording))
    assert kept.call_sid == sticky["session_id"] and kept.audio == VOICEMAIL and kept.size_bytes == len(VOICEMAIL)
    (task,) = _rows(switch_app, select(OperatorTask))
    assert task.recording_url == f"/telephony/switch/recordings/{kept.id}"


def test_a_call_through_the_switch_shows_ended_on_the_desk_once_the_caller_hangs_up(switch_app, switch, provider):
    from dispatcher.hotline.call_state import desk_state

    switch.call(ELDER, ["9"])  # bridged to the desks, then the switch reports the hang-up (exiting=true)

    (hotline_call,) = _rows(switch_app, select(HotlineCall))
    assert hotline_call.call_status == "ended"
    assert desk_state(hotline_call.step, hotline_call.call_status) == "ended"
