"""Enrollment files as the bureau keeps them, and hostile ones: each clear, none half-written."""

from __future__ import annotations

import csv
import tracemalloc
from datetime import date, datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from dispatcher.enrollment import importer as enrollment
from dispatcher.enrollment.files import CHINESE_HEADERS
from dispatcher.enrollment.importer import ImportFileError, import_file
from dispatcher.enrollment.limits import MB, ImportLimits
from dispatcher.enrollment.rows import ELDER_COLUMNS
from dispatcher.models import Elder, ElderPhone

from .test_importer import elder_row, id_number

CHINESE = {}
for _name, _column in CHINESE_HEADERS["elders"].items():
    CHINESE.setdefault(_column, _name)
CHINESE_ELDER_HEADER = [CHINESE[c] for c in ELDER_COLUMNS]
TITLE = [["城关区虚拟养老院服务对象花名册"], ["制表单位：城关区民政局", "", "2026年11月"], []]


def count(session, model=Elder) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def write_table(tmp_path):
    """Write title rows, a header and rows of values (in ELDER_COLUMNS order) as CSV."""

    def write(name, rows, *, header=CHINESE_ELDER_HEADER, title=(), encoding="utf-8"):
        path = tmp_path / name
        with path.open("w", encoding=encoding, newline="") as f:
            writer = csv.writer(f)
            writer.writerows(title)
            writer.writerow(header)
            writer.writerows(
                [r[c] for c in ELDER_COLUMNS] if isinstance(r, dict) else r for r in rows
            )
        return path

    return write


@pytest.fixture
def write_xlsx(tmp_path):
    """Write title rows, a header and rows of cell values as the first sheet of a workbook."""

    def write(name, rows, *, header=CHINESE_ELDER_HEADER, title=()):
        book = Workbook()
        sheet = book.active
        sheet.title = "花名册"
        for row in [*title, header, *rows]:
            sheet.append(list(row))
        path = tmp_path / name
        book.save(path)
        return path

    return write


def test_a_gb18030_file_with_chinese_headers_under_title_rows_imports(session, write_table, clock):
    path = write_table("名册.csv", [elder_row(1), elder_row(2)], title=TITLE, encoding="gb18030")

    report = import_file(session, "elders", path, clock.now())

    assert report.ok, report.errors
    assert (report.source, report.header_row, report.added) == ("CSV, GB18030", 4, 2)
    assert {e.name for e in session.scalars(select(Elder))} == {"王秀英"}


def test_gbk_is_read_as_gb18030(session, write_table, clock):
    path = write_table("gbk.csv", [elder_row(1)], encoding="gbk")

    report = import_file(session, "elders", path, clock.now())

    assert report.ok and report.source == "CSV, GB18030"


def test_a_utf8_bom_file_with_chinese_headers_imports(session, write_table, clock):
    path = write_table("bom.csv", [elder_row(1)], encoding="utf-8-sig")

    report = import_file(session, "elders", path, clock.now())

    assert report.ok and (report.source, report.added) == ("CSV, UTF-8", 1)


def test_rows_below_title_rows_are_numbered_as_the_file_shows_them(session, write_table, clock):
    rows = [elder_row(1), elder_row(2, phone="12345")]
    path = write_table("t.csv", rows, title=TITLE, encoding="gb18030")

    report = import_file(session, "elders", path, clock.now())

    assert [(e.row, e.column) for e in report.errors] == [(6, "phone")]
    assert count(session) == 0


def test_headers_in_full_width_with_spaces_and_required_marks_are_recognised(
    session, write_table, clock
):
    header = [f" {name}* " for name in CHINESE_ELDER_HEADER]
    header[CHINESE_ELDER_HEADER.index("紧急联系电话")] = "紧急联系电话　"

    report = import_file(
        session, "elders", write_table("h.csv", [elder_row(1)], header=header), clock.now()
    )

    assert report.ok


