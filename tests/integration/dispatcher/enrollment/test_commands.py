"""`vnh import` from the command line: summary, FILE.errors.csv, exit codes, settings."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from dispatcher.cli import main
from dispatcher.enrollment.rows import ELDER_COLUMNS
from dispatcher.models import Elder, ElderPhone

from .test_importer import elder_row


@pytest.fixture
def vnh(database_url, app):
    """Run `vnh …` on the test database with the offline gazetteer; return the result."""

    def run(*args, **env):
        environment = {
            "VNH_DATABASE_URL": database_url, "VNH_TELEPHONY": "local", "TWILIO_ACCOUNT_SID": "",
            "TWILIO_AUTH_TOKEN": "", "VNH_GEOCODER": "", "VNH_DEFAULT_AREA_CODE": "",
        } | env  # fmt: skip
        return CliRunner().invoke(main, list(args), env=environment, catch_exceptions=False)

    return run


@pytest.fixture
def elders_file(tmp_path):
    def write(rows, name="elders.csv"):
        path = tmp_path / name
        with path.open("w", encoding="gb18030", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(ELDER_COLUMNS))
            writer.writeheader()
            writer.writerows(rows)
        return path

    return write


def elders(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Elder))


def test_a_good_file_is_imported_and_summarised(vnh, elders_file, session):
    path = elders_file([elder_row(1), elder_row(2, latitude="", longitude="")])

    result = vnh("import", "elders", str(path))

    assert result.exit_code == 0, result.output
    assert "elders.csv (CSV, GB18030, header on row 1): 2 rows" in result.output
    assert "geocoded 1 addresses (gazetteer): 1 to a known address" in result.output
    assert "elders: added 2, updated 0, unchanged 0, refused 0 rows" in result.output
    assert elders(session) == 2


def test_bad_rows_are_listed_beside_the_file_and_nothing_is_imported(vnh, elders_file, session):
    rows = [elder_row(1), elder_row(2, phone="12345"), elder_row(3, gender="X", elder_class="五保")]
    path = elders_file(rows)

    result = vnh("import", "elders", str(path))

    assert result.exit_code == 1
    assert "row 3, phone: not a valid phone number" in result.output
    assert "2 bad rows: nothing was imported" in result.output
    with (path.parent / "elders.csv.errors.csv").open(encoding="utf-8-sig") as f:
        listed = list(csv.DictReader(f))
    assert [(r["row"], r["column"]) for r in listed] == [
        ("3", "phone"), ("4", "gender"), ("4", "elder_class"),
    ]  # fmt: skip
    assert elders(session) == 0


def test_skipping_bad_rows_imports_the_rest_and_exits_zero(vnh, elders_file, session):
    path = elders_file([elder_row(1), elder_row(2, phone="12345")])

    result = vnh("import", "elders", str(path), "--skip-bad-rows")

    assert result.exit_code == 0
    assert "added 1, updated 0, unchanged 0, refused 1 rows" in result.output
    assert elders(session) == 1


def test_a_dry_run_reports_and_writes_nothing(vnh, elders_file, session):
    result = vnh("import", "elders", str(elders_file([elder_row(1)])), "--dry-run")

    assert result.exit_code == 0
    assert "would add 1" in result.output
    assert elders(session) == 0


def test_a_file_that_cannot_be_read_is_named_and_listed(vnh, tmp_path, session):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")

    result = vnh("import", "elders", str(path))

    assert result.exit_code == 1
    assert "the file is empty; nothing was imported" in result.output
    assert "the file is empty" in (tmp_path / "empty.csv.errors.csv").read_text(
        encoding="utf-8-sig"
    )


def test_a_stale_errors_file_is_removed_once_the_file_imports(vnh, elders_file):
    bad = elders_file([elder_row(1, phone="12345")])
    vnh("import", "elders", str(bad))
    good = elders_file([elder_row(1)])

    result = vnh("import", "elders", str(good))

    assert result.exit_code == 0
    assert not (good.parent / "elders.csv.errors.csv").exists()


def test_the_default_area_code_comes_from_the_environment(vnh, elders_file, session):
    path = elders_file([elder_row(1, phone="65230001", other_phones="")])

    result = vnh("import", "elders", str(path), VNH_DEFAULT_AREA_CODE="0512")

    assert result.exit_code == 0, result.output
    assert session.scalar(select(ElderPhone.phone).where(ElderPhone.is_primary)) == "+8651265230001"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VNH_DEFAULT_AREA_CODE": "931x"}, "VNH_DEFAULT_AREA_CODE must be an area code"),
        ({"VNH_GEOCODER": "baidu"}, "geocoder: VNH_GEOCODER=baidu needs VNH_GEOCODER_KEY"),
    ],
)
def test_bad_settings_are_named_before_anything_is_read(vnh, elders_file, env, message):
    result = vnh("import", "elders", str(elders_file([elder_row(1)])), **env)

    assert result.exit_code == 1
    assert message in result.output


def errors_listed(path) -> list[dict]:
    with (path.parent / (path.name + ".errors.csv")).open(encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def test_the_errors_file_names_rows_and_reasons_with_phone_and_id_numbers_masked(
    vnh, elders_file
):
    rows = [
        elder_row(1),
        elder_row(2, other_phones="139 1234 0002"),  # the primary phone again
        elder_row(3, id_number="620102194103050033.0", phone="1391234000"),
    ]
    path = elders_file(rows)

    result = vnh("import", "elders", str(path))

    assert result.exit_code == 1
    listed = errors_listed(path)
    reasons = " ".join(r["reason"] for r in listed)
    assert [(r["row"], r["column"]) for r in listed] == [
        ("3", "other_phones"), ("4", "id_number"), ("4", "phone"),
    ]  # fmt: skip
    assert "+86139****0002 is already the primary phone" in reasons
    assert "620102********0033.0 is how a spreadsheet writes a long number" in reasons
    assert "'139***4000'" in reasons
    for number in ("13912340002", "620102194103050033", "1391234000"):
        assert number not in reasons and number not in result.output


def test_every_bad_row_is_streamed_to_the_errors_file_though_the_report_keeps_few(
    vnh, elders_file, monkeypatch
):
    from dispatcher.enrollment import importer

    monkeypatch.setattr(importer, "KEPT_ERRORS", 3)
    monkeypatch.setattr(importer, "CHUNK_ROWS", 2)
    path = elders_file([elder_row(n, gender="X") for n in range(1, 8)])

    result = vnh("import", "elders", str(path))

    assert result.exit_code == 1
    assert [r["row"] for r in errors_listed(path)] == [str(n) for n in range(2, 9)]
    assert "7 bad rows: nothing was imported" in result.output


def test_a_file_refused_part_way_lists_the_rows_before_and_the_reason_it_stopped(
    vnh, elders_file, monkeypatch
):
    from dispatcher.enrollment import importer

    monkeypatch.setattr(importer, "CHUNK_ROWS", 2)
    path = elders_file([elder_row(1, gender="X"), *[elder_row(n) for n in range(2, 21)]])

    result = vnh("import", "elders", str(path), VNH_IMPORT_MAX_ROWS="15")

    assert result.exit_code == 1
    assert "more than 15 rows" in result.output and "nothing was imported" in result.output
    listed = errors_listed(path)
    assert [(r["row"], r["column"]) for r in listed] == [("2", "gender"), ("", "")]
    assert "VNH_IMPORT_MAX_ROWS" in listed[-1]["reason"]


def test_a_database_refusal_is_a_clean_error_that_prints_no_personal_data(
    vnh, elders_file, monkeypatch
):
    from sqlalchemy.exc import DataError

    from dispatcher.enrollment import importer

    row = elder_row(1)

    def refuse(session, records, now):
        raise DataError("INSERT INTO elders …", {"id_number": row["id_number"],
                                                 "address": row["address"]},
                        Exception("value too long for type character varying(50)"))

    monkeypatch.setattr(importer, "_insert_elders", refuse)
    path = elders_file([row])

    result = vnh("import", "elders", str(path))

    assert result.exit_code == 1
    assert "the database refused the import (DataError); nothing was imported" in result.output
    written = result.output + (path.parent / "elders.csv.errors.csv").read_text(encoding="utf-8-sig")
    assert row["id_number"] not in written and row["address"] not in written


def test_the_summary_counts_elders_and_contacts_no_sms_can_reach(vnh, elders_file, session):
    rows = [
        elder_row(1),  # a mobile, and a mobile contact
        elder_row(2, phone="0931-8120002", other_phones="", emergency_contact_phone="0931-8760002"),
        elder_row(3, emergency_contact_phone="0931-8760003"),
    ]

    result = vnh("import", "elders", str(elders_file(rows)))

    assert result.exit_code == 0, result.output
    assert ("SMS: 1 elders have only landlines and 2 emergency contacts are landlines; "
            "they are told by a short call instead of an SMS") in result.output
