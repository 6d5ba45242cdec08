"""`vnh bench import`: a bureau-sized elders file imported our way and the naive way, timed.

The file is what a bureau sends: GB18030 CSV, Chinese headers under a title row, landlines with
and without area code, half the rows with blank coordinates for the offline gazetteer. Each way
runs on its own new SQLite database in a temporary folder; the user's database is not touched.
"""

from __future__ import annotations

import csv
import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click

from dispatcher.demo.district import CENTRE, FEMALE_NAMES, MALE_NAMES, STREETS, SURNAMES
from dispatcher.enrollment.files import CHINESE_HEADERS
from dispatcher.enrollment.identity import check_digit
from dispatcher.enrollment.rows import ELDER_COLUMNS

_NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
_CLASSES = ("特困", "低保", "优抚", "高龄", "普通")
_LEVELS = ("能力完好", "轻度失能", "中度失能", "重度失能", "完全失能")


@click.command("import")
@click.option("--rows", default=50_000, show_default=True, help="Elders in the generated file.")
@click.option(
    "--naive-rows",
    default=2_000,
    show_default=True,
    help="Rows imported the naive way (slow: it is compared per thousand rows).",
)
@click.option("--seed", default=1, show_default=True)
def bench_import(rows, naive_rows, seed):
    """Import N generated elders with validation and offline geocoding, beside a naive import."""
    with tempfile.TemporaryDirectory(prefix="vnh-bench-") as folder:
        folder = Path(folder)
        path = folder / "elders.csv"
        blank = write_bench_elders(path, rows, seed=seed)
        size_mb = path.stat().st_size / 1e6
        click.echo(
            f"{rows} elders ({blank} with blank coordinates), GB18030 CSV with Chinese headers, "
            f"{size_mb:.1f} MB; SQLite in {folder}"
        )
        first, again, geocoded = _ours(folder / "ours.sqlite", path)
        naive_count = min(naive_rows, rows)
        naive = _naive(folder / "naive.sqlite", path, naive_count)
    ours_k = first / rows * 1000
    naive_k = naive / naive_count * 1000
    click.echo(
        f"ours  (streamed chunks, bulk inserts, one transaction): {rows} rows in {first:.1f} s "
        f"= {ours_k:.3f} s per 1000 rows; geocoded {geocoded}"
    )
    click.echo(
        f"      the same file again (every row unchanged):        {rows} rows in {again:.1f} s "
        f"= {again / rows * 1000:.3f} s per 1000 rows"
    )
    click.echo(
        f"naive (a query and a commit per row, phonenumbers.parse): {naive_count} rows in "
        f"{naive:.1f} s = {naive_k:.3f} s per 1000 rows"
    )
    click.echo(f"naive / ours per 1000 rows: {naive_k / ours_k:.1f}x")


def write_bench_elders(path: Path, rows: int, *, seed: int = 1) -> int:
    """Write `rows` valid elders as a bureau would; return how many have blank coordinates."""
    rng = random.Random(seed)
    communities = [
        (s, c, north, east) for s, entries in STREETS.items() for c, north, east in entries
    ]
    # The first Chinese name of each column: 身份证号, 姓名, 性别, …
    chinese: dict[str, str] = {}
    for name, column in CHINESE_HEADERS["elders"].items():
        chinese.setdefault(column, name)
    header = [chinese[column] for column in ELDER_COLUMNS]
    used: set[str] = set()
    blank = 0
    with path.open("w", encoding="gb18030", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["城关区虚拟养老院服务对象花名册（基准测试）"])
        writer.writerow(header)
        for index in range(rows):
            street, community, north, east = rng.choice(communities)
            gender = rng.choice("MF")
            birth = date(1930, 1, 1) + timedelta(days=rng.randrange(35 * 365))
            while True:
                serial = rng.randrange(0, 1000, 2) + (1 if gender == "M" else 0)
                first17 = f"620102{birth:%Y%m%d}{serial:03d}"
                if first17 not in used:
                    used.add(first17)
                    break
            name = rng.choice(SURNAMES) + rng.choice(FEMALE_NAMES if gender == "F" else MALE_NAMES)
            building = rng.randint(1, 30)  # 25 to 30 are not in the gazetteer: community centre
            address = (
                f"兰州市城关区{street}{community}{building}号楼{rng.randint(1, 4)}单元"
                f"{rng.randint(1, 7)}0{rng.randint(1, 2)}室"
            )
            phone = f"139 {index // 10000:04d} {index % 10000:04d}"
            others = []
            if index % 3 == 0:
                others.append(f"0931-8{index % 1000000:06d}")
            if index % 7 == 0:
                others.append(f"4{index % 1000000:06d}")  # a landline without its area code
            if index % 2 == 0:
                latitude = longitude = ""
                blank += 1
            else:
                latitude = f"{CENTRE[0] + (north + rng.uniform(-500, 500)) / 111_320:.6f}"
                longitude = f"{CENTRE[1] + (east + rng.uniform(-500, 500)) / 90_000:.6f}"
            contact = (rng.choice(SURNAMES) + "伟", f"158{index:08d}") if index % 5 else ("", "")
            writer.writerow([
                first17 + check_digit(first17), name, "男" if gender == "M" else "女",
                birth.isoformat(), phone, ";".join(others), address, street, community,
                latitude, longitude, rng.choice(_CLASSES[:3]) if index % 4 == 0 else (
                    "高龄" if birth.year <= 1946 else "普通"
                ), rng.choice(_LEVELS), rng.choice("是否"), *contact,
            ])  # fmt: skip
    return blank


