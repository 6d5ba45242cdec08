"""Sign-in attempts are counted atomically, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from conftest import PG_URL

from dispatcher.consoles import audit


def _count_at_once(app, now, n: int, username: str = "xiaoli") -> list[int]:
    barrier = threading.Barrier(n)
    counts, errors = [], []

    def attempt() -> None:
        with app.extensions["vnh.sessionmaker"]() as session:
            try:
                barrier.wait(timeout=30)
                counts.append(audit.count_attempt(session, username, "10.0.0.1", now))
                session.commit()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return counts


def test_attempts_counted_at_once_each_get_their_own_number(app, clock):
    counts = _count_at_once(app, clock.now(), 40)
    assert sorted(counts) == list(range(1, 41))


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (VNH_TEST_DATABASE_URL) for concurrent writers")
def test_attempts_counted_at_once_on_postgresql_each_get_their_own_number(app, clock):
    counts = _count_at_once(app, clock.now(), 40)
    assert sorted(counts) == list(range(1, 41))


def test_the_count_starts_again_once_the_window_has_passed(session, clock):
    for expected in (1, 2, 3):
        assert audit.count_attempt(session, "xiaoli", "10.0.0.1", clock.now()) == expected
    later = clock.now() + audit.FAILURE_WINDOW + timedelta(seconds=1)
    assert audit.count_attempt(session, "xiaoli", "10.0.0.1", later) == 1
    assert audit.count_attempt(session, "xiaoli", "10.0.0.2", later) == 1


def test_clearing_the_attempts_starts_the_count_again(session, clock):
    for _ in range(4):
        audit.count_attempt(session, "xiaoli", "10.0.0.1", clock.now())
    audit.clear_attempts(session, "xiaoli", "10.0.0.1")
    assert audit.count_attempt(session, "xiaoli", "10.0.0.1", clock.now()) == 1


def test_old_counters_of_other_users_are_dropped_as_new_ones_come(session, clock):
    audit.count_attempt(session, "someone", "10.0.0.1", clock.now())
    later = clock.now() + audit.FAILURE_WINDOW + timedelta(seconds=1)
    audit.count_attempt(session, "xiaoli", "10.0.0.1", later)
    assert audit.attempts_kept(session) == 1


def test_a_long_username_or_address_is_counted_under_its_first_characters(session, clock):
    assert audit.count_attempt(session, "x" * 80, "1" * 80, clock.now()) == 1
    assert audit.count_attempt(session, "x" * 60, "1" * 70, clock.now()) == 2
