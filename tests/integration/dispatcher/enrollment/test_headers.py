"""Files as a street office keeps them: generous header names, only the needed columns."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from dispatcher.cli import main
from dispatcher.enrollment.geocoding import Gazetteer, GazetteerGeocoder
from dispatcher.enrollment.importer import ImportFileError, import_file
from dispatcher.models import Elder

from .test_importer import elder_row

# How a street office writes its roll: its own names, a 序号 column, no 其他电话, no
# coordinates, no gender or birth date (the ID number holds both).
STREET_OFFICE_HEADER = ["序号", "姓名", "公民身份号码", "手机号码", "家庭住址", "所属街道", "所属社区",
                        "人员类别", "失能程度", "是否独居", "紧急联系人", "紧急联系人电话"]


def street_office_row(serial: int, **overrides: str) -> list[str]:
    row = elder_row(serial, **overrides)
    return [str(serial), row["name"], row["id_number"], row["phone"], row["address"],
            row["street"], row["community"], row["elder_class"], row["disability_level"],
            "是", row["emergency_contact_name"], row["emergency_contact_phone"]]


@pytest.fixture
def write_rows(tmp_path):
    def write(name, header, rows, *, encoding="gb18030"):
        path = tmp_path / name
        with path.open("w", encoding=encoding, newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["酒泉路街道居家养老服务对象花名册"])
            writer.writerow(header)
            writer.writerows(rows)
        return path

    return write


def test_a_street_office_gb18030_file_imports_and_names_its_one_bad_row(session, write_rows, clock):
    rows = [street_office_row(1), street_office_row(2, phone="139123"), street_office_row(3)]
    path = write_rows("花名册.csv", STREET_OFFICE_HEADER, rows)

    report = import_file(session, "elders", path, clock.now(), skip_bad_rows=True,
                         geocoder=GazetteerGeocoder(Gazetteer.from_file()))

    assert report.source == "CSV, GB18030" and report.header_row == 2
    assert [(e.row, e.column) for e in report.errors] == [(4, "phone")]
    assert report.added == 2
    elder = session.scalars(select(Elder).order_by(Elder.id)).first()
    assert (elder.gender, elder.birth_date.isoformat()) == ("M", "1941-03-05")
    assert [c.phone for c in elder.emergency_contacts] == ["+8615800000001"]
    assert elder.is_living_alone and elder.street == "酒泉路街道"
    assert report.header_notes == ["column '序号' is not read"]


def test_a_file_with_only_the_needed_columns_imports(session, write_rows, clock):
    row = elder_row(1)
    header = ["身份证", "老人姓名", "联系电话", "住址", "老人类别"]
    path = write_rows("min.csv", header, [[row["id_number"], "王秀英", row["phone"], row["address"], "特困"]])

    report = import_file(session, "elders", path, clock.now(),
                         geocoder=GazetteerGeocoder(Gazetteer.from_file()))

    assert report.ok, report.errors
    elder = session.scalar(select(Elder))
    assert (elder.disability_level, elder.is_living_alone, elder.street) == ("能力完好", False, "")


def test_coordinates_stand_in_for_an_address(session, write_rows, clock):
    row = elder_row(1)
    header = ["ID Number", "Name", "Mobile", "lat", "lng", "Class"]
    path = write_rows("coords.csv", header, [[row["id_number"], "王秀英", row["phone"], "36.05", "103.82", "特困"]],
                      encoding="utf-8")

    report = import_file(session, "elders", path, clock.now())

    assert report.ok, report.errors
    assert session.scalar(select(Elder.latitude)) == pytest.approx(36.05)


def test_a_file_without_an_address_or_coordinates_is_refused(write_rows, session, clock):
    path = write_rows("no-place.csv", ["身份证号", "姓名", "电话", "老人类别"], [])

    with pytest.raises(ImportFileError, match=r"missing required columns: address or latitude\+longitude"):
        import_file(session, "elders", path, clock.now())


def test_a_misspelt_header_is_named_with_the_closest_known_one(write_rows, session, clock):
    header = ["身份证号", "姓名", "手机号吗", "住址", "老人类别"]
    path = write_rows("typo.csv", header, [])

    with pytest.raises(ImportFileError, match="missing required columns: phone.*'手机号吗' is not read: "
                                              "did you mean 手机号码?"):
        import_file(session, "elders", path, clock.now())


def test_two_columns_for_one_field_make_the_file_ambiguous(write_rows, session, clock):
    header = ["身份证号", "姓名", "手机", "联系电话", "住址", "老人类别"]
    path = write_rows("two.csv", header, [])

    with pytest.raises(ImportFileError, match=r"duplicate columns.*phone \(手机, 联系电话\).*ambiguous"):
        import_file(session, "elders", path, clock.now())


def test_an_update_from_a_narrow_file_keeps_what_the_file_does_not_say(session, write_rows, clock):
    full = elder_row(1)
    import_file(session, "elders", write_rows("full.csv", list(full), [list(full.values())], encoding="utf-8"),
                clock.now())
    path = write_rows("narrow.csv", ["身份证号", "姓名", "电话", "地址", "老人类别"],
                      [[full["id_number"], "王秀英", full["phone"], full["address"], "低保"]])

    report = import_file(session, "elders", path, clock.now())

    assert report.ok and report.updated == 1, report.errors
    elder = session.scalar(select(Elder))
    assert (elder.elder_class, elder.community, elder.is_living_alone) == ("低保", "金塔巷社区", True)
    assert len(elder.phones) == 3 and len(elder.emergency_contacts) == 1


@pytest.fixture
def vnh(database_url, app):
    def run(*args):
        env = {"VNH_DATABASE_URL": database_url, "VNH_TELEPHONY": "local", "TWILIO_ACCOUNT_SID": "",
               "TWILIO_AUTH_TOKEN": "", "VNH_GEOCODER": "", "VNH_DEFAULT_AREA_CODE": ""}
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return run


def test_vnh_import_names_the_bad_row_and_the_column_it_did_not_read(vnh, write_rows, tmp_path):
    header = [*STREET_OFFICE_HEADER[:-1], "紧急联络电话"]
    rows = [street_office_row(1), street_office_row(2, phone="139123")]
    path = write_rows("花名册.csv", header, rows)

    result = vnh("import", "elders", str(path), "--skip-bad-rows")

    assert "column '紧急联络电话' is not read: did you mean 紧急联系电话?" in result.output
    assert "row 4, phone:" in result.output
