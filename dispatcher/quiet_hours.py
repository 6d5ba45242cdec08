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


def outside_quiet_hours(moment: datetime, quiet: tuple[time, time] | None) -> datetime:
    """Return `moment`, or the end of the quiet hours it falls in."""
    if quiet is None:
        return moment
    start, end = quiet
    here = moment.astimezone(LOCAL_TZ)
    t = here.time()
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return moment
    day = here.date() if t < end else here.date() + timedelta(days=1)
    return datetime.combine(day, end, LOCAL_TZ).astimezone(moment.tzinfo)
