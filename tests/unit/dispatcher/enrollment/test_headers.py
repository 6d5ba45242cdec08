"""Header cells to columns: names as people write them."""

from __future__ import annotations

import pytest

from dispatcher.enrollment.headers import HeaderMap, normalise_header
from dispatcher.enrollment.rows import COLUMNS, OPTIONAL_COLUMNS


def elders() -> HeaderMap:
    return HeaderMap("elders", COLUMNS["elders"], OPTIONAL_COLUMNS["elders"])


@pytest.mark.parametrize("cell, column", [
    ("联系电话", "phone"), ("手机", "phone"), ("手机号码", "phone"), ("电话号码", "phone"),
    ("紧急联系人电话", "emergency_contact_phone"), ("紧急联系电话", "emergency_contact_phone"),
    ("联系人电话", "emergency_contact_phone"), ("身份证", "id_number"), ("身份证号码", "id_number"),
    ("公民身份号码", "id_number"), ("住址", "address"), ("家庭住址", "address"),
    ("＊身份证号（必填）", "id_number"), ("　手 机 号 码 ", "phone"), ("ID_Number", "id_number"),
    ("Emergency Contact Phone", "emergency_contact_phone"), ("Lives alone", "lives_alone"),
])  # fmt: skip
def test_common_ways_of_writing_a_column_name_it(cell, column):
    assert elders().names[normalise_header(cell)] == column


def test_full_width_letters_and_marks_fold_to_half_width():
    assert normalise_header("ＩＤ Ｎｕｍｂｅｒ*") == normalise_header("id_number")


def test_a_header_with_only_the_needed_columns_is_found():
    line, positions = elders().locate([(1, ["标题"]), (2, ["身份证", "姓名", "手机", "住址", "类别"])])

    assert line == 2 and positions == {"id_number": 0, "name": 1, "phone": 2, "address": 3, "elder_class": 4}


def test_an_unknown_cell_is_named_with_the_closest_known_name():
    assert elders().unknown(["紧急联络电话", "备注"]) == [
        "column '紧急联络电话' is not read: did you mean 紧急联系电话?", "column '备注' is not read"]


@pytest.mark.parametrize("kind, cell, column", [
    ("providers", "企业名称", "name"), ("providers", "统一社会信用代码", "license_no"),
    ("providers", "联系电话", "dispatch_phone"), ("providers", "服务半径（公里）", "service_radius_km"),
    ("offerings", "单价（元）", "price_yuan"), ("offerings", "项目代码", "item_code"),
])  # fmt: skip
def test_providers_and_offerings_files_are_read_as_generously(kind, cell, column):
    headers = HeaderMap(kind, COLUMNS[kind], OPTIONAL_COLUMNS[kind])

    assert headers.names[normalise_header(cell)] == column
