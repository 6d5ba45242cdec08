"""The operator's desk (issue 19): how a call or task is closed, and data in words staff read.

Closing needs an outcome from a short list (and, for an emergency, a confirmation); the ranking
reads as a sentence; phone numbers, ages and order states as Chinese staff write them.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher import texts
from dispatcher.clock import local
from dispatcher.models import OperatorTask, Order

# What became of a call or task: the operator picks one; a note is optional.
OUTCOMES = ("已下单", "已解答", "已转介", "无法联系", "误拨", "其他")
NOTE_LENGTH = 400
# An emergency is closed only with this box ticked (and an outcome).
EMERGENCY_CONFIRM = "confirm_emergency"


class CloseRefused(ValueError):
    """A close without what it needs; the message (Chinese) says what is missing."""


def closing_note(task: OperatorTask, outcome: str, note: str, confirmed: bool) -> str:
    """The resolution to store for closing `task`: "outcome：note". Raises CloseRefused."""
    outcome = (outcome or "").strip()
    if outcome not in OUTCOMES:
        raise CloseRefused("请选择办结结果（" + "、".join(OUTCOMES) + "）")
    if task.kind == "emergency" and not confirmed:
        raise CloseRefused("这是紧急求助：请勾选“确认已妥善处理紧急求助”后再办结")
    note = " ".join((note or "").split())[:NOTE_LENGTH]
    return f"{outcome}：{note}" if note else outcome


# -- the ranking in words -------------------------------------------------------------------------
def ranking_words(reasons: dict | None, nearest: bool = False) -> str:
    """"最近 0.6 公里，评分 4.5，今日已接 2 单": why a provider was chosen, as a person says it."""
    if not reasons:
        return ""
    words = []
    if "distance_m" in reasons:
        words.append(f"{'最近' if nearest else '距离'} {reasons['distance_m'] / 1000:.1f} 公里")
    if "quality_score" in reasons:
        words.append(f"评分 {float(reasons['quality_score']):.1f}")
    if "booked_that_day" in reasons:
        words.append(f"今日已接 {reasons['booked_that_day']} 单")
    if reasons.get("area") == "community":
        words.append("同社区")
    if (reasons.get("parts") or {}).get("continuity"):
        words.append("老人曾给好评")
    return "，".join(words)


def nearest_index(distances: list[int]) -> int | None:
    """Which of the listed providers is nearest (its index), or None for an empty list."""
    return min(range(len(distances)), key=distances.__getitem__) if distances else None


# -- ages -------------------------------------------------------------------------------------------
def age_in_years(birth: date | None, now: datetime) -> str:
    """"82岁" on today's local date; "" when the birth date is unknown."""
    if birth is None:
        return ""
    return f"{texts.age_on(birth, local(now).date())}岁"


# -- orders in words --------------------------------------------------------------------------------
OFFER_STATES = {"offered": "待答复", "accepted": "已接单", "declined": "已拒绝", "expired": "超时",
                "withdrawn": "已撤回"}


def who_and_when(session: Session, order: Order):
    """(the provider who has the order, or else the one asked now; that provider's answer deadline or None)."""
    from providers.models import Offer, Provider

    if order.provider_id is not None:
        return session.get(Provider, order.provider_id), None
    offer = session.scalar(select(Offer).where(Offer.order_id == order.id, Offer.status == "offered")
                           .order_by(Offer.expires_at.desc()).limit(1))
    return (offer.provider, offer.expires_at) if offer is not None else (None, None)


def remaining(until: datetime, now: datetime) -> str:
    """How long is left, in words: 4分钟, 1小时5分, or 已超时."""
    minutes = int((until - now).total_seconds() // 60)
    if minutes < 0:
        return "已超时"
    return f"{minutes}分钟" if minutes < 60 else f"{minutes // 60}小时{minutes % 60}分"


def waiting_offers(session: Session, order_ids: list[int]) -> dict[int, tuple[int, datetime]]:
    """Of these orders, each one waiting for an answer: (the provider asked, its answer deadline)."""
    from providers.models import Offer

    if not order_ids:
        return {}
    found: dict[int, tuple[int, datetime]] = {}
    for order_id, provider_id, expires in session.execute(
            select(Offer.order_id, Offer.provider_id, Offer.expires_at)
            .where(Offer.order_id.in_(order_ids), Offer.status == "offered").order_by(Offer.expires_at)):
        found[order_id] = (provider_id, expires)  # the latest deadline wins
    return found


def counts_by_state(orders: list[Order] | dict[str, int]) -> list[tuple[str, int]]:
    """(state, how many) for the board's header, in the lifecycle's order (from orders, or counts)."""
    order = ("new", "offered", "unassigned", "accepted", "in_progress")
    counted = Counter(orders) if isinstance(orders, dict) else Counter(o.state for o in orders)
    return [(s, counted[s]) for s in order if counted[s]] + [(s, n) for s, n in counted.items() if s not in order]


# -- finding an order -----------------------------------------------------------------------------
def find_orders(session: Session, query: str, who=None, limit: int = 10) -> list[Order]:
    """Orders whose 6-digit job code (the one the phone line reads to elders) or order number is `query`."""
    from dispatcher.consoles.scope import scope_filter

    compact = query.replace(" ", "").replace("-", "")
    if not compact.isdigit() or len(compact) < 6:
        return []
    condition = Order.job_code == compact if len(compact) == 6 else Order.order_no == compact
    return list(session.scalars(select(Order).where(condition, scope_filter(who, Order.elder_id))
                                .order_by(Order.id.desc()).limit(limit)))
