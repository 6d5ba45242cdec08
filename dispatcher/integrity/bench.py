"""`vnh bench integrity`: a month of visits checked our way beside a naive pairwise scan.

A new SQLite database in a temporary folder (migrated, catalogue loaded) gets providers, workers,
elders and a month of orders, visits and reviews, bulk-inserted, with a sprinkling of planted
frauds: overlapping visits, impossible hops across the city, short hourly visits, check-ins far
outside the window, unverified ends, elders denying one provider, providers on one device. The
user's database is not touched.

Ours is the production path (`dispatcher.integrity.checks.find`: one sorted read of the month,
a sweep per worker, set-based SQL for denials and devices). The naive path compares every visit
with every other to find overlaps and each visit's predecessor, which is quadratic: it runs on
a sample of whole workers, and its time for the full month is extrapolated by the square of the
size — an estimate, printed as one. On the sample both paths must find the same visits.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import click
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from dispatcher.catalogue import load_catalogue
from dispatcher.db import make_engine
from dispatcher.integrity.checks import find, month_bounds, record
from dispatcher.integrity.rules import Rules, VisitFacts, distance_km, visit_end
from dispatcher.migrate import upgrade
from dispatcher.models import CallbackReview, Elder, Item, Order, Visit
from providers.models import Provider, Worker

CENTRE = (36.057, 103.834)
CITY_KM = 30
MONTH = "2026-11"
_NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def _somewhere(rng: random.Random) -> tuple[float, float]:
    north, east = rng.uniform(-CITY_KM / 2, CITY_KM / 2), rng.uniform(-CITY_KM / 2, CITY_KM / 2)
    return (CENTRE[0] + north / 111.32,
            CENTRE[1] + east / (111.32 * math.cos(math.radians(CENTRE[0]))))


def _bulk(session: Session, model, rows: list[dict]) -> None:
    for start in range(0, len(rows), 10_000):
        session.execute(insert(model), rows[start:start + 10_000])


def build_month(session: Session, *, visits: int, workers: int, seed: int) -> None:
    """Bulk-insert a month of `visits` shared among `workers` (ten to a provider)."""
    rng = random.Random(seed)
    items = dict(session.execute(select(Item.code, Item.id)).all())
    hourly, per_visit = items["LC03"], items["HK01"]
    providers = max(1, workers // 10)
    elders = max(10, visits // 5)
    one_device = set(rng.sample(range(1, providers + 1), max(1, providers // 100)))
    _bulk(session, Provider, [{
        "id": n, "code": f"B{n:05d}", "name": f"第{n}家政服务有限公司", "license_no": f"L{n:08d}",
        "dispatch_phone": f"+86138{n:08d}", "address": "城关区", "latitude": CENTRE[0],
        "longitude": CENTRE[1], "service_radius_m": 8000, "capacity_per_day": 50,
        "opens_at": clock_time(7), "closes_at": clock_time(20), "contract_status": "active",
        "quality_score": 4.5, "created_at": _NOW} for n in range(1, providers + 1)])
    _bulk(session, Worker, [{
        "id": n, "provider_id": (n - 1) // 10 + 1, "work_number": f"W{n:05d}", "name": "张师傅",
        "phone": f"+86137{n:08d}", "id_number": f"620102198001{n:06d}", "active": True,
        "created_at": _NOW} for n in range(1, workers + 1)])
    homes = [_somewhere(rng) for _ in range(elders)]
    _bulk(session, Elder, [{
        "id": n, "id_number": f"620102194001{n:06d}", "name": "王秀英", "gender": "F",
        "birth_date": datetime(1940, 1, 1).date(), "address": "城关区", "street": "酒泉路街道",
        "community": "民勤街社区", "latitude": lat, "longitude": lng, "elder_class": "特困",
        "disability_level": "能力完好", "is_living_alone": False, "created_at": _NOW}
        for n, (lat, lng) in enumerate(homes, 1)])
    start, _ = month_bounds(MONTH)
    orders, visit_rows, reviews = [], [], []
    per_worker = visits // workers
    n = 0
    for worker in range(1, workers + 1):
        provider = (worker - 1) // 10 + 1
        days = sorted(rng.sample(range(30), min(30, (per_worker + 1) // 2)))
        slots = [(d, half) for d in days for half in (0, 1)][:per_worker]
        for day, half in slots:
            n += 1
            window = start + timedelta(days=day, hours=8 + 5 * half)
            arrive = window + timedelta(minutes=rng.randrange(0, 120))
            minutes = rng.randrange(60, 150)
            roll = rng.random()
            if roll < 0.005 and visit_rows and visit_rows[-1]["worker_id"] == worker:
                arrive = visit_rows[-1]["checked_in_at"] + timedelta(minutes=20)  # overlap
            elif roll < 0.01:
                minutes = rng.randrange(3, 20)  # short
            elif roll < 0.013:
                arrive = window + timedelta(hours=rng.choice((-5, 9)))  # far outside the window
            elif roll < 0.016 and visit_rows and visit_rows[-1]["worker_id"] == worker:
                arrive = visit_rows[-1]["checked_out_at"] + timedelta(minutes=5)  # a quick hop
            item = hourly if rng.random() < 0.3 else per_visit
            denied = rng.random() < 0.02
            # Denials gather on one elder per provider, so some elders deny a provider repeatedly.
            elder = provider % elders + 1 if denied and rng.random() < 0.5 else rng.randrange(1, elders + 1)
            orders.append({
                "id": n, "order_no": f"B{n:012d}", "job_code": f"{n:08d}", "elder_id": elder,
                "item_id": item, "state": "verified", "source": "bench", "slot_code": "asap",
                "window_start_at": window, "window_end_at": window + timedelta(hours=3),
                "quoted_price_fen": 3000, "provider_id": provider, "created_at": window,
                "updated_at": window})
            unproved = rng.random() < 0.01
            visit_rows.append({
                "id": n, "order_id": n, "provider_id": provider, "worker_id": worker,
                "checked_in_at": arrive, "checked_out_at": arrive + timedelta(minutes=minutes),
                "check_in_source": "portal", "check_out_source": "portal",
                "check_in_method": "none" if unproved else "location",
                "check_out_method": "location",
                "check_in_device": "shared" if provider in one_device else f"d{worker}"})
            if denied:
                reviews.append({"id": len(reviews) + 1, "visit_id": n, "order_id": n,
                                "state": "denied", "due_at": arrive, "attempts": 1,
                                "did_worker_come": False,
                                "answered_at": arrive + timedelta(hours=rng.randrange(2, 48)),
                                "is_sampled": False})
    _bulk(session, Order, orders)
    _bulk(session, Visit, visit_rows)
    _bulk(session, CallbackReview, reviews)
    session.commit()


def naive_overlaps_and_travel(facts: list[VisitFacts], rules: Rules,
                              until: datetime) -> set[tuple[int, str]]:
    """Every pair of visits compared: an overlap is any pair of one worker whose times cross;
    a visit with none is judged against the worker's earlier visit that ended last."""
    found = set()
    for v in facts:
        if v.worker_id is None:
            continue
        before = None
        for u in facts:
            if u.worker_id != v.worker_id or u.visit_id == v.visit_id:
                continue
            if (u.checked_in_at < visit_end(v, until, rules)
                    and v.checked_in_at < visit_end(u, until, rules)):
                found.add((v.visit_id, "overlap"))
            if (u.checked_in_at, u.visit_id) < (v.checked_in_at, v.visit_id) and (
                    before is None or visit_end(u, until, rules) > visit_end(before, until, rules)
                    or (visit_end(u, until, rules) == visit_end(before, until, rules)
                        and (u.checked_in_at, u.visit_id) < (before.checked_in_at, before.visit_id))):
                before = u
        if (v.visit_id, "overlap") in found or before is None or None in (v.lat, before.lat):
            continue
        km = distance_km(before.lat, before.lng, v.lat, v.lng)
        hours = (v.checked_in_at - visit_end(before, until, rules)).total_seconds() / 3600
        if km >= rules.min_travel_km and (hours <= 0 or km / hours > rules.max_speed_kmh):
            found.add((v.visit_id, "travel"))
    return found


