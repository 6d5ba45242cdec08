"""The operator console's queries and actions: screen-pops, the queue, orders by hand, the board.

Everything here takes a Session and flushes; the views commit. Pricing, matching and dispatch are
the phone flow's own services (dispatcher.lifecycle.orders, billing.charges), called, not copied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased, contains_eager

from billing import ledger, months
from billing.charges import carried_over
from billing.policy import Charge, Policy
from dispatcher import texts
from dispatcher.clock import local
from dispatcher.config import Settings
from dispatcher.consoles.scope import Area, scope_filter, task_scope
from dispatcher.enrollment.identity import mask_id_number
from dispatcher.hotline import call_state
from dispatcher.lifecycle import orders, ranking
from dispatcher.lifecycle.slots import Slot
from dispatcher.lifecycle.states import OPEN_STATES, OrderState
from dispatcher.models import (
    CallbackReview,
    Category,
    Elder,
    ElderPhone,
    HotlineCall,
    Item,
    OperatorTask,
    Order,
    StaffUser,
)
from providers.matching import Ranked
from providers.models import Offer, Provider
from telephony.numbers import BadPhoneNumber, readable, to_e164

# The IVR hands a call to a person for these reasons (the task kinds dispatcher.hotline.flow writes).
TRANSFER_KINDS = ("emergency", "operator_request", "silence", "unknown_caller")
# A transfer stays on the screen-pop this long unless an operator closes it first.
POP_WINDOW = timedelta(minutes=30)

KIND_NAMES = {
    "emergency": "紧急求助",
    "unassigned": "无人接单",
    "late_check_in": "签到超时",
    "failed_message": "短信/电话发送失败",
    "voicemail": "留言",
    "wellbeing_alarm": "关爱电话未接",
    "transfer": "转人工来电",
    "operator_request": "按0转人工",
    "silence": "无输入转人工",
    "unknown_caller": "未登记号码",
    "after_hours": "夜间留言",
    "reassessment": "能力复评提醒",
}
# The queue's order: what most needs a person first.
QUEUE_RANK = {"emergency": 0, "unassigned": 1, "late_check_in": 2, "failed_message": 3, "voicemail": 4,
              "wellbeing_alarm": 5, "transfer": 6}
STATE_NAMES = {
    "new": "新建", "offered": "派单中", "unassigned": "待人工派单", "accepted": "已接单",
    "in_progress": "服务中", "completed": "已完成", "verified": "已核实", "disputed": "有争议",
    "cancelled": "已取消",
}
# Who may close a task of each kind from the console (admins always may). What the IVR, the
# sweepers and the visits hand to a person is the operator's, and a supervisor may stand in; the
# supervisor's cases (a dispute to judge, a rating or complaint to follow up, a month to close, a
# review to check) are the supervisor's alone. A kind missing here is the supervisor's too.
OPERATORS_AND_SUPERVISORS = frozenset({"operator", "supervisor"})
SUPERVISORS = frozenset({"supervisor"})
CLOSED_BY = {
    "emergency": OPERATORS_AND_SUPERVISORS,
    "operator_request": OPERATORS_AND_SUPERVISORS,
    "silence": OPERATORS_AND_SUPERVISORS,
    "unknown_caller": OPERATORS_AND_SUPERVISORS,
    "invalid": OPERATORS_AND_SUPERVISORS,
    "speech": OPERATORS_AND_SUPERVISORS,
    "worker": OPERATORS_AND_SUPERVISORS,
    "transfer": OPERATORS_AND_SUPERVISORS,
    "voicemail": OPERATORS_AND_SUPERVISORS,
    "after_hours": OPERATORS_AND_SUPERVISORS,
    "unassigned": OPERATORS_AND_SUPERVISORS,
    "late_check_in": OPERATORS_AND_SUPERVISORS,
    "failed_message": OPERATORS_AND_SUPERVISORS,
    "wellbeing_alarm": OPERATORS_AND_SUPERVISORS,
    "reassessment": OPERATORS_AND_SUPERVISORS,
    "dispute": SUPERVISORS,
    "low_rating": SUPERVISORS,
    "complaint": SUPERVISORS,
    "review_sample": SUPERVISORS,
    "review_unreachable": SUPERVISORS,
    "month_close": SUPERVISORS,
}


def may_close(role: str, kind: str) -> bool:
    """Whether staff of this role may close a task of this kind from the console."""
    return role == "admin" or role in CLOSED_BY.get(kind, SUPERVISORS)


# Who needs to read a number in full; everyone else sees it masked.
FULL_PHONE_ROLES = frozenset({"operator", "admin"})
FULL_ID_ROLES = frozenset({"admin"})
# A search by a number's tail needs this many digits: fewer would list strangers by the dozen.
MIN_DIGITS_SEARCHED = 7


class ConsoleError(ValueError):
    """An operator's action that cannot be done; the message (Chinese) says why."""


