"""Enrollment files cannot exhaust the machine: limits on size, rows, columns and cells counted
while reading, XLSX parsed safely, errors streamed, and values checked against the columns they
are stored in, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import re
import tracemalloc
import zipfile
from datetime import date

import openpyxl
import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from dispatcher.config import ConfigError, settings_from_env
from dispatcher.enrollment import importer
from dispatcher.enrollment.importer import ImportFileError, ImportLimits, import_file
from dispatcher.enrollment.rows import ELDER_COLUMNS
from dispatcher.models import Elder
from providers.models import Provider

from .test_importer import elder_row, id_number, provider_row


def elders(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Elder))


def write_csv(path, rows, header=ELDER_COLUMNS):
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows([r[c] for c in ELDER_COLUMNS] if isinstance(r, dict) else r for r in rows)
    return path


def write_xlsx(path, rows, header=ELDER_COLUMNS):
    book = Workbook()
    sheet = book.active
    sheet.append(list(header))
    for row in rows:
        sheet.append([row[c] for c in ELDER_COLUMNS] if isinstance(row, dict) else list(row))
    book.save(path)
    return path


def rewrite_part(path, name, change):
    """Rewrite one part of a zip (an XLSX) through `change(text) -> text`."""
    with zipfile.ZipFile(path) as source:
        parts = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in parts:
            if info.filename == name:
                data = change(data.decode()).encode()
            target.writestr(info.filename, data)
    return path


# -- size, rows, columns, cells ------------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(session, tmp_path, clock):
    path = write_csv(tmp_path / "e.csv", [elder_row(n) for n in range(1, 20)])

    with pytest.raises(ImportFileError, match=r"more than the limit of 2000 bytes \(VNH_IMPORT_MAX_MB\)"):
        import_file(session, "elders", path, clock.now(), limits=ImportLimits(max_bytes=2000))
    assert elders(session) == 0


def test_a_csv_with_one_row_over_the_row_limit_is_refused_naming_the_limit(session, tmp_path, clock):
    limits = ImportLimits(max_rows=5)
    exactly = write_csv(tmp_path / "five.csv", [elder_row(n) for n in range(1, 6)])
    over = write_csv(tmp_path / "six.csv", [elder_row(n) for n in range(1, 7)])

    assert import_file(session, "elders", exactly, clock.now(), limits=limits).ok
    with pytest.raises(ImportFileError, match=r"more than 5 rows.*VNH_IMPORT_MAX_ROWS"):
        import_file(session, "elders", over, clock.now(), limits=limits)


def test_a_csv_with_one_column_over_the_limit_is_refused_naming_the_row_and_the_limit(
    session, tmp_path, clock
):
    limits = ImportLimits(max_columns=len(ELDER_COLUMNS))
    header = [*ELDER_COLUMNS, "备注"]
    path = write_csv(tmp_path / "wide.csv", [[*elder_row(1).values(), "已回访"]], header=header)

    with pytest.raises(ImportFileError, match=r"^row 1 has 17 columns, more than the limit of 16 "
                                              r"\(VNH_IMPORT_MAX_COLUMNS\)"):
        import_file(session, "elders", path, clock.now(), limits=limits)
    assert elders(session) == 0


def test_a_cell_over_the_length_limit_is_refused_naming_the_row_column_and_limit(
    session, tmp_path, clock
):
    path = write_csv(tmp_path / "long.csv", [elder_row(1), elder_row(2, address="巷" * 101)])

    with pytest.raises(ImportFileError, match=r"^row 3, column 7: a cell of 101 characters, more "
                                              r"than the limit of 100 \(VNH_IMPORT_MAX_CELL_CHARS\)"):
        import_file(session, "elders", path, clock.now(), limits=ImportLimits(max_cell_chars=100))
    assert elders(session) == 0


def test_a_quote_left_open_stops_at_the_longest_row_the_limits_allow(session, tmp_path, clock):
    path = tmp_path / "open.csv"
    write_csv(path, [elder_row(1)])
    with path.open("a", encoding="utf-8") as f:
        f.write('"备注' + ("x" * 99 + "\n") * 200)  # 20,000 characters in one cell

    with pytest.raises(ImportFileError, match=r"^row 3: longer than 16 columns of 100 characters"):
        import_file(session, "elders", path, clock.now(),
                    limits=ImportLimits(max_columns=16, max_cell_chars=100))


def test_an_xlsx_is_counted_as_read_and_not_by_the_dimension_it_declares(session, tmp_path, clock):
    path = write_xlsx(tmp_path / "lies.xlsx", [elder_row(n) for n in range(1, 9)])
    rewrite_part(path, "xl/worksheets/sheet1.xml",
                 lambda xml: re.sub(r'<dimension ref="[^"]*"', '<dimension ref="A1:P2"', xml))

    report = import_file(session, "elders", path, clock.now())
    assert (report.rows, report.added) == (8, 8)
    with pytest.raises(ImportFileError, match=r"more than 5 rows.*VNH_IMPORT_MAX_ROWS"):
        import_file(session, "elders", path, clock.now(), limits=ImportLimits(max_rows=5))


def test_an_xlsx_row_with_a_value_in_its_last_column_is_refused_without_being_widened(
    session, tmp_path, clock
):
    path = write_xlsx(tmp_path / "xfd.xlsx", [elder_row(1)])
    far = '<c r="XFD2" t="inlineStr"><is><t>x</t></is></c></row>'
    rewrite_part(path, "xl/worksheets/sheet1.xml",
                 lambda xml: xml.replace("</row>", far, 2).replace(far, "</row>", 1))

    with pytest.raises(ImportFileError, match=r"row 2 has 16384 columns, more than the limit of 60"):
        import_file(session, "elders", path, clock.now())


def test_an_xlsx_cell_over_the_length_limit_is_refused(session, tmp_path, clock):
    path = write_xlsx(tmp_path / "long.xlsx", [elder_row(1, name="王" * 2001)])

    with pytest.raises(ImportFileError, match=r"row 2, column 2: a cell of 2001 characters"):
        import_file(session, "elders", path, clock.now())


def test_an_xlsx_that_unpacks_to_far_more_than_its_size_is_refused(session, tmp_path, clock):
    path = write_xlsx(tmp_path / "bomb.xlsx", [elder_row(1)])
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as package:
        package.writestr("xl/media/padding.bin", b"\0" * 2_000_000)

    with pytest.raises(ImportFileError, match=r"unpacks to 1.9 MB, more than 10 times the limit"):
        import_file(session, "elders", path, clock.now(), limits=ImportLimits(max_bytes=100_000))


# -- XML attacks ---------------------------------------------------------------------------------

LAUGHS = ('<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
          '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>')


def prolog(extra):
    """Put `extra` in a part's prolog: after its XML declaration, or first if it has none."""

    def change(xml):
        if xml.startswith("<?xml"):
            return xml.replace("?>", "?>" + extra, 1)
        return extra + xml

    return change


