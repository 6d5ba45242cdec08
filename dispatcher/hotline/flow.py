"""The hotline call flow: a state machine over Twilio webhooks, its state kept per CallSid.

Each turn answers one webhook. The TwiML of every turn is stored under (CallSid, seq), so a
replayed webhook gets the same answer and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.policy import Policy
from dispatcher import orders, texts
from dispatcher.config import Settings
from dispatcher.models import Category, Elder, ElderPhone, HotlineCall, HotlineTurn, Item
from dispatcher.slots import slot_for, slot_options
from telephony.models import CallRecord
from telephony.outbox import enqueue_sms

MENU_SIZE = 5
MORE_KEY = "8"
OPERATOR_KEY, EMERGENCY_KEY, REPEAT_KEY = "0", "9", "*"
MAX_FAILURES = 2


@dataclass
class Reply:
    """One turn of the call, before it becomes TwiML."""

    say: list[str] = field(default_factory=list)
    gather: bool = False
    dial: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    hangup: bool = False


@dataclass
class Turn:
    """What the caller did: keys and/or speech (both empty means silence)."""

    digits: str = ""
    speech: str = ""

    @property
    def is_silent(self) -> bool:
        return not self.digits and not self.speech


def find_elder_by_phone(session: Session, phone: str) -> Elder | None:
    """The elder a caller ID belongs to (their own number or a family number)."""
    return session.scalar(
        select(Elder).join(ElderPhone).where(ElderPhone.phone == phone)
        .order_by(ElderPhone.is_primary.desc(), Elder.id).limit(1)
    )


class Hotline:
    """Answer one webhook of an inbound call."""

    def __init__(self, session: Session, settings: Settings, policy: Policy, now: datetime):
        self.session, self.settings, self.policy, self.now = session, settings, policy, now

    # -- the turn --------------------------------------------------------------------------
    def respond(self, call_sid: str, caller: str, seq: int, turn: Turn, render) -> str:
        """Return the TwiML for turn `seq` of the call, computing it only once."""
        stored = self.session.scalar(
            select(HotlineTurn.twiml).where(HotlineTurn.call_sid == call_sid, HotlineTurn.seq == seq)
        )
        if stored is not None:
            return stored
        call = self.session.scalar(
            select(HotlineCall).where(HotlineCall.call_sid == call_sid).with_for_update()
        )
        if call is None:
            call = self._start(call_sid, caller)
            reply = self._greet(call)
        else:
            reply = self._advance(call, turn)
        call.updated_at = self.now
        twiml = render(reply, seq + 1)
        self.session.add(HotlineTurn(call_sid=call_sid, seq=seq, twiml=twiml))
        self.session.flush()
        return twiml

    def _start(self, call_sid: str, caller: str) -> HotlineCall:
        elder = find_elder_by_phone(self.session, caller)
        call = HotlineCall(call_sid=call_sid, caller=caller, elder_id=elder.id if elder else None,
                           step="category", data={"page": 0, "failures": 0},
                           created_at=self.now, updated_at=self.now)
        self.session.add(call)
        self.session.add(CallRecord(call_sid=call_sid, direction="inbound", from_number=caller,
                                    to_number=self.settings.hotline_number, status="in-progress",
                                    created_at=self.now, updated_at=self.now))
        self.session.flush()
        return call

    def _greet(self, call: HotlineCall) -> Reply:
        if call.elder_id is None:
            return self._to_operator(call, "unknown_caller", "未登记的来电号码",
                                     "您好，这里是虚拟养老院服务热线。正在为您转接话务员，请稍候。")
        elder = self.session.get(Elder, call.elder_id)
        greeting = f"{orders.elder_title(elder, self.now)}您好，这里是虚拟养老院。"
        return self._prompt(call, prefix=greeting)

    def _advance(self, call: HotlineCall, turn: Turn) -> Reply:
        if call.step in ("done", "operator"):
            return Reply(say=["再见。"], hangup=True)
        digits = turn.digits.strip()
        if digits.startswith(EMERGENCY_KEY):
            return self._emergency(call)
        if digits.startswith(OPERATOR_KEY):
            return self._to_operator(call, "operator_request", f"老人按0转人工（{_STEP_NAMES[call.step]}）",
                                     "正在为您转接话务员，请稍候。")
        if digits.startswith(REPEAT_KEY):
            return self._prompt(call)
        if turn.is_silent:
            return self._fail(call, "没有听到您的选择。", "silence", "连续两次无输入")
        handler = getattr(self, f"_on_{call.step}")
        return handler(call, turn)

    # -- steps ------------------------------------------------------------------------------
    def _on_category(self, call: HotlineCall, turn: Turn) -> Reply:
        item = self._item_from_speech(turn.speech)
        if item is not None:
            return self._choose_item(call, item)
        categories = self._category_page(call)
        if turn.digits == MORE_KEY and self._has_more_categories(call):
            call.data = {**call.data, "page": call.data.get("page", 0) + 1, "failures": 0}
            return self._prompt(call)
        index = _key_index(turn.digits, len(categories))
        if index is None:
            return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")
        call.step = "item"
        call.data = {**call.data, "category": categories[index].code, "failures": 0}
        return self._prompt(call)

    def _on_item(self, call: HotlineCall, turn: Turn) -> Reply:
        item = self._item_from_speech(turn.speech)
        if item is None:
            items = self._items(call)
            index = _key_index(turn.digits, len(items))
            if index is None:
                return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")
            item = items[index]
        return self._choose_item(call, item)

    def _choose_item(self, call: HotlineCall, item: Item) -> Reply:
        call.step = "slot"
        call.data = {**call.data, "item": item.code, "category": item.category.code, "failures": 0}
        return self._prompt(call)

    def _on_slot(self, call: HotlineCall, turn: Turn) -> Reply:
        options = slot_options(self.now)
        index = _key_index(turn.digits, len(options))
        if index is None:
            return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")
        call.step = "confirm"
        call.data = {**call.data, "slot": options[index].code, "failures": 0}
        return self._prompt(call)

    def _on_confirm(self, call: HotlineCall, turn: Turn) -> Reply:
        if turn.digits == "2":
            call.step = "category"
            call.data = {"page": 0, "failures": 0}
            return self._prompt(call, prefix="好的，请重新选择。")
        if turn.digits != "1":
            return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")
        elder = self.session.get(Elder, call.elder_id)
        item = self._item(call.data["item"])
        slot = slot_for(call.data["slot"], self.now)
        order = orders.place_order(self.session, elder=elder, item=item, slot=slot, source="phone",
                                   call_sid=call.call_sid, settings=self.settings, now=self.now)
        call.step = "done"
        call.data = {**call.data, "order_id": order.id}
        code = "，".join(order.job_code)
        if order.state == "unassigned":
            after = "暂时没有服务商可以接单，话务员会尽快给您回电安排。"
        else:
            after = "服务商接单后，我们会短信或电话通知您。"
        return Reply(say=[f"已为您下单，工单号{code}。{after}感谢您的来电，再见。"], hangup=True)

    # -- prompts ----------------------------------------------------------------------------
    def _prompt(self, call: HotlineCall, prefix: str = "") -> Reply:
        """The current step's question, said again when asked (`*`) or after a mistake."""
        lines = [prefix] if prefix else []
        hints: list[str] = []
        if call.step == "category":
            categories = self._category_page(call)
            lines += [f"{c.name}请按{i}。" for i, c in enumerate(categories, 1)]
            if self._has_more_categories(call):
                lines.append(f"更多服务请按{MORE_KEY}。")
            lines.append("其他服务请按0转人工。您也可以直接说出需要的服务。")
            hints = [item.name for c in categories for item in c.items[:MENU_SIZE]]
        elif call.step == "item":
            items = self._items(call)
            lines += [f"{item.name}请按{i}。" for i, item in enumerate(items, 1)]
            lines.append("其他服务请按0转人工。")
            hints = [item.name for item in items]
        elif call.step == "slot":
            lines.append(f"您选择的是{self._item(call.data['item']).name}。什么时候上门？")
            lines += [f"{s.label}上门请按{i}。" for i, s in enumerate(slot_options(self.now), 1)]
        elif call.step == "confirm":
            lines.append(self._read_back(call))
            lines.append("确认请按1，重新选择请按2。")
        return Reply(say=lines, gather=True, hints=hints)

    def _read_back(self, call: HotlineCall) -> str:
        elder = self.session.get(Elder, call.elder_id)
        item = self._item(call.data["item"])
        slot = slot_for(call.data["slot"], self.now)
        charge = orders.quote(self.session, elder, item, slot, self.policy, self.now)
        booked = f"您预约的是{item.name}，{slot.label}上门。"
        if charge is None:
            return booked + "附近暂时没有服务商可以接单，下单后话务员会为您安排。"
        return booked + texts.charge_words(charge.price_fen, charge.subsidy_fen, charge.copay_fen)

    # -- fallbacks --------------------------------------------------------------------------
    def _fail(self, call: HotlineCall, sorry: str, kind: str, reason: str) -> Reply:
        failures = call.data.get("failures", 0) + 1
        call.data = {**call.data, "failures": failures}
        if failures >= MAX_FAILURES:
            return self._to_operator(call, kind, f"{reason}（{_STEP_NAMES[call.step]}）",
                                     "正在为您转接话务员，请稍候。")
        return self._prompt(call, prefix=sorry)

    def _to_operator(self, call: HotlineCall, kind: str, reason: str, words: str) -> Reply:
        call.step = "operator"
        orders.open_task(self.session, kind=kind, reason=reason, dedupe_key=f"call:{call.call_sid}",
                         elder_id=call.elder_id, call_sid=call.call_sid, caller=call.caller, now=self.now)
        return Reply(say=[words], dial=self.settings.operator_numbers)

    def _emergency(self, call: HotlineCall) -> Reply:
        call.step = "operator"
        orders.open_task(self.session, kind="emergency", reason="老人按9紧急求助",
                         dedupe_key=f"call:{call.call_sid}", elder_id=call.elder_id,
                         call_sid=call.call_sid, caller=call.caller, now=self.now)
        if call.elder_id is not None:
            elder = self.session.get(Elder, call.elder_id)
            for contact in elder.emergency_contacts:
                enqueue_sms(self.session, to=contact.phone, purpose="emergency_contact",
                            dedupe_key=f"emergency:{call.call_sid}:{contact.id}",
                            from_=self.settings.hotline_number, now=self.now,
                            body=texts.emergency_contact_sms(contact.name, elder.name, self.now))
        return Reply(say=["正在为您紧急转接话务员。"], dial=self.settings.operator_numbers)

    # -- catalogue --------------------------------------------------------------------------
    def _categories(self) -> list[Category]:
        return list(self.session.scalars(select(Category).order_by(Category.position)))

    def _category_page(self, call: HotlineCall) -> list[Category]:
        page = call.data.get("page", 0)
        return self._categories()[page * MENU_SIZE:(page + 1) * MENU_SIZE]

    def _has_more_categories(self, call: HotlineCall) -> bool:
        return len(self._categories()) > (call.data.get("page", 0) + 1) * MENU_SIZE

    def _items(self, call: HotlineCall) -> list[Item]:
        category = self.session.scalar(select(Category).where(Category.code == call.data["category"]))
        return category.items[:MENU_SIZE]

    def _item(self, code: str) -> Item:
        return self.session.scalar(select(Item).where(Item.code == code))

    def _item_from_speech(self, speech: str) -> Item | None:
        speech = (speech or "").strip()
        if not speech:
            return None
        best, best_len = None, 0
        for item in self.session.scalars(select(Item).order_by(Item.position)):
            for word in [item.name, *item.synonyms]:
                if word and word in speech and len(word) > best_len:
                    best, best_len = item, len(word)
        return best


_STEP_NAMES = {"category": "选择服务类别", "item": "选择服务项目", "slot": "选择上门时间",
               "confirm": "确认订单", "done": "已下单", "operator": "转人工"}


def _key_index(digits: str, size: int) -> int | None:
    if len(digits) == 1 and digits.isdigit() and 1 <= int(digits) <= size:
        return int(digits) - 1
    return None
