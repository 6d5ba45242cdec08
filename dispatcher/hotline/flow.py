"""The hotline call flow: a state machine over Twilio webhooks, its state kept per CallSid.

Each turn answers one webhook. The TwiML of every turn is stored under (CallSid, seq), so a
replayed webhook gets the same answer and changes nothing. The steps:

    open_order → category → item → slot → confirm → done        (an elder books)
                 category ⇢ speech_confirm → slot                 (said, not keyed, and unsure)
    category —7→ worker_code → worker_id → worker_action → done  (a worker checks in or out)
    after_hours → voicemail                                       (at night, except 9)
    any menu step —0/9/two failures→ dialling → voicemail         (a person, or a message)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, joinedload

from billing.policy import Policy
from dispatcher import texts
from dispatcher.catalogue import CatalogueSnapshot, CategoryEntry, ItemEntry
from dispatcher.clock import local
from dispatcher.config import Settings
from dispatcher.hotline.speech import SURE, guess_item, phrases_for
from dispatcher.lifecycle import attendance, orders, ranking, tasks
from dispatcher.lifecycle.family import family_member_by_phone
from dispatcher.lifecycle.proof import device_hash
from dispatcher.lifecycle.quiet_hours import inside, parse_quiet_hours
from dispatcher.lifecycle.slots import slot_for, slot_options
from dispatcher.lifecycle.states import OPEN_STATES
from dispatcher.models import Elder, ElderPhone, FamilyMember, HotlineCall, HotlineTurn, Item, Order
from dispatcher.programmes.no_show import report_no_show
from providers.models import Provider
from telephony.models import CallRecord
from telephony.outbox import enqueue_notice

MENU_SIZE = 5
# 8 turns a menu's page, for categories and for items alike: 0, 7, 9 and * keep their meaning
# everywhere, and 1-5 choose. On an item menu's last page, 8 goes back to its first page.
MORE_KEY = "8"
OPERATOR_KEY, EMERGENCY_KEY, REPEAT_KEY, WORKER_KEY = "0", "9", "*", "7"
NO_SHOW_KEY = "6"  # a family member: nobody came (issue 18)
MAX_FAILURES = 2
MENU_STEPS = frozenset({"open_order", "category", "item", "speech_confirm", "slot", "slot_later", "confirm",
                        "after_hours"})
SPEECH_STEPS = frozenset({"category", "item"})
# Steps that end the call, or wait for Twilio to report on a <Dial> or <Record>.
FINAL_STEPS = frozenset({"done"})


@dataclass
class Reply:
    """One turn of the call, before it becomes TwiML."""

    say: list[str] = field(default_factory=list)
    gather: bool = False
    digits: int | None = 1  # None: any number of keys, ended by #
    speech: bool = True
    hints: list[str] = field(default_factory=list)
    dial: list[str] = field(default_factory=list)
    record: bool = False
    hangup: bool = False


@dataclass
class Turn:
    """What the caller did: keys, speech, or what became of a <Dial> or <Record>."""

    digits: str = ""
    speech: str = ""
    confidence: float | None = None
    dial_status: str = ""
    recording_url: str = ""

    @property
    def is_silent(self) -> bool:
        return not self.digits and not self.speech


def find_elder_by_phone(session: Session, phone: str) -> Elder | None:
    """The elder a caller ID belongs to (their own number or a family number)."""
    return session.scalar(_elder_by_phone(phone))


def _elder_by_phone(phone: str):
    return (select(Elder).join(ElderPhone).where(ElderPhone.phone == phone)
            .order_by(ElderPhone.is_primary.desc(), Elder.id).limit(1))


def _latest_open_order(elder_id, what=Order):
    """The elder's open order with the latest window, if any (or `what` of it)."""
    return (select(what).where(Order.elder_id == elder_id, Order.state.in_(OPEN_STATES))
            .order_by(Order.window_start_at.desc()).limit(1))


