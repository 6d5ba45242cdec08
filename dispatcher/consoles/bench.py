"""`vnh bench queue`: the operator queue's poll on a cold snap's thousands of open tasks, sorted,
counted and cut by the database (ours) beside loading every task and sorting in Python (naive)."""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click

# The mix a cold snap leaves: mostly orders nobody took, some of everything else.
KINDS = ("unassigned",) * 16 + ("late_check_in", "failed_message", "voicemail", "operator_request")


def naive_queue(session, limit: int):
    """What the queue did before: every open task with its order and elders, ranked in Python."""
    from dispatcher.consoles import operator as console
    from dispatcher.models import OperatorTask

    rows = session.execute(console.tasks_with_their_elders(OperatorTask.resolved_at.is_(None))).all()
    items = [console.QueueItem(kind, task.reason, task.created_at, task, order, elder or of_order)
             for task, order, elder, of_order in rows if (kind := console.queue_kind(task)) is not None]
    items.sort(key=lambda i: (console.QUEUE_RANK[i.kind], i.created_at, i.task.id))
    return items[:limit], len(items)


def _seed(session, tasks: int, now: datetime) -> None:
    from sqlalchemy import insert

    from dispatcher.models import Elder, OperatorTask

    elders = 500
    session.execute(insert(Elder), [
        {"id": n, "id_number": f"Q{n:017d}", "name": "王秀英", "gender": "F", "birth_date": date(1941, 3, 5),
         "address": "城关区", "street": "酒泉路街道", "community": "民勤街社区", "latitude": 36.05, "longitude": 103.82,
         "elder_class": "特困", "disability_level": "能力完好", "is_living_alone": True, "is_insured": False,
         "is_reviewed_via_family": False, "created_at": now} for n in range(1, elders + 1)])
    session.execute(insert(OperatorTask), [
        {"kind": KINDS[n % len(KINDS)], "reason": "无人接单", "dedupe_key": f"bench:{n}", "elder_id": n % elders + 1,
         "created_at": now - timedelta(seconds=n % 3600), "priority": 5} for n in range(tasks)])
    session.commit()


def _time(run, session, limit, repeat: int) -> tuple[float, int, list[int]]:
    seconds = []
    for _ in range(repeat):
        session.expunge_all()
        began = time.perf_counter()
        items, total = run(session, limit)
        seconds.append(time.perf_counter() - began)
    return statistics.median(seconds), total, [i.task.id for i in items]


@click.command("queue")
@click.option("--tasks", default=5000, show_default=True, help="Open tasks on the queue.")
@click.option("--repeat", default=10, show_default=True, help="Polls timed of each way (the median is printed).")
@click.option("--database-url", envvar="VNH_BENCH_DATABASE_URL", help="An empty database (default: a SQLite file).")
def bench_queue(tasks, repeat, database_url):
    """One operator's poll of the queue (its first QUEUE_ROWS rows and the count): ours beside the naive way."""
    from sqlalchemy import text
    from sqlalchemy.orm import sessionmaker

    from dispatcher.catalogue import load_catalogue
    from dispatcher.consoles import operator as console
    from dispatcher.db import make_engine
    from dispatcher.migrate import upgrade

    now = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite'}")
        try:
            upgrade(engine)
            with sessionmaker(engine)() as session:
                load_catalogue(session)
                _seed(session, tasks, now)
                ours = _time(lambda s, lim: console.operator_queue(s, limit=lim), session, console.QUEUE_ROWS, repeat)
                naive = _time(naive_queue, session, console.QUEUE_ROWS, repeat)
        finally:
            if database_url:
                with engine.begin() as conn:
                    conn.execute(text("DROP SCHEMA public CASCADE"))
                    conn.execute(text("CREATE SCHEMA public"))
            engine.dispose()
    if ours[1:] != naive[1:]:
        raise click.ClickException("the two ways gave different queues")
    click.echo(f"{tasks} open tasks, the first {console.QUEUE_ROWS} shown; median of {repeat} polls each")
    click.echo(f"naive (every task loaded, sorted in Python): {naive[0] * 1000:.1f} ms")
    click.echo(f"ours (sorted, counted and cut by the database): {ours[0] * 1000:.1f} ms")
    click.echo(f"ours is {naive[0] / ours[0]:.1f}× faster")


__all__ = ["bench_queue", "naive_queue"]
