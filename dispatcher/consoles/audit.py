"""The security record: who opened which elder's full record, who searched for what, sign-in
attempts counted to slow guessing, and every change to a staff account."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatcher.db import Base
from dispatcher.operations.logs import mask_text

# Sign-in: this many attempts for one username from one address within the window, then refused
# (a successful sign-in starts the count again).
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


class SignInAttempts(Base):
    """How many sign-ins one username tried from one address since its window opened (shared by every
    process; counted before the password is checked, so the count is the number of checks)."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (UniqueConstraint("username", "remote_addr"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50))
    remote_addr: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int]
    window_started_at: Mapped[datetime] = mapped_column(index=True)


class StaffChange(Base):
    """One change to a staff account: who made it (None: the command line), when, and the account's
    fields before and after as JSON (never a password or its hash; append-only)."""

    __tablename__ = "staff_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    action: Mapped[str] = mapped_column(String(20))
    before: Mapped[str] = mapped_column(Text)
    after: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime]


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


def count_attempt(session: Session, username: str, remote_addr: str, now: datetime) -> int:
    """Count one more sign-in for this username from this address and return the count in the window.

    One INSERT … ON CONFLICT DO UPDATE … RETURNING: the database serialises concurrent attempts on
    the row, so forty at once get the numbers 1 to 40 and at most MAX_FAILURES of them are let on
    to the password check, on SQLite and PostgreSQL alike.
    """
    username, remote_addr = username[:50], remote_addr[:64]
    table = SignInAttempts.__table__
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)
    expired = table.c.window_started_at <= now - FAILURE_WINDOW
    statement = insert.values(username=username, remote_addr=remote_addr, attempts=1,
                              window_started_at=now).on_conflict_do_update(
        index_elements=[table.c.username, table.c.remote_addr],
        set_={"attempts": case((expired, 1), else_=table.c.attempts + 1),
              "window_started_at": case((expired, insert.excluded.window_started_at),
                                        else_=table.c.window_started_at)},
    ).returning(table.c.attempts)
    count = session.execute(statement).scalar_one()
    _drop_expired(session, now)
    return count


def _drop_expired(session: Session, now: datetime) -> None:
    """Drop a few counters whose window has passed, so the table stays small. Rows another sign-in
    holds are skipped (PostgreSQL), so this never waits and two sign-ins cannot deadlock on it."""
    table = SignInAttempts.__table__
    stale = (select(table.c.id).where(table.c.window_started_at <= now - FAILURE_WINDOW).limit(50)
             .with_for_update(skip_locked=True))
    session.execute(delete(SignInAttempts).where(SignInAttempts.id.in_(stale)))


def clear_attempts(session: Session, username: str, remote_addr: str) -> None:
    session.execute(delete(SignInAttempts).where(SignInAttempts.username == username[:50],
                                                 SignInAttempts.remote_addr == remote_addr[:64]))


def attempts_kept(session: Session) -> int:
    """How many counters the table holds (for tests and health)."""
    return session.scalar(select(func.count()).select_from(SignInAttempts))
