"""API tokens (接口令牌) for providers' own systems: stored hashed, revocable."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatcher.db import Base


class ApiToken(Base):
    """A bearer token for one provider; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


def hash_token(token: str) -> str:
    """Hash a token for storage and lookup; tokens are random, so no salt or stretching is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, provider_id: int, label: str, now: datetime) -> tuple[ApiToken, str]:
    """Create a token for a provider; return the row and the token, which is never stored."""
    token = secrets.token_urlsafe(32)
    row = ApiToken(provider_id=provider_id, token_hash=hash_token(token), label=label, created_at=now)
    session.add(row)
    session.flush()
    return row, token


def revoke_token(session: Session, token_id: int, now: datetime) -> ApiToken | None:
    """Revoke a token at once; revoking twice keeps the first time. None if there is no such token."""
    row = session.get(ApiToken, token_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = now
        session.flush()
    return row


def token_in_use(session: Session, token: str) -> ApiToken | None:
    """Return the live (not revoked) token row for a presented token, or None."""
    return session.scalar(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    )
