"""The centre's figures for a period (a day or a month) and optionally one street.

Each figure is a count, or a ratio of two counts kept as both (`Ratio`), so a period with nothing
in it shows "—", never a division by zero. Each is computed by one aggregate statement per table
(GROUP BY, CASE), not by reading rows one by one, so a month of 100,000 calls stays fast; the time
figures come from histograms (a count per whole second or minute), and their percentiles are
read off the histogram. The definitions are in README.md, "Centre figures (运营统计)".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Integer, and_, case, cast, distinct, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from billing.months import month_start, next_month
from dispatcher.clock import LOCAL_TZ
from dispatcher.consoles.scope import Area, scope_filter
from dispatcher.lifecycle.visits import LATE_CHECK_IN
from dispatcher.models import CallbackReview, Elder, HotlineCall, OperatorTask, Order, Visit
from dispatcher.programmes.supervision import Complaint
from providers.models import Offer

DASH = "—"
# Reasons a call was put through to the operators (the kind its <Dial> was queued for).
REASON_NAMES = {
    "emergency": "紧急求助（按9）", "operator_request": "主动转人工（按0）", "silence": "两次无输入",
    "invalid": "两次按键无效", "worker": "服务人员工号无效", "unknown_caller": "未登记号码",
}
CHANNEL_NAMES = {"phone": "电话语音", "operator": "话务员代下单", "console": "话务员代下单", "sms": "短信",
                 "family": "家属", "plan": "服务计划", "portal": "服务商门户", "api": "接口"}
ANSWER_GOALS_S = (20, 60)


@dataclass(frozen=True)
class Ratio:
    """`num` of `den`; shown as a percentage, or "—" when there is nothing to divide by."""

    num: int
    den: int

    @property
    def value(self) -> float | None:
        return self.num / self.den if self.den else None

    def __str__(self) -> str:
        return DASH if not self.den else f"{100 * self.num / self.den:.1f}%"


@dataclass(frozen=True)
class Spread:
    """A distribution read off a histogram: how many, the median and the 95th percentile
    (nearest rank), in the histogram's unit; None when empty."""

    count: int
    p50: int | None
    p95: int | None

    @classmethod
    def of(cls, histogram: dict[int, int]) -> Spread:
        total = sum(histogram.values())
        return cls(total, _rank(histogram, total, 0.5), _rank(histogram, total, 0.95))

    def text(self, unit: str) -> str:
        return DASH if self.p50 is None else f"中位 {self.p50}{unit}，95% {self.p95}{unit}"


def _rank(histogram: dict[int, int], total: int, share: float) -> int | None:
    if not total:
        return None
    wanted, seen = math.ceil(share * total), 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= wanted:
            return value
    return max(histogram)


# Tasks about a visit already made (a random spot check, a low rating, a dispute, a complaint, a
# review nobody answered): supervision, not an operator's help in serving the request.
AFTER_THE_VISIT = ("review_sample", "low_rating", "dispute", "complaint", "review_unreachable",
                   "plan_review_denied")


@dataclass
class Figures:
    """The centre's numbers for [start, end) and, if given, one street."""

    start: datetime
    end: datetime
    street: str | None = None
    calls_offered: int = 0
    ivr_alone: int = 0
    after_hours: int = 0
    abandoned_in_ivr: int = 0
    transferred: int = 0
    transferred_by_reason: dict[str, int] = field(default_factory=dict)
    operator_answered: int = 0
    messages_left: int = 0
    abandoned_in_queue: int = 0
    answer_seconds: dict[int, int] = field(default_factory=dict)
    emergencies: int = 0
    emergencies_answered: int = 0
    emergency_seconds: dict[int, int] = field(default_factory=dict)
    orders_by_channel: dict[str, int] = field(default_factory=dict)
    orders_completed: int = 0
    completed_without_operator: int = 0
    offers: int = 0
    orders_offered: int = 0
    acceptance_minutes: dict[int, int] = field(default_factory=dict)
    visits_due: int = 0
    visits_late: int = 0
    visits_missed: int = 0
    reviews_closed: int = 0
    reviews_reached: int = 0
    reviews_denied: int = 0
    ratings: int = 0
    ratings_satisfied: int = 0
    complaints: int = 0
    disputes: int = 0
    elders_enrolled: int = 0
    elders_served: int = 0

    # -- the ratios -----------------------------------------------------------------------
    @property
    def ivr_containment(self) -> Ratio:
        return Ratio(self.ivr_alone, self.calls_offered - self.after_hours)

    @property
    def answer_time(self) -> Spread:
        return Spread.of(self.answer_seconds)

    @property
    def queue_offered(self) -> int:
        """Transfers whose answer time is known or that nobody answered: the answer shares' base."""
        return self.answer_time.count + self.messages_left + self.abandoned_in_queue

    def answered_within(self, seconds: int) -> Ratio:
        quick = sum(n for s, n in self.answer_seconds.items() if s <= seconds)
        return Ratio(quick, self.queue_offered)

    @property
    def queue_abandonment(self) -> Ratio:
        return Ratio(self.abandoned_in_queue, self.transferred)

    @property
    def emergency_time(self) -> Spread:
        return Spread.of(self.emergency_seconds)

    @property
    def orders_booked(self) -> int:
        return sum(self.orders_by_channel.values())

    @property
    def without_operator(self) -> Ratio:
        return Ratio(self.completed_without_operator, self.orders_completed)

    @property
    def offers_per_order(self) -> str:
        return DASH if not self.orders_offered else f"{self.offers / self.orders_offered:.2f}"

    @property
    def acceptance_time(self) -> Spread:
        return Spread.of(self.acceptance_minutes)

    @property
    def late_share(self) -> Ratio:
        return Ratio(self.visits_late, self.visits_due)

    @property
    def missed_share(self) -> Ratio:
        return Ratio(self.visits_missed, self.visits_due)

    @property
    def review_reach(self) -> Ratio:
        return Ratio(self.reviews_reached, self.reviews_closed)

    @property
    def satisfaction(self) -> Ratio:
        return Ratio(self.ratings_satisfied, self.ratings)

    @property
    def served_share(self) -> Ratio:
        return Ratio(self.elders_served, self.elders_enrolled)


