"""The outbox: outbound SMS and calls written with their cause, delivered by a sweeper."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from telephony import templates
from telephony.models import OutboxMessage
from telephony.numbers import is_mobile, mask_phone
from telephony.ports import DeliveryError, Telephony

log = logging.getLogger(__name__)

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


# An SMS the per-number limit held back: written down with why, never sent.
SKIPPED_RATE_LIMIT = "skipped_rate_limit"
# What a person reads for each status (the simulator's outbox, and any page that shows one).
STATUS_WORDS = {
    "queued": "排队待发", "sending": "发送中", "sent": "已发出", "initiated": "正在呼叫", "ringing": "振铃中",
    "in-progress": "通话中", "answered": "已接听", "delivered": "已送达", "undelivered": "未送达",
    "completed": "已挂断", "busy": "占线", "no-answer": "无人接听", "canceled": "已取消", "failed": "失败",
    SKIPPED_RATE_LIMIT: "超过发送频率上限，未发送",
}


def status_words(status: str) -> str:
    """A status as words (振铃中, 通话中, 已挂断); an unknown one as it came."""
    return STATUS_WORDS.get(status, status)


@dataclass(frozen=True)
class PerNumberLimit:
    """At most `count` texts to one number in `window_s` seconds (0 or less: no limit)."""

    count: int
    window_s: int


def enqueue_sms(
    session: Session, *, to: str, purpose: str, params: dict, dedupe_key: str, from_: str, now: datetime,
    limit: PerNumberLimit | None = None,
) -> OutboxMessage:
    """Queue the SMS template `purpose` with `params` once per `dedupe_key`; queuing it again
    returns the first one.

    The row keeps the template code and parameters (a domestic carrier sends those) besides the
    rendered body (Twilio and the local network send that). With a `limit`, an SMS that would
    exceed it is not queued but written as `skipped_rate_limit`, so the carrier never holds it.
    """
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))
    if existing is not None:
        return existing
    held = None
    if limit is not None and limit.count > 0:
        sent = texts_in_window(session, to, now - timedelta(seconds=limit.window_s))
        if sent >= limit.count:
            held = f"per-number limit: {sent} texts in {limit.window_s}s (limit {limit.count})"
            log.info("sms %s to %s not sent: %s", purpose, mask_phone(to), held)
    message = _enqueue(session, kind="sms", to=to, body=templates.render(purpose, params), url=None,
                       purpose=purpose, dedupe_key=dedupe_key, from_=from_, now=now,
                       template=purpose, params=params)
    if held is not None:
        message.status, message.last_error = SKIPPED_RATE_LIMIT, held
        session.flush()
    return message


def spoken_call_path(message_id: int) -> str:
    """The TwiML a spoken-notice call fetches when answered (telephony.views.spoken_notice)."""
    return f"/telephony/spoken/{message_id}"


def texts_in_window(session: Session, to: str, since: datetime) -> int:
    """How many texts to `to` were written since `since` and not held back."""
    return session.scalar(
        select(func.count()).select_from(OutboxMessage)
        .where(OutboxMessage.kind == "sms", OutboxMessage.to_number == to,
               OutboxMessage.created_at > since, OutboxMessage.status != SKIPPED_RATE_LIMIT))


def enqueue_notice(
    session: Session, *, to: str, purpose: str, params: dict, dedupe_key: str, from_: str, now: datetime,
    public_url: str,
) -> OutboxMessage:
    """Tell someone by SMS if `to` is a mobile, else by a short call that says the same words.

    A landline cannot take an SMS (the network rejects it), so the call's row keeps the spoken
    text in `body`, and its URL (under `public_url`) is the signed TwiML that reads it out.
    """
    if is_mobile(to):
        return enqueue_sms(session, to=to, purpose=purpose, params=params, dedupe_key=dedupe_key,
                           from_=from_, now=now)
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))
    if existing is not None:
        return existing
    message = _enqueue(session, kind="call", to=to, body=templates.spoken(purpose, params), url="",
                       purpose=purpose, dedupe_key=dedupe_key, from_=from_, now=now,
                       template=purpose, params=params)
    message.url = public_url + spoken_call_path(message.id)
    session.flush()
    return message


def enqueue_call(
    session: Session, *, to: str, url: str, purpose: str, dedupe_key: str, from_: str, now: datetime,
    review_id: int | None = None,
) -> OutboxMessage:
    """Queue an outbound call once per `dedupe_key`; `url` is the TwiML fetched on answer."""
    return _enqueue(session, kind="call", to=to, body=None, url=url, purpose=purpose,
                    dedupe_key=dedupe_key, from_=from_, now=now, review_id=review_id)


def _enqueue(session, *, kind, to, body, url, purpose, dedupe_key, from_, now, review_id=None,
             template=None, params=None):
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))
    if existing is not None:
        return existing
    message = OutboxMessage(
        kind=kind, purpose=purpose, dedupe_key=dedupe_key, to_number=to, from_number=from_,
        body=body, url=url, status="queued", next_attempt_at=now, created_at=now,
        review_id=review_id,
        template_code=templates.template_for(template).code if template else None,
        params=json.dumps(templates.fitted(template, params), ensure_ascii=False) if template else None,
    )
    session.add(message)
    session.flush()
    return message


def claim_next(session: Session, now: datetime) -> OutboxMessage | None:
    """Lock the oldest due message; other schedulers skip it (FOR UPDATE SKIP LOCKED).

    A message waits while an earlier one to the same number is still queued (say, backing off
    after an error) or being sent, so every recipient gets their messages in the order they
    were written, and at most one of them is ever in flight.
    """
    earlier = aliased(OutboxMessage)
    return session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= now,
               ~exists().where(earlier.to_number == OutboxMessage.to_number,
                               _unsent(earlier), earlier.id < OutboxMessage.id))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def _unsent(message):
    # "sending" with a SID is Twilio's own status of a sent SMS; without one it is our claim.
    return or_(message.status == "queued", and_(message.status == "sending", message.sid.is_(None)))


def retry_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with full jitter: up to 5 s, 10 s, 20 s … capped at 10 minutes."""
    ceiling = min(5 * 2 ** max(attempts - 1, 0), 600)
    return timedelta(seconds=(rng or random).uniform(ceiling / 2, ceiling))


