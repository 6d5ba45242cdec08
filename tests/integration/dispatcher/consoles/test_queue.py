"""The operator queue is sorted, counted and cut by the database, in the order `queue_kind` gives,
on SQLite and on PostgreSQL alike."""

from __future__ import annotations

from datetime import timedelta

from dispatcher.consoles import operator as console
from dispatcher.lifecycle.tasks import open_task

# Every kind a task is opened with, those of the queue and the supervisor's own cases, and a
# late kind the IVR does not use today (queue_kind puts any "late…" kind with the check-ins).
KINDS = (*console.KIND_NAMES, "dispute", "complaint", "low_rating", "review_sample", "review_unreachable",
         "month_close", "plan_review_denied", "plan_provider_dropped", "plan_item_dropped", "notice",
         "reminder", "check_in", "late_check_out", "belated")
RECORDINGS = (None, "", "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1")


def _fill(session, clock, elder):
    """A task of every kind with each kind of recording, opened in a shuffled order (so that
    neither the ids nor the times alone give the queue's order)."""
    tasks, n = [], 0
    for kind in KINDS:
        for recording in RECORDINGS:
            n += 1
            task = open_task(session, kind=kind, reason=f"{kind}/{recording}", dedupe_key=f"q:{n}",
                             now=clock.now() - timedelta(minutes=(n * 37) % 101), elder_id=elder.id)
            task.recording_url = recording
            tasks.append(task)
    resolved = open_task(session, kind="emergency", reason="已处理", dedupe_key="q:done", now=clock.now(),
                         elder_id=elder.id)
    resolved.resolved_at = clock.now()
    session.commit()
    return tasks


def _expected(tasks):
    queued = [t for t in tasks if console.queue_kind(t) is not None]
    return sorted(queued, key=lambda t: (console.QUEUE_RANK[console.queue_kind(t)], t.created_at, t.id))


def test_the_database_orders_the_queue_as_queue_kind_ranks_it(session, clock, make_elder):
    elder = make_elder()
    tasks = _fill(session, clock, elder)
    expected = _expected(tasks)
    items, total = console.operator_queue(session)
    assert total == len(expected) == len(items)
    assert [(i.task.id, i.kind) for i in items] == [(t.id, console.queue_kind(t)) for t in expected]
    assert {i.kind for i in items} == set(console.QUEUE_RANK)  # every place on the queue is exercised
    assert all(i.elder.id == elder.id for i in items)


def test_a_limit_gives_the_most_urgent_rows_and_still_counts_them_all(session, clock, make_elder):
    elder = make_elder()
    expected = _expected(_fill(session, clock, elder))
    items, total = console.operator_queue(session, limit=5)
    assert total == len(expected) > 5
    assert [i.task.id for i in items] == [t.id for t in expected[:5]]
    assert items[0].kind == "emergency"


def test_bench_queue_gives_the_naive_way_s_queue_and_prints_both(monkeypatch):
    from click.testing import CliRunner

    from dispatcher.cli import main

    monkeypatch.delenv("VNH_BENCH_DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, ["bench", "queue", "--tasks", "300", "--repeat", "2"])
    assert result.exit_code == 0, result.output
    assert "300 open tasks, the first 100 shown" in result.output
    assert "naive (every task loaded" in result.output and "× faster" in result.output
