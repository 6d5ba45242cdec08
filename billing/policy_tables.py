"""The policy's own tables beside the entitlements: [version.hourly] and [version.age].

Pure parsers, read by `billing.duration` (billing by time) and `billing.eligibility` (age
classes); `billing.policy` calls them when it loads, so a bad table stops `vnh` from starting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

AGE_STARTS = ("birthday", "next_month")


@dataclass(frozen=True)
class HourlyRule:
    """How a visit of an hourly item is billed: by started `unit_minutes` of its duration.

    `min_share_percent`: a visit shorter than this share of its booking is held for a
    supervisor (the integrity checks read it through `billing.duration.min_share`).
    """

    unit_minutes: int = 30
    min_share_percent: int = 50


@dataclass(frozen=True)
class AgeRule:
    """The age class: `elder_class` from `years` of age, from the birthday or the next month."""

    elder_class: str = "高龄"
    years: int = 80
    starts: str = "birthday"


def _int(table: dict, key: str, low: int, high: int, default: int) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{key}: must be a whole number from {low} to {high}, not {value!r}")
    return value


def _known(table: dict, keys: set[str]) -> None:
    if unknown := sorted(set(table) - keys):
        raise ValueError(f"{', '.join(unknown)}: unknown field")


def parse_hourly(table: dict[str, Any] | None) -> HourlyRule:
    """Read [version.hourly]; raise ValueError naming the bad field. No table: the defaults."""
    if table is None:
        return HourlyRule()
    _known(table, {"unit_minutes", "min_share_percent"})
    unit = _int(table, "unit_minutes", 1, 240, HourlyRule.unit_minutes)
    if 60 % unit and unit % 60:
        raise ValueError(f"unit_minutes: {unit} must divide an hour or be whole hours")
    return HourlyRule(unit, _int(table, "min_share_percent", 0, 100, HourlyRule.min_share_percent))


def parse_age(table: dict[str, Any] | None) -> AgeRule:
    """Read [version.age]; raise ValueError naming the bad field. No table: the defaults."""
    if table is None:
        return AgeRule()
    _known(table, {"class", "years", "starts"})
    elder_class = table.get("class", AgeRule.elder_class)
    if not isinstance(elder_class, str) or not elder_class:
        raise ValueError(f"class: must be an elder class, not {elder_class!r}")
    starts = table.get("starts", AgeRule.starts)
    if starts not in AGE_STARTS:
        raise ValueError(f"starts: must be one of {', '.join(AGE_STARTS)}, not {starts!r}")
    return AgeRule(elder_class, _int(table, "years", 50, 120, AgeRule.years), starts)


PARSERS = {"hourly": parse_hourly, "age": parse_age}
