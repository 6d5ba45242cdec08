"""Visit windows: as soon as possible, a half-day, or an hour on any day.

Codes stored on orders (`Order.slot_code`, at most 20 characters):
- `asap`, `today_pm`, `tomorrow_am`, `tomorrow_pm`: the first windows, relative to when booked;
- `2026-12-03/am`, `2026-12-03/pm`: a morning or afternoon on a date (issue 17);
- `2026-12-03/09:30`: a visit at a set time on a date, one hour long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dispatcher import texts
from dispatcher.clock import LOCAL_TZ

ASAP_HOURS = 3
_HALF_DAYS = {
    "today_pm": ("今天下午", 0, time(14, 0), time(18, 0)),
    "tomorrow_am": ("明天上午", 1, time(8, 30), time(12, 0)),
    "tomorrow_pm": ("明天下午", 1, time(14, 0), time(18, 0)),
}


@dataclass(frozen=True)
class Slot:
    code: str
    label: str
    start: datetime
    end: datetime


class UnknownSlot(ValueError):
    pass


class SlotRefused(ValueError):
    """A dated window that cannot be booked; the message says why, in Chinese."""


# A dated half-day: its words and its window.
PARTS = {"am": ("上午", time(8, 30), time(12, 0)), "pm": ("下午", time(14, 0), time(18, 0))}
# The hours offered for an item booked by the hour, per half-day.
HOURS = {"am": (8, 9, 10, 11), "pm": (14, 15, 16, 17)}
HOUR_LENGTH = timedelta(hours=1)
# A window must start at least this long after it is booked (today's afternoon: until 13:00).
LEAD = timedelta(hours=1)
HORIZON_DAYS = 60


def dated_code(day: date, part: str) -> str:
    """The slot code of a half-day (`am`, `pm`) or a time (`HH:MM`) on `day`."""
    return f"{day.isoformat()}/{part}"


def _split(code: str) -> tuple[date, str]:
    try:
        day_text, part = code.split("/")
        day = date.fromisoformat(day_text)
    except ValueError:
        raise UnknownSlot(code) from None
    if part not in PARTS:
        try:
            time.fromisoformat(part)
        except ValueError:
            raise UnknownSlot(code) from None
    return day, part


def _part_bounds(day: date, part: str) -> tuple[datetime, datetime]:
    if part in PARTS:
        _, start, end = PARTS[part]
        return datetime.combine(day, start, LOCAL_TZ), datetime.combine(day, end, LOCAL_TZ)
    start = datetime.combine(day, time.fromisoformat(part), LOCAL_TZ)
    return start, start + HOUR_LENGTH


def part_words(part: str) -> str:
    """上午, 下午, or a time as it is said: 上午9点, 下午3点半."""
    if part in PARTS:
        return PARTS[part][0]
    return texts.clock_words(time.fromisoformat(part))


def slot_label(code: str, today: date | None = None) -> str:
    """The words of a slot: 尽快, 明天上午, or 12月3日 星期四 上午 (今天/明天 said when `today` is given)."""
    if code == "asap":
        return "尽快"
    if "/" in code:
        day, part = _split(code)
        return f"{texts.day_words(day, today)} {part_words(part)}"
    try:
        return _HALF_DAYS[code][0]
    except KeyError:
        raise UnknownSlot(code) from None


def slot_for(code: str, now: datetime) -> Slot:
    """Return the window a slot code means at `now` (UTC in, UTC out)."""
    if "/" in code:
        day, part = _split(code)
        start, end = _part_bounds(day, part)
        label = slot_label(code, now.astimezone(LOCAL_TZ).date())
        return Slot(code, label, start.astimezone(now.tzinfo), end.astimezone(now.tzinfo))
    label = slot_label(code)
    if code == "asap":
        return Slot("asap", label, now, now + timedelta(hours=ASAP_HOURS))
    _, days, start, end = _HALF_DAYS[code]
    day = now.astimezone(LOCAL_TZ).date() + timedelta(days=days)
    return Slot(
        code,
        label,
        datetime.combine(day, start, LOCAL_TZ).astimezone(now.tzinfo),
        datetime.combine(day, end, LOCAL_TZ).astimezone(now.tzinfo),
    )


def slot_options(now: datetime) -> list[Slot]:
    """The windows to offer a caller now: today's afternoon only while it has not begun."""
    codes = ["asap", "tomorrow_am", "tomorrow_pm"]
    if now.astimezone(LOCAL_TZ).time() < time(13, 0):
        codes.insert(1, "today_pm")
    return [slot_for(code, now) for code in codes]


