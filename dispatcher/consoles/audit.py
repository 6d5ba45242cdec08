"""The security record: who opened which elder's full record, and failed sign-ins to slow guessing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatcher.db import Base

# Sign-in: this many failures for one username from one address within the window → refused.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)


class ElderRecordView(Base):
    """One view of an elder's full record by a member of staff (append-only)."""

    __tablename__ = "elder_record_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"), index=True)
    route: Mapped[str] = mapped_column(String(200))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    viewed_at: Mapped[datetime]


class FailedSignIn(Base):
    """A wrong password or unknown username, kept for the rate limit (shared by every process)."""

    __tablename__ = "failed_sign_ins"
    __table_args__ = (Index("ix_failed_sign_ins_who", "username", "remote_addr", "attempted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50))
    remote_addr: Mapped[str] = mapped_column(String(64))
    attempted_at: Mapped[datetime]


def record_view(session: Session, *, staff_user_id: int, elder_id: int, route: str,
                remote_addr: str | None, now: datetime) -> None:
    session.add(ElderRecordView(staff_user_id=staff_user_id, elder_id=elder_id, route=route[:200],
                                remote_addr=(remote_addr or "")[:64] or None, viewed_at=now))
    session.flush()


def views_of(session: Session, elder_id: int) -> list[ElderRecordView]:
    return list(session.scalars(select(ElderRecordView).where(ElderRecordView.elder_id == elder_id)
                                .order_by(ElderRecordView.id)))


def is_locked_out(session: Session, username: str, remote_addr: str, now: datetime) -> bool:
    """Whether this username from this address failed too often lately to try again now."""
    failures = session.scalar(
        select(func.count()).select_from(FailedSignIn).where(
            FailedSignIn.username == username[:50], FailedSignIn.remote_addr == remote_addr[:64],
            FailedSignIn.attempted_at > now - FAILURE_WINDOW)
    )
    return failures >= MAX_FAILURES


def record_failure(session: Session, username: str, remote_addr: str, now: datetime) -> None:
    session.add(FailedSignIn(username=username[:50], remote_addr=remote_addr[:64], attempted_at=now))
    # Old failures count for nothing: drop them as we go so the table stays small.
    session.execute(delete(FailedSignIn).where(FailedSignIn.attempted_at <= now - FAILURE_WINDOW))
    session.flush()


def clear_failures(session: Session, username: str, remote_addr: str) -> None:
    session.execute(delete(FailedSignIn).where(FailedSignIn.username == username[:50],
                                               FailedSignIn.remote_addr == remote_addr[:64]))
