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
    """Time that reads `start` at the wall-clock moment `anchor` and runs `speed` times faster.

    Processes given the same start, anchor and speed agree on the time, so a test can start,
    kill and restart servers on one timeline, and several schedulers can soak through hours of
    due work in minutes (the fault tests; `vnh chaos`).
    """

    def __init__(self, start: datetime, anchor: float, speed: float = 1.0, wall=time.time):
        self.start, self.anchor, self.speed, self.wall = start, anchor, speed, wall

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(self.wall() - self.anchor) * self.speed)


def clock_from_env(env=None) -> Clock:
    """The system clock, unless VNH_CLOCK_START (an ISO time) or VNH_CLOCK_SPEED is set.

    Then time reads VNH_CLOCK_START (default: the wall time) at the Unix time VNH_CLOCK_ANCHOR
    (default: now; give it to every process of one test) and runs VNH_CLOCK_SPEED times faster.
    """
    env = os.environ if env is None else env
    start_text = (env.get("VNH_CLOCK_START") or "").strip()
    speed = float(env.get("VNH_CLOCK_SPEED") or 1)
    if not start_text and speed == 1:
        return SystemClock()
    if speed <= 0:
        raise ValueError("VNH_CLOCK_SPEED must be positive")
    anchor = float(env.get("VNH_CLOCK_ANCHOR") or time.time())
    start = datetime.fromisoformat(start_text) if start_text else datetime.fromtimestamp(anchor, UTC)
    if start.tzinfo is None:
        raise ValueError("VNH_CLOCK_START needs a time zone, e.g. 2026-11-25T01:00:00+00:00")
    return AcceleratedClock(start.astimezone(UTC), anchor, speed)


def local(moment: datetime) -> datetime:
    """Return `moment` in Asia/Shanghai, the programme's civil time."""
    return moment.astimezone(LOCAL_TZ)