def test_a_file_without_coordinate_columns_geocodes_every_address(session, write_table, clock):
    from dispatcher.enrollment.geocoding import Gazetteer, GazetteerGeocoder

    columns = [c for c in ELDER_COLUMNS if c not in ("latitude", "longitude")]
    rows = [[elder_row(1)[c] for c in columns]]
    path = write_table("nocoords.csv", rows, header=[CHINESE[c] for c in columns])

    report = import_file(
        session, "elders", path, clock.now(), geocoder=GazetteerGeocoder(Gazetteer.from_file())
    )

    assert report.ok and report.geocoded == {"address": 1}
    assert session.scalars(select(Elder)).one().latitude is not None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\r\n  \r\n,,,\r\n", "the file is empty"),
        ("姓名,身份证号\n王秀英,1\n".encode("latin-1", "replace"), "no header row"),
        (b"id_number,name\xe9,gender\n", "neither UTF-8"),
        (b"\xff\xfei\x00d\x00_\x00", "UTF-16"),
        (b"id_number\x00,name\n", "binary data"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old Excel .xls"),
        (b"PK\x03\x04not really a zip", "not a readable XLSX"),
    ],
    ids=[
        "empty", "blank-lines", "no-usable-header", "neither-encoding", "utf-16", "nul-bytes",
        "xls", "broken-xlsx",
    ],
)  # fmt: skip
def test_an_unreadable_file_is_refused_with_a_clear_message_and_nothing_written(
    session, tmp_path, clock, content, message
):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)

    with pytest.raises(ImportFileError, match=message):
        import_file(session, "elders", path, clock.now())
    assert count(session) == 0


def test_a_big5_file_is_not_taken_for_gb18030(session, tmp_path, clock):
    path = tmp_path / "big5.csv"
    text = "姓名,身份證號,性別,出生日期,電話,地址,街道,社區,老人類別\n" + (
        "王秀英,620102194103050012,女,1941-03-05,13912340001,蘭州市城關區酒泉路街道,"
        "酒泉路街道,金塔巷社區,特困\n" * 20
    )
    path.write_bytes(text.encode("big5"))

    with pytest.raises(ImportFileError, match="neither UTF-8 nor GB18030 Chinese"):
        import_file(session, "elders", path, clock.now())


def test_missing_required_columns_are_named_with_the_header_row(session, write_table, clock):
    header = [h for h in CHINESE_ELDER_HEADER if h not in ("身份证号", "老人类别")]
    rows = [[v for c, v in elder_row(1).items() if c not in ("id_number", "elder_class")]]

    with pytest.raises(
        ImportFileError,
        match=r"missing required columns: id_number, elder_class \(header on row 4\)",
    ):
        import_file(
            session, "elders", write_table("m.csv", rows, header=header, title=TITLE), clock.now()
        )


def test_a_header_with_only_a_title_above_ten_rows_is_not_found(session, write_table, clock):
    title = [[f"说明第{i}行"] for i in range(10)]

    with pytest.raises(ImportFileError, match="no header row in the first 10 rows"):
        import_file(
            session, "elders", write_table("x.csv", [elder_row(1)], title=title), clock.now()
        )


def test_a_header_without_rows_is_refused(session, write_table, clock):
    with pytest.raises(ImportFileError, match=r"header \(row 4\) but no rows"):
        import_file(session, "elders", write_table("e.csv", [], title=TITLE), clock.now())


def test_a_column_given_twice_in_two_languages_is_a_duplicate_header(session, write_table, clock):
    header = [*CHINESE_ELDER_HEADER, "name"]
    rows = [[*elder_row(1).values(), "王秀兰"]]

    with pytest.raises(ImportFileError, match=r"duplicate columns.*name \(姓名, name\)"):
        import_file(session, "elders", write_table("d.csv", rows, header=header), clock.now())


def test_two_unknown_columns_with_the_same_name_are_ignored_like_any_extra_column(
    session, write_table, clock
):
    header = [*CHINESE_ELDER_HEADER, "备注", "备注"]
    rows = [[*elder_row(1).values(), "家属同意", "已回访"]]

    report = import_file(session, "elders", write_table("r.csv", rows, header=header), clock.now())

    assert report.ok


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("x" * 1023 + "\n", "row 3: longer than 60 columns of 2000 characters can be"),
        ("x" * 1024, "row 3: a line longer than"),
    ],
    ids=["runaway-quoted-cell", "no-line-breaks"],
)
def test_a_100_mb_file_is_streamed_and_refused_with_a_clear_message_without_writing(
    session, tmp_path, clock, line, message
):
    path = tmp_path / "huge.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(ELDER_COLUMNS)
        writer.writerow(elder_row(1).values())
        f.write('"备注')  # a quote never closed: the rest of the file is one cell
        block = line * 1024
        for _ in range(100):
            f.write(block)

    tracemalloc.start()
    try:
        with pytest.raises(ImportFileError, match=message):
            import_file(session, "elders", path, clock.now(), limits=ImportLimits(max_bytes=200 * MB))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert path.stat().st_size > 100 * 1e6
    assert peak < 20 * 1e6
    assert count(session) == 0