# -- periods ---------------------------------------------------------------------------------
def month_period(month: str) -> tuple[datetime, datetime]:
    """The month `YYYY-MM` in local time, as [start, end)."""
    return month_start(month), month_start(next_month(month))


def day_period(day: date) -> tuple[datetime, datetime]:
    """One local day, as [start, end)."""
    start = datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)
    return start, start + timedelta(days=1)


# -- the statements --------------------------------------------------------------------------
def seconds_between(session: Session, later, earlier):
    """Whole seconds from `earlier` to `later`, as SQL for this session's database."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.round((func.julianday(later) - func.julianday(earlier)) * 86400), Integer)
    return cast(func.round(func.extract("epoch", later - earlier)), Integer)


def figures(session: Session, *, start: datetime, end: datetime, street: str | None = None,
            area: Area | None = None, now: datetime | None = None) -> Figures:
    """The centre's figures for [start, end) (calls and orders by when they began, visits by when
    their window opened, reviews by when they were due); of one street's elders if `street`, or of
    an `area` (a street or one of its communities). Visits count as missed once their window has
    ended before `now` (the period's end by default)."""
    now = now or end
    area = area or (Area(street) if street else None)
    found = Figures(start, end, area.label if area else None)
    _calls(session, found, area)
    _answer_times(session, found, area)
    _orders(session, found, area)
    _offers(session, found, area)
    _visits(session, found, area, now)
    _reviews(session, found, area)
    _elders(session, found, area)
    return found


def _call_outcome():
    dial = HotlineCall.data["dial_kind"].as_string()
    message = HotlineCall.data["voicemail_kind"].as_string()
    return dial, case(
        (and_(dial.is_(None), or_(message.is_not(None), HotlineCall.step == "after_hours")), "after_hours"),
        (and_(dial.is_(None), HotlineCall.step == "done"), "ivr"),
        (dial.is_(None), "ivr_abandoned"),
        (and_(message.is_(None), HotlineCall.step == "done"), "answered"),
        (HotlineCall.step == "done", "message"),
        else_="queue_abandoned",
    )


def _calls(session: Session, found: Figures, area: Area | None) -> None:
    dial, outcome = _call_outcome()
    rows = session.execute(
        select(dial, outcome, func.count()).where(HotlineCall.created_at >= found.start,
                                                  HotlineCall.created_at < found.end,
                                                  scope_filter(area, HotlineCall.elder_id))
        .group_by(dial, outcome))
    for reason, how, count in rows:
        found.calls_offered += count
        if reason is not None:
            found.transferred += count
            found.transferred_by_reason[reason] = found.transferred_by_reason.get(reason, 0) + count
        if reason == "emergency":
            found.emergencies += count
            found.emergencies_answered += count if how == "answered" else 0
        attribute = {"ivr": "ivr_alone", "after_hours": "after_hours", "ivr_abandoned": "abandoned_in_ivr",
                     "answered": "operator_answered", "message": "messages_left",
                     "queue_abandoned": "abandoned_in_queue"}[how]
        setattr(found, attribute, getattr(found, attribute) + count)


def _answer_times(session: Session, found: Figures, area: Area | None) -> None:
    dial = HotlineCall.data["dial_kind"].as_string()
    wait = seconds_between(session, OperatorTask.answered_at, OperatorTask.created_at)
    is_emergency = case((dial == "emergency", 1), else_=0)
    rows = session.execute(
        select(is_emergency, wait, func.count()).select_from(HotlineCall)
        .join(OperatorTask, OperatorTask.dedupe_key == literal("call:") + HotlineCall.call_sid)
        .where(HotlineCall.created_at >= found.start, HotlineCall.created_at < found.end,
               dial.is_not(None), OperatorTask.answered_at.is_not(None),
               scope_filter(area, HotlineCall.elder_id))
        .group_by(is_emergency, wait))
    for emergency, seconds, count in rows:
        found.answer_seconds[seconds] = found.answer_seconds.get(seconds, 0) + count
        if emergency:
            found.emergency_seconds[seconds] = found.emergency_seconds.get(seconds, 0) + count


def _orders(session: Session, found: Figures, area: Area | None) -> None:
    in_period = and_(Order.created_at >= found.start, Order.created_at < found.end,
                     scope_filter(area, Order.elder_id))
    for source, count in session.execute(select(Order.source, func.count()).where(in_period)
                                         .group_by(Order.source)):
        found.orders_by_channel[source] = count
    # An operator helped serve it: any task on the order but the supervision that follows a visit.
    touched = exists().where(OperatorTask.order_id == Order.id, OperatorTask.kind.not_in(AFTER_THE_VISIT))
    done = Order.state.in_(("completed", "verified", "disputed"))
    alone = and_(~touched, Order.source.not_in(("operator", "console")))
    completed, without = session.execute(
        select(func.count(), func.coalesce(func.sum(case((alone, 1), else_=0)), 0))
        .where(in_period, done)).one()
    found.orders_completed, found.completed_without_operator = completed, int(without)


def _offers(session: Session, found: Figures, area: Area | None) -> None:
    in_period = and_(Order.created_at >= found.start, Order.created_at < found.end,
                     scope_filter(area, Order.elder_id))
    offers, orders = session.execute(
        select(func.count(Offer.id), func.count(distinct(Offer.order_id))).select_from(Offer)
        .join(Order, Order.id == Offer.order_id).where(in_period)).one()
    found.offers, found.orders_offered = offers, orders
    minutes = cast(func.floor(seconds_between(session, Offer.responded_at, Order.created_at) / 60.0), Integer)
    for value, count in session.execute(
            select(minutes, func.count()).select_from(Offer).join(Order, Order.id == Offer.order_id)
            .where(in_period, Offer.status == "accepted", Offer.responded_at.is_not(None))
            .group_by(minutes)):
        found.acceptance_minutes[value] = count


def _visits(session: Session, found: Figures, area: Area | None, now: datetime) -> None:
    late_after = int(LATE_CHECK_IN.total_seconds())
    late = and_(Visit.checked_in_at.is_not(None),
                seconds_between(session, Visit.checked_in_at, Order.window_start_at) > late_after)
    missed = and_(Visit.checked_in_at.is_(None), Order.window_end_at < now)
    due, late_count, missed_count = session.execute(
        select(func.count(), func.coalesce(func.sum(case((late, 1), else_=0)), 0),
               func.coalesce(func.sum(case((missed, 1), else_=0)), 0))
        .select_from(Order).outerjoin(Visit, Visit.order_id == Order.id)
        .where(Order.window_start_at >= found.start, Order.window_start_at < found.end,
               Order.provider_id.is_not(None),
               or_(Order.state != "cancelled", Visit.checked_in_at.is_not(None)),
               scope_filter(area, Order.elder_id))).one()
    found.visits_due, found.visits_late, found.visits_missed = due, int(late_count), int(missed_count)


def _reviews(session: Session, found: Figures, area: Area | None) -> None:
    closed = CallbackReview.state.in_(("verified", "denied", "unreachable"))
    reached = CallbackReview.state.in_(("verified", "denied"))

    def count(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = session.execute(
        select(count(closed), count(reached), count(CallbackReview.state == "denied"),
               count(CallbackReview.rating.is_not(None)), count(CallbackReview.rating >= 4))
        .select_from(CallbackReview).join(Order, Order.id == CallbackReview.order_id)
        .where(CallbackReview.due_at >= found.start, CallbackReview.due_at < found.end,
               scope_filter(area, Order.elder_id))).one()
    (found.reviews_closed, found.reviews_reached, found.reviews_denied, found.ratings,
     found.ratings_satisfied) = (int(v) for v in row)
    found.complaints = session.scalar(
        select(func.count(Complaint.id)).where(Complaint.created_at >= found.start,
                                               Complaint.created_at < found.end,
                                               scope_filter(area, Complaint.elder_id)))
    found.disputes = session.scalar(
        select(func.count(OperatorTask.id)).where(OperatorTask.kind == "dispute",
                                                  OperatorTask.created_at >= found.start,
                                                  OperatorTask.created_at < found.end,
                                                  scope_filter(area, OperatorTask.elder_id)))


def _elders(session: Session, found: Figures, area: Area | None) -> None:
    served_then = (select(Order.elder_id).join(Visit, Visit.order_id == Order.id)
                   .where(Visit.checked_in_at >= found.start, Visit.checked_in_at < found.end))
    # On the register by the period's end, or served in it (a record entered after the visit was
    # on the register when it was served).
    found.elders_enrolled = session.scalar(
        select(func.count(Elder.id)).where(or_(Elder.created_at < found.end, Elder.id.in_(served_then)),
                                           scope_filter(area, Elder.id)))
    found.elders_served = session.scalar(
        select(func.count(distinct(Order.elder_id))).select_from(Order).join(Visit, Visit.order_id == Order.id)
        .where(Visit.checked_in_at >= found.start, Visit.checked_in_at < found.end,
               scope_filter(area, Order.elder_id)))
