"""Staff administration: add, disable, re-enable and reset accounts, and bind them to an area.

Every change is written to the staff change record (who, when, the account before and after); a
password is never kept there, only the fact that it was reset. Services take a Session and flush;
the web page or the command commits.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.consoles.audit import StaffChange
from dispatcher.consoles.auth import ROLES, add_user, change_password, end_sessions
from dispatcher.consoles.scope import SCOPABLE_ROLES, check_area
from dispatcher.models import StaffUser

# What the record keeps of an account (never the password or its hash).
RECORDED = ("username", "display_name", "role", "provider_id", "is_active", "street", "community")


class StaffError(ValueError):
    """An administrator's change that cannot be made; the message names the field and why."""


def snapshot(user: StaffUser | None) -> dict:
    return {} if user is None else {name: getattr(user, name) for name in RECORDED}


def _record(session: Session, user: StaffUser, actor: StaffUser | None, action: str, before: dict,
            now: datetime) -> None:
    session.add(StaffChange(staff_user_id=user.id, changed_by=actor.id if actor else None, action=action,
                            before=json.dumps(before, ensure_ascii=False, sort_keys=True),
                            after=json.dumps(snapshot(user), ensure_ascii=False, sort_keys=True),
                            changed_at=now))
    session.flush()


def one_time_password() -> str:
    """A password to hand over once: 16 random URL-safe characters (about 96 bits)."""
    return secrets.token_urlsafe(12)


def _bind_area(session: Session, user: StaffUser, street: str | None, community: str | None) -> None:
    area = check_area(session, street, community)
    if area is not None and user.role not in SCOPABLE_ROLES:
        raise StaffError(f"street: {ROLES[user.role]}账号不能限定区域 "
                         f"(only {', '.join(SCOPABLE_ROLES)} accounts may be bound to an area)")
    user.street, user.community = (area.street, area.community) if area else (None, None)


def create_staff(session: Session, *, actor: StaffUser | None, username: str, role: str, display_name: str,
                 provider_id: int | None, street: str | None, community: str | None, password: str | None,
                 now: datetime) -> tuple[StaffUser, str]:
    """Add an account (bound to an area, if given); return it and its initial password, which is
    the one given or, when none is, a generated one to show once."""
    username = (username or "").strip()
    if not username:
        raise StaffError("username: 请填写用户名 (a username is needed)")
    if len(username) > 50 or len(display_name or "") > 50:
        raise StaffError("username: 用户名和姓名最多50个字符 (at most 50 characters)")
    password = password or one_time_password()
    user = add_user(session, username=username, password=password, role=role, display_name=display_name,
                    provider_id=provider_id, now=now)
    _bind_area(session, user, street, community)
    _record(session, user, actor, "add", {}, now)
    return user, password


def set_active(session: Session, user: StaffUser, actor: StaffUser | None, active: bool, now: datetime) -> None:
    """Disable an account (every session it has open ends at once) or enable it again."""
    if actor is not None and actor.id == user.id and not active:
        raise StaffError("不能停用自己的账号 (you cannot disable your own account)")
    if user.is_active == active:
        raise StaffError("账号已经是这个状态 (the account is already so)")
    before = snapshot(user)
    user.is_active = active
    session.flush()
    end_sessions(session, user.id)
    _record(session, user, actor, "enable" if active else "disable", before, now)


def reset_password(session: Session, user: StaffUser, actor: StaffUser | None, password: str | None,
                   now: datetime) -> str:
    """Give the account a new password (the one given, or a generated one to show once) and end
    every session it has open; return the password."""
    password = password or one_time_password()
    before = snapshot(user)
    change_password(session, user, password)
    _record(session, user, actor, "reset", before, now)
    return password


def set_area(session: Session, user: StaffUser, actor: StaffUser | None, street: str | None,
             community: str | None, now: datetime) -> None:
    """Bind the account to a street or community, or (both empty) to every area."""
    before = snapshot(user)
    _bind_area(session, user, street, community)
    session.flush()
    _record(session, user, actor, "area", before, now)


def all_staff(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.role, StaffUser.username)))


def changes_of(session: Session, user_id: int | None = None, limit: int = 50) -> list[StaffChange]:
    """The latest changes (to one account, if given), newest first."""
    query = select(StaffChange).order_by(StaffChange.id.desc()).limit(limit)
    if user_id is not None:
        query = query.where(StaffChange.staff_user_id == user_id)
    return list(session.scalars(query))