def test_openpyxl_reads_workbooks_through_defusedxml():
    assert openpyxl.DEFUSEDXML is True


@pytest.mark.parametrize("part", ["xl/worksheets/sheet1.xml", "xl/workbook.xml", "[Content_Types].xml"])
def test_an_xlsx_part_with_a_dtd_and_entities_is_a_clean_file_error(session, tmp_path, clock, part):
    path = write_xlsx(tmp_path / "laughs.xlsx", [elder_row(1)])
    rewrite_part(path, part, prolog(LAUGHS))

    with pytest.raises(ImportFileError, match=r"declares a DTD.*refused as unsafe"):
        import_file(session, "elders", path, clock.now())
    assert elders(session) == 0


def test_an_entity_hidden_behind_a_long_comment_is_refused_by_defusedxml(session, tmp_path, clock):
    path = write_xlsx(tmp_path / "hidden.xlsx", [elder_row(1, name="&lol3;")])
    comment = "<!--" + "x" * 10_000 + "-->"
    rewrite_part(path, "xl/worksheets/sheet1.xml",
                 lambda xml: prolog(comment + LAUGHS)(xml).replace("&amp;lol3;", "&lol3;"))

    with pytest.raises(ImportFileError, match=r"declares entities or a DTD.*refused as unsafe"):
        import_file(session, "elders", path, clock.now())


