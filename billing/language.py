"""The bureau's language: one table of Chinese names for the reports' columns and coded values.

Reports are built with machine-readable English column names and codes (`verified`,
`adjustment`); the writers in `billing.exports` put them in Chinese for people (`lang="zh"`)
and leave them as they are for systems that read them (`lang="en"`). A new column or code
needs only an entry here; one without an entry is written as it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

LANGUAGES = ("zh", "en")

HEADERS_ZH = {
    # the subsidy detail
    "month": "月份", "street": "街道", "community": "社区", "elder_id_masked": "身份证号（脱敏）",
    "elder_name": "老人姓名", "elder_class": "老人类别", "order_no": "工单号",
    "item_code": "服务项目编号", "item_name": "服务项目", "provider_code": "服务商编号",
    "provider_name": "服务商名称", "service_date": "服务日期", "price": "服务价格（元）",
    "subsidy": "补贴（元）", "copay": "个人自付（元）", "review_result": "回访结果",
    "payable": "应付补贴（元）", "withheld": "扣回补贴（元）", "pending": "待定补贴（元）",
    "entry": "记录类型", "adjusts_month": "调整所属月份",
    # the summaries and the settlement
    "dimension": "汇总维度", "group_code": "分组编号", "group_name": "分组名称",
    "visits": "服务次数", "adjustments": "调整笔数", "elders": "服务老人数",
    "verified": "已核实次数", "denied": "已扣回次数", "pending_reviews": "待回访次数",
    "adjustment_payable": "调整应付补贴（元）",
    # funding sources: the detail's sources and the report for one source's funding body
    "funding_sources": "补贴来源", "source": "资金来源",
    "source_subsidy": "该来源补贴（元）", "source_payable": "该来源应付（元）",
    "source_withheld": "该来源扣回（元）", "source_pending": "该来源待定（元）",
}
# `subsidy_<source>`: one money column per funding source, named after the source.
SOURCE_COLUMN_PREFIX = "subsidy_"
# The packaged policy's funding sources (code → Chinese name), for their columns and values.
_SOURCE_NAMES_ZH = {
    "ltc_insurance": "长期护理保险", "national_voucher": "国家居家养老服务消费补贴",
    "city_class": "市级分类补贴", "age_voucher": "高龄服务券", "city_free": "政府埋单（免费项目）",
    "elder": "个人自付", "unsplit": "未分来源",
}

VALUES_ZH = {
    "review_result": {"verified": "已核实", "denied": "已扣回", "pending": "待回访"},
    "entry": {"visit": "本月服务", "adjustment": "往月调整"},
    "dimension": {"street": "街道", "community": "社区", "category": "服务类别",
                  "elder_class": "老人类别", "provider": "服务商"},
}


class UnknownLanguage(ValueError):
    """A language the reports are not written in."""


def header(key: str, lang: str) -> str:
    """A column's name as written in `lang`."""
    if lang != "zh":
        return key
    if key.startswith(SOURCE_COLUMN_PREFIX) and key not in HEADERS_ZH:
        code = key.removeprefix(SOURCE_COLUMN_PREFIX)
        return f"{_SOURCE_NAMES_ZH.get(code, code)}（元）"
    return HEADERS_ZH.get(key, key)


def _source_names(value):
    """`national_voucher;city_class` as the sources' Chinese names."""
    if not isinstance(value, str) or not value:
        return value
    return "；".join(_SOURCE_NAMES_ZH.get(code, code) for code in value.split(";"))


def in_language(tables: list, lang: str) -> list:
    """The tables with their headers and coded values in `lang` (zh or en); rows stay lazy."""
    if lang not in LANGUAGES:
        raise UnknownLanguage(f"lang: must be one of {', '.join(LANGUAGES)}, not {lang!r}")
    if lang == "en":
        return tables
    return [_translated(table) for table in tables]


def _translated(table):
    columns = [replace(c, key=header(c.key, "zh")) for c in table.columns]
    maps = [(i, VALUES_ZH[c.key]) for i, c in enumerate(table.columns) if c.key in VALUES_ZH]
    maps += [(i, _SOURCES) for i, c in enumerate(table.columns) if c.key in ("funding_sources", "source")]
    rows = _rows(table.rows, maps) if maps else table.rows
    return type(table)(table.title, columns, rows)


class _SourceNames:
    """A VALUES_ZH-like map for source codes, one or several joined by `;`."""

    def get(self, value, default=None):
        return _source_names(value)


_SOURCES = _SourceNames()


def _rows(rows, maps) -> Iterator[Sequence]:
    for row in rows:
        values = list(row)
        for i, names in maps:
            values[i] = names.get(values[i], values[i])
        yield values