# -- masking ------------------------------------------------------------------------------------
def phone_for(role: str, number: str | None) -> str:
    """A number as staff write it (139 0000 0001, 0931-5790068), its middle hidden from roles that
    must not read it in full."""
    return readable(number, masked=role not in FULL_PHONE_ROLES)


def id_number_for(role: str, number: str | None) -> str:
    return (number or "") if role in FULL_ID_ROLES else mask_id_number(number)


# -- the screen-pop -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Transfer:
    task_id: int
    kind: str
    reason: str
    call_sid: str
    caller: str
    elder_id: int | None
    elder_name: str | None
    created_at: datetime
    state: str  # ringing, talking or ended (dispatcher.hotline.call_state)

    @property
    def is_connected(self) -> bool:
        """The caller is still on the line, ringing or talking to an operator."""
        return self.state != call_state.ENDED


def live_transfers(session: Session, now: datetime, who: StaffUser | Area | None = None) -> list[Transfer]:
    """Calls the IVR handed to a person lately that nobody has closed and that did not end in a
    voicemail (those wait on the queue), emergencies first, then newest first; of `who`'s area."""
    rows = session.execute(
        select(OperatorTask, Elder.name, HotlineCall.step, HotlineCall.call_status)
        .outerjoin(Elder, Elder.id == OperatorTask.elder_id)
        .outerjoin(HotlineCall, HotlineCall.call_sid == OperatorTask.call_sid)
        .where(OperatorTask.kind.in_(TRANSFER_KINDS), OperatorTask.call_sid.is_not(None),
               OperatorTask.resolved_at.is_(None), OperatorTask.recording_url.is_(None),
               OperatorTask.created_at >= now - POP_WINDOW,
               or_(HotlineCall.step.is_(None), HotlineCall.step != "voicemail"),
               scope_filter(who, OperatorTask.elder_id))
        .order_by(OperatorTask.priority, OperatorTask.created_at.desc(), OperatorTask.id.desc())
    ).all()
    return [Transfer(task.id, task.kind, task.reason, task.call_sid, task.caller or "", task.elder_id,
                     name, task.created_at, call_state.desk_state(step, status))
            for task, name, step, status in rows]


@dataclass
class ElderCard:
    """What an operator needs to see of an elder at a glance."""

    elder: Elder
    age: int
    month: str
    allowance_fen: int | None
    used_fen: int
    open_orders: list[Order]
    recent: list[tuple[Order, int | None]]  # finished orders, newest first, with the elder's rating

    @property
    def left_fen(self) -> int | None:
        return None if self.allowance_fen is None else max(0, self.allowance_fen - self.used_fen)


def elder_card(session: Session, elder: Elder, policy: Policy, now: datetime, recent: int = 5) -> ElderCard:
    month = months.month_of(now)
    try:
        allowance = (policy.version_for_month(month).allowance_fen(elder.elder_class, elder.disability_level)
                     + carried_over(session, elder, month, policy))
    except ValueError:  # a class or level the policy does not know: no subsidy to show
        allowance = None
    open_orders = list(session.scalars(
        select(Order).where(Order.elder_id == elder.id, Order.state.in_(OPEN_STATES))
        .order_by(Order.window_start_at)))
    finished = session.execute(
        select(Order, CallbackReview.rating).outerjoin(CallbackReview, CallbackReview.order_id == Order.id)
        .where(Order.elder_id == elder.id, Order.state.in_(("completed", "verified", "disputed")))
        .order_by(Order.window_start_at.desc()).limit(recent)
    ).all()
    return ElderCard(elder=elder, age=texts.age_on(elder.birth_date, local(now).date()), month=month,
                     allowance_fen=allowance, used_fen=ledger.subsidy_used(session, elder.id, month),
                     open_orders=open_orders, recent=[(o, r) for o, r in finished])


