"""`vnh import assessments` and `vnh import elders` from the command line: rows refused with
their reasons, nothing half-written, the enrollment level as the first assessment."""

from __future__ import annotations

import csv
from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from dispatcher.assessments.models import Assessment
from dispatcher.cli import main
from dispatcher.enrollment.rows import ELDER_COLUMNS
from dispatcher.models import Elder

from ..enrollment.test_importer import elder_row, id_number

HEADER = ["身份证号", "评估日期", "评估等级", "评估得分", "评估人", "评估机构", "有效期至"]


@pytest.fixture
def vnh(database_url, app):
    def run(*args):
        environment = {
            "VNH_DATABASE_URL": database_url, "VNH_TELEPHONY": "local", "TWILIO_ACCOUNT_SID": "",
            "TWILIO_AUTH_TOKEN": "", "VNH_GEOCODER": "", "VNH_DEFAULT_AREA_CODE": "",
            "VNH_CLOCK_START": "2026-11-25T01:00:00+00:00", "VNH_CLOCK_SPEED": "0.000001",
        }
        return CliRunner().invoke(main, list(args), env=environment, catch_exceptions=False)
    return run


def write(path, header, rows):
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def test_a_good_file_of_assessments_is_added_to_the_elders_history(vnh, tmp_path, session,
                                                                     make_elder):
    elder = make_elder(birth_date=date(1941, 3, 5), disability_level="能力完好")
    path = write(tmp_path / "a.csv", HEADER, [
        [elder.id_number, "2026-10-08", "重度失能", "38", "张评估", "城关区评估中心", ""],
        [elder.id_number, "2025/10/08", "中度失能", "", "李评估", "", "2026-10-07"],
    ])
    result = vnh("import", "assessments", str(path))
    assert result.exit_code == 0, result.output
    assert "assessments: added 2" in result.output
    rows = session.scalars(select(Assessment).order_by(Assessment.assessed_on)).all()
    assert [(a.level, a.score, a.valid_until) for a in rows] == [
        ("中度失能", None, date(2026, 10, 7)), ("重度失能", 38, date(2027, 10, 7))]
    assert rows[1].source == "import" and rows[1].recorded_by == "import:a.csv"
    session.rollback()  # end the read, so the command may write on SQLite
    assert vnh("import", "assessments", str(path)).output.count("unchanged 2") == 1


def test_bad_assessment_rows_are_refused_with_reasons_and_nothing_is_imported(
        vnh, tmp_path, session, make_elder):
    elder = make_elder()
    unknown = id_number(date(1950, 1, 1), 77)
    path = write(tmp_path / "a.csv", HEADER, [
        [elder.id_number, "2026-10-08", "重度失能", "38", "张评估", "", ""],
        [elder.id_number, "2026-10-09", "半失能", "", "张评估", "", ""],
        [elder.id_number, "2027-01-01", "重度失能", "", "张评估", "", ""],
        [elder.id_number, "2026-10-10", "重度失能", "", "", "", ""],
        [unknown, "2026-10-10", "重度失能", "", "张评估", "", ""],
    ])
    result = vnh("import", "assessments", str(path))
    assert result.exit_code == 1
    assert "row 3, level: '半失能' is not a level of GB/T 42195 (the national standard)" in result.output
    assert "row 4, assessed_on: 2027-01-01 is in the future" in result.output
    assert "row 5, assessor: is required" in result.output
    assert "row 6, id_number: no enrolled elder has this ID number" in result.output
    assert count(session, Assessment) == 0
    with (tmp_path / "a.csv.errors.csv").open(encoding="utf-8-sig") as f:
        assert [r["row"] for r in csv.DictReader(f)] == ["3", "4", "5", "6"]


def test_skipping_bad_rows_imports_the_good_assessments(vnh, tmp_path, session, make_elder):
    elder = make_elder()
    path = write(tmp_path / "a.csv", HEADER, [
        [elder.id_number, "2026-10-08", "重度失能", "38", "张评估", "", ""],
        [elder.id_number, "2026-10-09", "半失能", "", "张评估", "", ""],
    ])
    result = vnh("import", "assessments", str(path), "--skip-bad-rows")
    assert result.exit_code == 0
    assert count(session, Assessment) == 1


def elders_file(path, rows):
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*ELDER_COLUMNS, "insured"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_an_elder_imported_as_高龄_under_80_is_refused_with_the_row_named(vnh, tmp_path, session):
    young = date(1961, 5, 1)
    path = elders_file(tmp_path / "elders.csv", [
        elder_row(1, elder_class="高龄") | {"insured": ""},
        elder_row(2, elder_class="高龄", birth_date=young.isoformat(),
                  id_number=id_number(young, 2)) | {"insured": ""},
    ])
    result = vnh("import", "elders", str(path))
    assert result.exit_code == 1
    assert ("row 3, elder_class: 高龄 is for elders aged 80 and over: born 1961-05-01, "
            "65 on 2026-11-25") in result.output
    assert count(session, Elder) == 0


def test_imported_elders_get_their_level_as_a_first_assessment_and_their_insurance(
        vnh, tmp_path, session):
    path = elders_file(tmp_path / "elders.csv", [
        elder_row(1, disability_level="重度失能") | {"insured": "是"},
        elder_row(2) | {"insured": ""},
    ])
    result = vnh("import", "elders", str(path))
    assert result.exit_code == 0, result.output
    elders = {e.id_number: e for e in session.scalars(select(Elder))}
    first = elders[elder_row(1)["id_number"]]
    assert first.is_insured is True and elders[elder_row(2)["id_number"]].is_insured is False
    levels = dict(session.execute(select(Assessment.elder_id, Assessment.level)).all())
    assert levels[first.id] == "重度失能"
    assert len(levels) == 2
