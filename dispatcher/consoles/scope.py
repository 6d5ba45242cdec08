"""Area scope: a street or community worker's account sees and acts on its own area's elders only.

The one place that says what an account may reach. Every query of elders' data (elders, orders,
tasks and cases, calls, wellbeing, ledger postings) adds `scope_filter(who, <its elder-id column>)`
to its WHERE clause; a page that opens one row by id asks `in_scope` and answers 404 when it is
not. An account with neither street nor community (the bureau, administrators, the hotline's own
operators) sees every area.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session

from dispatcher.models import Elder, OperatorTask, Order, StaffUser

# Roles an account may be bound to an area in; provider staff are bound to their provider instead,
# and administrators always see everything.
SCOPABLE_ROLES = ("operator", "supervisor", "bureau")


@dataclass(frozen=True)
class Area:
    """A street (街道), or one community (社区) of a street."""

    street: str
    community: str | None = None

    @property
    def label(self) -> str:
        return f"{self.street}{self.community or ''}"


def area_of(who: StaffUser | Area | None) -> Area | None:
    """The area an account (or an area given as is) is bound to; None: every area."""
    if who is None or isinstance(who, Area):
        return who
    if not who.street or who.role not in SCOPABLE_ROLES:
        return None
    return Area(who.street, who.community or None)


def elders_in(area: Area):
    """The ids of the area's elders, as a subquery."""
    query = select(Elder.id).where(Elder.street == area.street)
    if area.community:
        query = query.where(Elder.community == area.community)
    return query


def scope_filter(who: StaffUser | Area | None, elder_column) -> ColumnElement[bool]:
    """A WHERE condition keeping the rows whose elder (`elder_column`, an elder id) lives in the
    account's area; always true for an account of every area. A row with no elder (an unknown
    caller's task) is outside every area."""
    area = area_of(who)
    if area is None:
        return true()
    if elder_column is Elder.id:
        condition = Elder.street == area.street
        return condition & (Elder.community == area.community) if area.community else condition
    return elder_column.in_(elders_in(area))


def task_scope(who: StaffUser | Area | None) -> ColumnElement[bool]:
    """The condition for operator tasks and supervisor cases: in the area when the task's elder, or
    its order's elder, lives there."""
    if area_of(who) is None:
        return true()
    return or_(scope_filter(who, OperatorTask.elder_id),
               OperatorTask.order_id.in_(select(Order.id).where(scope_filter(who, Order.elder_id))))


def task_in_scope(session: Session, who: StaffUser | Area | None, task: OperatorTask) -> bool:
    """Whether the account may see and act on this task or case."""
    if area_of(who) is None:
        return True
    return session.scalar(select(OperatorTask.id).where(OperatorTask.id == task.id, task_scope(who))) is not None


def in_scope(session: Session, who: StaffUser | Area | None, elder_id: int | None) -> bool:
    """Whether the account may see the elder with this id (an account of every area sees all)."""
    if area_of(who) is None:
        return True
    if elder_id is None:
        return False
    return session.scalar(select(Elder.id).where(Elder.id == elder_id, scope_filter(who, Elder.id))) is not None


def check_area(session: Session, street: str | None, community: str | None) -> Area | None:
    """The area an administrator names for an account, or None for every area; ValueError naming
    the field when the community is given without its street or no enrolled elder lives there."""
    street, community = (street or "").strip(), (community or "").strip()
    if not street:
        if community:
            raise ValueError("community: 请同时填写所属街道 (a community needs its street)")
        return None
    area = Area(street, community or None)
    if session.scalar(select(Elder.id).where(scope_filter(area, Elder.id)).limit(1)) is None:
        field = "community" if community else "street"
        raise ValueError(f"{field}: 没有老人登记在“{area.label}” (no enrolled elder lives in {area.label!r})")
    return area
