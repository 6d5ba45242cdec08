"""Recurrence rules (iCalendar RRULE through python-dateutil) and the days a plan occurs on. Pure."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from dateutil.rrule import DAILY, rrule, rrulestr

# A plan has one time of day, so a rule makes at most one occurrence a day; a rule must occur
# within its first year (or before its last day) to be a plan at all.
MAX_PER_DAY = 1
FIRST_OCCURRENCE_WITHIN = timedelta(days=366)
_UTC_UNTIL = re.compile(r"(UNTIL=\d{8}(?:T\d{6})?)Z", re.I)
_SUB_DAILY = ("FREQ=HOURLY", "FREQ=MINUTELY", "FREQ=SECONDLY")


class BadRule(ValueError):
    """A rule refused, with the reason in words a person reads."""


def parse_rule(text: str, starts_on: date, until: date | None = None) -> rrule:
    """Read an RRULE (with or without its `RRULE:` prefix) starting on `starts_on`; refuse a bad one."""
    raw = (text or "").strip()
    if raw.upper().startswith("RRULE:"):
        raw = raw[6:]
    if not raw:
        raise BadRule("重复规则为空（例如 FREQ=DAILY）")
    upper = raw.upper()
    if "\n" in raw or "DTSTART" in upper or "EXDATE" in upper or "RDATE" in upper:
        raise BadRule("重复规则只写一条 RRULE（首日用“开始日期”，暂停用“暂停”）")
    if any(part in upper for part in _SUB_DAILY):
        raise BadRule(f"重复规则每天至多{MAX_PER_DAY}次：不能按小时、分钟或秒重复")
    if until is not None and until < starts_on:
        raise BadRule(f"结束日期{until}早于开始日期{starts_on}")
    # A UNTIL written in UTC (…T000000Z) is read as the local day it names: plans keep local days.
    raw = _UTC_UNTIL.sub(r"\1", raw)
    try:
        rule = rrulestr(raw, dtstart=datetime.combine(starts_on, time(0)))
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise BadRule(f"无法识别的重复规则“{raw}”：{exc}") from None
    if not isinstance(rule, rrule):
        raise BadRule(f"重复规则只写一条 RRULE，不是“{raw}”")
    last = starts_on + FIRST_OCCURRENCE_WITHIN
    if until is not None:
        last = min(last, until)
    start = datetime.combine(starts_on, time(0))
    # Bounded by `last`, so an impossible rule (30 February, daily) is not searched to the year 9999.
    ends = rule._until  # noqa: SLF001 - dateutil keeps the rule's own UNTIL only here
    if rule._count == 0 or (ends is not None and ends.date() < starts_on):  # noqa: SLF001
        raise BadRule(f"重复规则“{raw}”在{starts_on}之后从不发生（结束早于开始，或次数为零）")
    if not _possible_day(rule):
        raise BadRule(f"重复规则“{raw}”从不发生：所列月份没有所列日期")
    bound = datetime.combine(last if ends is None else min(last, ends.date()), time(23, 59, 59))
    if rule.replace(count=None, until=bound).after(start, inc=True) is None:
        raise BadRule(f"重复规则“{raw}”在{starts_on}至{bound.date()}之间从不发生")
    _check_per_day(rule, raw, starts_on)
    return rule


def _possible_day(rule: rrule) -> bool:
    """Whether the rule's months have its month days (dateutil would search an impossible
    pair, 30 February, to the year 9999); 29 February is possible."""
    days = list(rule._bymonthday or ()) + list(rule._bynmonthday or ())  # noqa: SLF001
    months = rule._bymonth or range(1, 13)  # noqa: SLF001
    if not days:
        return True
    return any(abs(day) <= calendar.monthrange(2024, month)[1] for month in months for day in days)


def _check_per_day(rule: rrule, raw: str, starts_on: date) -> None:
    start = datetime.combine(starts_on, time(0))
    days = [moment.date() for moment in rule.between(start, start + timedelta(days=31), inc=True)]
    if len(days) != len(set(days)):
        raise BadRule(f"重复规则“{raw}”一天发生不止{MAX_PER_DAY}次；一天多次请分别建计划")


def occurrence_days(rule: rrule, first: date, last: date) -> list[date]:
    """The local days from `first` to `last` (inclusive) on which the rule occurs."""
    if last < first:
        return []
    start = datetime.combine(first, time(0))
    end = datetime.combine(last, time(23, 59, 59))
    return sorted({moment.date() for moment in rule.between(start, end, inc=True)})


def plan_days(rule: rrule, *, starts_on: date, until: date | None, first: date, last: date,
              pauses: Iterable[tuple[date, date]] = ()) -> list[date]:
    """The days a plan makes an occurrence between `first` and `last`: within its own dates, not paused."""
    first = max(first, starts_on)
    if until is not None:
        last = min(last, until)
    paused = list(pauses)
    return [day for day in occurrence_days(rule, first, last)
            if not any(start <= day <= end for start, end in paused)]


_WEEKDAYS = "一二三四五六日"
_BYDAY = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}


def describe(rule_text: str) -> str:
    """The rule in a few Chinese words for an SMS or a page (每天, 每周二, 每2天…); the RRULE otherwise."""
    parts = dict(p.split("=", 1) for p in rule_text.upper().removeprefix("RRULE:").split(";") if "=" in p)
    freq, interval = parts.get("FREQ"), int(parts.get("INTERVAL", "1") or 1)
    others = set(parts) - {"FREQ", "INTERVAL", "UNTIL", "COUNT", "WKST", "BYDAY"}
    if others:
        return rule_text
    days = [d[-2:] for d in parts.get("BYDAY", "").split(",") if d]
    if freq == "DAILY" and not days:
        return "每天" if interval == 1 else f"每{interval}天"
    if freq == "WEEKLY" or (freq == "DAILY" and days and interval == 1):
        if any(d not in _BYDAY for d in days):
            return rule_text
        if sorted(days, key=_BYDAY.get) == ["MO", "TU", "WE", "TH", "FR"]:
            named = "工作日"
        else:
            named = "、".join("周" + _WEEKDAYS[_BYDAY[d]] for d in sorted(days, key=_BYDAY.get)) or "每周"
        prefix = "每" if interval == 1 else f"每{interval}周的"
        if named == "工作日":
            return "每个工作日" if interval == 1 else f"每{interval}周的工作日"
        return f"{prefix}{named}" if named != "每周" else ("每周" if interval == 1 else f"每{interval}周")
    return rule_text


__all__ = ["DAILY", "MAX_PER_DAY", "BadRule", "describe", "occurrence_days", "parse_rule", "plan_days"]