# -- errors streamed, not kept -------------------------------------------------------------------


def test_every_error_is_streamed_and_the_report_keeps_only_the_first(
    session, tmp_path, clock, monkeypatch
):
    monkeypatch.setattr(importer, "KEPT_ERRORS", 5)
    monkeypatch.setattr(importer, "CHUNK_ROWS", 4)
    rows = [elder_row(n, gender="X", lives_alone="也许") for n in range(1, 13)]
    path = write_csv(tmp_path / "bad.csv", [elder_row(100), *rows])
    streamed = []

    report = import_file(session, "elders", path, clock.now(), on_error=streamed.append)

    assert [(e.row, e.column) for e in streamed[:3]] == [
        (3, "gender"), (3, "lives_alone"), (4, "gender"),
    ]  # fmt: skip
    assert len(streamed) == report.error_count == 24
    assert report.refused == 12 and len(report.errors) == 5 and not report.ok
    assert report.errors == streamed[:5]
    assert elders(session) == 0


# -- values within the columns that store them ---------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("name", "王" * 51, "is 51 characters long: at most 50"),
        ("address", "巷" * 201, "is 201 characters long: at most 200"),
        ("street", "街" * 51, "is 51 characters long: at most 50"),
        ("community", "社" * 51, "is 51 characters long: at most 50"),
        ("emergency_contact_name", "李" * 51, "is 51 characters long: at most 50"),
    ],
)
def test_a_value_longer_than_its_column_is_a_row_error_on_every_database(
    session, tmp_path, clock, column, value, reason
):
    path = write_csv(tmp_path / "e.csv", [elder_row(1), elder_row(2, **{column: value})])

    report = import_file(session, "elders", path, clock.now(), skip_bad_rows=True)

    assert [(e.row, e.column, e.reason) for e in report.errors] == [(3, column, reason)]
    assert report.added == 1 and elders(session) == 1


def test_a_name_as_long_as_its_column_imports(session, tmp_path, clock):
    path = write_csv(tmp_path / "e.csv", [elder_row(1, name="王" * 50)])

    assert import_file(session, "elders", path, clock.now()).ok
    assert session.scalar(select(Elder.name)) == "王" * 50


def test_a_provider_code_longer_than_its_column_is_a_row_error(session, tmp_path, clock):
    from .test_importer import PROVIDER_COLUMNS

    path = tmp_path / "p.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(PROVIDER_COLUMNS))
        writer.writeheader()
        writer.writerow(provider_row("P" + "1" * 20, name="公" * 101, dispatch_phone="13800000001"))

    report = import_file(session, "providers", path, clock.now())

    assert [(e.column, e.reason) for e in report.errors] == [
        ("code", "is 21 characters long: at most 20"),
        ("name", "is 101 characters long: at most 100"),
    ]  # fmt: skip
    assert session.scalar(select(func.count()).select_from(Provider)) == 0


@pytest.mark.parametrize(
    ("born", "reason"),
    [(date(2030, 1, 1), "2030-01-01 is in the future"), (date(1850, 6, 1), "1850-06-01 is before 1900")],
)
def test_a_birth_date_in_the_future_or_before_1900_is_a_row_error(session, tmp_path, clock, born,
                                                                   reason):
    row = elder_row(1, id_number=id_number(born, 1), birth_date=born.isoformat())
    path = write_csv(tmp_path / "e.csv", [row])

    report = import_file(session, "elders", path, clock.now())

    assert [(e.row, e.column) for e in report.errors] == [(2, "birth_date")]
    assert reason in report.errors[0].reason
    assert elders(session) == 0


def test_a_birth_date_of_today_imports(session, tmp_path, clock):
    born = date(2026, 11, 25)  # the test clock's local date
    row = elder_row(1, id_number=id_number(born, 1), birth_date=born.isoformat())

    assert import_file(session, "elders", write_csv(tmp_path / "e.csv", [row]), clock.now()).ok


# -- settings ------------------------------------------------------------------------------------


