"""`vnh bench report`: time and peak memory of the month's exports, ours beside a naive one."""

from __future__ import annotations

import csv
import multiprocessing
import random
import shutil
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, joinedload

from billing import ledger
from billing.bench_sources import SPLIT_MONTH, build_split_month, timed
from billing.exports import write_report
from billing.models import LedgerPosting
from billing.money import fen_to_yuan
from billing.policy import DISABILITY_LEVELS, load_policy, split_charge
from billing.reports import (
    DETAIL,
    SOURCES_COLUMN,
    SUBSIDY_COLUMNS,
    month_sources,
    report_tables,
    source_columns,
)
from dispatcher.clock import local
from dispatcher.enrollment.identity import check_digit, mask_id_number
from dispatcher.models import Elder, Item, Order, Visit
from providers.models import Provider

MONTH = "2026-11"
STREETS = ["酒泉路街道", "张掖路街道", "雁南街道", "临夏路街道", "白银路街道", "皋兰路街道",
           "广武门街道", "伏龙坪街道"]
CLASSES = ["特困", "低保", "优抚", "高龄", "普通"]


def build_month(session: Session, *, elders: int, visits: int, seed: int) -> None:
    """Bulk-insert elders, providers, orders, visits and their postings for one month."""
    rng = random.Random(seed)
    policy = load_policy()
    version = policy.version_for_month(MONTH)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    items = session.execute(select(Item.id, Item.code, Item.market_price_fen, Item.is_free)).all()
    items = [i for i in items if i.market_price_fen > 0 and not i.is_free] or items
    providers = [{
        "id": n, "code": f"B{n:04d}", "name": f"第{n}家政服务有限公司", "license_no": f"L{n:08d}",
        "dispatch_phone": f"+8613800{n:06d}", "address": "城关区", "latitude": 36.06,
        "longitude": 103.83, "service_radius_m": 8000, "capacity_per_day": 400,
        "opens_at": datetime.min.time(), "closes_at": datetime.max.time().replace(microsecond=0),
        "contract_status": "active", "quality_score": 4.5, "created_at": now,
    } for n in range(1, 41)]
    session.execute(insert(Provider), providers)
    people = []
    for n in range(1, elders + 1):
        # (birth date, serial) is unique: one birth date per thousand elders.
        birth = date(1930, 1, 1) + timedelta(days=(n // 1000) * 139)
        first17 = f"620102{birth:%Y%m%d}{n % 1000:03d}"
        street = rng.choice(STREETS)
        people.append({
            "id": n, "id_number": first17 + check_digit(first17), "name": f"老人{n}",
            "gender": rng.choice("MF"), "birth_date": birth, "address": f"{street}{n}号",
            "street": street, "community": f"{street[:2]}第{rng.randrange(1, 7)}社区",
            "latitude": 36.06, "longitude": 103.83, "elder_class": rng.choice(CLASSES),
            "disability_level": rng.choice(DISABILITY_LEVELS), "is_living_alone": False,
            "created_at": now,
        })
    for chunk in range(0, len(people), 10000):
        session.execute(insert(Elder), people[chunk:chunk + 10000])
    used: dict[int, int] = {}
    orders, visit_rows, postings = [], [], []
    start = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 2026-11-01 00:00 in Beijing
    for n in range(1, visits + 1):
        elder = people[rng.randrange(len(people))]
        item = rng.choice(items)
        price = item.market_price_fen * rng.randrange(60, 81) // 100
        at = start + timedelta(seconds=rng.randrange(29 * 86400))
        charge = split_charge(price, version, elder["elder_class"], elder["disability_level"],
                              used.get(elder["id"], 0))
        orders.append({
            "id": n, "order_no": f"B{n:011d}", "job_code": f"{n % 900000 + 100000}",
            "elder_id": elder["id"], "item_id": item.id, "state": "completed", "source": "bench",
            "slot_code": "asap", "window_start_at": at, "window_end_at": at,
            "quoted_price_fen": price, "provider_id": rng.randrange(1, 41), "created_at": at,
            "updated_at": at,
        })
        visit_rows.append({"id": n, "order_id": n, "provider_id": orders[-1]["provider_id"],
                           "checked_in_at": at, "checked_out_at": at + timedelta(hours=1)})
        ref = ledger.VisitRef(n, n, elder["id"], orders[-1]["provider_id"],
                              elder["elder_class"], MONTH)
        legs = [(ledger.CHARGE, None, {ledger.SUBSIDY_PENDING: charge.subsidy_fen,
                                       ledger.ELDER_COPAY: charge.copay_fen,
                                       ledger.PROVIDER_REVENUE: -charge.price_fen})]
        roll = rng.random()
        outcome = ledger.VERIFY if roll < 0.85 else ledger.WITHHOLD if roll < 0.88 else None
        if outcome:
            legs.append((outcome, f"visit:{n}:charge",
                         {ledger.SUBSIDY_PENDING: -charge.subsidy_fen,
                          ledger.OUTCOME_ACCOUNTS[outcome]: charge.subsidy_fen}))
        if outcome != ledger.WITHHOLD:
            used[elder["id"]] = used.get(elder["id"], 0) + charge.subsidy_fen
        for kind, original, amounts in legs:
            postings.extend({
                "txn_key": f"visit:{n}:{kind}", "kind": kind, "account": account,
                "amount_fen": amount, "month": MONTH, "service_month": MONTH,
                "original_txn_key": original, "order_id": ref.order_id, "visit_id": ref.visit_id,
                "elder_id": ref.elder_id, "provider_id": ref.provider_id,
                "elder_class": ref.elder_class, "policy_version": version.name, "created_at": at,
            } for account, amount in amounts.items())
    for table, rows in ((Order, orders), (Visit, visit_rows), (LedgerPosting, postings)):
        for chunk in range(0, len(rows), 10000):
            session.execute(insert(table), rows[chunk:chunk + 10000])


def naive_rows(session: Session, month: str) -> list[list]:
    """Load every posting, visit, order, elder, item and provider of the month as ORM objects."""
    postings = session.scalars(select(LedgerPosting).where(LedgerPosting.month == month)).all()
    visit_ids = {p.visit_id for p in postings}
    visits = {v.id: v for v in session.scalars(
        select(Visit).where(Visit.id.in_(select(LedgerPosting.visit_id)
                                         .where(LedgerPosting.month == month)))
        .options(joinedload(Visit.order).joinedload(Order.elder),
                 joinedload(Visit.order).joinedload(Order.item))).unique()}
    providers = {p.id: p for p in session.scalars(select(Provider))}
    sums = {v: dict.fromkeys(ledger.ACCOUNTS, 0) | {"verify": 0, "withhold": 0, "class": "",
                                                    "sources": {}}
            for v in visit_ids}
    sources = sorted({p.source for p in postings
                      if p.account in ledger.SUBSIDY_ACCOUNTS and p.amount_fen})
    for p in postings:
        entry = sums[p.visit_id]
        entry[p.account] += p.amount_fen
        if p.account in ledger.SUBSIDY_ACCOUNTS:
            entry["sources"][p.source] = entry["sources"].get(p.source, 0) + p.amount_fen
        entry["class"] = p.elder_class
        if p.account == ledger.SUBSIDY_PENDING and p.kind in ("verify", "withhold"):
            entry[p.kind] += 1
    rows = []
    for visit_id in sorted(visit_ids, key=lambda v: (visits[v].checked_out_at, v)):
        visit, entry = visits[visit_id], sums[visit_id]
        order, provider = visit.order, providers[visit.provider_id]
        pending, payable, withheld = (entry[ledger.SUBSIDY_PENDING], entry[ledger.SUBSIDY_PAYABLE],
                                      entry[ledger.SUBSIDY_WITHHELD])
        result = "verified" if entry["verify"] else "denied" if entry["withhold"] else "pending"
        rows.append([
            month, order.elder.street, order.elder.community, mask_id_number(order.elder.id_number),
            order.elder.name, entry["class"], order.order_no, order.item.code, order.item.name,
            provider.code, provider.name, f"{local(visit.checked_out_at):%Y-%m-%d}",
            -entry[ledger.PROVIDER_REVENUE], pending + payable + withheld,
            entry[ledger.ELDER_COPAY], result, payable, withheld, pending, "visit", "",
            ";".join(s for s in sources if entry["sources"].get(s)),
            *(entry["sources"].get(s, 0) for s in sources),
        ])
    return rows


def naive_export(session: Session, month: str, fmt: str, path: Path) -> int:
    rows = naive_rows(session, month)
    sources = month_sources(session, month)
    header = [*SUBSIDY_COLUMNS, SOURCES_COLUMN.key, *(c.key for c in source_columns(sources))]
    money = {i for i, c in enumerate(DETAIL) if c.kind == "money"}
    money |= set(range(len(DETAIL) + 1, len(header)))
    if fmt == "csv":
        with open(path, "w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows([fen_to_yuan(v) if i in money else v for i, v in enumerate(row)]
                             for row in rows)
        return len(rows)
    from decimal import Decimal

    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append([Decimal(v).scaleb(-2) if i in money else v for i, v in enumerate(row)])
    for column in sheet.iter_cols(min_row=2):
        if column and column[0].column - 1 in money:
            for cell in column:
                cell.number_format = "#,##0.00"
    workbook.save(path)
    return len(rows)


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reads() -> tuple[int, int]:
    """Bytes and read calls this process has read so far (from the page cache or the disk)."""
    try:
        fields = dict(line.split(":") for line in Path("/proc/self/io").read_text().splitlines())
        return int(fields["rchar"]), int(fields["syscr"])
    except (OSError, KeyError, ValueError):
        return 0, 0


def _child(url: str, how: str, fmt: str, path: Path, conn) -> None:
    from sqlalchemy.orm import sessionmaker

    from dispatcher.db import make_engine

    engine = make_engine(url)
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS to the current RSS
        exact = True
    except OSError:
        exact = False
    base = _status_kb("VmRSS")
    if not exact or base is None:
        tracemalloc.start()
    read_before = _reads()
    started = time.perf_counter()
    with sessionmaker(engine)() as session:
        if how == "streaming":
            rows = write_report(report_tables(session, "subsidy", MONTH), fmt, path)
        else:
            rows = naive_export(session, MONTH, fmt, path)
    elapsed = time.perf_counter() - started
    read_mb, read_calls = ((after - before) for after, before in zip(_reads(), read_before,
                                                                      strict=True))
    if exact and base is not None:
        peak_mb = (_status_kb("VmHWM") - base) / 1024
        method = "peak RSS above the start"
    else:
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        method = "tracemalloc peak"
    conn.send((rows, elapsed, peak_mb, method, read_mb / 2**20, read_calls))
    conn.close()


def measure(url: str, how: str, fmt: str, path: Path) -> tuple[int, float, float, str, float, int]:
    """Run one export in a fresh forked process; return rows, seconds, peak MB, the method, and
    the MB and read calls it read."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(url, how, fmt, path, send))
    process.start()
    result = receive.recv()
    process.join()
    return result


def close_and_verify(url: str, seed: int) -> bool:
    """Book MONTH again a month later split across the funding sources; time the close and
    `vnh report verify` of both months, and print split/unsplit as ratios."""
    from dispatcher.db import make_engine

    engine = make_engine(url)
    with Session(engine) as session:
        count = build_split_month(session, month=MONTH, seed=seed)
        session.commit()
    engine.dispose()
    click.echo(f"booked the same {count} visits again in {SPLIT_MONTH}, split across the funding "
               f"sources; {MONTH} stays one unsplit subsidy per visit, as booked before sources")
    seconds, ok = {}, True
    for what in ("close", "verify"):
        for month in (MONTH, SPLIT_MONTH):
            seconds[what, month], done = timed(url, what, month)
            ok = ok and done
            click.echo(f"{what:6} {month}  {seconds[what, month]:6.2f} s"
                       f"{'' if done else '  FAILED'}")
    for what in ("close", "verify"):
        click.echo(f"{what}: split/unsplit time "
                   f"{seconds[what, SPLIT_MONTH] / seconds[what, MONTH]:.2f}x")
    return ok


@click.command("report")
@click.option("--elders", default=50_000, show_default=True)
@click.option("--visits", default=100_000, show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the database and the exports in this directory.")
def bench_report(elders, visits, seed, keep):
    """Export one month's subsidy detail as CSV and XLSX, streaming and naively, and compare."""
    from dispatcher.catalogue import load_catalogue
    from dispatcher.db import make_engine
    from dispatcher.migrate import upgrade

    workdir = Path(keep or tempfile.mkdtemp(prefix="vnh-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{workdir / 'bench.sqlite'}"
    click.echo(f"building {elders} elders and {visits} visits of {MONTH} by bulk insert into a "
               f"temporary SQLite database ({workdir / 'bench.sqlite'}), not through the services")
    started = time.perf_counter()
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        load_catalogue(session)
        build_month(session, elders=elders, visits=visits, seed=seed)
        session.commit()
        postings = session.query(LedgerPosting).count()
    engine.dispose()
    click.echo(f"built in {time.perf_counter() - started:.1f} s: {postings} ledger postings")
    results = {}
    for fmt in ("csv", "xlsx"):
        for how in ("streaming", "naive"):
            path = workdir / f"subsidy-{how}.{fmt}"
            results[how, fmt] = rows, seconds, peak, method, read_mb, reads = measure(
                url, how, fmt, path)
            click.echo(f"{fmt:4} {how:9} {rows} rows  {seconds:6.2f} s  peak {peak:7.1f} MB "
                       f"({method}); read {read_mb:6.1f} MB in {reads} calls")
    same = (workdir / "subsidy-streaming.csv").read_bytes() == \
        (workdir / "subsidy-naive.csv").read_bytes()
    click.echo(f"the two CSV files are {'identical' if same else 'DIFFERENT'}")
    for fmt in ("csv", "xlsx"):
        _, ours_s, ours_mb, *_ = results["streaming", fmt]
        _, naive_s, naive_mb, *_ = results["naive", fmt]
        click.echo(f"{fmt}: naive/streaming time {naive_s / ours_s:.2f}x, "
                   f"peak memory {naive_mb / max(ours_mb, 0.1):.1f}x")
    closing = close_and_verify(url, seed)
    if keep is None:
        shutil.rmtree(workdir, ignore_errors=True)
    if not closing:
        raise click.ClickException("a month close or verify failed")
    if not same:
        raise click.ClickException("the streaming and naive CSV exports differ")