# -- finding an elder -----------------------------------------------------------------------------
def find_elders(session: Session, query: str, role: str, limit: int = 20,
                who: StaffUser | Area | None = None) -> list[Elder]:
    """Elders (of `who`'s area) whose name, phone number (in full, any writing, or its last seven
    digits or more) or ID number match, as far as `role` may see them.

    A number is matched only for a role that sees it in full: for anyone else a match would tell
    the digits the masking hides, one search at a time.
    """
    query = query.strip()
    if not query:
        return []
    conditions = [Elder.name.contains(query)]
    compact = query.replace(" ", "").replace("-", "").upper()
    if len(compact) >= MIN_DIGITS_SEARCHED and compact.rstrip("X").lstrip("+").isdigit():
        if role in FULL_ID_ROLES:
            conditions.append(Elder.id_number == compact if len(compact) == 18
                              else Elder.id_number.endswith(compact))
        if role in FULL_PHONE_ROLES:
            try:
                phone = to_e164(query)
            except BadPhoneNumber:
                phone = None
            by_phone = select(ElderPhone.elder_id).where(
                ElderPhone.phone == phone if phone else ElderPhone.phone.endswith(compact.lstrip("+")))
            conditions.append(Elder.id.in_(by_phone))
    return list(session.scalars(select(Elder).where(or_(*conditions), scope_filter(who, Elder.id)).order_by(Elder.name, Elder.id)
                                .limit(limit)))


# -- orders by hand -------------------------------------------------------------------------------
@dataclass
class Preview:
    """What placing the order would do: who is asked first, what it costs and who pays what."""

    elder: Elder
    item: Item
    slot: Slot
    ranked: list[Ranked]
    charge: Charge | None


def preview_order(session: Session, elder: Elder, item: Item, slot: Slot, policy: Policy) -> Preview:
    """Rank and price as the phone flow does (the same services), without changing anything."""
    ranked = ranking.rank_for(session, elder, item, slot.start)
    charge = (ranking.charge_for(session, elder, item, ranked[0].candidate.price_fen, policy, slot.start)
              if ranked else None)
    return Preview(elder, item, slot, ranked, charge)


def place_by_hand(session: Session, elder: Elder, item: Item, slot: Slot, settings: Settings,
                  now: datetime) -> Order:
    """Create and dispatch an order as the phone flow would; it starts from the console."""
    return orders.place_order(session, elder=elder, item=item, slot=slot, source="operator",
                              call_sid=None, settings=settings, now=now)


# -- the queue ------------------------------------------------------------------------------------
@dataclass
class QueueItem:
    kind: str
    reason: str
    created_at: datetime
    task: OperatorTask | None = None
    order: Order | None = None
    elder: Elder | None = None

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(self.kind, self.kind)


def queue_kind(task: OperatorTask) -> str | None:
    """Where a task sits on the operator's queue; None for the supervisor's own cases."""
    if task.kind == "emergency":
        return "emergency"
    if task.kind in ("unassigned", "failed_message", "wellbeing_alarm"):
        return task.kind
    if task.kind.startswith("late"):
        return "late_check_in"
    if task.recording_url or task.kind in ("voicemail", "after_hours"):
        return "voicemail"
    if task.kind in TRANSFER_KINDS:
        return "transfer"
    return None


def queue_rank() -> ColumnElement[int | None]:
    """`queue_kind`'s QUEUE_RANK, as SQL (NULL where it gives None), checked in the same order, so
    that the database sorts the queue and cuts it at the rows a page shows."""
    kind, recording = OperatorTask.kind, OperatorTask.recording_url
    return case(
        (kind == "emergency", QUEUE_RANK["emergency"]),
        *((kind == own, QUEUE_RANK[own]) for own in ("unassigned", "failed_message", "wellbeing_alarm")),
        (func.substr(kind, 1, 4) == "late", QUEUE_RANK["late_check_in"]),
        (or_(and_(recording.is_not(None), recording != ""), kind.in_(("voicemail", "after_hours"))),
         QUEUE_RANK["voicemail"]),
        (kind.in_(TRANSFER_KINDS), QUEUE_RANK["transfer"]),
        else_=None)


