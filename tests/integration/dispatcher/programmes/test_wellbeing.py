"""Wellbeing calls for elders living alone: well, help, and two calls nobody answers."""

from __future__ import annotations

from datetime import time

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from dispatcher.cli import main
from dispatcher.clock import local
from dispatcher.models import OperatorTask
from dispatcher.operations.sweepers import run_due_work
from dispatcher.programmes.wellbeing import WellbeingCall, next_occurrence, schedule_call
from telephony.models import OutboxMessage
from telephony.simulator import FlaskTransport, Phone

ELDER = "+8613912340001"
CONTACT = "+8613711110000"


@pytest.fixture
def scheduled(app, session, clock, make_elder):
    elder = make_elder(phone=ELDER, contacts=[("王小明", CONTACT)])
    schedule_call(session, elder, time(10, 0), clock.now())  # START is 09:00 local
    session.commit()
    return elder


def _phone(app):
    return Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"])


def _rows(app, statement):
    with app.extensions["vnh.sessionmaker"]() as s:
        return s.scalars(statement).all()


def _todays_call(app):
    (call,) = _rows(app, select(WellbeingCall))
    return call


def test_the_daily_call_is_placed_at_its_local_time_once(app, clock, scheduled):
    assert run_due_work(app)["wellbeing_calls"] == 0
    clock.advance(3600)
    assert run_due_work(app)["wellbeing_calls"] == 1
    assert run_due_work(app)["wellbeing_calls"] == 0
    calls = [m for m in _phone(app).outbox() if m["purpose"] == "wellbeing"]
    assert [c["to"] for c in calls] == [ELDER]


def test_an_elder_who_presses_1_is_well(app, clock, scheduled):
    clock.advance(3600)
    run_due_work(app)
    call = [m for m in _phone(app).outbox() if m["purpose"] == "wellbeing"][-1]
    answered = _phone(app).answer_call(call, ["1"])
    assert "关爱电话" in answered.text and "祝您身体健康" in answered.text
    assert _todays_call(app).state == "well"


def test_an_elder_who_presses_9_reaches_an_operator_and_the_contacts_are_told(app, clock, scheduled):
    clock.advance(3600)
    run_due_work(app)
    call = [m for m in _phone(app).outbox() if m["purpose"] == "wellbeing"][-1]
    answered = _phone(app).answer_call(call, ["9"])
    assert answered.ended_with == "dial"
    assert _todays_call(app).state == "help"
    assert [t.kind for t in _rows(app, select(OperatorTask))] == ["emergency"]
    assert [m.to_number for m in _rows(app, select(OutboxMessage).where(
        OutboxMessage.purpose == "emergency_contact"))] == [CONTACT]


def test_two_unanswered_calls_text_the_emergency_contact_and_alert_an_operator(app, clock, scheduled):
    clock.advance(3600)
    run_due_work(app)                      # first call
    clock.advance(16 * 60)
    run_due_work(app)                      # silent for 15 minutes: try again in half an hour
    assert _todays_call(app).state == "scheduled"
    clock.advance(30 * 60)
    run_due_work(app)                      # second call
    clock.advance(16 * 60)
    run_due_work(app)                      # silent again: the alarm

    assert _todays_call(app).state == "alarm" and _todays_call(app).attempts == 2
    (sms,) = _rows(app, select(OutboxMessage).where(OutboxMessage.purpose == "wellbeing_alarm"))
    assert sms.to_number == CONTACT and "无人接听" in sms.body
    (task,) = _rows(app, select(OperatorTask).where(OperatorTask.kind == "wellbeing_alarm"))
    assert task.priority == 1


def test_the_next_call_is_tomorrow_at_the_same_local_time(clock):
    moment = next_occurrence(time(10, 0), clock.now())
    assert (local(moment).hour, local(moment).minute) == (10, 0)
    again = next_occurrence(time(10, 0), moment)
    assert (again - moment).days == 1


def test_scheduling_everyone_living_alone_from_the_command_line(app, make_elder, monkeypatch):
    make_elder(phone=ELDER, is_living_alone=True)
    make_elder(phone="+8613912340002", is_living_alone=False)
    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    result = CliRunner().invoke(main, ["wellbeing", "schedule", "--all-living-alone", "--at", "09:30"])
    assert result.exit_code == 0, result.output
    assert "1 elders will be called every day at 09:30" in result.output


def test_scheduling_everyone_living_alone_in_one_community_from_the_command_line(app, make_elder, monkeypatch):
    make_elder(phone=ELDER, street="东岗街道", community="雁园社区")
    make_elder(phone="+8613912340002", street="东岗街道", community="东岗社区")
    make_elder(phone="+8613912340003", street="西湖街道", community="雁园社区")
    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    result = CliRunner().invoke(main, ["wellbeing", "schedule", "--all-living-alone", "--street", "东岗街道",
                                       "--community", "雁园社区"])
    assert result.exit_code == 0 and "1 elders will be called" in result.output, result.output
    street = CliRunner().invoke(main, ["wellbeing", "schedule", "--all-living-alone", "--street", "东岗街道"])
    assert "2 elders will be called" in street.output
    alone = CliRunner().invoke(main, ["wellbeing", "schedule", "--all-living-alone", "--community", "雁园社区"])
    assert alone.exit_code != 0 and "--community" in alone.output


def test_a_busy_wellbeing_call_reported_by_twilio_is_tried_again(app, clock, scheduled):
    from twilio.request_validator import RequestValidator

    clock.advance(3600)
    run_due_work(app)
    (call,) = _rows(app, select(OutboxMessage).where(OutboxMessage.purpose == "wellbeing"))
    form = {"CallSid": call.sid, "CallStatus": "busy"}
    signature = RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature(
        "http://localhost/telephony/status/call", form)
    response = app.test_client().post("/telephony/status/call", data=form,
                                      headers={"X-Twilio-Signature": signature})

    assert response.status_code == 204
    today = _todays_call(app)
    assert today.state == "scheduled" and today.attempts == 1


def test_an_answering_machine_verdict_after_the_call_began_counts_as_unanswered(app, clock, scheduled):
    from twilio.request_validator import RequestValidator

    clock.advance(3600)
    run_due_work(app)
    (call,) = _rows(app, select(OutboxMessage).where(OutboxMessage.purpose == "wellbeing"))
    form = {"CallSid": call.sid, "AnsweredBy": "machine_start"}
    signature = RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature(
        "http://localhost/telephony/status/call", form)

    response = app.test_client().post("/telephony/status/call", data=form,
                                      headers={"X-Twilio-Signature": signature})

    assert response.status_code == 204
    assert _todays_call(app).state == "scheduled"
