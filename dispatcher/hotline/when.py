"""The hotline's "when" steps (issue 17): a day of the next week (keyed or said), a half-day, an hour.

    slot —2→ day → half_day [→ hour] → confirm          (booking)
    open_order —2→ day → half_day [→ hour] → move_confirm (moving a booked visit, change.py)

Keys 1–7 are today to six days ahead; a caller may also say any day up to the horizon
("下周三", "12月3号"). An item booked by the hour (its unit says 小时) then asks the hour.
"""

from __future__ import annotations

from datetime import date, time, timedelta

from dispatcher import texts
from dispatcher.clock import local
from dispatcher.hotline.steps import Reply, Turn, key_index
from dispatcher.lifecycle.days import parse_day
from dispatcher.lifecycle.slots import HORIZON_DAYS, HOURS, PARTS, SlotRefused, dated_slot
from dispatcher.models import HotlineCall, Item

DAYS_OFFERED = 7
PART_KEYS = ("am", "pm")


def needs_hour(item: Item) -> bool:
    """An item sold by the hour (起居照料 by 小时, 居室保洁 次(2小时)) is booked at a set hour."""
    return "小时" in (item.unit or "")


class WhenSteps:
    """Mixed into `Hotline`: choosing the day, the half-day and, where the item needs it, the hour."""

    def _today(self) -> date:
        return local(self.now).date()

    def _days(self) -> list[date]:
        return [self._today() + timedelta(days=n) for n in range(DAYS_OFFERED)]

    def _on_day(self, call: HotlineCall, turn: Turn) -> Reply:
        if turn.speech and not turn.digits:
            day = parse_day(turn.speech, self._today())
            if day is None:
                return self._fail(call, "抱歉，没有听清是哪一天。您可以按键选择。", "speech", "两次没有听懂日期")
            if not self._today() <= day <= self._today() + timedelta(days=HORIZON_DAYS):
                return self._fail(call, f"只能预约今天起{HORIZON_DAYS}天以内的日子。", "invalid", "两次日期无效")
        else:
            index = key_index(turn.digits, DAYS_OFFERED)
            if index is None:
                return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")
            day = self._days()[index]
        if not any(self._may_book(day, part) for part in PART_KEYS):
            return self._fail(call, f"{texts.day_words(day, self._today())}已经没有可以预约的时段，请选其他日子。",
                              "invalid", "两次选择了约不到的日子")
        call.step = "half_day"
        call.data = {**call.data, "day": day.isoformat(), "failures": 0}
        return self._prompt(call)

    def _on_half_day(self, call: HotlineCall, turn: Turn) -> Reply:
        index = key_index(turn.digits, len(PART_KEYS))
        if index is None:
            return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")
        part, day = PART_KEYS[index], date.fromisoformat(call.data["day"])
        if needs_hour(self._item(self._chosen_item(call))):
            if not any(self._may_book(day, f"{h:02d}:00") for h in HOURS[part]):
                return self._fail(call, f"{PARTS[part][0]}已经约不到了，请另选。", "invalid", "两次选择了约不到的时段")
            call.step = "hour"
            call.data = {**call.data, "part": part, "failures": 0}
            return self._prompt(call)
        return self._chose(call, day, part)

    def _on_hour(self, call: HotlineCall, turn: Turn) -> Reply:
        hours = HOURS[call.data["part"]]
        index = key_index(turn.digits, len(hours))
        if index is None:
            return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")
        return self._chose(call, date.fromisoformat(call.data["day"]), f"{hours[index]:02d}:00")

    def _chose(self, call: HotlineCall, day: date, part: str) -> Reply:
        try:
            slot = dated_slot(day, part, self.now)
        except SlotRefused as refused:
            return self._fail(call, str(refused), "invalid", "两次选择了约不到的时段")
        call.step = "move_confirm" if call.data.get("moving") else "confirm"
        call.data = {**call.data, "slot": slot.code, "failures": 0}
        return self._prompt(call)

    def _may_book(self, day: date, part: str) -> bool:
        try:
            dated_slot(day, part, self.now)
        except SlotRefused:
            return False
        return True

    def _chosen_item(self, call: HotlineCall) -> str:
        """The item whose time is chosen: the one being booked, or the moved order's."""
        return call.data.get("item") or call.data["moving_item"]

    # -- their prompts --------------------------------------------------------------------------
    def _ask_day(self, call: HotlineCall, reply: Reply) -> None:
        today = self._today()
        names = ["今天", "明天", "后天"] + [f"星期{texts.WEEKDAYS[d.weekday()]}" for d in self._days()[3:]]
        reply.say += [f"{name}按{n}。" for n, name in enumerate(names, 1)]
        if not self.speech:  # the FreeSWITCH path recognises no speech: keys only
            reply.speech = False
            return
        next_week = today + timedelta(days=7 - today.weekday() + 2)
        reply.say.append(f"其他日子请直接说，比如“下周三”或者“{next_week.month}月{next_week.day}号”。")
        reply.hints = names + ["下周一", "下周三", "下周五", "大后天"]
        reply.speech = True

    def _ask_half_day(self, call: HotlineCall, reply: Reply) -> None:
        day = date.fromisoformat(call.data["day"])
        reply.say.append(f"{texts.day_words(day, self._today())}，上午按1，下午按2。")
        reply.speech = False

    def _ask_hour(self, call: HotlineCall, reply: Reply) -> None:
        hours = HOURS[call.data["part"]]
        reply.say += [f"{texts.clock_words(time(h))}按{n}。" for n, h in enumerate(hours, 1)]
        reply.speech = False
