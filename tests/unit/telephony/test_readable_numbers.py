"""Phone numbers as Chinese staff write them (issue 19): 139 0000 0001, 0931-5790068."""

from __future__ import annotations

import pytest

from telephony.numbers import readable


@pytest.mark.parametrize(("number", "shown", "masked"), [
    ("+8613900000001", "139 0000 0001", "139 **** 0001"),
    ("+869315790068", "0931-5790068", "0931-***0068"),
    ("+861058001234", "010-58001234", "010-****1234"),
    ("+862087654321", "020-87654321", "020-****4321"),
    ("+864008001234", "400 800 1234", "+8640****1234"),
    ("+14155550100", "+1 415-555-0100", "+141****0100"),
])
def test_numbers_read_the_way_staff_write_them(number, shown, masked):
    assert readable(number) == shown
    assert readable(number, masked=True) == masked


@pytest.mark.parametrize("number", ["", None])
def test_no_number_reads_as_nothing(number):
    assert readable(number) == "" and readable(number, masked=True) == ""


def test_what_does_not_parse_is_kept_as_given_or_masked():
    assert readable("anonymous") == "anonymous"
    assert readable("+8695555") == "+8695555"
    assert "5555" in readable("+8695555", masked=True) and "9" not in readable("+8695555", masked=True)[:-4]