def test_the_limits_are_settings_with_sensible_defaults():
    config = settings_from_env({"VNH_DATABASE_URL": "sqlite://", "VNH_IMPORT_MAX_ROWS": "500"})

    limits = ImportLimits.from_config(config)

    assert limits == ImportLimits(max_bytes=20 << 20, max_rows=500, max_columns=60,
                                  max_cell_chars=2000)
    with pytest.raises(ConfigError, match="VNH_IMPORT_MAX_COLUMNS must be a whole number of at least 1"):
        settings_from_env({"VNH_DATABASE_URL": "sqlite://", "VNH_IMPORT_MAX_COLUMNS": "0"})


def test_the_command_applies_the_configured_limits_and_says_which_was_passed(
    database_url, app, tmp_path
):
    from click.testing import CliRunner

    from dispatcher.cli import main

    path = write_csv(tmp_path / "e.csv", [[*elder_row(1).values(), "x", "y"]],
                     header=[*ELDER_COLUMNS, "备注", "附注"])
    env = {"VNH_DATABASE_URL": database_url, "VNH_TELEPHONY": "local", "TWILIO_ACCOUNT_SID": "",
           "TWILIO_AUTH_TOKEN": "", "VNH_GEOCODER": "", "VNH_IMPORT_MAX_COLUMNS": "17"}

    result = CliRunner().invoke(main, ["import", "elders", str(path)], env=env)

    assert result.exit_code == 1
    assert "row 1 has 18 columns, more than the limit of 17 (VNH_IMPORT_MAX_COLUMNS)" in result.output
    errors = (tmp_path / "e.csv.errors.csv").read_text(encoding="utf-8-sig")
    assert "VNH_IMPORT_MAX_COLUMNS" in errors


def add_shared_strings(path, strings):
    """Move the sheet's cells of `strings` into a shared strings part, as Excel writes them."""
    items = "".join(f"<si><t>{text}</t></si>" for text in strings)
    with zipfile.ZipFile(path, "a") as package:
        package.writestr("xl/sharedStrings.xml", f'<sst xmlns="{MAIN}">{items}</sst>')
    rewrite_part(path, "xl/_rels/workbook.xml.rels", lambda xml: xml.replace(
        "</Relationships>", '<Relationship Id="rIdS" Target="sharedStrings.xml" Type="http://'
        'schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
        "</Relationships>"))
    rewrite_part(path, "[Content_Types].xml", lambda xml: xml.replace(
        "</Types>", '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'))


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
def with_name_cell(cell: str):
    """Replace the first elder's name cell (B2), however openpyxl serialised it (with lxml it
    writes characters as references, without it as UTF-8)."""
    return lambda xml: re.sub(r'<c r="B2"[^>]*>.*?</c>', lambda _: cell, xml, count=1, flags=re.S)


def test_a_shared_strings_part_is_read_like_the_sheet(session, tmp_path, clock):
    path = write_xlsx(tmp_path / "shared.xlsx", [elder_row(1, name="王秀英")])
    add_shared_strings(path, ["张桂兰"])
    rewrite_part(path, "xl/worksheets/sheet1.xml",
                 with_name_cell('<c r="B2" t="s"><v>0</v></c>'))

    assert import_file(session, "elders", path, clock.now()).ok
    assert session.scalar(select(Elder.name)) == "张桂兰"


@pytest.mark.parametrize("part", ["xl/sharedStrings.xml", "xl/worksheets/sheet1.xml"])
def test_a_huge_xlsx_cell_is_refused_before_openpyxl_builds_it(session, tmp_path, clock, part):
    path = write_xlsx(tmp_path / "huge.xlsx", [elder_row(1, name="王秀英")])
    huge = "巷" * 3_000_000  # 9 MB of text, a few kB compressed
    if part == "xl/sharedStrings.xml":
        add_shared_strings(path, [huge])
        cell = '<c r="B2" t="s"><v>0</v></c>'
    else:
        cell = f'<c r="B2" t="inlineStr"><is><t>{huge}</t></is></c>'
    rewrite_part(path, "xl/worksheets/sheet1.xml", with_name_cell(cell))
    tracemalloc.start()
    try:
        with pytest.raises(ImportFileError, match=rf"part {re.escape(part)} holds a text of more "
                                                  r"than 20064 bytes.*VNH_IMPORT_MAX_CELL_CHARS"):
            import_file(session, "elders", path, clock.now())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1e6
