"""The append-only ledger (double-entry postings in integer fen) and the closed months."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, JSON, ForeignKey, Index, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from dispatcher.db import Base


class LedgerPosting(Base):
    """One leg of a transaction; the legs of a transaction sum to zero. Never updated.

    `service_month` is the month of the visit; `month` is the month the posting is booked in,
    which is later only when the visit's month was closed first (an adjustment).
    `original_txn_key` names the transaction this one settles, reverses or replaces.
    """

    __tablename__ = "ledger_postings"
    __table_args__ = (
        UniqueConstraint("txn_key", "account", "source"),
        Index("ix_ledger_postings_month_account", "month", "account", "source"),
        Index("ix_ledger_postings_elder_service_month", "elder_id", "service_month"),
        # The reports sum each visit's postings: these two let SQLite answer from the indexes
        # alone, without reading a table row per posting.
        Index("ix_ledger_postings_month_visit", "month", "visit_id"),
        Index("ix_ledger_postings_visit_amounts", "visit_id", "month", "account", "kind",
              "amount_fen", "service_month", "elder_class", "source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    txn_key: Mapped[str] = mapped_column(String(60), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    account: Mapped[str] = mapped_column(String(30))
    # The funding source the leg is of (national_voucher, city_class…), `elder` for the co-pay,
    # `all` for the provider's price; `unsplit` on postings booked before sources existed.
    source: Mapped[str] = mapped_column(String(30), server_default="unsplit")
    amount_fen: Mapped[int]
    month: Mapped[str] = mapped_column(String(7))
    service_month: Mapped[str] = mapped_column(String(7))
    original_txn_key: Mapped[str | None] = mapped_column(String(60))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    elder_class: Mapped[str] = mapped_column(String(20))
    policy_version: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]


class ClosedMonth(Base):
    """A month locked by `vnh month close`, with what its ledger held at the close."""

    __tablename__ = "closed_months"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    closed_at: Mapped[datetime]
    is_forced: Mapped[bool] = mapped_column(default=False)
    pending_reviews: Mapped[int] = mapped_column(default=0)
    policy_version: Mapped[str] = mapped_column(String(20))
    policy_fingerprint: Mapped[str] = mapped_column(String(64))
    totals: Mapped[dict] = mapped_column(JSON)


class LedgerIsAppendOnly(RuntimeError):
    """Something tried to change or remove a ledger posting."""


@event.listens_for(LedgerPosting, "before_update")
def _refuse_update(_mapper, _connection, target: LedgerPosting) -> None:
    raise LedgerIsAppendOnly(f"ledger posting {target.id} must not be updated: post a reversal")


@event.listens_for(LedgerPosting, "before_delete")
def _refuse_delete(_mapper, _connection, target: LedgerPosting) -> None:
    raise LedgerIsAppendOnly(f"ledger posting {target.id} must not be deleted: post a reversal")


# The database refuses too, whatever the client: no UPDATE or DELETE of a posting, and no
# posting booked into a closed month. The migration 0002 creates the same triggers.
TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER ledger_postings_no_update BEFORE UPDATE ON ledger_postings "
        "BEGIN SELECT RAISE(ABORT, 'ledger postings are never updated'); END",
        "CREATE TRIGGER ledger_postings_no_delete BEFORE DELETE ON ledger_postings "
        "BEGIN SELECT RAISE(ABORT, 'ledger postings are never deleted'); END",
        "CREATE TRIGGER ledger_postings_open_month BEFORE INSERT ON ledger_postings "
        "WHEN EXISTS (SELECT 1 FROM closed_months WHERE month = NEW.month) "
        "BEGIN SELECT RAISE(ABORT, 'ledger month is closed'); END",
    ],
    "postgresql": [
        """CREATE OR REPLACE FUNCTION ledger_postings_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP <> 'INSERT' THEN
            RAISE EXCEPTION 'ledger postings are never %', lower(TG_OP) || 'd';
          END IF;
          IF EXISTS (SELECT 1 FROM closed_months WHERE month = NEW.month) THEN
            RAISE EXCEPTION 'ledger month % is closed', NEW.month;
          END IF;
          RETURN NEW;
        END $$""",
        "CREATE TRIGGER ledger_postings_guard BEFORE INSERT OR UPDATE OR DELETE ON ledger_postings "
        "FOR EACH ROW EXECUTE FUNCTION ledger_postings_guard()",
    ],
}

for _dialect, _statements in TRIGGERS.items():
    for _statement in _statements:
        event.listen(LedgerPosting.__table__, "after_create",
                     DDL(_statement).execute_if(dialect=_dialect))