def _sweep_only(facts: list[VisitFacts], rules: Rules, until: datetime) -> set[tuple[int, str]]:
    from dispatcher.integrity.rules import sweep_worker_visits

    return {(f.visit_id, f.check) for f in sweep_worker_visits(facts, rules, until)}


def measure(path: Path, *, visits: int, workers: int, sample_workers: int, seed: int) -> dict:
    from dispatcher.integrity.checks import visit_facts

    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with Session(engine) as session:
        load_catalogue(session)
        session.commit()
        began = time.perf_counter()
        build_month(session, visits=visits, workers=workers, seed=seed)
        built = time.perf_counter() - began
        rules = Rules()
        since, until = month_bounds(MONTH)
        began = time.perf_counter()
        findings = find(session, rules, since, until)
        ours_find = time.perf_counter() - began
        began = time.perf_counter()
        new = record(session, findings, _NOW)
        session.commit()
        ours_record = time.perf_counter() - began
        began = time.perf_counter()
        again = record(session, find(session, rules, since, until), _NOW)
        rerun = time.perf_counter() - began
        sample = visit_facts(session, since, until, worker_ids=range(1, sample_workers + 1))
    engine.dispose()
    began = time.perf_counter()
    ours_sample = _sweep_only(sample, rules, until)
    ours_sample_s = time.perf_counter() - began
    began = time.perf_counter()
    naive_sample = naive_overlaps_and_travel(sample, rules, until)
    naive_sample_s = time.perf_counter() - began
    by_check: dict[str, int] = {}
    for f in findings:
        by_check[f.check] = by_check.get(f.check, 0) + 1
    return {"built_s": built, "ours_find_s": ours_find, "ours_record_s": ours_record,
            "rerun_s": rerun, "new": new, "again": again, "by_check": by_check,
            "sample": len(sample), "ours_sample_s": ours_sample_s,
            "naive_sample_s": naive_sample_s, "same": ours_sample == naive_sample,
            "sample_flags": len(naive_sample)}


