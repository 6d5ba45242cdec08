"""Blank coordinates geocoded (gazetteer, cached services), the audit log, skipping bad rows."""

from __future__ import annotations

import csv
import json
from datetime import date

import pytest
from sqlalchemy import func, select

from dispatcher.demo.district import build_demo_district, write_demo_csvs
from dispatcher.enrollment.geocoding import (
    CachedGeocoder,
    Gazetteer,
    GazetteerGeocoder,
    GeocodeQuery,
    GeocoderUnavailable,
    Place,
)
from dispatcher.enrollment.importer import import_file
from dispatcher.enrollment.models import AuditEntry, GeocodeCacheEntry
from dispatcher.enrollment.rows import ELDER_COLUMNS, OFFERING_COLUMNS, PROVIDER_COLUMNS
from dispatcher.models import Elder
from providers.models import Offering, Provider

from ..demo.test_district import clear_enrollment, snapshot
from .test_importer import elder_row, id_number, offering_row, provider_row

BLANK = {"latitude": "", "longitude": ""}


class FakeGeocoder:
    """A remote geocoder stand-in: answers from a table in WGS-84, records every question."""

    name = "fake"
    is_remote = True

    def __init__(self, answers=None, *, fail=False):
        self.answers = answers or {}
        self.fail = fail
        self.queries: list[GeocodeQuery] = []

    def geocode(self, query):
        self.queries.append(query)
        if self.fail:
            raise GeocoderUnavailable("fake: 503 Service Unavailable")
        point = self.answers.get(query.address)
        return Place(*point, "fake") if point else None


@pytest.fixture
def write_csv(tmp_path):
    """Write rows under a header as a UTF-8 CSV file; return its path."""

    def write(name, columns, rows):
        path = tmp_path / name
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(columns))
            writer.writeheader()
            writer.writerows(rows)
        return path

    return write


@pytest.fixture
def gazetteer():
    return GazetteerGeocoder(Gazetteer.from_file())


def count(session, model=Elder) -> int:
    return session.scalar(select(func.count()).select_from(model))


def elder_by_serial(session, serial):
    number = id_number(date(1941, 3, 5), serial)
    return session.scalars(select(Elder).where(Elder.id_number == number)).one()


def test_blank_coordinates_are_geocoded_to_the_building_or_the_community_centre(
    session, write_csv, clock, gazetteer
):
    known = gazetteer.gazetteer
    rows = [
        elder_row(1, address="兰州市城关区酒泉路街道金塔巷社区3号楼2单元", **BLANK),
        elder_row(2, address="兰州市城关区酒泉路街道金塔巷社区88号楼", **BLANK),
        elder_row(3),
    ]

    report = import_file(
        session, "elders", write_csv("e.csv", ELDER_COLUMNS, rows), clock.now(), geocoder=gazetteer
    )

    assert report.ok and report.added == 3
    assert report.geocoded == {"address": 1, "community": 1}
    first, second, third = (elder_by_serial(session, n) for n in (1, 2, 3))
    assert (first.latitude, first.longitude) == known.addresses["金塔巷社区3号楼"]
    assert (second.latitude, second.longitude) == known.communities[("酒泉路街道", "金塔巷社区")]
    assert (third.latitude, third.longitude) == (36.0580, 103.8270)


def test_an_address_that_cannot_be_geocoded_is_named_and_not_placed_anywhere(
    session, write_csv, clock, gazetteer
):
    rows = [elder_row(1), elder_row(2, address="某地", community="无名社区", **BLANK)]

    report = import_file(
        session, "elders", write_csv("e.csv", ELDER_COLUMNS, rows), clock.now(), geocoder=gazetteer
    )

    assert [(e.row, e.column) for e in report.errors] == [(3, "address")]
    assert "cannot be geocoded" in report.errors[0].reason
    assert count(session) == 0


def test_without_a_geocoder_blank_coordinates_are_named(session, write_csv, clock):
    path = write_csv("e.csv", ELDER_COLUMNS, [elder_row(1, **BLANK)])

    report = import_file(session, "elders", path, clock.now())

    assert [(e.row, e.column) for e in report.errors] == [(2, "latitude")]
    assert "no geocoder" in report.errors[0].reason


def test_skipping_bad_rows_imports_the_good_ones_and_still_names_the_bad(
    session, write_csv, clock, gazetteer
):
    rows = [
        elder_row(1),
        elder_row(2, phone="12345"),
        elder_row(3, address="某地", community="无名社区", **BLANK),
        elder_row(4, **BLANK),
    ]

    report = import_file(
        session, "elders", write_csv("e.csv", ELDER_COLUMNS, rows), clock.now(),
        geocoder=gazetteer, skip_bad_rows=True,
    )  # fmt: skip

    assert [(e.row, e.column) for e in report.errors] == [(3, "phone"), (4, "address")]
    assert (report.added, report.refused) == (2, 2)
    assert {e.id_number[-4:-1] for e in session.scalars(select(Elder))} == {"001", "004"}


