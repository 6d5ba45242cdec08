"""Callback reviews: attempts by call outcome, low ratings and the supervisor's sample."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from dispatcher.lifecycle import attendance, orders, reviews
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import CallbackReview, Item, OperatorTask
from dispatcher.operations.sweepers import run_due_work
from telephony.models import OutboxMessage
from telephony.simulator import FlaskTransport, Phone


@pytest.fixture
def reviewed(app, session, clock, settings, policy, make_elder, make_provider):
    """A completed visit whose first review call has just been placed."""
    elder = make_elder(phone="+8613912340001")
    make_provider(offerings={"HK01": 4800}, latitude=36.0590, longitude=103.8280)
    hk01 = session.scalar(select(Item).where(Item.code == "HK01"))
    order = orders.place_order(session, elder=elder, item=hk01, slot=slot_for("asap", clock.now()),
                               source="phone", call_sid=None, settings=settings, now=clock.now())
    offer = session.scalars(select(orders.Offer).where(orders.Offer.order_id == order.id)).one()
    assert orders.accept_offer(session, offer, offer.provider_id, "sms", settings, clock.now()).ok
    assert attendance.check_in(session, order, offer.provider_id, "sms", clock.now()).ok
    clock.advance(3600)
    assert attendance.check_out(session, order, offer.provider_id, "sms", policy, settings, clock.now()).ok
    session.commit()
    clock.advance(app.config["REVIEW_DELAY_S"])
    assert run_due_work(app)["reviews_started"] == 1
    review = session.scalar(select(CallbackReview))
    session.commit()  # end the read: on SQLite an open transaction holds the write lock
    return review


def _fresh(app, review) -> CallbackReview:
    with app.extensions["vnh.sessionmaker"]() as s:
        return s.get(CallbackReview, review.id)


def _tasks(app, kind) -> list[OperatorTask]:
    with app.extensions["vnh.sessionmaker"]() as s:
        return list(s.scalars(select(OperatorTask).where(OperatorTask.kind == kind)))


def _status_callback(app, review_id, status, **fields):
    from twilio.request_validator import RequestValidator

    with app.extensions["vnh.sessionmaker"]() as s:
        call = s.scalars(select(OutboxMessage).where(OutboxMessage.review_id == review_id)
                         .order_by(OutboxMessage.id.desc())).first()
        sid = call.sid or "CAunsent"
        if call.sid is None:
            call.sid = sid
            s.commit()
    form = {"CallSid": sid, "CallStatus": status, **fields} if status else {"CallSid": sid, **fields}
    signature = RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature(
        "http://localhost/telephony/status/call", form)
    response = app.test_client().post("/telephony/status/call", data=form,
                                      headers={"X-Twilio-Signature": signature})
    assert response.status_code == 204


def test_a_busy_review_call_is_tried_again_half_an_hour_later(app, session, clock, reviewed):
    _status_callback(app, reviewed.id, "busy")

    review = _fresh(app, reviewed)
    assert review.state == "scheduled" and review.last_call_status == "busy"
    assert review.due_at == clock.now() + timedelta(minutes=30)
    clock.advance(1800)
    assert run_due_work(app)["reviews_started"] == 1
    assert _fresh(app, reviewed).attempts == 2


def test_three_unanswered_review_calls_go_to_a_supervisor(app, session, clock, reviewed):
    for _ in range(3):
        _status_callback(app, reviewed.id, "no-answer")
        clock.advance(4 * 3600)
        run_due_work(app)

    review = _fresh(app, reviewed)
    assert review.state == "unreachable" and review.attempts == 3
    (task,) = _tasks(app, "review_unreachable")
    assert task.order_id == review.order_id
    with app.extensions["vnh.sessionmaker"]() as s:
        calls = s.scalars(select(OutboxMessage).where(OutboxMessage.review_id == review.id)).all()
    assert len(calls) == 3


def test_a_review_call_nobody_reports_on_counts_as_unanswered(app, session, clock, reviewed):
    clock.advance(10 * 60)
    assert run_due_work(app)["review_calls_unanswered"] == 0
    clock.advance(6 * 60)
    assert run_due_work(app)["review_calls_unanswered"] == 1
    assert _fresh(app, reviewed).state == "scheduled"


def test_a_retry_never_falls_in_quiet_hours(app, session, clock, reviewed, settings):
    # 20:45 in Shanghai: half an hour later is inside 21:00-08:00.
    clock.set(clock.now().replace(hour=12, minute=45))
    reviews.review_call_ended(session, reviewed.id, "no-answer", settings, clock.now())
    session.commit()
    due = _fresh(app, reviewed).due_at
    assert orders.local(due).hour == 8 and orders.local(due).minute == 0


def test_a_voicemail_greeting_is_hung_up_on_and_tried_again(app, session, reviewed):
    phone = Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"])
    call = [m for m in phone.outbox() if m["kind"] == "call"][-1]
    status, body = phone.post(call["url"], {"CallSid": "CAvm", "From": call["from"], "To": call["to"],
                                            "AnsweredBy": "machine_start"})
    assert status == 200 and "<Hangup" in body and "<Gather" not in body
    review = _fresh(app, reviewed)
    assert review.state == "scheduled" and review.last_call_status == "voicemail"


def test_an_asynchronous_answering_machine_verdict_counts_as_not_reached_and_is_tried_again(app, reviewed):
    _status_callback(app, reviewed.id, "", AnsweredBy="machine_end_beep")

    review = _fresh(app, reviewed)
    assert review.state == "scheduled" and review.last_call_status == "voicemail"


def test_a_human_verdict_leaves_the_review_call_going(app, reviewed):
    _status_callback(app, reviewed.id, "", AnsweredBy="human")

    assert _fresh(app, reviewed).state == "calling"


def test_a_low_rating_opens_a_supervisor_case(app, session, reviewed):
    phone = Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"])
    call = [m for m in phone.outbox() if m["kind"] == "call"][-1]
    phone.answer_call(call, ["1", "2"])

    (task,) = _tasks(app, "low_rating")
    assert "2分" in task.reason
    assert _fresh(app, reviewed).state == "verified"


def test_a_good_rating_opens_no_case(app, session, reviewed):
    phone = Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"])
    call = [m for m in phone.outbox() if m["kind"] == "call"][-1]
    phone.answer_call(call, ["1", "5"])
    assert _tasks(app, "low_rating") == []


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_the_supervisor_sample_is_drawn_with_a_recorded_seed(app, session, clock, reviewed, share):
    reviews.record_review_answer(session, session.get(CallbackReview, reviewed.id), True, clock.now(),
                                share)
    session.commit()

    review = _fresh(app, reviewed)
    assert review.sample_seed is not None
    assert review.is_sampled is (random.Random(review.sample_seed).random() < share)
    assert review.is_sampled is bool(share)
    assert len(_tasks(app, "review_sample")) == int(share)


def test_the_elder_may_leave_a_spoken_comment_after_rating(app, session, reviewed):
    phone = Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"])
    call = [m for m in phone.outbox() if m["kind"] == "call"][-1]
    answered = phone.answer_call(call, ["1", "4"])
    assert answered.recorded and "祝您身体健康" in answered.text
    review = _fresh(app, reviewed)
    assert review.rating == 4 and review.comment_url.startswith("https://api.twilio.com/recordings/")


def test_a_review_call_that_comes_due_at_night_waits_for_the_morning(app, session, clock, reviewed):
    from dispatcher.clock import local
    from dispatcher.operations.sweepers import deliver_outbox

    with app.extensions["vnh.sessionmaker"]() as s:
        call = s.scalars(select(OutboxMessage).where(OutboxMessage.review_id == reviewed.id)).one()
        assert call.status == "sent"  # placed in the day
        call.status, call.sid = "queued", None  # as if an outage had held it until the night
        s.commit()
    night = clock.now().replace(hour=14, minute=30)  # 22:30 in Shanghai
    deliver_outbox(app, night)

    with app.extensions["vnh.sessionmaker"]() as s:
        call = s.scalars(select(OutboxMessage).where(OutboxMessage.review_id == reviewed.id)).one()
        assert call.status == "queued"
        assert (local(call.next_attempt_at).hour, local(call.next_attempt_at).minute) == (8, 0)
