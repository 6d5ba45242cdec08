"""The security record: who opened which elder's full record, who searched for what, and failed
sign-ins to slow guessing."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatcher.db import Base
from dispatcher.operations.logs import mask_text

# Sign-in: this many failures for one username from one address within the window → refused.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
# Searching for elders: this many searches by one member of staff within the window → refused.
SEARCHES_PER_MINUTE = 30
SEARCH_WINDOW = timedelta(minutes=1)
# A run of digits in a search (a phone number's or ID number's tail) is kept only by its last four.
_DIGIT_RUN = re.compile(r"[0-9][0-9 \-]{3,}[0-9Xx]")


class ElderRecordView(Base):
    """One view of an elder's full record by a member of staff (append-only)."""

    __tablename__ = "elder_record_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"), index=True)
    route: Mapped[str] = mapped_column(String(200))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    viewed_at: Mapped[datetime]


class ElderSearch(Base):
    """One search for elders by a member of staff, its query masked (append-only).

    The rows are also the search limit's counter, shared by every web process.
    """

    __tablename__ = "elder_searches"
    __table_args__ = (Index("ix_elder_searches_who", "staff_user_id", "searched_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    query_masked: Mapped[str] = mapped_column(String(100))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    searched_at: Mapped[datetime]


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


def mask_query(query: str) -> str:
    """A search as the audit keeps it: names as typed, numbers only by their last four digits."""
    masked = mask_text(query)
    masked = _DIGIT_RUN.sub(lambda m: "*" * (len(m.group()) - 4) + m.group()[-4:], masked)
    return masked[:100]


def record_search(session: Session, *, staff_user_id: int, query: str, remote_addr: str | None,
                  now: datetime) -> int:
    """Write who searched for what (masked), from where and when; return how many searches this
    member of staff made within the last minute, this one included."""
    session.add(ElderSearch(staff_user_id=staff_user_id, query_masked=mask_query(query),
                            remote_addr=(remote_addr or "")[:64] or None, searched_at=now))
    session.flush()
    return session.scalar(
        select(func.count()).select_from(ElderSearch).where(
            ElderSearch.staff_user_id == staff_user_id, ElderSearch.searched_at > now - SEARCH_WINDOW)
    )


def searches_by(session: Session, staff_user_id: int) -> list[ElderSearch]:
    return list(session.scalars(select(ElderSearch).where(ElderSearch.staff_user_id == staff_user_id)
                                .order_by(ElderSearch.id)))


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
