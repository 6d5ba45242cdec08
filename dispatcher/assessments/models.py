"""One assessment of an elder's abilities; the rows of an elder are their history."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from dispatcher.db import Base


class Assessment(Base):
    """A GB/T 42195-2022 assessment: who assessed the elder, when, the level and how long it holds.

    `source` says how it came: enrollment (the level on the enrollment file), import (a file of
    assessments) or console (typed by an operator or supervisor).
    """

    __tablename__ = "assessments"
    __table_args__ = (Index("ix_assessments_elder_day", "elder_id", "assessed_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"))
    assessed_on: Mapped[date]
    level: Mapped[str] = mapped_column(String(20))
    score: Mapped[int | None]
    assessor: Mapped[str] = mapped_column(String(50))
    organisation: Mapped[str] = mapped_column(String(100))
    valid_until: Mapped[date]
    source: Mapped[str] = mapped_column(String(20))
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