def test_a_problem_found_late_in_a_long_file_undoes_the_rows_already_flushed(
    session, write_xlsx, clock, monkeypatch
):
    monkeypatch.setattr(enrollment, "CHUNK_ROWS", 2)
    rows = [list(elder_row(n).values()) for n in range(1, 6)]
    rows.append([*list(elder_row(6).values())[:-1], "=A2"])

    with pytest.raises(ImportFileError, match="cell P10 holds a formula"):
        import_file(session, "elders", write_xlsx("late.xlsx", rows, title=TITLE), clock.now())
    assert count(session) == 0 and count(session, ElderPhone) == 0


def test_an_xlsx_sheet_with_titles_numbers_and_dates_imports_like_its_csv(
    session, write_xlsx, clock
):
    row = elder_row(1)
    cells = list(row.values())
    cells[ELDER_COLUMNS.index("birth_date")] = datetime(1941, 3, 5)
    cells[ELDER_COLUMNS.index("phone")] = 13912340001
    cells[ELDER_COLUMNS.index("latitude")] = 36.058
    cells[ELDER_COLUMNS.index("longitude")] = 103.827
    cells[ELDER_COLUMNS.index("emergency_contact_phone")] = 15800000001.0

    report = import_file(
        session, "elders", write_xlsx("名册.xlsx", [cells], title=TITLE), clock.now()
    )

    assert report.ok, report.errors
    assert (report.source, report.header_row, report.added) == ("XLSX", 4, 1)
    elder = session.scalars(select(Elder)).one()
    assert (elder.birth_date, elder.latitude) == (date(1941, 3, 5), 36.058)
    assert ("+8613912340001", True) in {(p.phone, p.is_primary) for p in elder.phones}


def test_a_formula_anywhere_in_an_xlsx_refuses_the_file(session, write_xlsx, clock):
    cells = list(elder_row(1).values())
    cells[ELDER_COLUMNS.index("lives_alone")] = '=IF(1,"是","否")'

    with pytest.raises(ImportFileError, match=r"cell N5 holds a formula .*paste as values"):
        import_file(session, "elders", write_xlsx("f.xlsx", [cells], title=TITLE), clock.now())
    assert count(session) == 0


def test_an_id_number_the_spreadsheet_stored_as_a_number_is_named_with_the_fix(
    session, write_xlsx, clock
):
    cells = list(elder_row(1).values())
    cells[0] = int(id_number(date(1941, 3, 5), 1)[:17] + "0")

    report = import_file(session, "elders", write_xlsx("n.xlsx", [cells]), clock.now())

    assert [(e.row, e.column) for e in report.errors] == [(2, "id_number")]
    assert "keeps only 15 digits" in report.errors[0].reason
    assert count(session) == 0


def test_an_empty_workbook_is_refused(session, write_xlsx, clock, tmp_path):
    path = tmp_path / "empty.xlsx"
    Workbook().save(path)

    with pytest.raises(ImportFileError, match="is empty"):
        import_file(session, "elders", path, clock.now())


def test_the_first_sheet_is_read_and_offerings_accept_chinese_headers(
    session, tmp_path, clock, make_provider
):
    make_provider(code="P001", offerings={"HC01": 0})
    book = Workbook()
    book.active.append(["服务商编号", "服务项目编号", "价格(元)"])
    book.active.append(["P001", "HK01", 45])
    book.create_sheet("说明").append(["this sheet is not read"])
    path = tmp_path / "o.xlsx"
    book.save(path)

    report = import_file(session, "offerings", path, clock.now())

    assert report.ok and (report.added, report.unchanged) == (1, 0)
