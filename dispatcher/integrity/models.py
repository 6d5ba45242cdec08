"""Integrity flags on visits (one per visit and check) and the scheduler's runs of the checks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatcher.db import Base

OPEN, CLEARED, CONFIRMED = "open", "cleared", "confirmed"
STATES = (OPEN, CLEARED, CONFIRMED)


class IntegrityFlag(Base):
    """A check that a visit tripped, with why and the evidence; open until a supervisor decides.

    An open flag holds the visit's subsidy (it is not payable); cleared lets it be paid as usual;
    confirmed (a fraud) withholds it through a ledger reversal and counts against the provider.
    """

    __tablename__ = "integrity_flags"
    __table_args__ = (
        UniqueConstraint("visit_id", "check"),
        Index("ix_integrity_flags_month_state", "month", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    check: Mapped[str] = mapped_column(String(20))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"))
    # The visit's month (local time of its check-in), which the report and the pages filter by.
    month: Mapped[str] = mapped_column(String(7))
    reason: Mapped[str] = mapped_column(String(300))
    evidence: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20), default=OPEN)
    found_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    decision_note: Mapped[str | None] = mapped_column(String(500))


class IntegrityRun(Base):
    """One due run of the checks over a period: the scheduler's deadline row, done once."""

    __tablename__ = "integrity_runs"
    __table_args__ = (Index("ix_integrity_runs_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_key: Mapped[str] = mapped_column(String(40), unique=True)
    since_at: Mapped[datetime]
    until_at: Mapped[datetime]
    due_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(20), default="due")
    finished_at: Mapped[datetime | None]
    flags_found: Mapped[int] = mapped_column(default=0)


def is_held(session: Session, visit_id: int) -> bool:
    """Whether the visit has a flag still open or confirmed (its subsidy must not become payable)."""
    return session.scalar(select(IntegrityFlag.id).where(
        IntegrityFlag.visit_id == visit_id, IntegrityFlag.state.in_((OPEN, CONFIRMED))).limit(1)
    ) is not None
