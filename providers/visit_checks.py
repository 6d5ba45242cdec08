"""The portal's second look before a check-in or check-out the integrity checks would flag (issue 19).

A check-in far outside the booked window (the integrity check `window`: more than
VNH_INTEGRITY_WINDOW_SLACK_MINUTES before or after it) or a check-out sooner than the minimum
(`short`: the policy's `[version.hourly] min_share_percent` of an hourly booking, or
VNH_INTEGRITY_MIN_VISIT_MINUTES for any visit) is not refused: the portal shows why it looks
wrong and asks to confirm. A confirmed one is kept as an audit entry (entity `visit`, key the
order number, action `confirm_check_in` / `confirm_check_out`) naming who confirmed and the warning,
so a supervisor sees it in the case's history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.months import month_of
from billing.policy import Policy
from dispatcher.enrollment.models import AuditEntry
from dispatcher.integrity.rules import (
    Rules,
    VisitFacts,
    booked_minutes,
    outside_window,
    short_visit,
)
from dispatcher.integrity.settings import rules_from
from dispatcher.models import Order

CONFIRM_ACTIONS = {"check_in": "confirm_check_in", "check_out": "confirm_check_out"}
CONFIRM_WORDS = {"confirm_check_in": "确认时段外签到", "confirm_check_out": "确认提前签退"}


def rules_for(policy: Policy | None, now: datetime) -> Rules:
    return rules_from(policy=policy, month=month_of(now))


def _facts(order: Order, checked_in_at: datetime, checked_out_at: datetime | None) -> VisitFacts:
    visit = order.visit
    return VisitFacts(visit.id if visit else 0, None, order.provider_id or 0, order.elder_id, order.job_code,
                      checked_in_at, checked_out_at, order.window_start_at, order.window_end_at,
                      None, None, None, None, booked_minutes(order.item.unit))


def check_in_warning(order: Order, now: datetime, rules: Rules) -> str | None:
    """Why a check-in now needs a second look (Chinese), or None."""
    found = outside_window(_facts(order, now, None), rules)
    if found is None:
        return None
    return f"{found.reason}（超过{rules.window_slack_minutes}分钟）。请确认服务人员确实在老人家中。"


def check_out_warning(order: Order, now: datetime, rules: Rules) -> str | None:
    """Why a check-out now needs a second look (Chinese), or None."""
    visit = order.visit
    if visit is None or visit.checked_in_at is None or visit.checked_out_at is not None:
        return None
    found = short_visit(_facts(order, visit.checked_in_at, now), rules)
    if found is None:
        return None
    return f"{found.reason}。请确认服务已经完成。"


def record_confirmation(session: Session, order: Order, step: str, warning: str, actor: str,
                        now: datetime) -> AuditEntry:
    """Keep that `actor` confirmed a check-in or check-out the portal warned about."""
    entry = AuditEntry(created_at=now, actor=actor[:200], entity="visit", entity_key=order.order_no,
                       action=CONFIRM_ACTIONS[step], changes={"warning": warning, "job_code": order.job_code})
    session.add(entry)
    return entry


def confirmations(session: Session, order_no: str) -> list[AuditEntry]:
    return list(session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "visit", AuditEntry.entity_key == order_no)
        .order_by(AuditEntry.id)))
