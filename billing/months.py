"""Months as `YYYY-MM` text in the programme's civil time (Asia/Shanghai)."""

from __future__ import annotations

import re
from datetime import date, datetime

from dispatcher.clock import LOCAL_TZ, local

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


class MonthError(ValueError):
    """A month that does not parse, or is not one the command can work on."""


def parse_month(text: str, field: str = "month") -> str:
    """Return `text` if it is a month like 2026-11; otherwise raise naming `field`."""
    if not isinstance(text, str) or not _MONTH.fullmatch(text.strip()):
        raise MonthError(f"{field}: {text!r} is not a month like 2026-11")
    return text.strip()


def month_of(moment: datetime) -> str:
    """The month a moment falls in, in local time."""
    return f"{local(moment):%Y-%m}"


def first_day(month: str) -> date:
    year, number = month.split("-")
    return date(int(year), int(number), 1)


def next_month(month: str) -> str:
    day = first_day(month)
    return f"{day.year + day.month // 12:04d}-{day.month % 12 + 1:02d}"


def previous_month(month: str) -> str:
    day = first_day(month)
    return f"{day.year - (day.month == 1):04d}-{(day.month - 2) % 12 + 1:02d}"


def month_start(month: str) -> datetime:
    """The first instant of the month, as an aware local datetime."""
    day = first_day(month)
    return datetime(day.year, day.month, 1, tzinfo=LOCAL_TZ)


def has_started(month: str, now: datetime) -> bool:
    return month_of(now) >= month


def has_ended(month: str, now: datetime) -> bool:
    return month_of(now) > month


def check_started(month: str, now: datetime, field: str = "month") -> str:
    """Parse `month` and refuse one that has not started yet."""
    month = parse_month(month, field)
    if not has_started(month, now):
        raise MonthError(f"{field}: {month} has not started yet (it is {month_of(now)} now)")
    return month


def months_ending(month: str, count: int) -> list[str]:
    """The `count` months up to and including `month`, oldest first."""
    found = [month]
    while len(found) < count:
        found.append(previous_month(found[-1]))
    return found[::-1]
