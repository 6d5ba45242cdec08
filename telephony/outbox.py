"""The outbox: outbound SMS and calls written with their cause, delivered by a sweeper."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from telephony.models import OutboxMessage
from telephony.ports import DeliveryError, Telephony

MAX_ATTEMPTS = 8
# Call outcomes that mean nobody was reached ("voicemail": answering-machine detection).
UNANSWERED_CALL = frozenset({"busy", "no-answer", "failed", "canceled", "voicemail"})

# Statuses in the order they can happen; a status callback only ever moves a record forward.
STATUS_RANK = {
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "initiated": 2,
    "ringing": 3,
    "in-progress": 4,
    "answered": 4,
    "delivered": 5,
    "undelivered": 5,
    "completed": 5,
    "busy": 5,
    "no-answer": 5,
    "canceled": 5,
    "failed": 5,
}


def enqueue_sms(
    session: Session, *, to: str, body: str, purpose: str, dedupe_key: str, from_: str, now: datetime
) -> OutboxMessage:
    """Queue an SMS once per `dedupe_key`; queuing it again returns the first one."""
    return _enqueue(session, kind="sms", to=to, body=body, url=None, purpose=purpose,
                    dedupe_key=dedupe_key, from_=from_, now=now)


def enqueue_call(
    session: Session, *, to: str, url: str, purpose: str, dedupe_key: str, from_: str, now: datetime,
    review_id: int | None = None,
) -> OutboxMessage:
    """Queue an outbound call once per `dedupe_key`; `url` is the TwiML fetched on answer."""
    return _enqueue(session, kind="call", to=to, body=None, url=url, purpose=purpose,
                    dedupe_key=dedupe_key, from_=from_, now=now, review_id=review_id)


def _enqueue(session, *, kind, to, body, url, purpose, dedupe_key, from_, now, review_id=None):
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))
    if existing is not None:
        return existing
    message = OutboxMessage(
        kind=kind, purpose=purpose, dedupe_key=dedupe_key, to_number=to, from_number=from_,
        body=body, url=url, status="queued", next_attempt_at=now, created_at=now,
        review_id=review_id,
    )
    session.add(message)
    session.flush()
    return message


def claim_next(session: Session, now: datetime) -> OutboxMessage | None:
    """Lock the oldest due message; other schedulers skip it (FOR UPDATE SKIP LOCKED).

    A message waits while an earlier one to the same number is still queued (say, backing off
    after an error), so every recipient gets their messages in the order they were written.
    """
    earlier = aliased(OutboxMessage)
    return session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= now,
               ~exists().where(earlier.to_number == OutboxMessage.to_number,
                               earlier.status == "queued", earlier.id < OutboxMessage.id))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def retry_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with full jitter: up to 5 s, 10 s, 20 s … capped at 10 minutes."""
    ceiling = min(5 * 2 ** max(attempts - 1, 0), 600)
    return timedelta(seconds=(rng or random).uniform(ceiling / 2, ceiling))


def deliver(
    message: OutboxMessage,
    telephony: Telephony,
    now: datetime,
    status_callback: Callable[[str], str | None],
    on_failed: Callable[[OutboxMessage], None],
) -> None:
    """Send one claimed message and record what happened."""
    message.attempts += 1
    try:
        if message.kind == "sms":
            sid = telephony.send_sms(to=message.to_number, from_=message.from_number,
                                     body=message.body or "", status_callback=status_callback("sms"))
        else:
            sid = telephony.place_call(to=message.to_number, from_=message.from_number,
                                       url=message.url or "", status_callback=status_callback("call"))
    except DeliveryError as exc:
        message.last_error = str(exc)[:300]
        if exc.permanent or message.attempts >= MAX_ATTEMPTS:
            message.status = "failed"
            on_failed(message)
        else:
            message.next_attempt_at = now + retry_delay(message.attempts)
        return
    message.sid = sid
    message.status = "sent"
    message.sent_at = now


def record_status(session: Session, sid: str, status: str) -> OutboxMessage | None:
    """Apply a Twilio status callback; statuses only move forward, unknown SIDs change nothing."""
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.sid == sid))
    if message is None or status not in STATUS_RANK:
        return message
    if STATUS_RANK[status] > STATUS_RANK.get(message.status, 0):
        message.status = status
    return message


class Pacer:
    """Keep sends of each kind under a rate (per second; 0 or less means unpaced)."""

    def __init__(self, rates: dict[str, float], clock=time.monotonic, sleep=time.sleep):
        self.rates, self.clock, self.sleep = rates, clock, sleep
        self.last: dict[str, float] = {}

    def wait(self, kind: str) -> None:
        rate = self.rates.get(kind, 0)
        if rate <= 0:
            return
        if kind in self.last:
            gap = 1 / rate - (self.clock() - self.last[kind])
            if gap > 0:
                self.sleep(gap)
        self.last[kind] = self.clock()
