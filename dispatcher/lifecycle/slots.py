"""Visit windows the hotline offers: as soon as possible, or one of the next half-days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

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


def slot_label(code: str) -> str:
    if code == "asap":
        return "尽快"
    try:
        return _HALF_DAYS[code][0]
    except KeyError:
        raise UnknownSlot(code) from None


def slot_for(code: str, now: datetime) -> Slot:
    """Return the window a slot code means at `now` (UTC in, UTC out)."""
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