@click.command("integrity")
@click.option("--visits", default=100_000, show_default=True)
@click.option("--workers", default=5_000, show_default=True)
@click.option("--sample-workers", default=250, show_default=True,
              help="Workers whose visits the quadratic naive scan compares.")
@click.option("--seed", default=1, show_default=True)
def bench_integrity(visits, workers, sample_workers, seed):
    """The month's integrity checks: ours (sort and sweep, set-based SQL) beside a naive pairwise scan."""
    if visits < workers or sample_workers > workers:
        raise click.UsageError("need --visits ≥ --workers ≥ --sample-workers")
    with tempfile.TemporaryDirectory() as folder:
        click.echo(f"{visits} visits of {workers} workers in {MONTH}, synthetic, in a new SQLite "
                   f"database (load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)")
        r = measure(Path(folder) / "bench.sqlite", visits=visits, workers=workers,
                    sample_workers=sample_workers, seed=seed)
    checks = ", ".join(f"{k} {v}" for k, v in sorted(r["by_check"].items()))
    click.echo(f"  built in {r['built_s']:.1f} s")
    click.echo(f"  ours, every check over the month: find {r['ours_find_s']:.2f} s, record "
               f"{r['new']} flags {r['ours_record_s']:.2f} s ({checks})")
    click.echo(f"  ours again (nothing new, {r['again']} flags added): {r['rerun_s']:.2f} s")
    scale = (visits / r["sample"]) ** 2 if r["sample"] else 0
    naive_full = r["naive_sample_s"] * scale
    ours_sample = max(r["ours_sample_s"], 1e-6)
    click.echo(f"  sample of {sample_workers} workers ({r['sample']} visits), overlaps and travel "
               f"only: ours {r['ours_sample_s'] * 1000:.1f} ms, naive pairwise "
               f"{r['naive_sample_s']:.2f} s; naive / ours {r['naive_sample_s'] / ours_sample:.0f}x; "
               f"same visits flagged: {'yes' if r['same'] else 'NO'} ({r['sample_flags']})")
    click.echo(f"  naive over the whole month, EXTRAPOLATED by (n/sample)^2 = {scale:.0f}: "
               f"~{naive_full / 3600:.2f} h ({naive_full:.0f} s), against ours {r['ours_find_s']:.2f} s: "
               f"naive / ours ~{naive_full / r['ours_find_s']:.0f}x (an estimate, not a measurement)")
    if not r["same"]:
        raise click.ClickException("our sweep and the naive pairwise scan flag different visits")

