"""Issue 15 on Alibaba Cloud: the calls the carrier cannot place go through the call centre's switch.

The carrier's voice API has no two-leg call, so a supervisor's call-back and a wellbeing call's
key 9 are originated by FreeSWITCH over its event socket (a fake switch on the loopback speaking
mod_event_socket's documented shapes, tests/integration/telephony/test_esl.py); the carrier is faked
inside its SDK's HTTP layer. A crash between placing a carrier call and recording it does not ring
the elder twice: the claim waits for the carrier's VoiceReport, which carries our OutId.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from dispatcher.models import OperatorTask
from dispatcher.operations.sweepers import run_due_work
from dispatcher.programmes.wellbeing import WellbeingCall
from telephony.esl import call_uuid
from telephony.models import OutboxMessage

from .carriers import TOKEN, AliyunNetwork, refuse_network

pytestmark = pytest.mark.acceptance

ELDER_PHONE = "+8613912340001"
SUPERVISOR_PHONE = "+8613700000009"
LANDLINE_CONTACT = "+869318765432"
DESKS = "user/1001,user/1002"


@pytest.fixture
def network(monkeypatch):
    from alibabacloud_tea_openapi import client as openapi_client
    from darabonba.core import DaraCore

    refuse_network(monkeypatch)
    network = AliyunNetwork()
    monkeypatch.setattr(openapi_client, "DaraCore", type(
        "RecordedCore", (DaraCore,), {"do_action": staticmethod(network.carrier.do_action)}))
    yield network
    network.switch.close()


@pytest.fixture
def app(database_url, clock, network):
    from dispatcher import create_app
    from dispatcher.catalogue import load_catalogue
    from dispatcher.db import session_scope

    app = create_app({
        "TESTING": True, "DATABASE_URL": database_url, "PUBLIC_URL": "https://vnh.example",
        "SECRET_KEY": "test-secret", "CLOCK": clock, "QUIET_HOURS": "", "WTF_CSRF_ENABLED": False,
        "CALLS_PER_S": 0, "SMS_PER_S": 0, "SWITCH_OPERATOR_BRIDGE": DESKS, **network.config,
    })
    with session_scope(app) as session:
        load_catalogue(session)
    yield app
    app.extensions["vnh.engine"].dispose()


def _rows(app, model, *where) -> list:
    with app.extensions["vnh.sessionmaker"]() as s:
        return list(s.scalars(select(model).where(*where).order_by(model.id)))


def _push(app, kind: str, items: list[dict]) -> None:
    response = app.test_client().post(f"/telephony/aliyun/{TOKEN}/{kind}", json=items)
    assert response.status_code == 200 and response.get_json() == {"code": 0, "msg": "成功"}


def test_a_supervisor_call_back_rings_the_supervisor_through_the_switch_then_bridges_the_elder(
        app, session, clock, network, make_elder):
    from dispatcher.consoles.auth import add_user
    from dispatcher.lifecycle.tasks import open_task

    elder = make_elder(phone=ELDER_PHONE)
    task = open_task(session, kind="emergency", reason="老人求助", dedupe_key="t1", elder_id=elder.id, now=clock.now())
    supervisor = add_user(session, username="laozhang", password="long-enough-pw", role="supervisor",
                          display_name="老张", provider_id=None, now=clock.now())
    supervisor.phone = SUPERVISOR_PHONE
    session.commit()
    client = app.test_client()
    assert client.post("/login", data={"username": "laozhang", "password": "long-enough-pw"}).status_code == 302

    client.post(f"/console/tasks/{task.id}/call")
    run_due_work(app, clock.now())

    (placed,) = _rows(app, OutboxMessage, OutboxMessage.purpose == "supervisor_bridge")
    assert placed.status == "sent" and placed.sid == call_uuid(f"outbox-{placed.id}")
    (originate,) = network.switch.originates
    assert f"origination_uuid={placed.sid}," in originate
    assert "}sofia/gateway/carrier/13700000009 &bridge(" in originate
    assert originate.endswith("}sofia/gateway/carrier/13912340001)")
    assert network.carrier.sent("IvrCall") == [] and network.carrier.sent("SingleCallByTts") == []


def test_wellbeing_key_9_on_the_carrier_rings_the_operator_desks_then_the_elder_and_calls_a_landline_contact(
        app, session, clock, network, make_elder):
    elder = make_elder(phone=ELDER_PHONE, contacts=[("王小明", LANDLINE_CONTACT)])
    session.add(WellbeingCall(elder_id=elder.id, day="2026-11-25", state="scheduled", due_at=clock.now()))
    session.commit()
    run_due_work(app, clock.now())
    (ivr,) = network.carrier.sent("IvrCall")
    assert ivr["CalledNumber"] == "13912340001"
    (placed,) = _rows(app, OutboxMessage, OutboxMessage.purpose == "wellbeing")

    # The elder presses 9; the carrier reports the key, then the end of the call.
    _push(app, "voice-report", [{"call_id": placed.sid, "status_code": "200000", "dtmf": "9",
                                 "out_id": f"outbox-{placed.id}", "status_time": "2026-11-25 09:01:12"}])
    clock.advance(5)
    run_due_work(app, clock.now())

    (bridge,) = _rows(app, OutboxMessage, OutboxMessage.purpose == "emergency_bridge")
    assert bridge.status == "sent" and bridge.sid == call_uuid(f"outbox-{bridge.id}")
    (originate,) = network.switch.originates
    assert originate.startswith("bgapi originate {origination_uuid=")
    assert "}user/1001,user/1002 &bridge(" in originate and originate.endswith("}sofia/gateway/carrier/13912340001)")
    # The landline contact is called (a TTS notice), never texted; an emergency waits on the queue.
    (notice,) = network.carrier.sent("SingleCallByTts")
    assert notice["CalledNumber"] == "09318765432"
    assert not [q for q in network.carrier.sent("SendSms") if q["PhoneNumbers"] == "09318765432"]
    assert [t.kind for t in _rows(app, OperatorTask)] == ["emergency"]
    (call,) = _rows(app, WellbeingCall)
    assert call.state == "help"


class Crash(BaseException):
    """The process dies here: nothing after it runs (VNH_FAULT's SIGKILL, inside one process)."""


@pytest.fixture
def crash_after_send(monkeypatch):
    """Kill the sender between the carrier's answer and the commit that records it, once."""
    from dispatcher.operations import faults

    monkeypatch.setenv("VNH_FAULT", "after_send:call")

    def kill(pid, signal):
        monkeypatch.delenv("VNH_FAULT")
        raise Crash

    monkeypatch.setattr(faults.os, "kill", kill)


def _crashed_wellbeing_call(app, session, clock, network, make_elder):
    elder = make_elder(phone=ELDER_PHONE)
    session.add(WellbeingCall(elder_id=elder.id, day="2026-11-25", state="scheduled", due_at=clock.now()))
    session.commit()
    with pytest.raises(Crash):
        run_due_work(app, clock.now())
    assert len(network.carrier.sent("IvrCall")) == 1
    (claimed,) = _rows(app, OutboxMessage, OutboxMessage.purpose == "wellbeing")
    assert claimed.status == "sending" and claimed.sid is None
    return claimed


def test_after_a_crash_a_carrier_call_is_not_placed_again_and_its_report_adopts_it(
        app, session, clock, network, make_elder, crash_after_send):
    claimed = _crashed_wellbeing_call(app, session, clock, network, make_elder)

    # Restarted, the sender cannot tell yet whether the call went out: it waits, rings nobody.
    for _ in range(3):
        clock.advance(60)
        run_due_work(app, clock.now())
    assert len(network.carrier.sent("IvrCall")) == 1
    (waiting,) = _rows(app, OutboxMessage, OutboxMessage.id == claimed.id)
    assert waiting.status == "sending" and "VoiceReport" in waiting.last_error

    # The carrier's report names our OutId: the call is adopted and its key applied.
    _push(app, "voice-report", [{"call_id": "116012354148^102810001", "status_code": "200000", "dtmf": "1",
                                 "out_id": f"outbox-{claimed.id}", "status_time": "2026-11-25 09:03:12"}])
    (adopted,) = _rows(app, OutboxMessage, OutboxMessage.id == claimed.id)
    assert adopted.sid == "116012354148^102810001" and adopted.status == "completed"
    assert _rows(app, WellbeingCall)[0].state == "well"
    clock.advance(3600)
    run_due_work(app, clock.now())
    assert len(network.carrier.sent("IvrCall")) == 1


def test_after_a_crash_a_carrier_call_with_no_report_in_the_wait_is_placed_once_more(
        app, session, clock, network, make_elder, crash_after_send):
    claimed = _crashed_wellbeing_call(app, session, clock, network, make_elder)

    clock.advance(app.config["ALIYUN_CALL_REPORT_WAIT_S"] - 30)
    run_due_work(app, clock.now())
    assert len(network.carrier.sent("IvrCall")) == 1
    clock.advance(timedelta(seconds=60).total_seconds())
    run_due_work(app, clock.now())
    run_due_work(app, clock.now())

    assert len(network.carrier.sent("IvrCall")) == 2
    (sent,) = _rows(app, OutboxMessage, OutboxMessage.id == claimed.id)
    assert sent.status == "sent" and sent.sid