@dataclass(frozen=True)
class Send:
    """What a send needs, read from a claimed message before its transaction ends."""

    id: int
    kind: str
    to: str
    from_: str
    body: str | None
    url: str | None
    # The template's purpose (the key of telephony.templates.TEMPLATES, and of a carrier's map
    # of its filed template codes) and its parameters; None for a message without a template.
    template: str | None = None
    params: dict | None = None

    @property
    def key(self) -> str:
        """The stable idempotency key the phone network is asked about after a crash."""
        return f"outbox-{self.id}"

    @classmethod
    def of(cls, message: OutboxMessage) -> Send:
        return cls(message.id, message.kind, message.to_number, message.from_number,
                   message.body, message.url, message.purpose if message.template_code else None,
                   json.loads(message.params) if message.params else None)


def mark_sending(message: OutboxMessage, now: datetime) -> Send:
    """Claim a message for one send attempt; commit this before the send itself."""
    message.status = "sending"
    message.claimed_at = now
    message.attempts += 1
    return Send.of(message)


def send(job: Send, telephony: Telephony, status_callback: str | None) -> str:
    """Hand one message to the phone network; return its SID or raise DeliveryError."""
    if job.kind == "sms":
        return telephony.send_sms(to=job.to, from_=job.from_, body=job.body or "",
                                  status_callback=status_callback, key=job.key,
                                  template=job.template, params=job.params)
    return telephony.place_call(to=job.to, from_=job.from_, url=job.url or "",
                                status_callback=status_callback, key=job.key)


def record_sent(message: OutboxMessage, sid: str, now: datetime) -> None:
    message.sid = sid
    message.status = "sent"
    message.sent_at = now


def record_error(message: OutboxMessage, exc: DeliveryError, now: datetime,
                 on_failed: Callable[[OutboxMessage], None]) -> None:
    """A failed send: try again later with backoff, or give up and tell an operator."""
    message.last_error = str(exc)[:300]
    if exc.permanent or message.attempts >= MAX_ATTEMPTS:
        message.status = "failed"
        on_failed(message)
    else:
        message.status = "queued"
        message.next_attempt_at = now + retry_delay(message.attempts)


def abandoned(session: Session) -> list[tuple[Send, datetime]]:
    """Claims whose sender died (or lost the database) before recording: each send and its claim time."""
    return [(Send.of(m), m.claimed_at or m.created_at) for m in session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == "sending", OutboxMessage.sid.is_(None))
        .order_by(OutboxMessage.id))]


def ask_network(job: Send, claimed_at: datetime, telephony: Telephony) -> str | DeliveryError | None:
    """Ask the network whether it carried an abandoned claim: its SID, None, or why it cannot tell."""
    try:
        return telephony.find_sent(key=job.key, kind=job.kind, to=job.to, from_=job.from_,
                                   body=job.body, since=claimed_at, url=job.url)
    except DeliveryError as exc:
        return exc


def settle(message: OutboxMessage, answer: str | DeliveryError | None, now: datetime) -> bool:
    """Settle an abandoned claim: adopt the SID if the network carried it, else queue it again.

    Returns True when it had been sent. When the network could not tell (Twilio down too), the
    message stays claimed, blocking only its recipient, and the next pass asks again.
    """
    if message.status != "sending" or message.sid is not None:
        return False
    if isinstance(answer, DeliveryError):
        message.last_error = f"after a crash, could not tell whether it was sent: {answer}"[:300]
        return False
    if answer is not None:
        record_sent(message, answer, message.claimed_at or now)
        return True
    message.status = "queued"
    message.next_attempt_at = now
    return False


def adopt_reported(session: Session, key: str, sid: str, now: datetime) -> OutboxMessage | None:
    """A carrier's report names a send by our key (its OutId) and its SID: adopt the SID when a
    crash left that message claimed but unrecorded, and return the message (None: not ours)."""
    prefix, _, ident = key.partition("-")
    if prefix != "outbox" or not ident.isdigit():
        return None
    message = session.get(OutboxMessage, int(ident))
    if message is None or message.status != "sending" or message.sid is not None:
        return None
    record_sent(message, sid, message.claimed_at or now)
    log.info("adopted %s %s from the carrier's report after a crash", message.kind, message.id)
    return message


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
