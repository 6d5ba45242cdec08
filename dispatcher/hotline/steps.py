"""What every step of the hotline flow shares: a turn in, a reply out, the keys and the step names."""

from __future__ import annotations

from dataclasses import dataclass, field

MENU_SIZE = 5
# 8 turns a menu's page, for categories and for items alike: 0, 7, 9 and * keep their meaning
# everywhere, and 1-5 choose. On an item menu's last page, 8 goes back to its first page.
MORE_KEY = "8"
OPERATOR_KEY, EMERGENCY_KEY, REPEAT_KEY, WORKER_KEY = "0", "9", "*", "7"
NO_SHOW_KEY = "6"  # a family member: nobody came (issue 18)
MAX_FAILURES = 2
MENU_STEPS = frozenset({"open_order", "category", "item", "speech_confirm", "slot", "day", "half_day", "hour",
                        "confirm", "move_confirm", "plan_pause", "after_hours"})
SPEECH_STEPS = frozenset({"category", "item", "day"})
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

STEP_NAMES = {"open_order": "已有工单", "category": "选择服务类别", "item": "选择服务项目",
              "speech_confirm": "确认语音识别", "slot": "选择上门时间", "day": "选择日期", "half_day": "选择上午下午",
              "hour": "选择钟点", "confirm": "确认订单", "move_confirm": "确认改期", "plan_pause": "暂停服务计划",
              "worker_code": "服务人员输入工单号", "worker_id": "服务人员输入工号",
              "worker_action": "服务人员签到签退", "after_hours": "夜间", "done": "已结束",
              "dialling": "转人工", "voicemail": "留言"}



def key_index(digits: str, size: int) -> int | None:
    if len(digits) == 1 and digits.isdigit() and 1 <= int(digits) <= size:
        return int(digits) - 1
    return None
