"""The hotline's steps for a booked visit (issue 17): keep it, move it, skip or cancel it, or book another.

    open_order —1→ done (kept)      —2→ day → half_day [→ hour] → move_confirm → done
               —3→ done (skipped/cancelled)   —4→ category (book something else)
               —5→ plan_pause → done  (a care plan's visit: pause the whole plan for a week, two or a month)

A visit that has started (checked in) is neither moved nor cancelled: the caller hears why.
"""

from __future__ import annotations

from datetime import timedelta

from dispatcher.clock import local
from dispatcher.hotline.steps import NO_SHOW_KEY, WORKER_KEY, Reply, Turn
from dispatcher.lifecycle import changes
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import HotlineCall, Item, Order
from dispatcher.plans.models import CarePlan
from dispatcher.plans.service import Actor, PlanError, pause_plan
from providers.models import Provider

KEEP_KEY, MOVE_KEY, SKIP_KEY, OTHER_KEY, PAUSE_KEY = "1", "2", "3", "4", "5"
# A plan paused by phone: from today, for one of these (the words the caller hears, the days).
PAUSES = (("一周", 7), ("两周", 14), ("一个月", 30))


class ChangeSteps:
    """Mixed into `Hotline`: what an elder with an upcoming visit may do with it."""

    def _on_open_order(self, call: HotlineCall, turn: Turn) -> Reply:
        order = self._open_order(call)
        if turn.digits == WORKER_KEY:
            return self._worker_starts(call)
        if turn.digits == NO_SHOW_KEY and self._is_family(call, ask=True):
            return self._family_no_show(call)
        if order is None or turn.digits == OTHER_KEY:
            call.step = "category"
            return self._prompt(call)
        if turn.digits == KEEP_KEY:
            call.step = "done"
            return Reply(say=["好的，工单保留不变。感谢您的来电，再见。"], hangup=True)
        if turn.digits in (MOVE_KEY, SKIP_KEY):
            refusal = changes.why_unchangeable(order)
            if refusal:
                call.step = "done"
                return Reply(say=[refusal.replace("工单", "工单号", 1) + "如需帮助请按0转人工。再见。"], hangup=True)
        if turn.digits == MOVE_KEY:
            call.step = "day"
            call.data = {**call.data, "moving": order.id, "moving_item": order.item.code, "failures": 0}
            return self._prompt(call, prefix="好的，请选择新的日子。")
        if turn.digits == PAUSE_KEY and changes.is_plan_occurrence(order):
            call.step = "plan_pause"
            call.data = {**call.data, "plan": order.plan_id, "failures": 0}
            return self._prompt(call)
        if turn.digits == SKIP_KEY:
            reason = "老人来电跳过这一次" if changes.is_plan_occurrence(order) else "老人来电取消"
            changes.skip(self.session, order, actor=f"elder-phone:{call.caller}", reason=reason,
                         settings=self.settings, now=self.now)
            call.step = "done"
            done = "已为您跳过这一次" if changes.is_plan_occurrence(order) else "已为您取消"
            return Reply(say=[f"{done}{order.item.name}。感谢您的来电，再见。"], hangup=True)
        return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")

    def _on_plan_pause(self, call: HotlineCall, turn: Turn) -> Reply:
        """A hospital stay, a visit to the children: the whole plan paused from today, by phone."""
        if len(turn.digits) != 1 or not "1" <= turn.digits <= str(len(PAUSES)):
            return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")
        words, days = PAUSES[int(turn.digits) - 1]
        today = local(self.now).date()
        plan = self.session.get(CarePlan, call.data["plan"])
        call.step = "done"
        try:
            pause_plan(self.session, plan, starts_on=today, ends_on=today + timedelta(days=days - 1),
                       reason="老人来电暂停", settings=self.settings, actor=Actor(source="phone"), now=self.now)
        except PlanError as exc:
            return Reply(say=[f"没有暂停：{exc}。如需帮助请按0转人工。再见。"], hangup=True)
        last = today + timedelta(days=days - 1)
        return Reply(say=[f"已为您暂停{self.session.get(Item, plan.item_id).name}{words}，到{last.month}月{last.day}日。服务商会收到通知。"
                          "感谢您的来电，再见。"], hangup=True)

    def _on_move_confirm(self, call: HotlineCall, turn: Turn) -> Reply:
        if turn.digits == "2":
            call.step = "day"
            return self._prompt(call, prefix="好的，请重新选择日子。")
        if turn.digits != "1":
            return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")
        order = self.session.get(Order, call.data["moving"])
        slot = slot_for(call.data["slot"], self.now)
        outcome = changes.move(self.session, order, slot, actor=f"elder-phone:{call.caller}",
                               settings=self.settings, now=self.now)
        call.step = "done"
        if not outcome.ok:
            return Reply(say=[outcome.message + "如需帮助请按0转人工。再见。"], hangup=True)
        after = ("原服务商那天不方便，我们正在重新安排，安排好后会通知您。" if outcome.order.provider_id is None
                 else "服务商已收到通知。")
        return Reply(say=[f"已为您改到{slot.label}。{after}感谢您的来电，再见。"], hangup=True)

    # -- their prompts ----------------------------------------------------------------------------
    def _ask_open_order(self, call: HotlineCall, reply: Reply) -> None:
        order = self._open_order(call)
        reply.say.append(self._order_status(order))
        plan = order is not None and changes.is_plan_occurrence(order)
        skip = "跳过这一次" if plan else "取消"
        pause = f"暂停整个服务计划按{PAUSE_KEY}，" if plan else ""
        reply.say.append(f"保留按{KEEP_KEY}，改期按{MOVE_KEY}，{skip}按{SKIP_KEY}，预约其他服务按{OTHER_KEY}，"
                         f"{pause}服务人员签到签退按{WORKER_KEY}。")

    def _ask_plan_pause(self, call: HotlineCall, reply: Reply) -> None:
        reply.say.append("，".join(f"暂停{words}按{i}" for i, (words, _) in enumerate(PAUSES, 1)) + "。")
        reply.speech = False

    def _ask_move_confirm(self, call: HotlineCall, reply: Reply) -> None:
        slot = slot_for(call.data["slot"], self.now)
        reply.say.append(f"把{self.catalogue.item(call.data['moving_item']).name}改到{slot.label}，确认按1，重选按2。")
        reply.speech = False

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
