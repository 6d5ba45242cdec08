"""Billing's pure parts: months, the charge rule worked by hand in yuan, exports."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from billing.exports import BOM, Column, Table, csv_lines, neutralise, write_csv, write_xlsx
from billing.money import fen_to_yuan, yuan_to_fen
from billing.months import (
    MonthError,
    check_started,
    has_ended,
    month_of,
    months_ending,
    next_month,
    parse_month,
    previous_month,
)
from billing.policy import PolicyError, PolicyVersion, load_policy, split_charge

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 09:00 in Beijing


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-11", "2026/11", "", "2026-11-01", "十一月"])
def test_a_month_that_does_not_parse_is_refused_naming_the_field(text):
    with pytest.raises(MonthError, match="^--month: .* is not a month like 2026-11"):
        parse_month(text, "--month")


def test_month_arithmetic_crosses_the_year():
    assert next_month("2026-12") == "2027-01"
    assert previous_month("2027-01") == "2026-12"
    assert months_ending("2027-02", 4) == ["2026-11", "2026-12", "2027-01", "2027-02"]


def test_the_month_of_a_moment_is_the_month_in_beijing():
    assert month_of(datetime(2026, 11, 30, 16, 30, tzinfo=UTC)) == "2026-12"
    assert month_of(datetime(2026, 11, 30, 15, 59, tzinfo=UTC)) == "2026-11"


def test_a_month_that_has_not_started_is_refused():
    assert check_started("2026-11", NOW) == "2026-11"
    with pytest.raises(MonthError, match="month: 2026-12 has not started yet"):
        check_started("2026-12", NOW)


def test_a_month_has_ended_only_once_the_next_one_begins_in_beijing():
    assert not has_ended("2026-11", datetime(2026, 11, 30, 15, 59, tzinfo=UTC))
    assert has_ended("2026-11", datetime(2026, 11, 30, 16, 0, tzinfo=UTC))


# -- the charge rule, worked by hand in yuan ---------------------------------------------------

@pytest.fixture(scope="module")
def version() -> PolicyVersion:
    return load_policy().version_for_month("2026-11")


def _month_of_visits(version, elder_class, level, prices_yuan):
    """Split each price in turn, as check-out does, with the month's running subsidy."""
    used, lines = 0, []
    for price in prices_yuan:
        charge = split_charge(yuan_to_fen(price), version, elder_class, level, used)
        used += charge.subsidy_fen
        lines.append((fen_to_yuan(charge.subsidy_fen), fen_to_yuan(charge.copay_fen)))
    return lines, fen_to_yuan(used)


@pytest.mark.parametrize(
    ("elder_class", "level", "prices", "expected", "month_total"),
    [
        # 特困: everything paid, up to 600 yuan a month.
        ("特困", "能力完好", ["250.00", "250.00", "250.00"],
         [("250.00", "0.00"), ("250.00", "0.00"), ("100.00", "150.00")], "600.00"),
        # 低保: 80% up to 400; 80% of 99.99 is 79.992, rounded down to 79.99.
        ("低保", "轻度失能", ["99.99", "300.00", "100.00"],
         [("79.99", "20.00"), ("240.00", "60.00"), ("80.00", "20.00")], "399.99"),
        # 优抚: as 低保; the fourth visit finds only 0.01 yuan of the cap left.
        ("优抚", "", ["200.00", "200.00", "99.99", "10.00"],
         [("160.00", "40.00"), ("160.00", "40.00"), ("79.99", "20.00"), ("0.01", "9.99")],
         "400.00"),
        # 高龄: 50% up to 200; 50% of 33.33 is 16.665 → 16.66, the elder pays 16.67.
        ("高龄", "", ["33.33", "128.00", "128.00", "128.00"],
         [("16.66", "16.67"), ("64.00", "64.00"), ("64.00", "64.00"), ("55.34", "72.66")],
         "200.00"),
        # 普通 with 中度失能: the national voucher, 50% up to 800.
        ("普通", "中度失能", ["1000.00", "700.00", "100.00"],
         [("500.00", "500.00"), ("300.00", "400.00"), ("0.00", "100.00")], "800.00"),
        # 高龄 with 重度失能: the voucher's larger cap takes over when the class cap runs out.
        ("高龄", "重度失能", ["400.00", "400.00", "1000.00"],
         [("200.00", "200.00"), ("200.00", "200.00"), ("400.00", "600.00")], "800.00"),
        # 普通 with no voucher: nothing.
        ("普通", "能力完好", ["48.00"], [("0.00", "48.00")], "0.00"),
    ],
)
def test_a_month_of_visits_splits_as_worked_by_hand(version, elder_class, level, prices,
                                                    expected, month_total):
    assert _month_of_visits(version, elder_class, level, prices) == (expected, month_total)


def test_an_elder_with_no_class_is_refused_naming_the_field(version):
    with pytest.raises(ValueError, match="^elder_class: the elder has no subsidy class"):
        split_charge(4800, version, "", "", 0)


def test_a_negative_price_is_refused_naming_the_field(version):
    with pytest.raises(ValueError, match="^price_fen:"):
        split_charge(-4800, version, "特困", "", 0)


