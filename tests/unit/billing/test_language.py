"""The bureau's language: Chinese headers and values for people, English names for systems."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from billing.exports import Column, Table, csv_lines, write_report
from billing.language import HEADERS_ZH, VALUES_ZH, UnknownLanguage, in_language
from billing.reports import DETAIL, SETTLEMENT, SUMMARY


def detail_table():
    keys = [c.key for c in DETAIL]
    row = dict.fromkeys(keys, "") | {
        "month": "2026-11", "elder_name": "王秀英", "price": 4800, "subsidy": 4800, "copay": 0,
        "payable": 4800, "withheld": 0, "pending": 0, "review_result": "verified",
        "entry": "adjustment", "adjusts_month": "2026-10",
    }
    return Table("补贴明细 2026-11", DETAIL, [tuple(row[k] for k in keys)])


def test_every_column_of_every_report_has_a_chinese_name():
    from billing.reports import SOURCES_COLUMN
    from billing.source_report import SOURCE_DETAIL

    for columns in (DETAIL, SUMMARY, SETTLEMENT, SOURCE_DETAIL, [SOURCES_COLUMN]):
        assert [c.key for c in columns if c.key not in HEADERS_ZH] == []
    names = list(HEADERS_ZH.values())
    assert len(names) == len(set(names))


def test_a_csv_for_people_has_chinese_headers_and_values():
    text = "".join(csv_lines([detail_table()], lang="zh")).removeprefix("\ufeff")
    (row,) = csv.DictReader(io.StringIO(text))
    assert (row["老人姓名"], row["服务价格（元）"], row["回访结果"], row["记录类型"]) == (
        "王秀英", "48.00", "已核实", "往月调整")


def test_a_csv_for_systems_keeps_the_english_names_and_codes():
    text = "".join(csv_lines([detail_table()], lang="en")).removeprefix("\ufeff")
    (row,) = csv.DictReader(io.StringIO(text))
    assert (row["elder_name"], row["review_result"], row["entry"]) == ("王秀英", "verified", "adjustment")


def test_an_xlsx_for_people_has_chinese_headers_values_and_totals(tmp_path):
    out = tmp_path / "detail.xlsx"
    assert write_report([detail_table()], "xlsx", out, "zh") == 1
    sheet = load_workbook(out).active
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["月份", "街道"]
    assert sheet.cell(2, header.index("回访结果") + 1).value == "已核实"
    assert sheet.cell(3, 1).value == "合计"
    assert sheet.cell(3, header.index("补贴（元）") + 1).value == pytest.approx(48.0)


def test_a_column_without_an_entry_is_written_as_it_is():
    table = Table("t", [Column("source_national_voucher", "money")], [(100,)])
    (translated,) = in_language([table], "zh")
    assert [c.key for c in translated.columns] == ["source_national_voucher"]


def test_only_zh_and_en_are_languages():
    with pytest.raises(UnknownLanguage, match="lang: must be one of zh, en"):
        in_language([detail_table()], "fr")


def test_the_review_results_are_the_words_the_bureau_uses():
    assert VALUES_ZH["review_result"] == {"verified": "已核实", "denied": "已扣回",
                                          "pending": "待回访"}
