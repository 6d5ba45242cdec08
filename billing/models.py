"""The append-only ledger: double-entry postings in integer fen."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dispatcher.db import Base


class LedgerPosting(Base):
    """One leg of a transaction; the legs of a transaction sum to zero. Never updated."""

    __tablename__ = "ledger_postings"
    __table_args__ = (
        UniqueConstraint("txn_key", "account"),
        Index("ix_ledger_postings_month_account", "month", "account"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    txn_key: Mapped[str] = mapped_column(String(60), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    account: Mapped[str] = mapped_column(String(30))
    amount_fen: Mapped[int]
    month: Mapped[str] = mapped_column(String(7))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    elder_class: Mapped[str] = mapped_column(String(20))
    policy_version: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
