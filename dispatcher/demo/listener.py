"""A caller who listens: reads the words of each prompt, finds the option that says what they want.

No key sequence is written down anywhere here. A prompt such as "保留按1，取消按2，预约其他服务按3。"
is read as options (key, words); the caller presses the key whose words name their wish — the
item, its category, "尽快", "保留", "确认" — turns the page when "更多" is offered and the wish is
not heard, and asks for a person ("人工") when nothing fits, as a person would.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from telephony.simulator import Spoken

_KEY = re.compile(r"按(\d)")
_CLAUSE_END = re.compile(r"[^。，；！？,.;!?]*")
_SENTENCE_START = re.compile(r".*[。？！：:]")
# Words that say a prompt follows a mistake (the caller "heard a failed prompt").
FAILED_PROMPT_WORDS = ("按键无效", "没有听到", "没有听清", "不对")
# Options a caller who wants something else never takes by accident.
_NEVER_BY_CHANCE = ("取消", "人工", "不是", "重选", "没来", "没有上门", "紧急", "签到", "更多", "回到第一页")
MAX_PAGES = 8


@dataclass(frozen=True)
class Option:
    key: str
    words: str


def options(heard: str) -> list[Option]:
    """The options a prompt offers: each key with the words of its own sentence around it."""
    found, start = [], 0
    for match in _KEY.finditer(heard):
        before = _SENTENCE_START.sub("", heard[start:match.start()])
        tail = _CLAUSE_END.match(heard, match.end()).group(0)
        found.append(Option(match.group(1), (before + tail).strip("，。；！？ ")))
        start = match.end() + len(tail)
    return found


def is_failed_prompt(heard: str) -> bool:
    return any(word in heard for word in FAILED_PROMPT_WORDS)


def pick(opts: list[Option], *wishes: str, exact: bool = False) -> str | None:
    """The key of the first wish some option says (wishes in order of preference)."""
    for wish in wishes:
        for option in opts:
            words = option.words.removesuffix("请").removeprefix("请")
            if (words == wish) if exact else (wish in option.words):
                return option.key
    return None


@dataclass
class Wish:
    """What one caller wants from one call."""

    item_code: str
    item_name: str
    category_name: str
    slot_words: tuple[str, ...] = ("尽快",)
    keep_open: bool = False  # a caller with an open order who only wants to hear it is kept
    utterance: str = ""      # said instead of pressing, for a caller who speaks


@dataclass
class Caller:
    """One caller's mind during one call."""

    persona: str
    wish: Wish
    rng: random.Random
    silences: int = 0
    miskeys: int = 0
    spoken: bool = False
    pages: int = 0
    heard: list[str] = field(default_factory=list)
    did: list[str] = field(default_factory=list)

    def answer(self, heard: str):
        self.heard.append(heard)
        opts = options(heard)
        if self.persona == "emergency":
            return self._note("emergency", pick(opts, "紧急情况", "紧急求助") or pick(opts, "人工")
                              or Spoken(self.wish.utterance or "救命啊"))
        if self.persona == "confused":
            return self._note("asked for a person", pick(opts, "人工") or Spoken("我要找人工"))
        if self.silences:
            self.silences -= 1
            return self._note("let the prompt time out", "")
        if self.miskeys and len(opts) > 1 and not self._is_question(heard):
            wrong = sorted(set("12345") - {o.key for o in opts})
            if wrong:
                self.miskeys -= 1
                return self._note("pressed a key not offered", self.rng.choice(wrong))
        key = self._decide(heard, opts)
        if key is None:
            return None
        return key

    def _decide(self, heard: str, opts: list[Option]):
        wish = self.wish
        if "工单" in heard and pick(opts, "保留"):
            if wish.keep_open:
                return self._note("kept the open order", pick(opts, "保留"))
            other = pick(opts, "预约其他", "其他服务", "新的")
            if other and other != pick(opts, "人工"):
                return self._note("booked something else", other)
        if "您要的是" in heard:
            yes = wish.item_name in heard
            return self._note("confirmed what was heard" if yes else "said it was not that",
                              pick(opts, "是" if yes else "不是", exact=True))
        if pick(opts, "确认"):
            right = wish.item_name in heard
            return self._note("confirmed" if right else "asked to choose again",
                              pick(opts, "确认") if right else pick(opts, "重选"))
        if self.persona == "speaker" and not self.spoken and len(opts) >= 3:
            self.spoken = True
            return self._note("said what they need", Spoken(wish.utterance))
        for wanted in (wish.item_name, *wish.slot_words, wish.category_name):
            key = pick(opts, wanted)
            if key is not None:
                return self._note(f"chose {wanted}", key)
        more = pick(opts, "更多", "回到第一页")
        if more and self.pages < MAX_PAGES:
            self.pages += 1
            return self._note("turned the page", more)
        plain = [o for o in opts if not any(w in o.words for w in _NEVER_BY_CHANCE)]
        if plain and (self._is_question(heard) or "上门" in heard or "时间" in heard):
            return self._note(f"took the first plain option ({plain[0].words})", plain[0].key)
        return self._note("found nothing that fits, asked for a person", pick(opts, "人工") or "0")

    @staticmethod
    def _is_question(heard: str) -> bool:
        return "吗" in heard

    def _note(self, what: str, reply):
        self.did.append(what)
        return reply


@dataclass
class Reviewer:
    """An elder answering the review call after a visit."""

    came: bool
    stars: int
    did: list[str] = field(default_factory=list)

    def answer(self, heard: str):
        opts = options(heard)
        if "来了" in heard and pick(opts, "来了"):
            return pick(opts, "来了") if self.came else pick(opts, "没来")
        if "打分" in heard:
            return str(self.stars)
        return None