def operator_queue(session: Session, who: StaffUser | Area | None = None,
                   limit: int | None = None) -> tuple[list[QueueItem], int]:
    """Open items needing a person (of `who`'s area): emergencies first, then orders nobody took,
    late check-ins, failed messages, voicemails, wellbeing alarms and transferred calls; oldest
    first within each. The first `limit` of them (all without one), and how many there are."""
    # The database sorts, counts and cuts: a cold snap can leave thousands of orders nobody took
    # on the queue, and fifty consoles ask for it every five seconds. Each task comes with its
    # order and elder in the same statement.
    rank = queue_rank()
    where = (OperatorTask.resolved_at.is_(None), task_scope(who), rank.is_not(None))
    total = session.scalar(select(func.count()).select_from(OperatorTask).where(*where))
    rows = session.execute(tasks_with_their_elders(*where)
                           .order_by(rank, OperatorTask.created_at, OperatorTask.id).limit(limit)).all()
    items = [QueueItem(queue_kind(task), task.reason, task.created_at, task, order, elder or elder_of_order)
             for task, order, elder, elder_of_order in rows]
    return items, total


def tasks_with_their_elders(*where) -> Select:
    """Operator tasks with their order, their own elder and their order's elder, in one statement."""
    order_elder = aliased(Elder)
    return (select(OperatorTask, Order, Elder, order_elder)
            .outerjoin(Order, Order.id == OperatorTask.order_id)
            .outerjoin(Elder, Elder.id == OperatorTask.elder_id)
            .outerjoin(order_elder, order_elder.id == Order.elder_id)
            .where(*where))


def resolve_tasks_of(session: Session, order: Order, staff: StaffUser, note: str, now: datetime) -> None:
    for task in session.scalars(select(OperatorTask).where(OperatorTask.order_id == order.id,
                                                           OperatorTask.resolved_at.is_(None))):
        task.resolved_at, task.resolved_by, task.resolution = now, staff.id, note[:500]


def close_task(task: OperatorTask, staff: StaffUser, note: str, now: datetime) -> None:
    if task.resolved_at is not None:
        raise ConsoleError("这个事项已经处理过了")
    task.resolved_at, task.resolved_by, task.resolution = now, staff.id, (note.strip() or "已处理")[:500]


# -- re-dispatch ----------------------------------------------------------------------------------
@dataclass
class Candidates:
    """The providers an order could go to now, and those already asked with why they were chosen."""

    ranked: list[Ranked]
    asked: list[Offer] = field(default_factory=list)


def candidates_for(session: Session, order: Order, top: int = 8) -> Candidates:
    asked = list(session.scalars(select(Offer).where(Offer.order_id == order.id).order_by(Offer.rank)))
    ranked = ranking.rank_for(session, order.elder, order.item, order.window_start_at,
                             excluded=frozenset(o.provider_id for o in asked), top=top)
    return Candidates(ranked, asked)


def redispatch(session: Session, order: Order, provider_id: int, staff: StaffUser, settings: Settings,
               now: datetime) -> Offer:
    """Offer the order to the provider the operator chose among the eligible candidates.

    An accepted visit goes through `orders.redispatch_order`, which tells the provider not to come
    and counts a no-show; an order still waiting for an answer has its open offers withdrawn.
    """
    order = session.get(Order, order.id, with_for_update=True, populate_existing=True)
    if order.state not in (OrderState.UNASSIGNED, OrderState.OFFERED, OrderState.ACCEPTED):
        raise ConsoleError(f"工单当前状态为“{STATE_NAMES.get(order.state, order.state)}”，不能改派")
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise ConsoleError("请选择一家服务商")
    if order.state == OrderState.ACCEPTED:
        outcome = orders.redispatch_order(session, order, now, provider_id, settings=settings)
        if not outcome.ok:
            raise ConsoleError(outcome.message)
    else:
        candidates = candidates_for(session, order, top=50)
        chosen = next((r for r in candidates.ranked if r.candidate.provider_id == provider_id), None)
        if chosen is None:
            raise ConsoleError("该服务商不符合派单条件（已派过、超出服务范围、满额或不在营业时间）")
        for offer in candidates.asked:
            if offer.status == "offered":
                offer.status, offer.responded_at = "withdrawn", now
                orders.tell_provider(session, offer.provider, purpose="order_reassigned",
                                     dedupe_key=f"redispatch:{order.id}:{offer.id}", settings=settings, now=now,
                                     params={"job_code": order.job_code})
        orders.send_offers(session, order, [chosen], len(candidates.asked), settings, now)
    resolve_tasks_of(session, order, staff, f"改派给{provider.name}", now)
    return session.scalars(select(Offer).where(Offer.order_id == order.id, Offer.provider_id == provider_id)).one()