def bookable(slot: Slot, now: datetime) -> bool:
    """Whether a window can still be booked at `now`: it starts at least `LEAD` later."""
    return slot.code == "asap" or slot.start >= now + LEAD


def dated_slot(day: date, part: str, now: datetime, horizon_days: int = HORIZON_DAYS) -> Slot:
    """The window of `part` (am, pm or HH:MM) on `day`, refused if past, too soon or too far ahead."""
    today = now.astimezone(LOCAL_TZ).date()
    if part not in PARTS:
        try:
            part = time.fromisoformat(part).strftime("%H:%M")
        except ValueError:
            raise SlotRefused("时间格式不对，请写成 时:分，如 09:30。") from None
    if day < today:
        raise SlotRefused(f"{texts.day_words(day)}已经过去，不能预约。")
    if day > today + timedelta(days=horizon_days):
        raise SlotRefused(f"只能预约{horizon_days}天以内的服务。")
    slot = slot_for(dated_code(day, part), now)
    if not bookable(slot, now):
        raise SlotRefused(f"{slot.label}已经过去或马上开始，请选择更晚的时间。")
    return slot


def slot_from_form(slot_code: str, day: str, part: str, at: str, now: datetime) -> Slot:
    """The window a console form chose: a date (`day`, YYYY-MM-DD) with `part` (am, pm, or `time`
    with `at` as HH:MM), else one of the first windows by `slot_code`. Raises SlotRefused."""
    if day:
        try:
            chosen = date.fromisoformat(day)
        except ValueError:
            raise SlotRefused("日期格式不对，请选择日期。") from None
        if part == "time":
            if not at:
                raise SlotRefused("请填写上门的具体时间。")
            part = at
        elif part not in PARTS:
            raise SlotRefused("请选择上午、下午或具体时间。")
        return dated_slot(chosen, part, now)
    try:
        return slot_for(slot_code, now)
    except UnknownSlot:
        raise SlotRefused("请选择上门时间。") from None


def local_day_bounds(moment: datetime) -> tuple[datetime, datetime]:
    """The start and end of `moment`'s local calendar day, in UTC."""
    day = moment.astimezone(LOCAL_TZ).date()
    start = datetime.combine(day, time(0), LOCAL_TZ)
    return start.astimezone(moment.tzinfo), (start + timedelta(days=1)).astimezone(moment.tzinfo)


# Capacity per slot counts bookings in the same local half-day: before 13:00, and from 13:00.
MIDDAY = time(13, 0)


def half_day_bounds(moment: datetime) -> tuple[datetime, datetime]:
    """The local half-day (00:00–13:00 or 13:00–24:00) holding `moment`, in `moment`'s zone.

    The hotline's slots (morning, afternoon, and "as soon as possible" by its start) each fall in
    one half-day, so a provider's capacity per slot is counted over these bounds.
    """
    here = moment.astimezone(LOCAL_TZ)
    day = here.date()
    midday = datetime.combine(day, MIDDAY, LOCAL_TZ)
    if here < midday:
        start, end = datetime.combine(day, time(0), LOCAL_TZ), midday
    else:
        start, end = midday, datetime.combine(day + timedelta(days=1), time(0), LOCAL_TZ)
    return start.astimezone(moment.tzinfo), end.astimezone(moment.tzinfo)