def test_a_remote_geocoders_answers_are_cached_and_it_is_not_asked_twice(session, write_csv, clock):
    fake = FakeGeocoder({"城关区某路1号": (36.06, 103.83), "城关区某路2号": (36.07, 103.84)})
    rows = [
        elder_row(1, address="城关区某路1号", **BLANK),
        elder_row(2, address="城关区某路2号", **BLANK),
    ]
    path = write_csv("e.csv", ELDER_COLUMNS, rows)
    first = import_file(
        session, "elders", path, clock.now(), geocoder=CachedGeocoder(session, fake, clock.now())
    )
    session.commit()
    clear_enrollment(session)

    again = import_file(
        session, "elders", path, clock.now(), geocoder=CachedGeocoder(session, fake, clock.now())
    )

    assert (first.asked_geocoder, again.asked_geocoder, len(fake.queries)) == (2, 0, 2)
    assert again.ok and again.added == 2 and again.geocoded == {"fake": 2}
    entries = session.scalars(select(GeocodeCacheEntry).order_by(GeocodeCacheEntry.id)).all()
    assert [(e.geocoder, e.latitude, e.longitude) for e in entries] == [
        ("fake", 36.06, 103.83), ("fake", 36.07, 103.84),
    ]  # fmt: skip
    assert (elder_by_serial(session, 2).latitude, elder_by_serial(session, 2).longitude) == (
        36.07, 103.84,
    )  # fmt: skip


def test_a_refused_file_keeps_what_the_service_answered_but_a_dry_run_keeps_nothing(
    session, write_csv, clock
):
    fake = FakeGeocoder({"城关区某路1号": (36.06, 103.83)})
    rows = [elder_row(1, address="城关区某路1号", **BLANK), elder_row(2, phone="12345")]
    path = write_csv("e.csv", ELDER_COLUMNS, rows)

    dry = import_file(
        session, "elders", path, clock.now(), dry_run=True,
        geocoder=CachedGeocoder(session, fake, clock.now()),
    )  # fmt: skip
    assert count(session, GeocodeCacheEntry) == 0
    refused = import_file(
        session, "elders", path, clock.now(), geocoder=CachedGeocoder(session, fake, clock.now())
    )

    assert not dry.ok and not refused.ok
    assert count(session) == 0
    assert count(session, GeocodeCacheEntry) == 1


def test_a_failing_service_is_reported_per_row_and_nothing_is_written(session, write_csv, clock):
    fake = FakeGeocoder(fail=True)
    path = write_csv("e.csv", ELDER_COLUMNS, [elder_row(1, **BLANK)])

    report = import_file(
        session, "elders", path, clock.now(), geocoder=CachedGeocoder(session, fake, clock.now())
    )

    assert [(e.row, e.column) for e in report.errors] == [(2, "address")]
    assert "the geocoder failed: fake: 503" in report.errors[0].reason
    assert count(session) == 0 and count(session, GeocodeCacheEntry) == 0


def test_blank_coordinates_keep_the_stored_ones_while_the_address_stays_the_same(
    session, write_csv, clock
):
    import_file(session, "elders", write_csv("a.csv", ELDER_COLUMNS, [elder_row(1)]), clock.now())
    fake = FakeGeocoder({"城关区新址1号": (36.07, 103.85)})
    same = write_csv("b.csv", ELDER_COLUMNS, [elder_row(1, **BLANK)])
    moved = write_csv("c.csv", ELDER_COLUMNS, [elder_row(1, address="城关区新址1号", **BLANK)])

    unchanged = import_file(session, "elders", same, clock.now(), geocoder=fake)
    asked = len(fake.queries)
    updated = import_file(session, "elders", moved, clock.now(), geocoder=fake)

    assert (unchanged.unchanged, asked) == (1, 0)
    assert updated.updated == 1 and len(fake.queries) == 1
    elder = elder_by_serial(session, 1)
    assert (elder.address, elder.latitude, elder.longitude) == ("城关区新址1号", 36.07, 103.85)


def test_a_changed_row_is_audited_with_old_and_new_values_and_a_masked_id(
    session, write_csv, clock
):
    import_file(
        session,
        "elders",
        write_csv("a.csv", ELDER_COLUMNS, [elder_row(1), elder_row(2)]),
        clock.now(),
    )
    changed = elder_row(1, name="王秀兰", phone="13912349999", disability_level="中度失能")
    path = write_csv("b.csv", ELDER_COLUMNS, [changed, elder_row(2)])

    report = import_file(session, "elders", path, clock.now())

    assert (report.updated, report.unchanged) == (1, 1)
    entry = session.scalars(select(AuditEntry)).one()
    number = id_number(date(1941, 3, 5), 1)
    assert (entry.actor, entry.entity, entry.action) == ("import:b.csv", "elder", "update")
    assert entry.entity_key == number[:6] + "********" + number[-4:]
    assert entry.changes["name"] == ["王秀英", "王秀兰"]
    assert entry.changes["disability_level"] == ["能力完好", "中度失能"]
    assert entry.changes["phones"][0][0] == "+8613912340001"
    assert entry.changes["phones"][1][0] == "+8613912349999"
    assert set(entry.changes) == {"name", "disability_level", "phones"}
    assert number not in json.dumps(entry.changes) + entry.entity_key
    assert entry.created_at == clock.now()


