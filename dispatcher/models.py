"""Elders, the service catalogue, orders, visits, reviews, staff and hotline calls."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatcher.db import Base
from dispatcher.lifecycle.states import OPEN_STATES, OrderState

_OPEN_STATES_SQL = "state IN (" + ", ".join(f"'{s.value}'" for s in sorted(OPEN_STATES)) + ")"


class Elder(Base):
    __tablename__ = "elders"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    gender: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[date]
    address: Mapped[str] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(50), index=True)
    community: Mapped[str] = mapped_column(String(50))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    elder_class: Mapped[str] = mapped_column(String(20))
    disability_level: Mapped[str] = mapped_column(String(20))
    is_living_alone: Mapped[bool] = mapped_column(default=False)
    # Covered by long-term care insurance (长护险), which pays before any subsidy.
    is_insured: Mapped[bool] = mapped_column(default=False)
    # The elder cannot answer reliably: the callback review goes to a family member instead.
    is_reviewed_via_family: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    created_at: Mapped[datetime]

    phones: Mapped[list[ElderPhone]] = relationship(
        back_populates="elder", cascade="all, delete-orphan", order_by="ElderPhone.id"
    )
    emergency_contacts: Mapped[list[EmergencyContact]] = relationship(
        back_populates="elder", cascade="all, delete-orphan", order_by="EmergencyContact.id"
    )
    family_members: Mapped[list[FamilyMember]] = relationship(
        back_populates="elder", cascade="all, delete-orphan", order_by="FamilyMember.id"
    )

    @property
    def surname(self) -> str:
        return self.name[:1]


class ElderPhone(Base):
    """A number that identifies the elder when it calls: their own or a family member's."""

    __tablename__ = "elder_phones"
    __table_args__ = (UniqueConstraint("elder_id", "phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(20), index=True)
    is_primary: Mapped[bool] = mapped_column(default=False)

    elder: Mapped[Elder] = relationship(back_populates="phones")


class EmergencyContact(Base):
    __tablename__ = "emergency_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(20))

    elder: Mapped[Elder] = relationship(back_populates="emergency_contacts")


class FamilyMember(Base):
    """A family member (家属) who hears about visits, may answer the review, may report a no-show."""

    __tablename__ = "family_members"
    __table_args__ = (UniqueConstraint("elder_id", "phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(20), index=True)  # E.164; a landline gets a short call
    relation: Mapped[str] = mapped_column(String(20))
    wants_visit_sms: Mapped[bool] = mapped_column(default=False)
    wants_statement: Mapped[bool] = mapped_column(default=False)
    is_review_contact: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]

    elder: Mapped[Elder] = relationship(back_populates="family_members")


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    position: Mapped[int]

    items: Mapped[list[Item]] = relationship(back_populates="category", order_by="Item.position")


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    unit: Mapped[str] = mapped_column(String(20))
    market_price_fen: Mapped[int]
    is_free: Mapped[bool] = mapped_column(default=False)
    is_emergency: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int]
    synonyms: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Where it happens: home, delivered, venue (the elder goes to `venue`) or phone.
    place: Mapped[str] = mapped_column(String(20), default="home", server_default="home")
    venue: Mapped[str | None] = mapped_column(String(50))

    category: Mapped[Category] = relationship(back_populates="items")


class Order(Base):
    """A service order (服务工单): one elder, one item, one visit window."""

    __tablename__ = "orders"
    __table_args__ = (
        # A job code names one open order; closed orders free their code for reuse.
        Index(
            "uq_orders_open_job_code",
            "job_code",
            unique=True,
            postgresql_where=text(_OPEN_STATES_SQL),
            sqlite_where=text(_OPEN_STATES_SQL),
        ),
        # A provider's bookings on one day: the load that matching counts.
        Index("ix_orders_provider_day", "provider_id", "window_start_at"),
        # One live order per care plan and day: a restart or a second scheduler makes none twice.
        Index(
            "uq_orders_plan_occurrence",
            "plan_id",
            "occurrence_date",
            unique=True,
            postgresql_where=text("state <> 'cancelled'"),
            sqlite_where=text("state <> 'cancelled'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(20), unique=True)
    job_code: Mapped[str] = mapped_column(String(8))
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    state: Mapped[str] = mapped_column(String(20), default=OrderState.NEW.value, index=True)
    source: Mapped[str] = mapped_column(String(20))
    call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    slot_code: Mapped[str] = mapped_column(String(20))
    window_start_at: Mapped[datetime]
    window_end_at: Mapped[datetime]
    quoted_price_fen: Mapped[int | None]
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    queue_reason: Mapped[str | None] = mapped_column(String(200))
    # The one-time code the elder reads to the worker (told in the visit notice), and how many
    # wrong codes were entered for it; at dispatcher.lifecycle.proof.MAX_CODE_FAILURES it is locked.
    visit_code: Mapped[str | None] = mapped_column(String(6))
    visit_code_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    # An occurrence of a care plan (source "plan"): the plan and its local calendar day.
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("care_plans.id"), index=True)
    occurrence_date: Mapped[date | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    elder: Mapped[Elder] = relationship()
    item: Mapped[Item] = relationship()
    visit: Mapped[Visit | None] = relationship(back_populates="order")


class Visit(Base):
    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    checked_in_at: Mapped[datetime | None] = mapped_column(index=True)
    check_in_source: Mapped[str | None] = mapped_column(String(20))
    checked_out_at: Mapped[datetime | None]
    check_out_source: Mapped[str | None] = mapped_column(String(20))
    # Electronic visit verification: who came, and from which phone they reported (the place).
    worker_ref: Mapped[str | None] = mapped_column(String(20))
    check_in_phone: Mapped[str | None] = mapped_column(String(20))
    check_out_phone: Mapped[str | None] = mapped_column(String(20))
    # The worker on record (providers.models.Worker) who checked in, and how each end was proved:
    # method is one of elder_phone, visit_code, location, none; the place where a location was
    # given, and the device (a hash of the portal session or API token) that reported it.
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"), index=True)
    check_in_method: Mapped[str | None] = mapped_column(String(20))
    check_out_method: Mapped[str | None] = mapped_column(String(20))
    check_in_lat: Mapped[float | None]
    check_in_lng: Mapped[float | None]
    check_out_lat: Mapped[float | None]
    check_out_lng: Mapped[float | None]
    check_in_device: Mapped[str | None] = mapped_column(String(64))
    check_out_device: Mapped[str | None] = mapped_column(String(64))

    order: Mapped[Order] = relationship(back_populates="visit")


class CallbackReview(Base):
    """The callback review (回访) of one visit; its due time is the sweeper's deadline."""

    __tablename__ = "callback_reviews"
    __table_args__ = (Index("ix_callback_reviews_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), default="scheduled")
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    did_worker_come: Mapped[bool | None]
    rating: Mapped[int | None]
    answered_at: Mapped[datetime | None]
    called_at: Mapped[datetime | None]
    last_call_status: Mapped[str | None] = mapped_column(String(20))
    sample_seed: Mapped[int | None]
    is_sampled: Mapped[bool] = mapped_column(default=False)
    comment_url: Mapped[str | None] = mapped_column(String(500))

    visit: Mapped[Visit] = relationship()
    order: Mapped[Order] = relationship()


class OperatorTask(Base):
    """Something a person must do: a transferred call, an order nobody took, a failed SMS."""

    __tablename__ = "operator_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(String(200))
    elder_id: Mapped[int | None] = mapped_column(ForeignKey("elders.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    call_sid: Mapped[str | None] = mapped_column(String(64))
    caller: Mapped[str | None] = mapped_column(String(20))
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    priority: Mapped[int] = mapped_column(default=5)
    recording_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    # When an operator picked up the transferred call: the Dial's end less its talk time
    # (Twilio's DialCallDuration); None when nobody answered or the switch did not say.
    answered_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    resolution: Mapped[str | None] = mapped_column(String(500))
    # A dispute's ruling (issue 19): "happened" (the provider is cleared) or "not_happened" (the
    # elder's denial stands, and only then counts against the provider's quality score).
    verdict: Mapped[str | None] = mapped_column(String(20))


class HotlineCall(Base):
    """The IVR state of one inbound call, kept per CallSid."""

    __tablename__ = "hotline_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    caller: Mapped[str] = mapped_column(String(20))
    elder_id: Mapped[int | None] = mapped_column(ForeignKey("elders.id"))
    step: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The operator's desk (issue 19): ringing, talking or ended, from the network's status callbacks.
    call_status: Mapped[str | None] = mapped_column(String(20))


class HotlineTurn(Base):
    """The TwiML answered at one step of one call, so a replayed webhook gets the same answer."""

    __tablename__ = "hotline_turns"
    __table_args__ = (UniqueConstraint("call_sid", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int]
    twiml: Mapped[str] = mapped_column(Text)


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    display_name: Mapped[str] = mapped_column(String(50))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    phone: Mapped[str | None] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Kept in the session cookie at sign-in; logout and a new password bump it, which ends every session.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime]
    # The area a street or community worker's account is bound to (dispatcher.consoles.scope):
    # a street alone, or a street and one of its communities; both empty → every area.
    street: Mapped[str | None] = mapped_column(String(50))
    community: Mapped[str | None] = mapped_column(String(50))