def _database(path: Path):
    from sqlalchemy.orm import sessionmaker

    from dispatcher.db import make_engine
    from dispatcher.migrate import upgrade

    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine, sessionmaker(engine, expire_on_commit=False)


def _ours(db_path: Path, path: Path) -> tuple[float, float, str]:
    from dispatcher.enrollment.geocoding import Gazetteer, GazetteerGeocoder
    from dispatcher.enrollment.importer import import_file

    engine, sessions = _database(db_path)
    timings = []
    geocoded = ""
    for _ in range(2):
        started = time.perf_counter()
        geocoder = GazetteerGeocoder(Gazetteer.from_file())
        with sessions() as session:
            report = import_file(session, "elders", path, _NOW, geocoder=geocoder)
            session.commit()
        timings.append(time.perf_counter() - started)
        if not report.ok:
            raise click.ClickException(f"the bench file has bad rows: {report.errors[:3]}")
        geocoded = geocoded or ", ".join(f"{n} by {p}" for p, n in sorted(report.geocoded.items()))
    engine.dispose()
    return timings[0], timings[1], geocoded


def _naive(db_path: Path, path: Path, rows: int) -> float:
    """The obvious loader: read the file whole, and per row parse, query, add and commit."""
    from sqlalchemy import select

    from dispatcher.enrollment.geocoding import Gazetteer, GazetteerGeocoder, GeocodeQuery
    from dispatcher.enrollment.rows import parse_elder
    from dispatcher.models import Elder, ElderPhone, EmergencyContact
    from telephony import numbers

    engine, sessions = _database(db_path)
    started = time.perf_counter()
    text = path.read_bytes().decode("gb18030").splitlines()[1 : rows + 2]
    names = CHINESE_HEADERS["elders"]
    reader = csv.DictReader(text)
    geocoder = GazetteerGeocoder(Gazetteer.from_file())
    with sessions() as session:
        for raw in reader:
            values = {names[k]: v.strip() for k, v in raw.items() if k in names}
            # The library's full parse for every number, as a first version would do.
            for column in ("phone", "emergency_contact_phone"):
                if values[column]:
                    values[column] = numbers.to_e164(values[column])
            record, problems = parse_elder(values, _CLASSES)
            if problems:
                raise click.ClickException(f"naive: bad row {problems}")
            if record.latitude is None:
                place = geocoder.geocode(
                    GeocodeQuery(record.address, record.street, record.community)
                )
                record.latitude, record.longitude = place.latitude, place.longitude
            elder = session.scalars(
                select(Elder).where(Elder.id_number == record.id_number)
            ).first()
            if elder is None:
                elder = Elder(**record.columns(), created_at=_NOW)
                elder.phones.extend(
                    ElderPhone(phone=p, is_primary=primary) for p, primary in record.phones
                )
                elder.emergency_contacts.extend(
                    EmergencyContact(name=n, phone=p) for n, p in record.emergency_contacts
                )
                session.add(elder)
            session.commit()
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed
