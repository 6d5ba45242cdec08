"""Importing enrollment CSV files: elders, providers, offerings."""

from __future__ import annotations

import csv
from datetime import date, time

import pytest
from sqlalchemy import func, select

from dispatcher.enrollment.identity import check_digit
from dispatcher.enrollment.importer import ImportFileError, RowError, import_file
from dispatcher.enrollment.rows import ELDER_COLUMNS, OFFERING_COLUMNS, PROVIDER_COLUMNS
from dispatcher.models import Elder, Item
from providers.models import Offering, Provider


def id_number(birth: date, serial: int) -> str:
    first17 = f"620102{birth:%Y%m%d}{serial:03d}"
    return first17 + check_digit(first17)


def elder_row(serial: int = 1, **overrides: str) -> dict[str, str]:
    birth = date(1941, 3, 5)
    row = {
        "id_number": id_number(birth, serial),
        "name": "王秀英",
        "gender": "女",
        "birth_date": birth.isoformat(),
        "phone": f"139 1234 {serial:04d}",
        "other_phones": f"0931-812{serial:04d}; +86 186 0000 {serial:04d}",
        "address": "城关区酒泉路街道金塔巷社区3号楼2单元",
        "street": "酒泉路街道",
        "community": "金塔巷社区",
        "latitude": "36.0580",
        "longitude": "103.8270",
        "elder_class": "特困",
        "disability_level": "能力完好",
        "lives_alone": "是",
        "emergency_contact_name": "李伟",
        "emergency_contact_phone": f"15800{serial:06d}",
    }
    row.update(overrides)
    return row


def provider_row(code: str = "P001", **overrides: str) -> dict[str, str]:
    row = {
        "code": code,
        "name": "兰州安康家政服务有限公司",
        "license_no": "91620102MA00000001",
        "dispatch_phone": f"138000{int(code[1:]):05d}",
        "address": "城关区张掖路1号",
        "latitude": "36.0600",
        "longitude": "103.8300",
        "service_radius_km": "5.5",
        "capacity_per_day": "10",
        "hours": "08:00-18:00",
    }
    row.update(overrides)
    return row


def offering_row(item_code: str = "HK01", price_yuan: str = "45.00", **overrides: str) -> dict:
    return {"provider_code": "P001", "item_code": item_code, "price_yuan": price_yuan, **overrides}


@pytest.fixture
def write_csv(tmp_path):
    """Write rows under a header as a CSV file; return its path."""

    def write(name, columns, rows, *, encoding="utf-8"):
        path = tmp_path / name
        with path.open("w", encoding=encoding, newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(columns))
            writer.writeheader()
            writer.writerows(rows)
        return path

    return write


@pytest.fixture
def provider_p001(session, write_csv, clock):
    path = write_csv("providers.csv", PROVIDER_COLUMNS, [provider_row()])
    assert import_file(session, "providers", path, clock.now()).ok


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_good_elders_file_adds_every_elder_with_e164_phones(session, write_csv, clock):
    path = write_csv("elders.csv", ELDER_COLUMNS, [elder_row(1), elder_row(2, gender="M")])

    report = import_file(session, "elders", path, clock.now())

    assert report.ok and (report.added, report.updated, report.unchanged) == (2, 0, 0)
    elder = session.scalars(
        select(Elder).where(Elder.id_number == id_number(date(1941, 3, 5), 1))
    ).one()
    assert (elder.gender, elder.is_living_alone, elder.created_at) == ("F", True, clock.now())
    assert {(p.phone, p.is_primary) for p in elder.phones} == {
        ("+8613912340001", True),
        ("+869318120001", False),
        ("+8618600000001", False),
    }
    assert [(c.name, c.phone) for c in elder.emergency_contacts] == [("李伟", "+8615800000001")]


def test_reimporting_the_same_file_changes_nothing(session, write_csv, clock):
    path = write_csv("elders.csv", ELDER_COLUMNS, [elder_row(1), elder_row(2)])
    import_file(session, "elders", path, clock.now())

    report = import_file(session, "elders", path, clock.now())

    assert (report.added, report.updated, report.unchanged) == (0, 0, 2)


def test_a_changed_row_updates_the_elder_and_replaces_its_phones_and_contacts(
    session, write_csv, clock
):
    first = write_csv("a.csv", ELDER_COLUMNS, [elder_row(1), elder_row(2)])
    import_file(session, "elders", first, clock.now())
    changed = {
        "name": "王秀兰",
        "other_phones": "0931-8120001",
        "emergency_contact_name": "",
        "emergency_contact_phone": "",
        "disability_level": "中度失能",
        "lives_alone": "false",
    }
    second = write_csv("b.csv", ELDER_COLUMNS, [elder_row(1, **changed), elder_row(2)])

    report = import_file(session, "elders", second, clock.now())

    assert (report.added, report.updated, report.unchanged) == (0, 1, 1)
    elder = session.scalars(select(Elder).where(Elder.name == "王秀兰")).one()
    assert (elder.disability_level, elder.is_living_alone) == ("中度失能", False)
    assert {p.phone for p in elder.phones} == {"+8613912340001", "+869318120001"}
    assert elder.emergency_contacts == []


def test_a_dry_run_counts_but_adds_nothing(session, write_csv, clock):
    path = write_csv("elders.csv", ELDER_COLUMNS, [elder_row(1)])

    report = import_file(session, "elders", path, clock.now(), dry_run=True)

    assert report.ok and report.added == 1
    assert count(session, Elder) == 0


@pytest.mark.parametrize(
    ("overrides", "column", "reason_part"),
    [
        ({"id_number": id_number(date(1941, 3, 5), 2)[:17] + "0"}, "id_number", "checksum"),
        ({"birth_date": "1941-03-06"}, "birth_date", "1941-03-05"),
        ({"birth_date": "5/3/1941"}, "birth_date", "date"),
        ({"phone": "12345"}, "phone", "phone"),
        ({"other_phones": "13912340002;not a number"}, "other_phones", "phone"),
        ({"elder_class": "五保"}, "elder_class", "五保"),
        ({"disability_level": "半失能"}, "disability_level", "半失能"),
        ({"latitude": "1.35"}, "latitude", "outside China"),
        ({"longitude": "-103.8"}, "longitude", "outside China"),
        ({"latitude": ""}, "latitude", "both"),
        ({"longitude": "東經"}, "longitude", "not a number"),
        ({"gender": "X"}, "gender", "X"),
        ({"lives_alone": "maybe"}, "lives_alone", "maybe"),
        ({"name": "  "}, "name", "required"),
        ({"emergency_contact_phone": ""}, "emergency_contact_phone", "both"),
    ],
)
def test_a_bad_elder_row_is_named_with_its_row_and_column_and_nothing_is_written(
    session, write_csv, clock, overrides, column, reason_part
):
    path = write_csv("elders.csv", ELDER_COLUMNS, [elder_row(1), elder_row(2, **overrides)])

    report = import_file(session, "elders", path, clock.now())

    assert not report.ok
    assert [(e.row, e.column) for e in report.errors] == [(3, column)]
    assert reason_part in report.errors[0].reason
    assert (report.added, report.updated, report.unchanged) == (0, 0, 0)
    assert count(session, Elder) == 0


def test_every_bad_row_and_column_is_reported_not_just_the_first(session, write_csv, clock):
    rows = [
        elder_row(1, phone="12345", elder_class="五保"),
        elder_row(2),
        elder_row(3, latitude="99"),
    ]
    path = write_csv("elders.csv", ELDER_COLUMNS, rows)

    report = import_file(session, "elders", path, clock.now())

    assert [(e.row, e.column) for e in report.errors] == [
        (2, "phone"),
        (2, "elder_class"),
        (4, "latitude"),
    ]


def test_a_duplicate_id_number_in_the_file_names_both_rows(session, write_csv, clock):
    duplicate = elder_row(1, phone="13912349999")
    path = write_csv("elders.csv", ELDER_COLUMNS, [elder_row(1), elder_row(2), duplicate])

    report = import_file(session, "elders", path, clock.now())

    assert report.errors == [RowError(4, "id_number", "duplicate id_number: rows 2 and 4")]
    assert count(session, Elder) == 0


def test_a_file_with_a_bom_imports(session, write_csv, clock):
    path = write_csv("elders.csv", ELDER_COLUMNS, [elder_row(1)], encoding="utf-8-sig")

    report = import_file(session, "elders", path, clock.now())

    assert report.ok and report.added == 1


def test_extra_columns_and_spaces_around_values_are_ignored(session, write_csv, clock):
    row = {k: f"  {v} " for k, v in elder_row(1).items()} | {"备注": "家属同意"}
    path = write_csv("elders.csv", [*ELDER_COLUMNS, "备注"], [row])

    report = import_file(session, "elders", path, clock.now())

    assert report.ok
    assert session.scalars(select(Elder)).one().name == "王秀英"


def test_a_missing_required_column_is_named(session, write_csv, clock):
    columns = [c for c in ELDER_COLUMNS if c not in ("name", "elder_class")]
    rows = [{c: v for c, v in elder_row(1).items() if c in columns}]
    path = write_csv("elders.csv", columns, rows)

    with pytest.raises(ImportFileError, match="missing required columns: name, elder_class"):
        import_file(session, "elders", path, clock.now())


def test_an_empty_file_a_duplicate_header_and_an_unknown_kind_are_refused(session, tmp_path, clock):
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    doubled = tmp_path / "doubled.csv"
    doubled.write_text("provider_code,item_code,price_yuan,item_code\nP001,HK01,45.00,HK02\n")

    with pytest.raises(ImportFileError, match="empty"):
        import_file(session, "elders", empty, clock.now())
    with pytest.raises(ImportFileError, match="duplicate columns.*item_code"):
        import_file(session, "offerings", doubled, clock.now())
    with pytest.raises(ImportFileError, match="unknown kind"):
        import_file(session, "workers", doubled, clock.now())


