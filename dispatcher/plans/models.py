"""A care plan, its pauses and the record of every change made to it."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatcher.db import Base

ACTIVE, PAUSED, ENDED = "active", "paused", "ended"
STATES = (ACTIVE, PAUSED, ENDED)


class CarePlan(Base):
    """A standing service: one elder, one item, on the days an RRULE names, at one time of day.

    `preferred_provider_id` is asked first; `provider_id` is the provider that accepted the plan
    as a whole, and every occurrence is assigned to it without a new offer.
    """

    __tablename__ = "care_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    rule: Mapped[str] = mapped_column(String(500))
    at_time: Mapped[time]
    duration_min: Mapped[int] = mapped_column(default=60)
    starts_on: Mapped[date]
    until: Mapped[date | None]
    preferred_provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(10), default=ACTIVE, index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    pauses: Mapped[list[PlanPause]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="PlanPause.starts_on")


class PlanPause(Base):
    """Days (local, inclusive) on which the plan makes no occurrence: a hospital stay, a trip."""

    __tablename__ = "plan_pauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("care_plans.id", ondelete="CASCADE"), index=True)
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]

    plan: Mapped[CarePlan] = relationship(back_populates="pauses")


class PlanChange(Base):
    """One change to a plan (append-only): what, by whom (None: the command line or an import),
    and the plan's fields before and after as JSON."""

    __tablename__ = "plan_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("care_plans.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    before: Mapped[str] = mapped_column(Text)
    after: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime]
