"""Dormant elders: enrolled, and no contact of any kind with the hotline in N days."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from billing.outputs import CsvOutput
from dispatcher.clock import local
from dispatcher.consoles.scope import Area, scope_filter
from dispatcher.enrollment.identity import mask_id_number
from dispatcher.models import CallbackReview, Elder, ElderPhone, HotlineCall, Order, StaffUser
from telephony.numbers import mask_phone

# Longer than anyone has been enrolled; far beyond it the cutoff would leave the calendar.
MAX_DAYS = 36500
COLUMNS = ["street", "community", "elder_id_masked", "elder_name", "phone_masked", "lives_alone",
           "last_contact", "days_without_contact"]


def dormant_elders(session: Session, days: int, now: datetime, who: StaffUser | Area | None = None,
                   within: Area | None = None) -> Iterator[dict]:
    """Elders whose last call, order or answered review is older than `days` (or who have none), of
    `who`'s area and, if given, inside `within` too (a community picked on the page)."""
    contacts = union_all(
        select(HotlineCall.elder_id.label("elder_id"), HotlineCall.created_at.label("at"))
        .where(HotlineCall.elder_id.is_not(None)),
        select(Order.elder_id, Order.created_at),
        select(Order.elder_id, CallbackReview.answered_at).join(Order, Order.id == CallbackReview.order_id)
        .where(CallbackReview.answered_at.is_not(None)),
    ).subquery()
    last = (select(contacts.c.elder_id, func.max(contacts.c.at).label("last_at"))
            .group_by(contacts.c.elder_id).subquery())
    primary = (select(ElderPhone.elder_id, func.min(ElderPhone.phone).label("phone"))
               .where(ElderPhone.is_primary).group_by(ElderPhone.elder_id).subquery())
    cutoff = now - timedelta(days=days)
    rows = session.execute(
        select(Elder, last.c.last_at, primary.c.phone)
        .outerjoin(last, last.c.elder_id == Elder.id)
        .outerjoin(primary, primary.c.elder_id == Elder.id)
        .where((last.c.last_at.is_(None)) | (last.c.last_at < cutoff),
               scope_filter(who, Elder.id), scope_filter(within, Elder.id))
        .order_by(Elder.street, Elder.community, Elder.id)
    )
    for elder, last_at, phone in rows:
        # SQLite hands back the union's timestamps as text; PostgreSQL as datetimes.
        if isinstance(last_at, str):
            last_at = datetime.fromisoformat(last_at)
        yield {
            "elder_id": elder.id, "street": elder.street, "community": elder.community,
            "elder_id_masked": mask_id_number(elder.id_number), "elder_name": elder.name,
            "phone_masked": mask_phone(phone), "lives_alone": "是" if elder.is_living_alone else "否",
            "last_contact": f"{local(last_at):%Y-%m-%d}" if last_at else "从未联系",
            "days_without_contact": (now - _aware(last_at)).days if last_at else "",
        }


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def write_dormant_csv(session: Session, days: int, now: datetime, path: Path) -> int:
    """Write the dormant list to `path` (replaced only once complete); return its row count."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days: must be 1 to {MAX_DAYS}, not {days}")
    with CsvOutput(path, COLUMNS) as out:
        out.write_dicts(dormant_elders(session, days, now))
    return out.count
