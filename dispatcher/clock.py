"""The clock port: the core takes `now` as a value; the edges ask a Clock for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The system's clock, optionally shifted (VNH_CLOCK_OFFSET_S: rehearsals, tests from outside)."""

    def __init__(self, offset_s: float = 0):
        self.offset = timedelta(seconds=offset_s)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


class FakeClock:
    """A clock that stands still until told to move (tests, the simulator)."""

    def __init__(self, start: datetime):
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment


def local(moment: datetime) -> datetime:
    """Return `moment` in Asia/Shanghai, the programme's civil time."""
    return moment.astimezone(LOCAL_TZ)
