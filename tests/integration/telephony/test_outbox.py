"""The outbox: delivery with retries and backoff, failures to the operator, status callbacks."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dispatcher.models import OperatorTask
from dispatcher.operations.sweepers import deliver_outbox
from telephony import outbox, templates
from telephony.models import OutboxMessage
from telephony.ports import DeliveryError

HOTLINE = "+869312345678"


class FlakyTelephony:
    """A Telephony that fails `failures` times (or always, when permanent) and records every try."""

    def __init__(self, failures: int = 0, permanent: bool = False):
        self.failures = failures
        self.permanent = permanent
        self.tries: list[dict] = []
        self.sent: list[dict] = []

    def send_sms(self, *, to, from_, body, status_callback, key, template=None, params=None):
        # "tag": the address parameter, which the tests below use to tell messages apart.
        return self._send({"kind": "sms", "to": to, "from": from_, "body": body,
                           "status_callback": status_callback, "key": key, "template": template,
                           "params": params, "tag": (params or {}).get("address")})

    def place_call(self, *, to, from_, url, status_callback, key):
        return self._send({"kind": "call", "to": to, "from": from_, "url": url,
                           "status_callback": status_callback, "key": key})

    def find_sent(self, *, key, kind, to, from_, body, since, url=None):
        return next((s["sid"] for s in self.sent if s["key"] == key), None)

    def _send(self, record: dict) -> str:
        self.tries.append(record)
        if self.permanent:
            raise DeliveryError("twilio 400 21211: invalid 'To' number", permanent=True)
        if self.failures:
            self.failures -= 1
            raise DeliveryError("twilio unreachable: timed out", permanent=False)
        sid = f"SM{len(self.sent) + 1:032d}"
        self.sent.append({**record, "sid": sid})
        return sid


@pytest.fixture
def use_telephony(app):
    def install(fake):
        app.extensions["vnh.telephony"] = fake
        return fake

    return install


def _offer(tag: str) -> dict:
    return {"job_code": "123456", "item_name": "居室保洁", "address": tag, "when": "12月02日 08:30起",
            "price": "48元", "minutes": 10}


def _sms(session, clock, *, key="offer:1", to="+8613800000001", body="民勤街社区3号楼"):
    """Queue an offer SMS whose address parameter is `body`, the tag the fakes record."""
    message = outbox.enqueue_sms(session, to=to, purpose="offer", params=_offer(body), dedupe_key=key,
                                 from_=HOTLINE, now=clock.now())
    session.commit()
    return message


def _fresh(session, message) -> OutboxMessage:
    """Re-read a message, ending the read at once: on SQLite an open transaction blocks the sweeper."""
    session.commit()
    session.expire_all()
    fresh = session.get(OutboxMessage, message.id)
    session.commit()
    return fresh


def test_a_due_sms_is_sent_once_and_recorded_as_sent(app, session, clock, use_telephony):
    fake = use_telephony(FlakyTelephony())
    message = _sms(session, clock)

    assert deliver_outbox(app, clock.now()) == 1
    assert deliver_outbox(app, clock.now()) == 0

    assert [(t["kind"], t["to"], t["body"]) for t in fake.sent] == [
        ("sms", "+8613800000001", templates.render("offer", _offer("民勤街社区3号楼")))]
    # The template and its parameters reach the port too: a domestic carrier sends those.
    assert [(t["template"], t["params"]) for t in fake.sent] == [
        ("offer", {k: str(v) for k, v in _offer("民勤街社区3号楼").items()})]
    sent = _fresh(session, message)
    assert (sent.status, sent.sid, sent.attempts, sent.sent_at) == ("sent", fake.sent[0]["sid"], 1,
                                                                    clock.now())


def test_a_due_call_is_placed_with_its_twiml_url(app, session, clock, use_telephony):
    fake = use_telephony(FlakyTelephony())
    outbox.enqueue_call(session, to="+8613900000001", url="http://localhost/telephony/review/7",
                        purpose="review", dedupe_key="review:7:1", from_=HOTLINE, now=clock.now())
    session.commit()

    assert deliver_outbox(app, clock.now()) == 1

    assert [(t["kind"], t["url"]) for t in fake.sent] == [("call", "http://localhost/telephony/review/7")]


def test_transient_errors_reschedule_with_growing_backoff_and_the_sms_goes_out_later_exactly_once(
    app, session, clock, use_telephony
):
    fake = use_telephony(FlakyTelephony(failures=2))
    message = _sms(session, clock)

    assert deliver_outbox(app, clock.now()) == 0
    first = _fresh(session, message)
    assert (first.status, first.attempts) == ("queued", 1)
    assert "timed out" in first.last_error
    delay = first.next_attempt_at - clock.now()
    assert timedelta(seconds=2.5) <= delay <= timedelta(seconds=5)

    assert deliver_outbox(app, clock.now()) == 0  # not due again yet
    assert len(fake.tries) == 1

    clock.set(first.next_attempt_at)
    assert deliver_outbox(app, clock.now()) == 0
    second = _fresh(session, message)
    assert (second.status, second.attempts) == ("queued", 2)
    delay = second.next_attempt_at - clock.now()
    assert timedelta(seconds=5) <= delay <= timedelta(seconds=10)

    clock.set(second.next_attempt_at)
    assert deliver_outbox(app, clock.now()) == 1
    clock.advance(3600)
    assert deliver_outbox(app, clock.now()) == 0

    assert len(fake.tries) == 3 and len(fake.sent) == 1
    done = _fresh(session, message)
    assert (done.status, done.attempts, done.sid) == ("sent", 3, fake.sent[0]["sid"])
    assert session.scalar(select(func.count()).select_from(OperatorTask)) == 0


def test_a_permanent_error_fails_the_message_at_once_and_tells_an_operator(
    app, session, clock, use_telephony
):
    fake = use_telephony(FlakyTelephony(permanent=True))
    message = _sms(session, clock, to="+8613800000009")

    assert deliver_outbox(app, clock.now()) == 0
    clock.advance(3600)
    assert deliver_outbox(app, clock.now()) == 0

    assert len(fake.tries) == 1
    failed = _fresh(session, message)
    assert (failed.status, failed.attempts, failed.sid) == ("failed", 1, None)
    (task,) = session.scalars(select(OperatorTask)).all()
    assert task.kind == "failed_message" and task.caller == "+8613800000009"
    assert "21211" in task.reason


def test_a_message_that_keeps_failing_transiently_gives_up_after_max_attempts(
    app, session, clock, use_telephony
):
    fake = use_telephony(FlakyTelephony(failures=100))
    message = _sms(session, clock)

    for _ in range(outbox.MAX_ATTEMPTS + 2):
        deliver_outbox(app, clock.now())
        clock.advance(600)  # the longest backoff

    assert len(fake.tries) == outbox.MAX_ATTEMPTS and fake.sent == []
    assert _fresh(session, message).status == "failed"
    (task,) = session.scalars(select(OperatorTask)).all()
    assert task.kind == "failed_message"


def test_one_failing_message_does_not_hold_up_the_next(app, session, clock, use_telephony):
    fake = use_telephony(FlakyTelephony(failures=1))
    stuck = _sms(session, clock, key="offer:1", to="+8613800000001")
    after = _sms(session, clock, key="offer:2", to="+8613800000002")

    assert deliver_outbox(app, clock.now()) == 1

    assert [t["to"] for t in fake.sent] == ["+8613800000002"]
    assert _fresh(session, stuck).status == "queued"
    assert _fresh(session, after).status == "sent"


def test_enqueuing_the_same_dedupe_key_twice_keeps_one_message(session, clock):
    first = _sms(session, clock, key="offer:42", body="first")
    clock.advance(60)
    again = _sms(session, clock, key="offer:42", body="second")

    assert again.id == first.id
    rows = session.scalars(select(OutboxMessage)).all()
    assert [(m.dedupe_key, json.loads(m.params)["address"]) for m in rows] == [("offer:42", "first")]


def test_a_status_callback_only_moves_a_message_forward(session, clock):
    message = _sms(session, clock)
    message.sid, message.status = "SM" + "a" * 32, "sent"
    session.commit()

    outbox.record_status(session, message.sid, "delivered")
    assert _fresh(session, message).status == "delivered"
    outbox.record_status(session, message.sid, "sending")
    outbox.record_status(session, message.sid, "queued")
    assert _fresh(session, message).status == "delivered"


def test_a_status_callback_with_an_unknown_status_changes_nothing(session, clock):
    message = _sms(session, clock)
    message.sid, message.status = "SM" + "b" * 32, "sent"
    session.commit()

    outbox.record_status(session, message.sid, "teleported")

    assert _fresh(session, message).status == "sent"


def test_a_status_callback_for_an_unknown_sid_changes_nothing(session, clock):
    message = _sms(session, clock)
    message.sid, message.status = "SM" + "c" * 32, "sent"
    session.commit()

    assert outbox.record_status(session, "SM" + "d" * 32, "delivered") is None
    session.commit()

    assert [(m.sid, m.status) for m in session.scalars(select(OutboxMessage))] == [
        ("SM" + "c" * 32, "sent")]


@pytest.mark.parametrize("attempts", [1, 2, 3, 7, 20])
def test_retry_delays_double_with_jitter_and_stop_growing_at_ten_minutes(attempts):
    ceiling = min(5 * 2 ** (attempts - 1), 600)
    delays = [outbox.retry_delay(attempts, random.Random(seed)).total_seconds() for seed in range(50)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 1


def test_a_recipients_messages_go_out_in_the_order_they_were_written(app, session, clock):
    from dispatcher.operations.sweepers import deliver_outbox
    from telephony.models import OutboxMessage
    from telephony.outbox import enqueue_sms
    from telephony.ports import DeliveryError

    class FlakyOnce:
        def __init__(self):
            self.sent, self.failed = [], False

        def send_sms(self, *, to, from_, body, status_callback, key, template=None, params=None):
            tag = params["job_code"]
            if tag == "first" and not self.failed:
                self.failed = True
                raise DeliveryError("twilio 503", permanent=False)
            self.sent.append(tag)
            return f"SM{len(self.sent)}"

    fake = FlakyOnce()
    app.extensions["vnh.telephony"] = fake
    for tag in ("first", "second"):
        enqueue_sms(session, to="+8613912340001", purpose="offer_withdrawn", params={"job_code": tag},
                    dedupe_key=tag, from_="+869312345678", now=clock.now())
    enqueue_sms(session, to="+8613912340002", purpose="offer_withdrawn", params={"job_code": "other"},
                dedupe_key="other", from_="+869312345678", now=clock.now())
    session.commit()

    deliver_outbox(app, clock.now())
    assert fake.sent == ["other"]  # "second" waits behind "first", which is backing off
    deliver_outbox(app, clock.advance(600))
    assert fake.sent == ["other", "first", "second"]
    with app.extensions["vnh.sessionmaker"]() as s:
        assert {m.status for m in s.scalars(select(OutboxMessage))} == {"sent"}


def test_calls_are_paced_to_the_configured_rate():
    from telephony.outbox import Pacer

    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(round(seconds, 3))
        now[0] += seconds

    pacer = Pacer({"call": 1.0, "sms": 0}, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        pacer.wait("call")
        pacer.wait("sms")
    assert slept == [1.0, 1.0]


def _network_sends(app, key: str) -> list[str]:
    from telephony.models import LocalNetworkSend

    with app.extensions["vnh.sessionmaker"]() as s:
        return list(s.scalars(select(LocalNetworkSend.sid).where(LocalNetworkSend.key == key)))


def _claim_then_crash(app, clock, *, carried: bool) -> outbox.Send:
    """What a sender killed mid-send leaves behind: a committed claim, and maybe a send."""
    with app.extensions["vnh.sessionmaker"]() as s, s.begin():
        job = outbox.mark_sending(outbox.claim_next(s, clock.now()), clock.now())
    if carried:
        outbox.send(job, app.extensions["vnh.telephony"], None)
    return job


def test_a_message_the_network_carried_before_a_crash_adopts_its_sid_and_is_not_sent_again(
    app, session, clock
):
    message = _sms(session, clock)
    job = _claim_then_crash(app, clock, carried=True)
    (carried,) = _network_sends(app, job.key)

    clock.advance(30)
    deliver_outbox(app, clock.now())
    deliver_outbox(app, clock.advance(600))

    assert _network_sends(app, job.key) == [carried]
    done = _fresh(session, message)
    assert (done.status, done.sid, done.attempts) == ("sent", carried, 1)


def test_a_message_claimed_but_not_carried_before_a_crash_is_sent_once_on_recovery(app, session, clock):
    message = _sms(session, clock)
    job = _claim_then_crash(app, clock, carried=False)
    assert _fresh(session, message).status == "sending"

    clock.advance(30)
    assert deliver_outbox(app, clock.now()) == 1
    deliver_outbox(app, clock.advance(600))

    (sid,) = _network_sends(app, job.key)
    assert (_fresh(session, message).status, _fresh(session, message).sid) == ("sent", sid)


def test_a_claim_left_by_a_crash_holds_back_that_recipients_later_messages_until_settled(
    app, session, clock, use_telephony
):
    class Unsure(FlakyTelephony):
        """Twilio down after the crash: it can say neither whether it sent nor send."""

        def __init__(self):
            super().__init__()
            self.down = True

        def find_sent(self, **kwargs):
            if self.down:
                raise DeliveryError("twilio unreachable: timed out", permanent=False)
            return super().find_sent(**kwargs)

    first = _sms(session, clock, key="offer:1", body="first")
    second = _sms(session, clock, key="offer:2", body="second")
    other = _sms(session, clock, key="offer:3", to="+8613800000002", body="other")
    fake = use_telephony(Unsure())
    _claim_then_crash(app, clock, carried=False)

    deliver_outbox(app, clock.advance(30))
    assert [t["tag"] for t in fake.sent] == ["other"]
    assert _fresh(session, first).status == "sending" and _fresh(session, second).status == "queued"
    assert "could not tell" in _fresh(session, first).last_error

    fake.down = False
    deliver_outbox(app, clock.advance(30))
    assert [t["tag"] for t in fake.sent] == ["other", "first", "second"]
    assert {_fresh(session, m).status for m in (first, second, other)} == {"sent"}


def test_twilio_failing_with_errors_timeouts_and_429_loses_nothing_and_keeps_each_recipients_order(
    app, session, clock, use_telephony
):
    class Outage(FlakyTelephony):
        """Fails every send while `down`, cycling through the ways Twilio fails."""

        errors = ["twilio 429 20429: Too Many Requests", "twilio unreachable: Read timed out.",
                  "twilio 503 20500: Service Unavailable", "twilio unreachable: Connection refused"]

        def __init__(self):
            super().__init__()
            self.down = True

        def _send(self, record):
            self.tries.append(record)
            if self.down:
                raise DeliveryError(self.errors[len(self.tries) % len(self.errors)], permanent=False)
            sid = f"SM{len(self.sent) + 1:032d}"
            self.sent.append({**record, "sid": sid})
            return sid

    fake = use_telephony(Outage())
    recipients = [f"+86138000000{n:02d}" for n in range(1, 6)]
    written = []
    for n in range(20):
        to = recipients[n % len(recipients)]
        _sms(session, clock, key=f"k{n}", to=to, body=f"{to}#{n}")
        written.append((to, f"{to}#{n}"))

    for _ in range(12):  # about two minutes of failures
        deliver_outbox(app, clock.advance(10))
    assert fake.sent == [] and len(fake.tries) >= 5
    fake.down = False
    for _ in range(30):
        deliver_outbox(app, clock.advance(600))

    assert sorted((s["to"], s["tag"]) for s in fake.sent) == sorted(written)
    for to in recipients:
        assert [s["tag"] for s in fake.sent if s["to"] == to] == [b for t, b in written if t == to]
    with app.extensions["vnh.sessionmaker"]() as s:
        assert {m.status for m in s.scalars(select(OutboxMessage))} == {"sent"}
        assert s.scalar(select(func.count()).select_from(OperatorTask)) == 0
