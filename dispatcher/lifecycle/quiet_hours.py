"""Quiet hours: no automated calls to elders at night."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from dispatcher.clock import LOCAL_TZ


def parse_quiet_hours(text: str) -> tuple[time, time] | None:
    """Parse `21:00-08:00`; empty means no quiet hours."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"quiet hours must look like 21:00-08:00, got {text!r}") from None
    return start, end


def inside(moment: datetime, window: tuple[time, time] | None) -> bool:
    """Whether `moment` falls in the local window (which may cross midnight)."""
    if window is None:
        return False
    start, end = window
    t = moment.astimezone(LOCAL_TZ).time()
    return (start <= t or t < end) if start > end else (start <= t < end)


def outside_quiet_hours(moment: datetime, quiet: tuple[time, time] | None) -> datetime:
    """Return `moment`, or the end of the quiet hours it falls in."""
    if quiet is None:
        return moment
    if not inside(moment, quiet):
        return moment
    end = quiet[1]
    here = moment.astimezone(LOCAL_TZ)
    t = here.time()
    day = here.date() if t < end else here.date() + timedelta(days=1)
    return datetime.combine(day, end, LOCAL_TZ).astimezone(moment.tzinfo)
