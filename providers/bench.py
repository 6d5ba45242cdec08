"""`vnh bench match`: matching latency, our path beside a naive full geodesic scan, same data.

Each size gets its own new SQLite database in a temporary folder (migrated, the catalogue loaded,
providers, offerings, elders and a month of orders bulk-inserted); the user's database is not
touched. Our path is the production one: `dispatcher.lifecycle.ranking.rank_for`, that is the SQL bounding
box of `providers.queries.candidates_near` and then `providers.matching.rank_candidates`. The
naive path loads every provider offering the item and measures each with geopy's geodesic.
The city has ended contracts, capacities per slot, days off and communities served, so the
comparison covers every hard filter. Beside the wall-clock latency the CPU time of our path is
reported: on a shared machine the wall-clock p99 is mostly time other processes took.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import click
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from dispatcher.catalogue import load_catalogue
from dispatcher.clock import LOCAL_TZ
from dispatcher.db import make_engine
from dispatcher.enrollment.identity import check_digit
from dispatcher.lifecycle.ranking import rank_for
from dispatcher.lifecycle.slots import half_day_bounds, local_day_bounds
from dispatcher.migrate import upgrade
from dispatcher.models import Elder, Item, Order
from providers.matching import Candidate, Ranked, rank_by_geodesic
from providers.models import Offering, Provider, ProviderCommunity, ProviderDayOff
from providers.queries import BOOKED_STATES

CENTRE = (36.057, 103.834)
# The city is a square this many metres across, centred on CENTRE.
CITY_M = 30_000
ITEM_CODE = "HK01"
_METRES_PER_DEGREE = 111_320
_NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 09:00 in Lanzhou
_HOURS = ((clock_time(8), clock_time(18)), (clock_time(7), clock_time(20)), (clock_time(0), clock_time(23, 59)),
          (clock_time(9), clock_time(17)))
_OTHER_ITEMS = ("HK02", "HK03", "ML01", "ML02", "HC01", "RN01", "LC01", "EM01")
_COMMUNITIES = tuple(f"第{n}社区" for n in range(1, 41))


def build_city(session: Session, *, providers: int, elders: int, seed: int) -> list[Elder]:
    """Bulk-insert providers spread over the city, their offerings, elders and a month of orders.

    Some providers' contracts have ended, some cap their jobs per slot, some have today off and
    some serve listed communities wherever they lie, so every hard filter is exercised.
    Return the elders, each at a random point of the city, to be matched.
    """
    rng = random.Random(seed)
    items = dict(session.execute(select(Item.code, Item.id)).all())
    provider_rows, offering_rows, community_rows, day_off_rows = [], [], [], []
    today = _NOW.astimezone(LOCAL_TZ).date()
    for n in range(1, providers + 1):
        opens, closes = rng.choice(_HOURS)
        latitude, longitude = _somewhere(rng)
        provider_rows.append({
            "id": n, "code": f"B{n:06d}", "name": f"第{n}家政服务有限公司", "license_no": f"L{n:08d}",
            "dispatch_phone": f"+86138{n:08d}", "address": "城关区", "latitude": latitude,
            "longitude": longitude, "service_radius_m": rng.randrange(2_000, 8_001, 500),
            "capacity_per_day": rng.randrange(3, 30), "opens_at": opens, "closes_at": closes,
            "contract_status": "suspended" if rng.random() < 0.08 else "active",
            "quality_score": round(rng.uniform(3.0, 5.0), 1), "created_at": _NOW,
            "contract_ends_on": today - timedelta(days=1) if rng.random() < 0.03 else None,
            "capacity_per_slot": rng.randrange(1, 4) if rng.random() < 0.3 else None,
        })
        if rng.random() < 0.05:
            day_off_rows.append({"provider_id": n, "day": today, "reason": "休息"})
        if rng.random() < 0.1:
            community_rows += [{"provider_id": n, "community": c} for c in rng.sample(_COMMUNITIES, 2)]
        sold = [code for code in _OTHER_ITEMS if rng.random() < 0.3]
        if rng.random() < 0.5:
            sold.append(ITEM_CODE)
        offering_rows += [{"provider_id": n, "item_id": items[code], "price_fen": 3000} for code in sold]
    for rows, model in ((provider_rows, Provider), (offering_rows, Offering), (community_rows, ProviderCommunity),
                        (day_off_rows, ProviderDayOff)):
        for chunk in range(0, len(rows), 10_000):
            session.execute(insert(model), rows[chunk:chunk + 10_000])
    elder_rows = []
    for n in range(1, elders + 1):
        birth = date(1935, 1, 1) + timedelta(days=n // 1000)
        first17 = f"620102{birth:%Y%m%d}{n % 1000:03d}"
        latitude, longitude = _somewhere(rng)
        elder_rows.append({
            "id": n, "id_number": first17 + check_digit(first17), "name": f"老人{n}", "gender": "F",
            "birth_date": birth, "address": f"城关区{n}号", "street": "酒泉路街道",
            "community": rng.choice(_COMMUNITIES),
            "latitude": latitude, "longitude": longitude, "elder_class": "普通",
            "disability_level": "能力完好", "is_living_alone": False, "created_at": _NOW,
        })
    session.execute(insert(Elder), elder_rows)
    _insert_orders(session, rng, providers=providers, elders=elders, item_id=items[ITEM_CODE])
    session.commit()
    return list(session.scalars(select(Elder).order_by(Elder.id)))


def _somewhere(rng: random.Random) -> tuple[float, float]:
    north, east = rng.uniform(-CITY_M / 2, CITY_M / 2), rng.uniform(-CITY_M / 2, CITY_M / 2)
    latitude = CENTRE[0] + north / _METRES_PER_DEGREE
    return latitude, CENTRE[1] + east / (_METRES_PER_DEGREE * math.cos(math.radians(CENTRE[0])))


def _insert_orders(session: Session, rng: random.Random, *, providers: int, elders: int,
                   item_id: int) -> None:
    """Today's bookings (the load the score counts) and thirty days of finished orders before."""
    rows = []
    for n in range(1, providers * 2 + 1):
        days_ago = 0 if n % 10 == 0 else rng.randrange(1, 31)
        start = _NOW - timedelta(days=days_ago) + timedelta(minutes=rng.randrange(0, 480))
        rows.append({
            "id": n, "order_no": f"B{n:012d}", "job_code": f"{n:08d}", "elder_id": rng.randrange(1, elders + 1),
            "item_id": item_id, "state": "accepted" if days_ago == 0 else "verified", "source": "bench",
            "slot_code": "asap", "window_start_at": start, "window_end_at": start + timedelta(hours=3),
            "quoted_price_fen": 3000, "provider_id": rng.randrange(1, providers + 1),
            "created_at": start, "updated_at": start,
        })
    for chunk in range(0, len(rows), 10_000):
        session.execute(insert(Order), rows[chunk:chunk + 10_000])


