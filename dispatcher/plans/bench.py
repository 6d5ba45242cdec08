"""`vnh bench plans`: the week's occurrences for many plans, batched beside a naive per-plan loop."""

from __future__ import annotations

import tempfile
import time as clock
from datetime import UTC, date, datetime, time
from pathlib import Path

import click


def _seed(session, plans: int, now: datetime) -> None:
    """Elders (one per plan) and their daily or weekday plans, bulk-inserted."""
    from sqlalchemy import insert, select

    from dispatcher.models import Elder, Item
    from dispatcher.plans.models import CarePlan

    item_id = session.scalar(select(Item.id).order_by(Item.id).limit(1))
    elders = [{"id": n, "id_number": f"B{n:017d}", "name": "王秀英", "gender": "F", "birth_date": date(1941, 3, 5),
               "address": "城关区", "street": "酒泉路街道", "community": "民勤街社区", "latitude": 36.05,
               "longitude": 103.82, "elder_class": "特困", "disability_level": "能力完好", "is_living_alone": True,
               "is_insured": False, "is_reviewed_via_family": False, "created_at": now}
              for n in range(1, plans + 1)]
    rules = ("FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "FREQ=DAILY;INTERVAL=2", "FREQ=WEEKLY;BYDAY=TU")
    rows = [{"id": n, "elder_id": n, "item_id": item_id, "rule": rules[n % len(rules)], "at_time": time(11, 30),
             "duration_min": 60, "starts_on": now.date(), "until": None, "notes": "", "state": "active",
             "created_at": now, "updated_at": now} for n in range(1, plans + 1)]
    for i in range(0, plans, 5000):
        session.execute(insert(Elder), elders[i:i + 5000])
        session.execute(insert(CarePlan), rows[i:i + 5000])
    session.commit()


def _database(url: str | None, workdir: Path):
    from dispatcher.catalogue import load_catalogue
    from dispatcher.db import make_engine
    from dispatcher.migrate import upgrade

    engine = make_engine(url or f"sqlite:///{workdir / 'bench.sqlite'}")
    upgrade(engine)
    from sqlalchemy.orm import sessionmaker

    maker = sessionmaker(engine, expire_on_commit=False)
    with maker() as session:
        load_catalogue(session)
        session.commit()
    return engine, maker


@click.command("plans")
@click.option("--plans", "count", default=50_000, show_default=True, help="How many plans.")
@click.option("--naive-plans", default=500, show_default=True,
              help="The naive loop runs on this many (its own fresh database) and is scaled up.")
@click.option("--database-url", envvar="VNH_BENCH_DATABASE_URL", help="An empty database (default: SQLite files).")
def bench_plans(count, naive_plans, database_url):
    """Generate a week of occurrences for many plans: ours (batched) beside a naive per-plan loop."""
    from sqlalchemy import func, select, text

    from dispatcher.models import Order
    from dispatcher.plans.generation import insert_occurrences, naive_insert

    now = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 08:00 in Lanzhou
    naive_plans = min(naive_plans, count)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, plans, run in (("ours", count, insert_occurrences), ("naive", naive_plans, naive_insert)):
            workdir = Path(tmp) / name
            workdir.mkdir()
            engine, maker = _database(database_url, workdir)
            with maker() as session:
                _seed(session, plans, now)
                started = clock.perf_counter()
                made = run(session, now, 7)
                session.commit()
                seconds = clock.perf_counter() - started
                again = clock.perf_counter()
                repeat = run(session, now, 7)
                session.commit()
                rerun = clock.perf_counter() - again
                total = session.scalar(select(func.count()).select_from(Order))
            if database_url:
                with engine.begin() as conn:
                    conn.execute(text("DROP SCHEMA public CASCADE"))
                    conn.execute(text("CREATE SCHEMA public"))
            engine.dispose()
            results[name] = (plans, made, seconds, repeat, rerun, total)
            click.echo(f"{name}: {plans} plans → {made} occurrences in {seconds:.2f} s "
                       f"({plans / seconds:,.0f} plans/s); a second run made {repeat} in {rerun:.2f} s; "
                       f"{total} orders")
    ours, naive = results["ours"], results["naive"]
    naive_scaled = naive[2] * ours[0] / naive[0]
    click.echo(f"naive scaled to {ours[0]} plans: {naive_scaled:.1f} s; ours {ours[2]:.1f} s; "
               f"ours is {naive_scaled / ours[2]:.1f}× faster")


__all__ = ["bench_plans"]
