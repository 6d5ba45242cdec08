"""What enrollment keeps besides the records themselves: the audit log and the geocode cache."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dispatcher.db import Base


class AuditEntry(Base):
    """One change to an enrolled record: who made it, which fields, old and new values.

    Elders are named by their masked ID number; no ID number appears here in full.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_record", "entity", "entity_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    entity: Mapped[str] = mapped_column(String(20))
    entity_key: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(20))
    changes: Mapped[dict] = mapped_column(JSON)


class GeocodeCacheEntry(Base):
    """A geocoder's answer for one normalised query, in WGS-84, so it is asked only once."""

    __tablename__ = "geocode_cache_entries"
    __table_args__ = (UniqueConstraint("geocoder", "query"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    geocoder: Mapped[str] = mapped_column(String(30))
    query: Mapped[str] = mapped_column(String(300))
    latitude: Mapped[float]
    longitude: Mapped[float]
    precision: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime]
