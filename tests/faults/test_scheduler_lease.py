"""One ticking process at a time on SQLite too: a file lock beside the database is the lease."""

from __future__ import annotations

import pytest
from conftest import PG_URL

from dispatcher.operations.sweepers import SchedulerLease

pytestmark = pytest.mark.skipif(bool(PG_URL), reason="PostgreSQL's lease is tested in tests/web/test_health.py")


def test_a_second_scheduler_on_one_sqlite_file_waits_until_the_first_lets_go(app):
    first, second = SchedulerLease(app), SchedulerLease(app)
    try:
        assert first.acquire() is True
        assert first.acquire() is True  # still the holder at its next tick
        assert second.acquire() is False
        first.release()
        assert second.acquire() is True
        assert first.acquire() is False
    finally:
        first.release()
        second.release()
