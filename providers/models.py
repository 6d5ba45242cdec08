"""Providers (加盟企业), their priced offerings and the offers they answer."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatcher.db import Base


class Provider(Base):
    __tablename__ = "providers"
    __table_args__ = (
        # The radius rides in the position index so a row outside its own reach is dropped
        # before the table is read; the radius index answers max() at once.
        Index("ix_providers_position", "latitude", "longitude", "service_radius_m"),
        Index("ix_providers_service_radius_m", "service_radius_m"),
        CheckConstraint("service_radius_m > 0", name="radius_positive"),
        CheckConstraint("capacity_per_day >= 0", name="capacity_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    license_no: Mapped[str] = mapped_column(String(50))
    # The main dispatch phone (account messages go here); more in `phones`; all get job SMS.
    dispatch_phone: Mapped[str] = mapped_column(String(20), index=True)
    address: Mapped[str] = mapped_column(String(200))
    latitude: Mapped[float]
    longitude: Mapped[float]
    service_radius_m: Mapped[int]
    capacity_per_day: Mapped[int]
    opens_at: Mapped[time]
    closes_at: Mapped[time]
    contract_status: Mapped[str] = mapped_column(String(20), default="active")
    # Outside these dates (inclusive, local calendar days; None = open-ended) nothing matches.
    contract_starts_on: Mapped[date | None]
    contract_ends_on: Mapped[date | None]
    contract_reason: Mapped[str | None] = mapped_column(String(200))
    # None: no limit per half-day slot (dispatcher.lifecycle.slots.half_day_bounds), only per day.
    capacity_per_slot: Mapped[int | None]
    quality_score: Mapped[float] = mapped_column(default=4.5)
    quality_parts: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime]

    offerings: Mapped[list[Offering]] = relationship(back_populates="provider")
    phones: Mapped[list[ProviderPhone]] = relationship(
        cascade="all, delete-orphan", order_by="ProviderPhone.id")
    communities: Mapped[list[ProviderCommunity]] = relationship(
        cascade="all, delete-orphan", order_by="ProviderCommunity.id")
    days_off: Mapped[list[ProviderDayOff]] = relationship(
        cascade="all, delete-orphan", order_by="ProviderDayOff.day")

    @property
    def dispatch_phones(self) -> list[str]:
        """Every number that gets this provider's job SMS: the main one first."""
        return [self.dispatch_phone] + [p.phone for p in self.phones if p.phone != self.dispatch_phone]


class ProviderPhone(Base):
    """A further dispatch phone: it gets every job SMS, and replies from it count as the provider's."""

    __tablename__ = "provider_phones"
    __table_args__ = (UniqueConstraint("provider_id", "phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(20), index=True)


class ProviderCommunity(Base):
    """A community (社区, by name, as on the elder's record) the provider serves wherever it lies."""

    __tablename__ = "provider_communities"
    __table_args__ = (UniqueConstraint("provider_id", "community"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    community: Mapped[str] = mapped_column(String(50), index=True)


class ProviderDayOff(Base):
    """A local calendar day the provider is closed (a holiday, a training day)."""

    __tablename__ = "provider_days_off"
    __table_args__ = (UniqueConstraint("provider_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    day: Mapped[date]
    reason: Mapped[str] = mapped_column(String(200), default="")


class Offering(Base):
    """An item a provider sells under contract, at its contracted price."""

    __tablename__ = "offerings"
    __table_args__ = (
        UniqueConstraint("provider_id", "item_id"),
        CheckConstraint("price_fen >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    price_fen: Mapped[int]

    provider: Mapped[Provider] = relationship(back_populates="offerings")


class Offer(Base):
    """A job offered to one provider (派单); its expiry is a sweeper's deadline."""

    __tablename__ = "offers"
    __table_args__ = (
        UniqueConstraint("order_id", "provider_id"),
        Index("ix_offers_due", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="offered")
    rank: Mapped[int]
    price_fen: Mapped[int]
    distance_m: Mapped[int]
    score: Mapped[float]
    reasons: Mapped[dict] = mapped_column(JSON)
    offered_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    responded_at: Mapped[datetime | None]
    response_channel: Mapped[str | None] = mapped_column(String(20))

    provider: Mapped[Provider] = relationship()


class Worker(Base):
    """A provider's worker on record (服务人员): who may check in and out of its visits."""

    __tablename__ = "workers"
    __table_args__ = (
        UniqueConstraint("provider_id", "id_number", name="uq_workers_provider_id_number"),
        UniqueConstraint("provider_id", "work_number", name="uq_workers_provider_work_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    # The provider's own staff number for the worker; check-ins may name it instead of the phone.
    work_number: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(20), index=True)  # E.164
    id_number: Mapped[str] = mapped_column(String(18), index=True)
    # Item codes the worker may do, comma-separated; None means every item the provider sells.
    items: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class WorkerCertificate(Base):
    """A certificate a worker holds (养老护理员 level, health certificate), with its expiry."""

    __tablename__ = "worker_certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    level: Mapped[str | None] = mapped_column(String(20))
    expires_on: Mapped[date | None]