def rank_naively(session: Session, elder: Elder, item: Item, slot_start: datetime) -> list[Ranked]:
    """Every provider offering the item, through the ORM, each measured with the geodesic."""
    day_start, day_end = local_day_bounds(slot_start)
    slot_from, slot_to = half_day_bounds(slot_start)
    here = slot_start.astimezone(LOCAL_TZ)

    def booked_between(start, end):
        return (
            select(Order.provider_id, func.count().label("n"))
            .where(Order.state.in_(BOOKED_STATES), Order.window_start_at >= start, Order.window_start_at < end)
            .group_by(Order.provider_id).subquery()
        )

    day, slot = booked_between(day_start, day_end), booked_between(slot_from, slot_to)
    rows = session.execute(
        select(Provider, Offering.price_fen, func.coalesce(day.c.n, 0), func.coalesce(slot.c.n, 0))
        .join(Offering, Offering.provider_id == Provider.id)
        .outerjoin(day, day.c.provider_id == Provider.id)
        .outerjoin(slot, slot.c.provider_id == Provider.id)
        .where(Offering.item_id == item.id)
    )
    closed = set(session.scalars(select(ProviderDayOff.provider_id).where(ProviderDayOff.day == here.date())))
    serving = set(session.scalars(select(ProviderCommunity.provider_id)
                                  .where(ProviderCommunity.community == elder.community)))
    candidates = [
        Candidate(provider_id=p.id, code=p.code, name=p.name, latitude=p.latitude, longitude=p.longitude,
                  service_radius_m=p.service_radius_m, contract_status=p.contract_status,
                  opens_at=p.opens_at, closes_at=p.closes_at, capacity_per_day=p.capacity_per_day,
                  booked_that_day=n, quality_score=p.quality_score, price_fen=price,
                  contract_starts_on=p.contract_starts_on, contract_ends_on=p.contract_ends_on,
                  capacity_per_slot=p.capacity_per_slot, booked_that_slot=n_slot,
                  is_day_off=p.id in closed, serves_community=p.id in serving)
        for p, price, n, n_slot in rows
    ]
    return rank_by_geodesic(elder.latitude, elder.longitude, here.time(), candidates, on=here.date())


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def _slot_starts(rng: random.Random, count: int) -> list[datetime]:
    # Visits from 07:00 to 20:30 local, so opening hours filter some providers out.
    return [_NOW + timedelta(minutes=rng.randrange(-120, 690, 30)) for _ in range(count)]


