"""The day a caller says: 今天, 明天, 后天, 大后天, 星期四, 周五, 下周三, 3号, 12月3日. Pure."""

from __future__ import annotations

import re
from datetime import date, timedelta

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
            "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
_RELATIVE = (("大后天", 3), ("后天", 2), ("明天", 1), ("明儿", 1), ("今天", 0), ("今儿", 0))
_WEEK = r"(?:星期|礼拜|周)"
_NEXT_WEEK = re.compile(r"下(?:个)?" + _WEEK + r"([一二三四五六日天1-7])")
_THIS_WEEK = re.compile(r"(?:这|本)(?:个)?" + _WEEK + r"([一二三四五六日天1-7])")
_ANY_WEEK = re.compile(_WEEK + r"([一二三四五六日天1-7])")
_MONTH_DAY = re.compile(r"(\d{1,2})月(\d{1,2})[日号]?")
_DAY = re.compile(r"(\d{1,2})[日号]")


def chinese_number(text: str) -> int | None:
    """一 → 1, 十二 → 12, 二十五 → 25, 三十一 → 31 (up to 99); None if not a number."""
    if not text:
        return None
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        high = 1 if tens == "" else _DIGITS.get(tens)
        low = 0 if ones == "" else _DIGITS.get(ones)
        return None if high is None or low is None else high * 10 + low
    return _DIGITS.get(text) if len(text) == 1 else None


def _arabic(text: str) -> str:
    """Spoken numbers before 月, 日 and 号 as digits: 十二月三号 → 12月3号."""
    return re.sub(r"([零〇一二两三四五六七八九十]+)(?=[月日号])",
                  lambda m: str(chinese_number(m.group(1)) if chinese_number(m.group(1)) is not None
                                else m.group(1)), text)


def _next_weekday(today: date, weekday: int) -> date:
    """The first day on or after `today` that is `weekday` (Monday 0)."""
    return today + timedelta(days=(weekday - today.weekday()) % 7)


def _on_or_after(today: date, year: int, month: int, day: int) -> date | None:
    for y in (year, year + 1):
        try:
            found = date(y, month, day)
        except ValueError:
            return None
        if found >= today:
            return found
    return None


def parse_day(said: str, today: date) -> date | None:
    """The date a caller means, said on `today`; None when no day is named.

    A weekday alone (星期五, 周五) is the next such day, today included; 下周五 is Friday of
    next week (Monday to Sunday weeks); 这周五 is this week's. A day of the month alone (3号) is
    the next 3rd; a month and day (12月3日) is the next such date.
    """
    text = re.sub(r"[\s，。,.！!？?、]", "", said or "")
    if not text:
        return None
    if match := _NEXT_WEEK.search(text):
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
        return monday + timedelta(days=_WEEKDAY[match.group(1)])
    if match := _THIS_WEEK.search(text):
        monday = today - timedelta(days=today.weekday())
        return monday + timedelta(days=_WEEKDAY[match.group(1)])
    for word, days in _RELATIVE:
        if word in text:
            return today + timedelta(days=days)
    if match := _ANY_WEEK.search(text):
        return _next_weekday(today, _WEEKDAY[match.group(1)])
    text = _arabic(text)
    if match := _MONTH_DAY.search(text):
        return _on_or_after(today, today.year, int(match.group(1)), int(match.group(2)))
    if match := _DAY.search(text):
        day = int(match.group(1))
        month, year = today.month, today.year
        for _ in range(3):
            try:
                found = date(year, month, day)
            except ValueError:
                found = None
            if found is not None and found >= today:
                return found
            month, year = (1, year + 1) if month == 12 else (month + 1, year)
        return None
    return None