class Hotline:
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
            # Added once its first step is known: one INSERT, no UPDATE after it.
            self.session.add(call)
        else:
            call, stored = found
            if stored is not None:
                return stored
            reply = self._advance(call, turn)
            call.updated_at = self.now
        twiml = render(reply, seq + 1)
        # Core inserts: these rows are written once and never read back in this request.
        self.session.execute(insert(HotlineTurn).values(call_sid=call_sid, seq=seq, twiml=twiml))
        return twiml

    def _find(self, call_sid: str, seq: int):
        """The call, locked, and the answer already given to turn `seq`, in one statement.

        A copy of the webhook that waited for the lock may not see the answer the other copy
        stored; the turn's unique key then refuses its answer and the view asks again.
        """
        stored_twiml = (select(HotlineTurn.twiml)
                        .where(HotlineTurn.call_sid == call_sid, HotlineTurn.seq == seq)
                        .scalar_subquery())
        return self.session.execute(
            select(HotlineCall, stored_twiml).where(HotlineCall.call_sid == call_sid)
            .with_for_update(of=HotlineCall)
        ).first()

    def _start(self, call_sid: str, caller: str) -> HotlineCall:
        # A family member's number (issue 18) is told about key 6: found in the same statement.
        family = (select(FamilyMember.id).where(FamilyMember.phone == caller, FamilyMember.elder_id == Elder.id)
                  .limit(1).scalar_subquery())
        found = self.session.execute(
            _elder_by_phone(caller).add_columns(_latest_open_order(Elder.id, Order.id).scalar_subquery(), family)
        ).first()
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
                           created_at=self.now, updated_at=self.now)
        self.session.execute(insert(CallRecord).values(
            call_sid=call_sid, direction="inbound", from_number=caller,
            to_number=self.settings.hotline_number, status="in-progress",
            created_at=self.now, updated_at=self.now))
        return call

    def _greet(self, call: HotlineCall) -> Reply:
        if inside(self.now, parse_quiet_hours(self.settings.after_hours)):
            call.step = "after_hours"
            return self._prompt(call, prefix="您好，这里是虚拟养老院。")
        if call.elder_id is None:
            return self._to_operator(call, "unknown_caller", "未登记的来电号码",
                                     "您好，这里是虚拟养老院服务热线。正在为您转接话务员，请稍候。")
        greeting = f"{orders.elder_title(self._elder(call), self.now)}您好，这里是虚拟养老院。"
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

    # -- booking ----------------------------------------------------------------------------
    def _on_open_order(self, call: HotlineCall, turn: Turn) -> Reply:
        order = self._open_order(call)
        if turn.digits == WORKER_KEY:
            return self._worker_starts(call)
        if turn.digits == NO_SHOW_KEY and self._is_family(call, ask=True):
            return self._family_no_show(call)
        if order is None or turn.digits == "3":
            call.step = "category"
            return self._prompt(call)
        if turn.digits == "1":
            call.step = "done"
            return Reply(say=["好的，工单保留不变。感谢您的来电，再见。"], hangup=True)
        if turn.digits == "2":
            orders.cancel_order(self.session, order, "老人来电取消", self.settings, self.now)
            call.step = "done"
            return Reply(say=[f"已为您取消{order.item.name}。感谢您的来电，再见。"], hangup=True)
        return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")

    def _on_category(self, call: HotlineCall, turn: Turn) -> Reply:
        if turn.speech:
            return self._heard(call, turn)
        if turn.digits == WORKER_KEY:
            return self._worker_starts(call)
        if turn.digits == NO_SHOW_KEY and self._is_family(call, ask=True):
            return self._family_no_show(call)
        categories = self._category_page(call)
        if turn.digits == MORE_KEY and self._has_more_categories(call):
            call.data = {**call.data, "page": call.data.get("page", 0) + 1, "failures": 0}
            return self._prompt(call)
        index = _key_index(turn.digits, len(categories))
        if index is None:
            return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")
        category = categories[index]
        call.step = "item"
        # The menu's order is kept for the call: a refreshed catalogue does not move its keys.
        call.data = {**call.data, "category": category.code, "items": [i.code for i in category.menu],
                     "item_page": 0, "failures": 0}
        return self._prompt(call)

    def _on_item(self, call: HotlineCall, turn: Turn) -> Reply:
        if turn.speech:
            return self._heard(call, turn)
        if turn.digits == MORE_KEY and self._item_pages(call) > 1:
            page = (call.data.get("item_page", 0) + 1) % self._item_pages(call)
            call.data = {**call.data, "item_page": page, "failures": 0}
            return self._prompt(call)
        items = self._items(call)
        index = _key_index(turn.digits, len(items))
        if index is None:
            return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")
        return self._choose_item(call, items[index])

    def _heard(self, call: HotlineCall, turn: Turn) -> Reply:
        guess = guess_item(turn.speech, self._phrases(), turn.confidence)
        if guess is None:
            return self._fail(call, "抱歉，没有听清。您可以按键选择。", "speech", "两次没有听懂")
        item = self.catalogue.item(guess.item_code)
        if guess.confidence >= SURE:
            return self._choose_item(call, item)
        call.step = "speech_confirm"
        call.data = {**call.data, "item": item.code, "failures": 0}
        return self._prompt(call)

    def _on_speech_confirm(self, call: HotlineCall, turn: Turn) -> Reply:
        if turn.digits == "1":
            return self._choose_item(call, self.catalogue.item(call.data["item"]))
        if turn.digits == "2":
            call.step = "category"
            call.data = {"page": 0, "failures": 0, "menu": call.data.get("menu")}
            return self._prompt(call, prefix="好的，请按键选择。")
        return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")

    def _choose_item(self, call: HotlineCall, item: ItemEntry) -> Reply:
        call.step = "slot"
        call.data = {**call.data, "item": item.code, "category": item.category_code, "failures": 0}
        return self._prompt(call)

    def _on_slot(self, call: HotlineCall, turn: Turn) -> Reply:
        """As soon as possible (most asked for, one key), or 2 for the half-day windows."""
        if turn.digits == "1":
            call.step = "confirm"
            call.data = {**call.data, "slot": "asap", "failures": 0}
            return self._prompt(call)
        if turn.digits == "2":
            call.step = "slot_later"
            call.data = {**call.data, "failures": 0}
            return self._prompt(call)
        return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")

    def _on_slot_later(self, call: HotlineCall, turn: Turn) -> Reply:
        options = _later_slots(self.now)
        index = _key_index(turn.digits, len(options))
        if index is None:
            return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")
        call.step = "confirm"
        call.data = {**call.data, "slot": options[index].code, "failures": 0}
        return self._prompt(call)

    def _on_confirm(self, call: HotlineCall, turn: Turn) -> Reply:
        if turn.digits == "2":
            call.step = "category"
            call.data = {"page": 0, "failures": 0, "menu": call.data.get("menu")}
            return self._prompt(call, prefix="好的，请重新选择。")
        if turn.digits != "1":
            return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")
        item = self._item(call.data["item"])
        slot = slot_for(call.data["slot"], self.now)
        order = orders.place_order(self.session, elder=self._elder(call), item=item, slot=slot,
                                   source="phone", call_sid=call.call_sid, settings=self.settings,
                                   now=self.now)
        call.step = "done"
        call.data = {**call.data, "order_id": order.id}
        code = "，".join(order.job_code)
        if order.state == "accepted":
            after = f"{order.provider.name}已接单。"
        elif order.state == "unassigned":
            after = "暂时没有服务商可以接单，话务员会尽快给您回电安排。"
        else:
            after = "服务商接单后会通知您。"
        return Reply(say=[f"已为您下单，工单号{code}。{after}再见。"], hangup=True)

    # -- a family member reports that nobody came ------------------------------------------------
    def _is_family(self, call: HotlineCall, *, ask: bool = False) -> bool:
        if call.data.get("family"):
            return True
        return ask and family_member_by_phone(self.session, call.caller) is not None

    def _family_no_show(self, call: HotlineCall) -> Reply:
        call.step = "done"
        return Reply(say=[report_no_show(self.session, call.caller, self.settings, self.now) + "再见。"], hangup=True)

    # -- a worker checks in or out from the elder's phone ----------------------------------------
    def _worker_starts(self, call: HotlineCall) -> Reply:
        call.step = "worker_code"
        call.data = {**call.data, "failures": 0}
        return self._prompt(call)

    def _on_worker_code(self, call: HotlineCall, turn: Turn) -> Reply:
        code = turn.digits.strip("#")
        order = self.session.scalar(
            select(Order).join(ElderPhone, ElderPhone.elder_id == Order.elder_id)
            .where(Order.job_code == code, Order.state.in_(("accepted", "in_progress")),
                   ElderPhone.phone == call.caller)
        )
        if order is None:
            # Caller ID proves the place: the code must belong to an elder of this phone.
            return self._fail(call, "工单号不对，或不是在老人家中拨打。", "worker", "服务人员工单号两次无效")
        call.step = "worker_id"
        call.data = {**call.data, "order_id": order.id, "failures": 0}
        return self._prompt(call)

    def _on_worker_id(self, call: HotlineCall, turn: Turn) -> Reply:
        worker = turn.digits.strip("#")
        if not worker.isdigit() or not 3 <= len(worker) <= 11:  # a work number, or the worker's mobile
            return self._fail(call, "工号不对。", "worker", "服务人员工号两次无效")
        call.step = "worker_action"
        call.data = {**call.data, "worker": worker, "failures": 0}
        return self._prompt(call)

    def _on_worker_action(self, call: HotlineCall, turn: Turn) -> Reply:
        if turn.digits not in ("1", "2"):
            return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")
        order = self.session.get(Order, call.data["order_id"])
        # Caller ID proved the place when the job code was taken (an elder's phone only).
        visit_by_phone = {"source": "phone", "phone": call.caller, "worker": call.data["worker"],
                          "elder_phone": True, "device": device_hash("phone", call.caller)}
        if turn.digits == "1":
            outcome = attendance.check_in(self.session, order, order.provider_id, "phone", self.now,
                                      evidence=visit_by_phone, settings=self.settings)
        else:
            outcome = attendance.check_out(self.session, order, order.provider_id, "phone", self.policy,
                                       self.settings, self.now, evidence=visit_by_phone)
        call.step = "done"
        return Reply(say=[outcome.message.replace("工单", "工单号") + "再见。"], hangup=True)

    # -- after hours, operators and voicemail ---------------------------------------------------
    def _on_after_hours(self, call: HotlineCall, turn: Turn) -> Reply:
        return self._voicemail(call, "after_hours", "夜间来电留言")

    def _voicemail(self, call: HotlineCall, kind: str, reason: str) -> Reply:
        call.step = "voicemail"
        call.data = {**call.data, "voicemail_kind": kind, "voicemail_reason": reason}
        return Reply(say=["请在提示音后说出您的姓名和需要，说完请挂机，我们会尽快给您回电。"], record=True)

    def _after_recording(self, call: HotlineCall, turn: Turn) -> Reply:
        call.step = "done"
        task = tasks.open_task(self.session, kind=call.data.get("voicemail_kind", "voicemail"),
                                reason=call.data.get("voicemail_reason", "留言"),
                                dedupe_key=f"call:{call.call_sid}", elder_id=call.elder_id,
                                call_sid=call.call_sid, caller=call.caller, now=self.now)
        if turn.recording_url and not task.recording_url:
            task.recording_url = turn.recording_url[:500]
        return Reply(say=["留言已收到，我们会尽快给您回电。再见。"], hangup=True)

    def _after_dial(self, call: HotlineCall, turn: Turn) -> Reply:
        if turn.dial_status == "completed":
            call.step = "done"
            return Reply(hangup=True)
        fallback = self.settings.emergency_fallback_number
        if call.data.get("emergency") and fallback and not call.data.get("fallback_tried"):
            call.data = {**call.data, "fallback_tried": True}
            return Reply(say=["正在继续为您转接。"], dial=[fallback])
        return self._voicemail(call, call.data.get("dial_kind", "voicemail"), "话务员未接听，来电留言")

    def _to_operator(self, call: HotlineCall, kind: str, reason: str, words: str) -> Reply:
        call.step = "dialling"
        call.data = {**call.data, "dial_kind": kind}
        tasks.open_task(self.session, kind=kind, reason=reason, dedupe_key=f"call:{call.call_sid}",
                         elder_id=call.elder_id, call_sid=call.call_sid, caller=call.caller, now=self.now)
        return Reply(say=[words], dial=self.settings.operator_numbers)

    def _emergency(self, call: HotlineCall) -> Reply:
        call.step = "dialling"
        call.data = {**call.data, "dial_kind": "emergency", "emergency": True}
        task = tasks.open_task(self.session, kind="emergency", reason="老人按9紧急求助",
                                dedupe_key=f"call:{call.call_sid}", elder_id=call.elder_id,
                                call_sid=call.call_sid, caller=call.caller, now=self.now)
        # An emergency outranks whatever this call was first queued for.
        task.kind, task.reason, task.priority = "emergency", "老人按9紧急求助", 0
        if call.elder_id is not None:
            elder = self._elder(call)
            for contact in elder.emergency_contacts:
                # A landline contact is called and told the same words (it cannot take an SMS).
                enqueue_notice(self.session, to=contact.phone, purpose="emergency_contact",
                               dedupe_key=f"emergency:{call.call_sid}:{contact.id}",
                               from_=self.settings.hotline_number, now=self.now,
                               params=texts.emergency_params(contact.name, elder.name, self.now),
                               public_url=self.settings.public_url)
        return Reply(say=["正在为您紧急转接话务员。"], dial=self.settings.operator_numbers)

    def _fail(self, call: HotlineCall, sorry: str, kind: str, reason: str) -> Reply:
        failures = call.data.get("failures", 0) + 1
        call.data = {**call.data, "failures": failures}
        if failures >= MAX_FAILURES:
            return self._to_operator(call, kind, f"{reason}（{STEP_NAMES[call.step]}）",
                                     "正在为您转接话务员，请稍候。")
        return self._prompt(call, prefix=sorry)

    # -- prompts ----------------------------------------------------------------------------
    def _prompt(self, call: HotlineCall, prefix: str = "") -> Reply:
        """The current step's question, said again when asked (`*`) or after a mistake."""
        lines = [prefix] if prefix else []
        reply = Reply(say=lines, gather=True)
        step = call.step
        if step == "open_order":
            lines.append(self._order_status(self._open_order(call)))
            lines.append("保留按1，取消按2，预约其他服务按3。服务人员签到签退按7。")
        elif step == "category":
            categories = self._category_page(call)
            lines += [f"{c.name}按{i}。" for i, c in enumerate(categories, 1)]
            if self._has_more_categories(call):
                lines.append(f"更多按{MORE_KEY}。")
            lines.append("其他服务请按0转人工。")
            if self._is_family(call):
                lines.append(f"家属反映服务人员没有上门，请按{NO_SHOW_KEY}。")
            reply.hints = [item.name for c in categories for item in c.menu[:MENU_SIZE]]
        elif step == "item":
            items = self._items(call)
            lines += [f"{item.name}按{i}。" for i, item in enumerate(items, 1)]
            pages = self._item_pages(call)
            if pages > 1:
                last = call.data.get("item_page", 0) == pages - 1
                lines.append(f"回到第一页按{MORE_KEY}。" if last else f"更多按{MORE_KEY}。")
            lines.append("其他按0转人工。")
            reply.hints = [item.name for item in items]
        elif step == "speech_confirm":
            lines.append(f"您要的是{self.catalogue.item(call.data['item']).name}吗？是按1，不是按2。")
            reply.speech = False
        elif step == "slot":
            lines.append("尽快上门按1，另约时间按2。")
            reply.speech = False
        elif step == "slot_later":
            lines += [f"{s.label}按{i}。" for i, s in enumerate(_later_slots(self.now), 1)]
            reply.speech = False
        elif step == "confirm":
            lines.append(self._read_back(call))
            lines.append("确认按1，重选按2。")
            reply.speech = False
        elif step == "worker_code":
            lines.append("服务人员您好。请输入工单号，以井号键结束。")
            reply.digits, reply.speech = None, False
        elif step == "worker_id":
            lines.append("请输入您的工号或登记的手机号，以井号键结束。")
            reply.digits, reply.speech = None, False
        elif step == "worker_action":
            lines.append("签到按1，签退按2。")
            reply.speech = False
        elif step == "after_hours":
            lines.append("现在是夜间值班时间。紧急求助按9；其他需要按1留言，我们明天白天给您回电。")
            reply.speech = False
        return reply

    def _read_back(self, call: HotlineCall) -> str:
        item = self._item(call.data["item"])
        slot = slot_for(call.data["slot"], self.now)
        charge = ranking.quote(self.session, self._elder(call), item, slot, self.policy, self.now)
        booked = f"{item.name}，{slot.label}上门。"
        if charge is None:
            return booked + "附近暂时没有服务商可以接单，下单后话务员会为您安排。"
        return booked + texts.charge_words(charge.price_fen, charge.subsidy_fen, charge.copay_fen)

    def _order_status(self, order: Order) -> str:
        day = local(order.window_start_at).date()
        today = local(self.now).date()
        when = {0: "今天", 1: "明天"}.get((day - today).days, f"{day.month}月{day.day}日")
        half = "上午" if local(order.window_start_at).hour < 12 else "下午"
        if order.slot_code == "asap" and day == today:
            when, half = "", "尽快"
        if order.provider_id is not None and order.state in ("accepted", "in_progress"):
            provider = self.session.get(Provider, order.provider_id)
            return f"您有一个工单：{order.item.name}，{provider.name}{when}{half}上门。"
        return f"您有一个工单：{order.item.name}，{when}{half}上门，正在为您联系服务商。"

    # -- data -------------------------------------------------------------------------------
    def _elder(self, call: HotlineCall) -> Elder:
        if self._caller is None or self._caller.id != call.elder_id:
            self._caller = self.session.get(Elder, call.elder_id)
        return self._caller

    def _open_order(self, call: HotlineCall) -> Order | None:
        if call.elder_id is None:
            return None
        if not self._open_known:
            self._open = self.session.scalar(_latest_open_order(call.elder_id))
            self._open_known = True
        return self._open

    def _categories(self, call: HotlineCall) -> list[CategoryEntry]:
        """Categories, those the caller has booked most often first (worked out once a call)."""
        if not call.data.get("menu"):
            by_item = self.session.execute(
                select(Order.item_id, func.count()).where(Order.elder_id == call.elder_id)
                .group_by(Order.item_id)
            ).all() if call.elder_id else []
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


STEP_NAMES = {"open_order": "已有工单", "category": "选择服务类别", "item": "选择服务项目",
              "speech_confirm": "确认语音识别", "slot": "选择上门时间", "slot_later": "选择上门时段", "confirm": "确认订单",
              "worker_code": "服务人员输入工单号", "worker_id": "服务人员输入工号",
              "worker_action": "服务人员签到签退", "after_hours": "夜间", "done": "已结束",
              "dialling": "转人工", "voicemail": "留言"}


def _later_slots(now: datetime):
    return [slot for slot in slot_options(now) if slot.code != "asap"]


def _key_index(digits: str, size: int) -> int | None:
    if len(digits) == 1 and digits.isdigit() and 1 <= int(digits) <= size:
        return int(digits) - 1
    return None

