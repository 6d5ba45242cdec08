"""The record of calls and messages, and the outbox that delivers outbound ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dispatcher.db import Base


class OutboxMessage(Base):
    """An SMS or call the app has decided to send, written in the same transaction as its cause."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    purpose: Mapped[str] = mapped_column(String(30))
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    to_number: Mapped[str] = mapped_column(String(20), index=True)
    from_number: Mapped[str] = mapped_column(String(20))
    body: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # When the sender claimed it ("sending"): a crash after this may or may not have sent it.
    claimed_at: Mapped[datetime | None]
    review_id: Mapped[int | None] = mapped_column(ForeignKey("callback_reviews.id"))
    # The SMS template (telephony.templates) and its parameters as JSON, for a carrier that
    # sends a filed template code instead of a body; a spoken notice call keeps them too.
    template_code: Mapped[str | None] = mapped_column(String(40))
    params: Mapped[str | None] = mapped_column(Text)


class InboundMessage(Base):
    """An SMS received, with the reply it got, so a replayed webhook is answered the same."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)
    from_number: Mapped[str] = mapped_column(String(20), index=True)
    to_number: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    reply: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]


class CallRecord(Base):
    """Every call we saw, inbound or outbound, with a status that only moves forward."""

    __tablename__ = "call_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    direction: Mapped[str] = mapped_column(String(20))
    from_number: Mapped[str] = mapped_column(String(20))
    to_number: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    duration_s: Mapped[int | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LocalNetworkSend(Base):
    """What the local phone network carried, one row per send (a resend shows as a second row).

    It stands for Twilio's own records: after a crash the outbox asks it whether a message went.
    """

    __tablename__ = "local_network_sends"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    to_number: Mapped[str] = mapped_column(String(20))
    from_number: Mapped[str] = mapped_column(String(20))
    sent_at: Mapped[datetime]


class CallRecording(Base):
    """A voicemail the call centre's switch recorded and uploaded with its next request (mod_httapi's
    <record>), kept here as Twilio keeps its recordings, for the operator to play."""

    __tablename__ = "call_recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(50))
    audio: Mapped[bytes] = mapped_column(LargeBinary)
    size_bytes: Mapped[int]
    created_at: Mapped[datetime]