def test_under_rollover_last_months_unused_allowance_raises_the_cap(version):
    # 高龄: 200 yuan a month; 50 yuan left over last month lets 250 be paid this month.
    charge = split_charge(yuan_to_fen("600.00"), version, "高龄", "", yuan_to_fen("180.00"),
                          carried_over_fen=yuan_to_fen("50.00"))
    assert fen_to_yuan(charge.subsidy_fen) == "70.00"


POLICY = """
rounding = "down"
[[version]]
name = "2026-01"
effective_from = {start}
rollover = false
[[version.class]]
code = "特困"
share_percent = 100
monthly_cap_yuan = "600.00"
"""


def test_a_policy_version_must_start_on_the_first_day_of_a_month(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(POLICY.format(start="2026-07-15"), encoding="utf-8")
    with pytest.raises(PolicyError, match="'2026-01': effective_from: must be the first day"):
        load_policy(path)


def test_the_version_for_a_month_is_the_one_in_force_on_its_first_day(tmp_path):
    path = tmp_path / "policy.toml"
    later = POLICY.format(start="2026-07-01").replace('name = "2026-01"', 'name = "2026-07"')
    path.write_text(POLICY.format(start="2026-01-01") + later.split('rounding = "down"')[1],
                    encoding="utf-8")
    policy = load_policy(path)
    assert policy.version_for_month("2026-06").name == "2026-01"
    assert policy.version_for_month("2026-07").name == "2026-07"


def test_a_versions_fingerprint_changes_with_any_number_in_it(version):
    from dataclasses import replace

    from billing.policy import Entitlement

    changed = replace(version, classes={**version.classes, "高龄": Entitlement(50, 20001, "class:高龄")})
    assert changed.fingerprint() != version.fingerprint()
    assert replace(version).fingerprint() == version.fingerprint()


# -- exports ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["=1+1", "+86139", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_a_text_cell_that_would_start_a_formula_is_neutralised(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value", ["王秀英", "HK01", "", 12, None])
def test_other_cells_are_left_alone(value):
    assert neutralise(value) == value


COLUMNS = [Column("name"), Column("visits", "count"), Column("subsidy", "money")]
ROWS = [("=HYPERLINK(\"x\")", 2, 4800), ("王秀英", 1, -1)]


def test_csv_is_utf8_with_a_bom_yuan_with_two_decimals_and_no_formula():
    text = "".join(csv_lines([Table("t", COLUMNS, iter(ROWS))]))
    assert text.startswith(BOM)
    rows = list(csv.reader(io.StringIO(text.removeprefix(BOM))))
    assert rows == [["name", "visits", "subsidy"], ["'=HYPERLINK(\"x\")", "2", "48.00"],
                    ["王秀英", "1", "-0.01"]]


def test_xlsx_has_a_styled_frozen_header_number_formats_and_a_totals_row(tmp_path):
    path = tmp_path / "r.xlsx"
    assert write_xlsx([Table("补贴", COLUMNS, iter(ROWS))], path) == 2
    sheet = load_workbook(path)["补贴"]
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].value == "name" and sheet["A1"].font.bold
    assert sheet["A2"].value == "'=HYPERLINK(\"x\")" and sheet["A2"].data_type == "s"
    assert (sheet["C2"].value, sheet["C2"].number_format) == (48, "#,##0.00")
    assert sheet["B3"].number_format == "#,##0"
    assert [c.value for c in sheet[4]] == ["合计", 3, pytest.approx(47.99)]
    assert sheet["C4"].number_format == "#,##0.00" and sheet["A4"].font.bold


def test_xlsx_text_with_markup_spaces_and_control_characters_reads_back_as_written(tmp_path):
    path = tmp_path / "r.xlsx"
    rows = [(" <b>张&李</b> ", 1, 100), ("a\x01b\r\nc", 0, 0), ("", 2, 5)]
    assert write_xlsx([Table("明细", COLUMNS, iter(rows))], path) == 3
    sheet = load_workbook(path)["明细"]
    assert [c.value for c in sheet["A"]] == ["name", " <b>张&李</b> ", "ab\r\nc", None, "合计"]
    assert [c.value for c in sheet["C"]][1:] == [1, 0, 0.05, pytest.approx(1.05)]
    assert sheet["B5"].font.bold and sheet["B5"].border.bottom.style == "double"


def test_an_xlsx_sheet_title_excel_cannot_hold_is_refused(tmp_path):
    with pytest.raises(ValueError, match="sheet title"):
        write_xlsx([Table("a/b", COLUMNS, iter(ROWS))], tmp_path / "r.xlsx")


def test_a_failed_export_leaves_no_file_behind(tmp_path):
    def rows():
        yield ROWS[0]
        raise RuntimeError("database went away")

    path = tmp_path / "r.csv"
    with pytest.raises(RuntimeError):
        write_csv([Table("t", COLUMNS, rows())], path)
    assert list(tmp_path.iterdir()) == []


def test_the_shipped_policy_starts_its_versions_on_first_days():
    assert all(v.effective_from.day == 1 for v in load_policy().versions)
    assert load_policy().version_for(date(2026, 11, 30)).name == "2026-01"