def cancel_by_hand(session: Session, order: Order, staff: StaffUser, reason: str, settings: Settings,
                   now: datetime) -> None:
    if order.state not in OPEN_STATES:
        raise ConsoleError("工单已结束，不能取消")
    if not reason.strip():
        raise ConsoleError("请填写取消原因")
    orders.cancel_order(session, order, f"话务员取消：{reason.strip()}"[:200], settings, now)
    resolve_tasks_of(session, order, staff, f"已取消：{reason.strip()}", now)


# -- the board ------------------------------------------------------------------------------------
# The board lists this many open orders, soonest first; the counts above it cover them all (a
# cold snap leaves thousands open, and a week of care-plan visits is open before it happens).
BOARD_ROWS = 300
# The queue lists its most urgent rows; the heading counts them all.
QUEUE_ROWS = 100


def _open_query(what, street: str, category: str, who: StaffUser | Area | None):
    query = select(*what).select_from(Order).join(Elder, Elder.id == Order.elder_id).join(Item, Item.id == Order.item_id)
    query = query.where(Order.state.in_(OPEN_STATES), scope_filter(who, Elder.id))
    if street:
        query = query.where(Elder.street == street)
    if category:
        query = query.join(Category).where(Category.code == category)
    return query


def open_orders(session: Session, street: str = "", category: str = "",
                who: StaffUser | Area | None = None, limit: int | None = None) -> list[Order]:
    """Open orders (of `who`'s area), soonest visit first, optionally of one street and one category;
    the first `limit` of them, with their elder and item loaded in the same statement."""
    query = (_open_query((Order,), street, category, who)
             .options(contains_eager(Order.elder), contains_eager(Order.item))
             .order_by(Order.window_start_at, Order.id))
    return list(session.scalars(query.limit(limit) if limit else query))


def open_order_counts(session: Session, street: str = "", category: str = "",
                      who: StaffUser | Area | None = None) -> dict[str, int]:
    """How many open orders in each state, for the same filters as `open_orders`."""
    return dict(session.execute(_open_query((Order.state, func.count()), street, category, who)
                                .group_by(Order.state)).all())


def board_filters(session: Session, who: StaffUser | Area | None = None) -> tuple[list[str], list[Category]]:
    streets = list(session.scalars(select(Elder.street).where(scope_filter(who, Elder.id)).distinct()
                                   .order_by(Elder.street)))
    return streets, list(session.scalars(select(Category).order_by(Category.position)))


def provider_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Provider.id, Provider.name).where(Provider.id.in_(ids))).all())


def count_open(session: Session, who: StaffUser | Area | None = None) -> int:
    return session.scalar(select(func.count()).select_from(Order).where(Order.state.in_(OPEN_STATES),
                                                                        scope_filter(who, Order.elder_id)))


# -- the sketch -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mark:
    label: str
    x: float
    y: float
    distance_m: int


@dataclass(frozen=True)
class Sketch:
    """A map-free drawing: the elder at the centre, providers placed by bearing and distance."""

    size: int
    rings: list[tuple[float, str]]  # radius in drawing units, label
    marks: list[Mark]


METRES_PER_DEGREE = 111_320.0


def sketch(latitude: float, longitude: float, points: list[tuple[str, float, float, int]],
           size: int = 240) -> Sketch:
    """Place (label, latitude, longitude, distance_m) points around the elder on a local flat
    projection (north up), scaled so the farthest fits; rings mark round distances."""
    centre, margin = size / 2, 18
    east_north = [((lon - longitude) * METRES_PER_DEGREE * math.cos(math.radians(latitude)),
                   (lat - latitude) * METRES_PER_DEGREE) for _, lat, lon, _ in points]
    farthest = max([math.hypot(e, n) for e, n in east_north] + [500.0])
    scale = (centre - margin) / farthest
    step = next(s for s in (250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 1e9) if s * 4 >= farthest)
    rings = [(r * scale, f"{r / 1000:g}公里") for r in (step * k for k in range(1, 5)) if r <= farthest * 1.05]
    marks = [Mark(label, round(centre + e * scale, 1), round(centre - n * scale, 1), distance)
             for (label, _, _, distance), (e, n) in zip(points, east_north, strict=True)]
    return Sketch(size, rings, marks)