def _top_five(ranked: list[Ranked]) -> list[tuple[int, int, float]]:
    return [(r.candidate.provider_id, r.distance_m, r.score) for r in ranked]


def measure(path: Path, *, providers: int, queries: int, naive_queries: int, seed: int) -> dict:
    """Build a city of `providers` in a new SQLite file and time both ways; return the numbers."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    session = Session(engine, expire_on_commit=False)
    try:
        load_catalogue(session)
        session.commit()
        started = time.perf_counter()
        elders = build_city(session, providers=providers, elders=queries, seed=seed)
        built_s = time.perf_counter() - started
        item = session.scalar(select(Item).where(Item.code == ITEM_CODE))
        starts = _slot_starts(random.Random(seed + 1), len(elders))
        ours, ours_cpu, answers = [], [], []
        for elder, start in zip(elders, starts, strict=True):
            began, began_cpu = time.perf_counter(), time.process_time()
            ranked = rank_for(session, elder, item, start)
            ours.append((time.perf_counter() - began) * 1000)
            ours_cpu.append((time.process_time() - began_cpu) * 1000)
            answers.append(ranked)
        naive, mismatches, empty = [], [], 0
        for elder, start, ranked in list(zip(elders, starts, answers, strict=True))[:naive_queries]:
            began = time.perf_counter()
            reference = rank_naively(session, elder, item, start)
            naive.append((time.perf_counter() - began) * 1000)
            empty += not reference
            if _top_five(ranked) != _top_five(reference):
                mismatches.append((elder.id, _top_five(ranked), _top_five(reference)))
        session.rollback()
    finally:
        session.close()
        engine.dispose()
    return {
        "providers": providers, "built_s": built_s, "ours": ours, "ours_cpu": ours_cpu, "naive": naive,
        "mismatches": mismatches, "empty": empty,
    }


@click.command("match")
@click.option("--sizes", default="300,3000,30000", show_default=True, help="Provider counts, comma-separated.")
@click.option("--queries", default=300, show_default=True, help="Elders matched our way at each size.")
@click.option("--naive-queries", default=40, show_default=True,
              help="Of those, how many are also matched the naive way and compared (it is slow).")
@click.option("--seed", default=1, show_default=True)
def bench_match(sizes, queries, naive_queries, seed):
    """Match latency p50/p99 at each size, ours beside a naive full geodesic scan."""
    counts = [int(s) for s in sizes.split(",") if s.strip()]
    naive_queries = min(naive_queries, queries)
    failed = False
    with tempfile.TemporaryDirectory(prefix="vnh-bench-") as folder:
        click.echo(f"synthetic providers spread over a {CITY_M // 1000} km square city, bulk-inserted into "
                   f"a new temporary SQLite database per size in {folder}; item {ITEM_CODE}, "
                   f"about half the providers sell it; radii 2-8 km")
        click.echo(f"load average at start {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs: wall-clock "
                   "p99 includes time other processes took; CPU time is this process's own work")
        for count in counts:
            result = measure(Path(folder) / f"match-{count}.sqlite", providers=count, queries=queries,
                             naive_queries=naive_queries, seed=seed)
            ours, naive = result["ours"], result["naive"]
            ours_p50, ours_p99 = statistics.median(ours), _percentile(ours, 0.99)
            naive_p50, naive_p99 = statistics.median(naive), _percentile(naive, 0.99)
            click.echo(f"\n{count} providers (built in {result['built_s']:.1f} s)")
            click.echo(f"  ours  (SQL bounding box + rank_candidates): p50 {ours_p50:7.2f} ms  "
                       f"p99 {ours_p99:7.2f} ms  over {len(ours)} elders")
            cpu = result["ours_cpu"]
            click.echo(f"  ours, CPU time only:                        p50 {statistics.median(cpu):7.2f} ms  "
                       f"p99 {_percentile(cpu, 0.99):7.2f} ms")
            click.echo(f"  naive (every provider, geodesic each):      p50 {naive_p50:7.2f} ms  "
                       f"p99 {naive_p99:7.2f} ms  over {len(naive)} elders")
            click.echo(f"  naive / ours: p50 {naive_p50 / ours_p50:.0f}x, p99 {naive_p99 / ours_p99:.0f}x")
            same = len(naive) - len(result["mismatches"])
            click.echo(f"  top five identical to the naive answer for {same} of {len(naive)} elders "
                       f"compared ({result['empty']} with nobody eligible)")
            for elder_id, got, want in result["mismatches"]:
                failed = True
                click.echo(f"  MISMATCH elder {elder_id}: ours {got} naive {want}")
    if failed:
        raise click.ClickException("our top five differ from the naive full geodesic scan")
