"""Market prices over time: each change takes effect on a date and is never rewritten."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dispatcher.db import Base


class ItemPriceVersion(Base):
    """An item's market price from `effective_on` until the next version's date."""

    __tablename__ = "item_price_versions"
    __table_args__ = (UniqueConstraint("item_id", "effective_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    effective_on: Mapped[date]
    market_price_fen: Mapped[int]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(50))
    reason: Mapped[str] = mapped_column(String(200), default="")
