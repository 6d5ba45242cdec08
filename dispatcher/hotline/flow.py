"""The hotline call flow: a state machine over Twilio webhooks, its state kept per CallSid.

Each turn answers one webhook. The TwiML of every turn is stored under (CallSid, seq), so a
replayed webhook gets the same answer and changes nothing. The steps (booking in
booking.py, the rest in people.py, what they share in steps.py):

    open_order → category → item → slot → confirm → done        (an elder books)
                                      slot —2→ day → half_day [→ hour] → confirm   (when.py)
    open_order —2→ day → … → move_confirm; —3→ skip or cancel    (a booked visit: change.py)
                 category ⇢ speech_confirm → slot                 (said, not keyed, and unsure)
    category —7→ worker_code → worker_id → worker_action → done  (a worker checks in or out)
    after_hours → voicemail                                       (at night, except 9)
    any menu step —0/9/two failures→ dialling → voicemail         (a person, or a message)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session, joinedload

from billing.policy import Policy
from dispatcher.catalogue import CatalogueSnapshot, CategoryEntry, ItemEntry
from dispatcher.config import Settings
from dispatcher.hotline.booking import BookingSteps
from dispatcher.hotline.change import ChangeSteps
from dispatcher.hotline.people import PeopleSteps
from dispatcher.hotline.speech import phrases_for
from dispatcher.hotline.steps import (  # noqa: F401  (Reply, Turn and the keys are imported from here)
    EMERGENCY_KEY,
    FINAL_STEPS,
    MENU_SIZE,
    MENU_STEPS,
    MORE_KEY,
    OPERATOR_KEY,
    REPEAT_KEY,
    SPEECH_STEPS,
    STEP_NAMES,
    Reply,
    Turn,
)
from dispatcher.hotline.when import WhenSteps
from dispatcher.lifecycle import orders
from dispatcher.lifecycle.quiet_hours import inside, parse_quiet_hours
from dispatcher.lifecycle.states import OPEN_STATES
from dispatcher.models import Elder, ElderPhone, FamilyMember, HotlineCall, HotlineTurn, Item, Order
from telephony.models import CallRecord


def find_elder_by_phone(session: Session, phone: str) -> Elder | None:
    """The elder a caller ID belongs to (their own number or a family number)."""
    return session.scalar(_elder_by_phone(phone))


def _elder_by_phone(phone):
    return (select(Elder).join(ElderPhone).where(ElderPhone.phone == phone)
            .order_by(ElderPhone.is_primary.desc(), Elder.id).limit(1))


def _latest_open_order(elder_id, what=Order):
    """The elder's open order with the latest window, if any (or `what` of it)."""
    return (select(what).where(Order.elder_id == elder_id, Order.state.in_(OPEN_STATES))
            .order_by(Order.window_start_at.desc()).limit(1))


# The statements of a greeting and of a key press, built once: a webhook only binds its values.
# Building a statement and working out its cache key cost more than running it (issue 21), and
# the call's own rows are written with Core, not through the unit of work.
_CALLS, _TURNS = HotlineCall.__table__, HotlineTurn.__table__
# The caller, their open order's id, and whether the number is a family member's (issue 18).
_START = _elder_by_phone(bindparam("caller")).add_columns(
    _latest_open_order(Elder.id, Order.id).scalar_subquery(),
    select(FamilyMember.id).where(FamilyMember.phone == bindparam("caller"), FamilyMember.elder_id == Elder.id)
    .limit(1).scalar_subquery())
# The call, locked, and the answer already given to turn `seq`, in one statement.
_FIND = (select(_CALLS, select(_TURNS.c.twiml)
                .where(_TURNS.c.call_sid == bindparam("call_sid"), _TURNS.c.seq == bindparam("seq"))
                .scalar_subquery().label("stored_twiml"))
         .where(_CALLS.c.call_sid == bindparam("call_sid")).with_for_update(of=_CALLS))
_BOOKED = (select(Order.item_id, func.count()).where(Order.elder_id == bindparam("elder_id"))
           .group_by(Order.item_id))
_ADD_CALL = insert(_CALLS)
# Only what a turn changes; call_status is the network's status callbacks' to write.
_SAVE_CALL = (update(_CALLS).where(_CALLS.c.id == bindparam("call_id"))
              .values(step=bindparam("step"), data=bindparam("data", type_=_CALLS.c.data.type),
                      updated_at=bindparam("updated_at", type_=_CALLS.c.updated_at.type)))