def test_reimporting_an_unchanged_file_writes_no_audit_entries(session, write_csv, clock):
    path = write_csv("a.csv", ELDER_COLUMNS, [elder_row(1)])
    import_file(session, "elders", path, clock.now())

    import_file(session, "elders", path, clock.now())

    assert count(session, AuditEntry) == 0


def test_a_changed_provider_and_price_are_audited(session, write_csv, clock):
    import_file(
        session, "providers", write_csv("p.csv", PROVIDER_COLUMNS, [provider_row()]), clock.now()
    )
    import_file(
        session, "offerings", write_csv("o.csv", OFFERING_COLUMNS, [offering_row()]), clock.now()
    )

    import_file(
        session, "providers",
        write_csv("p2.csv", PROVIDER_COLUMNS, [provider_row(hours="07:30-18:00")]), clock.now(),
    )  # fmt: skip
    import_file(
        session, "offerings",
        write_csv("o2.csv", OFFERING_COLUMNS, [offering_row(price_yuan="40")]), clock.now(),
    )  # fmt: skip

    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.actor, e.entity, e.entity_key, e.changes) for e in entries] == [
        ("import:p2.csv", "provider", "P001", {"opens_at": ["08:00", "07:30"]}),
        ("import:o2.csv", "offering", "P001/HK01", {"price_yuan": ["45.00", "40.00"]}),
    ]


def test_a_phone_of_another_elder_is_a_family_number_and_fine(
    session, write_csv, clock, make_elder
):
    make_elder(phone="+8613912340001", birth_date=date(1950, 1, 1))

    report = import_file(
        session, "elders", write_csv("e.csv", ELDER_COLUMNS, [elder_row(1)]), clock.now()
    )

    assert report.ok and report.added == 1


def test_a_providers_dispatch_phone_must_be_its_own(session, write_csv, clock, make_provider):
    make_provider(code="P900", dispatch_phone="+8613800000001")
    rows = [
        provider_row("P001"),
        provider_row("P002", dispatch_phone="13800000003"),
        provider_row("P003"),
    ]

    report = import_file(
        session, "providers", write_csv("p.csv", PROVIDER_COLUMNS, rows), clock.now()
    )

    assert [(e.row, e.column) for e in report.errors] == [
        (2, "dispatch_phone"),
        (4, "dispatch_phone"),
    ]
    assert report.errors[0].reason == "already the dispatch phone of provider P900"
    assert "duplicate dispatch_phone: rows 3 and 4" in report.errors[1].reason
    assert count(session, Provider) == 1


def test_a_provider_without_coordinates_is_placed_by_the_community_its_address_names(
    session, write_csv, clock, gazetteer
):
    row = provider_row(address="兰州市城关区张掖路街道庆安里社区18号", **BLANK)

    report = import_file(
        session, "providers", write_csv("p.csv", PROVIDER_COLUMNS, [row]), clock.now(),
        geocoder=gazetteer,
    )  # fmt: skip

    assert report.ok and report.geocoded == {"community": 1}
    provider = session.scalars(select(Provider)).one()
    assert (provider.latitude, provider.longitude) == gazetteer.gazetteer.communities[
        ("张掖路街道", "庆安里社区")
    ]


def test_import_geocode_export_import_round_trip_changes_nothing(
    session, tmp_path, clock, gazetteer
):
    build_demo_district(session, seed=11, elders=40, providers=4, now=clock.now())
    write_demo_csvs(session, tmp_path / "first")
    clear_enrollment(session)
    elders = (tmp_path / "first" / "elders.csv").read_text(encoding="utf-8-sig").splitlines()
    # Blank every other elder's coordinates: the bureau's file has addresses only.
    blanked = [elders[0]] + [
        ",".join(_blank_coordinates(line.split(","))) if n % 2 else line
        for n, line in enumerate(elders[1:])
    ]
    (tmp_path / "first" / "elders.csv").write_text("\n".join(blanked) + "\n", encoding="gb18030")
    for kind in ("elders", "providers", "offerings"):
        report = import_file(
            session, kind, tmp_path / "first" / f"{kind}.csv", clock.now(), geocoder=gazetteer
        )
        assert report.ok, report.errors[:3]
    session.commit()
    before = snapshot(session)

    write_demo_csvs(session, tmp_path / "second")
    again = [
        import_file(
            session, kind, tmp_path / "second" / f"{kind}.csv", clock.now(), geocoder=gazetteer
        )
        for kind in ("elders", "providers", "offerings")
    ]

    assert all(r.ok for r in again)
    assert [(r.added, r.updated) for r in again] == [(0, 0), (0, 0), (0, 0)]
    assert [r.unchanged for r in again] == [40, 4, count(session, Offering)]
    # Nothing was changed, so nothing was audited (the one entry is the demo district's own mark).
    assert session.scalars(select(AuditEntry.entity)).all() == ["demo"]
    session.expire_all()
    assert snapshot(session) == before


def _blank_coordinates(cells: list[str]) -> list[str]:
    at = ELDER_COLUMNS.index("latitude")
    return cells[:at] + ["", ""] + cells[at + 2 :]
