"""Answers that many screens poll for, worked out once a moment in each process.

Every operator's page asks for the transferred calls once a second (desk.js). Fifty consoles of
one centre ask the same question fifty times a second; within `VNH_POLL_REUSE_S` (0.5 s by default: a
screen sees a new transfer at most that much later) one query answers them all, per area, in
each worker process. 0 turns the reuse off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


class Reused:
    """`compute()`'s value for a key, reused by every thread of this process for `seconds` (of
    `timer`, the system's monotonic clock unless a test gives its own)."""

    def __init__(self, seconds: float, timer: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self._timer = timer
        self._lock = threading.Lock()
        self._values: dict[Hashable, tuple[float, object]] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        if self.seconds <= 0:
            return compute()
        # One thread computes while the others asking wait for its answer, not for their own.
        with self._lock:
            found = self._values.get(key)
            if found is not None and self._timer() - found[0] < self.seconds:
                return found[1]  # type: ignore[return-value]
            value = compute()
            self._values[key] = (self._timer(), value)
            return value