_ADD_TURN = insert(_TURNS)
_ADD_CALL_RECORD = insert(CallRecord)
_NEW_CALL_COLUMNS = ("call_sid", "caller", "elder_id", "step", "data", "created_at", "updated_at")


class Hotline(BookingSteps, ChangeSteps, WhenSteps, PeopleSteps):
    """Answer one webhook of an inbound call."""

    def __init__(self, session: Session, settings: Settings, policy: Policy, now: datetime,
                 catalogue: CatalogueSnapshot, *, speech: bool = True):
        self.session, self.settings, self.policy, self.now = session, settings, policy, now
        self.catalogue = catalogue
        # False where the caller's speech is not recognised (the FreeSWITCH path): no prompt invites it.
        self.speech = speech
        # Held here, not only in the session's weak identity map, so a turn reads each once.
        self._caller: Elder | None = None
        self._open: Order | None = None
        self._open_known = False
        self._connection = None

    # -- the turn --------------------------------------------------------------------------
    def respond(self, call_sid: str, caller: str, seq: int, turn: Turn, render, *,
                expect_new: bool = False) -> str:
        """Return the TwiML for turn `seq` of the call, computing it only once.

        With `expect_new` (a call's first webhook, on the first try) the call is not looked
        up: it is inserted, and a second delivery fails on the CallSid's unique key, which the
        caller answers by asking again without `expect_new`.
        """
        found = None if expect_new else self._find(call_sid, seq)
        if found is None:
            call = self._start(call_sid, caller)
            reply = self._greet(call)
            twiml = render(reply, seq + 1)
            # Written once its first step is known: one INSERT, no UPDATE after it.
            self._db.execute(_ADD_CALL, {column: getattr(call, column) for column in _NEW_CALL_COLUMNS})
        else:
            call, stored = found
            if stored is not None:
                return stored
            reply = self._advance(call, turn)
            twiml = render(reply, seq + 1)
            self._db.execute(_SAVE_CALL, {"call_id": call.id, "step": call.step, "data": call.data,
                                          "updated_at": self.now})
        # These rows are written once and never read back in this request.
        self._db.execute(_ADD_TURN, {"call_sid": call_sid, "seq": seq, "twiml": twiml})
        return twiml

    @property
    def _db(self):
        """The session's connection, in its transaction, for the Core statements above (asked of
        the session once a turn: nothing in a turn commits)."""
        if self._connection is None:
            self._connection = self.session.connection()
        return self._connection

    def _find(self, call_sid: str, seq: int) -> tuple[HotlineCall, str | None] | None:
        """The call, locked, and the answer already given to turn `seq`.

        A copy of the webhook that waited for the lock may not see the answer the other copy
        stored; the turn's unique key then refuses its answer and the view asks again. The call is
        read as a row and handed to the steps as a HotlineCall outside the session: `respond`
        writes back what a step changes (its step and data).
        """
        row = self._db.execute(_FIND, {"call_sid": call_sid, "seq": seq}).first()
        if row is None:
            return None
        values = row._asdict()
        stored = values.pop("stored_twiml")
        return HotlineCall(**values), stored

    def _start(self, call_sid: str, caller: str) -> HotlineCall:
        found = self.session.execute(_START, {"caller": caller}).first()
        is_family = False
        if found is not None:
            self._caller, open_id, family_id = found
            is_family = family_id is not None
            self._open_known = True
            # Its status names the item: loaded with it, in one statement.
            self._open = (None if open_id is None else
                          self.session.get(Order, open_id, options=[joinedload(Order.item)]))
        call = HotlineCall(call_sid=call_sid, caller=caller,
                           elder_id=self._caller.id if self._caller else None,
                           step="category", data={"page": 0, "failures": 0, **({"family": 1} if is_family else {})},
                           created_at=self.now, updated_at=self.now, call_status=None)
        self._db.execute(_ADD_CALL_RECORD, {
            "call_sid": call_sid, "direction": "inbound", "from_number": caller,
            "to_number": self.settings.hotline_number, "status": "in-progress",
            "created_at": self.now, "updated_at": self.now})
        return call

    def _greet(self, call: HotlineCall) -> Reply:
        if inside(self.now, parse_quiet_hours(self.settings.after_hours)):
            call.step = "after_hours"
            return self._prompt(call, prefix="您好，这里是虚拟养老院。")
        if call.elder_id is None:
            return self._to_operator(call, "unknown_caller", "未登记的来电号码",
                                     "您好，这里是虚拟养老院服务热线。正在为您转接话务员，请稍候。")
        # The emergency key is said once, here, and nowhere else in the menus (issue 21).
        greeting = f"{orders.elder_title(self._elder(call), self.now)}您好，这里是虚拟养老院。紧急情况按{EMERGENCY_KEY}。"
        if self._open_order(call) is not None:
            call.step = "open_order"
        return self._prompt(call, prefix=greeting)

    def _advance(self, call: HotlineCall, turn: Turn) -> Reply:
        if call.step == "dialling":
            return self._after_dial(call, turn)
        if call.step == "voicemail":
            return self._after_recording(call, turn)
        if call.step in FINAL_STEPS:
            return Reply(say=["再见。"], hangup=True)
        digits = turn.digits.strip()
        if call.step in MENU_STEPS:
            if digits.startswith(EMERGENCY_KEY):
                return self._emergency(call)
            if digits.startswith(OPERATOR_KEY):
                return self._to_operator(call, "operator_request",
                                         f"老人按0转人工（{STEP_NAMES[call.step]}）",
                                         "正在为您转接话务员，请稍候。")
        if digits.startswith(REPEAT_KEY):
            return self._prompt(call)
        if turn.is_silent and call.step != "after_hours":
            # The greeting no longer says that speech works; the menus that take it say so here.
            hint = "请按键，也可以直接说。" if self.speech and call.step in SPEECH_STEPS else ""
            return self._fail(call, "没有听到您的选择。" + hint, "silence", "连续两次无输入")
        return getattr(self, f"_on_{call.step}")(call, turn)

    # -- prompts ----------------------------------------------------------------------------
    def _prompt(self, call: HotlineCall, prefix: str = "") -> Reply:
        """The current step's question, said again when asked (`*`) or after a mistake.

        Each step's question is its `_ask_<step>` method, beside the step's handler.
        """
        reply = Reply(say=[prefix] if prefix else [], gather=True)
        ask = getattr(self, f"_ask_{call.step}", None)
        if ask is not None:
            ask(call, reply)
        return reply

    # -- data -------------------------------------------------------------------------------
    def _elder(self, call: HotlineCall) -> Elder:
        if self._caller is None or self._caller.id != call.elder_id:
            self._caller = self.session.get(Elder, call.elder_id)
        return self._caller

    def _open_order(self, call: HotlineCall) -> Order | None:
        if call.elder_id is None:
            return None
        if not self._open_known:
            # Its item too, in the same statement: the status and a move name it.
            self._open = self.session.scalar(_latest_open_order(call.elder_id).options(joinedload(Order.item)))
            self._open_known = True
        return self._open

    def _categories(self, call: HotlineCall) -> list[CategoryEntry]:
        """Categories, those the caller has booked most often first (worked out once a call)."""
        if not call.data.get("menu"):
            by_item = self.session.execute(_BOOKED, {"elder_id": call.elder_id}).all() if call.elder_id else []
            category_of = {i.id: c.code for c in self.catalogue.categories for i in c.items}
            used: dict[str, int] = {}
            for item_id, count in by_item:
                code = category_of.get(item_id)
                used[code] = used.get(code, 0) + count
            ordered = sorted(self.catalogue.categories, key=lambda c: (-used.get(c.code, 0), c.position))
            call.data = {**call.data, "menu": [c.code for c in ordered]}
        return [self.catalogue.category(code) for code in call.data["menu"]]

    def _category_page(self, call: HotlineCall) -> list[CategoryEntry]:
        page = call.data.get("page", 0)
        return self._categories(call)[page * MENU_SIZE:(page + 1) * MENU_SIZE]

    def _has_more_categories(self, call: HotlineCall) -> bool:
        return len(self.catalogue.categories) > (call.data.get("page", 0) + 1) * MENU_SIZE

    def _menu(self, call: HotlineCall) -> list[ItemEntry]:
        codes = call.data.get("items")
        if codes is None:
            return list(self.catalogue.category(call.data["category"]).menu)
        return [self.catalogue.item(code) for code in codes]

    def _items(self, call: HotlineCall) -> list[ItemEntry]:
        page = call.data.get("item_page", 0)
        return self._menu(call)[page * MENU_SIZE:(page + 1) * MENU_SIZE]

    def _item_pages(self, call: HotlineCall) -> int:
        return max(1, -(-len(call.data.get("items") or self._menu(call)) // MENU_SIZE))

    def _item(self, code: str) -> Item:
        return self.session.get(Item, self.catalogue.item(code).id)

    def _phrases(self):
        return phrases_for([(i.code, i.name, list(i.synonyms))
                            for c in self.catalogue.categories for i in c.items])
