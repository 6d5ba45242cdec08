"""The clock port: the core takes `now` as a value; the edges ask a Clock for it."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


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


class AcceleratedClock:
    """Time that runs `speed` times faster than the wall clock from the moment `anchor`.

    Processes given the same anchor and speed agree on the time, so several schedulers can soak
    through hours of due work in minutes (the fault tests; `vnh chaos`).
    """

    def __init__(self, speed: float, anchor: float, wall=time.time):
        self.speed, self.anchor, self.wall = speed, anchor, wall

    def now(self) -> datetime:
        elapsed = (self.wall() - self.anchor) * self.speed
        return datetime.fromtimestamp(self.anchor, UTC) + timedelta(seconds=elapsed)


def clock_from_env(env: dict | None = None) -> Clock:
    """The system clock, or an accelerated one when VNH_CLOCK_SPEED is set (with VNH_CLOCK_ANCHOR,
    a Unix time, so that every process started for one test agrees on the time)."""
    env = os.environ if env is None else env
    speed = float(env.get("VNH_CLOCK_SPEED") or 1)
    if speed == 1:
        return SystemClock()
    if speed <= 0:
        raise ValueError("VNH_CLOCK_SPEED must be positive")
    return AcceleratedClock(speed, float(env.get("VNH_CLOCK_ANCHOR") or time.time()))


def local(moment: datetime) -> datetime:
    """Return `moment` in Asia/Shanghai, the programme's civil time."""
    return moment.astimezone(LOCAL_TZ)
