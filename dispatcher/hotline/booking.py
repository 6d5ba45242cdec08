"""The hotline's booking steps: a category, an item (keyed or said), a slot, a read-back."""

from __future__ import annotations

from dispatcher import texts
from dispatcher.catalogue import ItemEntry
from dispatcher.hotline.speech import SURE, guess_item
from dispatcher.hotline.steps import (
    MENU_SIZE,
    MORE_KEY,
    NO_SHOW_KEY,
    WORKER_KEY,
    Reply,
    Turn,
    key_index,
)
from dispatcher.lifecycle import orders, ranking
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import HotlineCall


class BookingSteps:
    """Mixed into `Hotline`: the steps by which an elder books a visit (a booked one: change.py)."""

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
        index = key_index(turn.digits, len(categories))
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
        index = key_index(turn.digits, len(items))
        if index is None:
            return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")
        return self._choose_item(call, items[index])

    def _heard(self, call: HotlineCall, turn: Turn) -> Reply:
        guess = guess_item(turn.speech, self._phrases(), turn.confidence)
        if guess is None:
            return self._fail(call, "抱歉，没有听清。您可以按键选择。", "speech", "两次没有听懂")
        item = self.catalogue.item(guess.item_code)
        if guess.confidence >= SURE and self._item(item.code).is_emergency:
            # "我摔倒了" is an emergency said aloud: a person at once, as key 9 would.
            return self._emergency(call)
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
        """As soon as possible (most asked for, one key), or 2 for another day and time."""
        if turn.digits == "1":
            call.step = "confirm"
            call.data = {**call.data, "slot": "asap", "failures": 0}
            return self._prompt(call)
        if turn.digits == "2":
            call.step = "day"  # the day, half-day and hour: when.py
            call.data = {**call.data, "failures": 0}
            return self._prompt(call)
        return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")

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

    # -- their prompts ----------------------------------------------------------------------
    def _ask_category(self, call: HotlineCall, reply: Reply) -> None:
        categories = self._category_page(call)
        reply.say += [f"{c.name}按{i}。" for i, c in enumerate(categories, 1)]
        if self._has_more_categories(call):
            reply.say.append(f"更多按{MORE_KEY}。")
        reply.say.append("人工服务按0。")
        if self._is_family(call):
            reply.say.append(f"家属反映服务人员没有上门，请按{NO_SHOW_KEY}。")
        reply.hints = [item.name for c in categories for item in c.menu[:MENU_SIZE]]

    def _ask_item(self, call: HotlineCall, reply: Reply) -> None:
        items = self._items(call)
        reply.say += [f"{item.name}按{i}。" for i, item in enumerate(items, 1)]
        pages = self._item_pages(call)
        if pages > 1:
            last = call.data.get("item_page", 0) == pages - 1
            reply.say.append(f"回到第一页按{MORE_KEY}。" if last else f"更多按{MORE_KEY}。")
        reply.say.append("人工服务按0。")
        reply.hints = [item.name for item in items]

    def _ask_speech_confirm(self, call: HotlineCall, reply: Reply) -> None:
        reply.say.append(f"您要的是{self.catalogue.item(call.data['item']).name}吗？是按1，不是按2。")
        reply.speech = False

    def _ask_slot(self, call: HotlineCall, reply: Reply) -> None:
        reply.say.append("尽快上门按1，另约时间按2。")
        reply.speech = False

    def _ask_confirm(self, call: HotlineCall, reply: Reply) -> None:
        reply.say.append(self._read_back(call))
        reply.say.append("确认按1，重选按2。")
        reply.speech = False

    def _read_back(self, call: HotlineCall) -> str:
        item = self._item(call.data["item"])
        slot = slot_for(call.data["slot"], self.now)
        charge = ranking.quote(self.session, self._elder(call), item, slot, self.policy, self.now)
        booked = f"{item.name}，{slot.label}上门。"
        if charge is None:
            return booked + "附近暂时没有服务商可以接单，下单后话务员会为您安排。"
        return booked + texts.charge_words(charge.price_fen, charge.subsidy_fen, charge.copay_fen)