def test_good_providers_file_adds_active_providers_with_radius_and_hours(session, write_csv, clock):
    rows = [provider_row(), provider_row("P002", hours="07:00-20:00", service_radius_km="3")]

    report = import_file(
        session, "providers", write_csv("p.csv", PROVIDER_COLUMNS, rows), clock.now()
    )

    assert report.ok and report.added == 2
    provider = session.scalars(select(Provider).where(Provider.code == "P001")).one()
    assert (provider.dispatch_phone, provider.service_radius_m) == ("+8613800000001", 5500)
    assert (provider.opens_at, provider.closes_at) == (time(8, 0), time(18, 0))
    assert (provider.contract_status, provider.quality_score) == ("active", 4.5)


def test_reimporting_providers_changes_nothing_and_a_changed_row_updates(session, write_csv, clock):
    original = write_csv("a.csv", PROVIDER_COLUMNS, [provider_row()])
    bigger = write_csv("b.csv", PROVIDER_COLUMNS, [provider_row(capacity_per_day="20")])
    import_file(session, "providers", original, clock.now())

    same = import_file(session, "providers", original, clock.now())
    changed = import_file(session, "providers", bigger, clock.now())

    assert (same.added, same.updated, same.unchanged) == (0, 0, 1)
    assert (changed.added, changed.updated, changed.unchanged) == (0, 1, 0)
    assert session.scalars(select(Provider)).one().capacity_per_day == 20


@pytest.mark.parametrize(
    ("overrides", "column"),
    [
        ({"hours": "18:00-08:00"}, "hours"),
        ({"hours": "8点到18点"}, "hours"),
        ({"service_radius_km": "0"}, "service_radius_km"),
        ({"service_radius_km": "-2"}, "service_radius_km"),
        ({"capacity_per_day": "-1"}, "capacity_per_day"),
        ({"dispatch_phone": "110"}, "dispatch_phone"),
        ({"latitude": "136.0", "longitude": "36.0"}, "latitude"),
        ({"license_no": ""}, "license_no"),
        ({"code": "P001"}, "code"),
    ],
)
def test_a_bad_provider_row_is_named_and_nothing_is_written(
    session, write_csv, clock, overrides, column
):
    rows = [provider_row(), provider_row(**({"code": "P002"} | overrides))]

    report = import_file(
        session, "providers", write_csv("p.csv", PROVIDER_COLUMNS, rows), clock.now()
    )

    assert (report.errors[0].row, report.errors[0].column) == (3, column)
    assert count(session, Provider) == 0


def test_good_offerings_file_adds_prices_in_fen(session, write_csv, clock, provider_p001):
    rows = [offering_row("HK01", "48.00"), offering_row("HC01", "20.00")]

    report = import_file(
        session, "offerings", write_csv("o.csv", OFFERING_COLUMNS, rows), clock.now()
    )

    assert report.ok and report.added == 2
    prices = session.execute(
        select(Item.code, Offering.price_fen).join(Item, Item.id == Offering.item_id)
    )
    assert sorted(prices) == [("HC01", 2000), ("HK01", 4800)]  # a free item has a price too


def test_a_changed_offering_price_updates(session, write_csv, clock, provider_p001):
    original = write_csv("a.csv", OFFERING_COLUMNS, [offering_row()])
    cheaper = write_csv("b.csv", OFFERING_COLUMNS, [offering_row(price_yuan="40")])
    import_file(session, "offerings", original, clock.now())

    report = import_file(session, "offerings", cheaper, clock.now())

    assert (report.added, report.updated, report.unchanged) == (0, 1, 0)
    assert session.scalars(select(Offering)).one().price_fen == 4000


@pytest.mark.parametrize(
    ("row", "column", "reason_part"),
    [
        (offering_row("HK01", "48.01"), "price_yuan", "at most 48.00"),
        (offering_row("HC01", "0"), "price_yuan", "more than 0"),
        (offering_row("HC01", "24.01"), "price_yuan", "at most 24.00"),
        (offering_row("HK02", "0"), "price_yuan", "more than 0"),
        (offering_row("HK02", "12.345"), "price_yuan", "two decimals"),
        (offering_row("ZZ99"), "item_code", "ZZ99"),
        (offering_row(provider_code="P404"), "provider_code", "P404"),
        (offering_row("HK03", "30.00"), "item_code", "rows 2 and 3"),
    ],
)
def test_a_bad_offering_row_is_named_and_nothing_is_written(
    session, write_csv, clock, provider_p001, row, column, reason_part
):
    rows = [offering_row("HK03", "30.00"), row]

    report = import_file(
        session, "offerings", write_csv("o.csv", OFFERING_COLUMNS, rows), clock.now()
    )

    assert [(e.row, e.column) for e in report.errors] == [(3, column)]
    assert reason_part in report.errors[0].reason
    assert count(session, Offering) == 0


def test_row_numbers_are_file_lines_counting_blank_lines(session, write_csv, clock):
    path = write_csv("elders.csv", ELDER_COLUMNS, [elder_row(1)])
    bad = write_csv("bad.csv", ELDER_COLUMNS, [elder_row(2, phone="12345")])
    path.write_text(path.read_text() + "\n" + bad.read_text().splitlines()[1] + "\n")

    report = import_file(session, "elders", path, clock.now())

    assert [(e.row, e.column) for e in report.errors] == [(4, "phone")]
