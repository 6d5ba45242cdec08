"""Assessments' rules: validity, expiry from the next month, reminders, one row's values."""

from __future__ import annotations

from datetime import date

import pytest

from dispatcher.assessments.rules import (
    add_months,
    check_assessment,
    default_valid_until,
    holds_on,
    parse_row,
    reminder_from,
    stops_on,
)
from dispatcher.enrollment.identity import validate_id_number
from dispatcher.enrollment.rows import parse_date

TODAY = date(2026, 12, 1)


def test_an_assessment_holds_twelve_months_by_default():
    assert default_valid_until(date(2026, 3, 5)) == date(2027, 3, 4)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)


def test_an_expired_assessment_still_holds_to_the_end_of_its_month():
    valid_until = date(2026, 6, 15)
    assert stops_on(valid_until) == date(2026, 7, 1)
    assert holds_on(date(2025, 6, 16), valid_until, date(2026, 6, 30))
    assert not holds_on(date(2025, 6, 16), valid_until, date(2026, 7, 1))
    assert stops_on(date(2026, 12, 31)) == date(2027, 1, 1)


def test_an_assessment_holds_only_from_its_own_day():
    assert not holds_on(date(2026, 6, 16), date(2027, 6, 15), date(2026, 6, 15))


def test_the_reminder_is_due_thirty_days_before_expiry():
    assert reminder_from(date(2027, 3, 4)) == date(2027, 2, 2)


@pytest.mark.parametrize(("args", "field", "reason"), [
    ((date(2026, 12, 2), "中度失能", None, "张评估", None), "assessed_on", "2026-12-02 is in the future"),
    ((date(2026, 11, 2), "中度", None, "张评估", None), "level", "'中度' is not a level of GB/T 42195"),
    ((date(2026, 11, 2), "中度失能", None, " ", None), "assessor", "is required"),
    ((date(2026, 11, 2), "中度失能", 130, "张评估", None), "score", "130 is not a score from 0 to 100"),
    ((date(2026, 11, 2), "中度失能", None, "张评估", date(2026, 1, 1)), "valid_until", "is before"),
])
def test_a_bad_assessment_is_refused_with_its_field_and_reason(args, field, reason):
    problems = check_assessment(*args, today=TODAY)
    assert [f for f, _ in problems] == [field]
    assert reason in problems[0][1]


def row(**values):
    base = {"id_number": "62010219410305001X", "assessed_on": "2026-11-20", "level": "重度失能",
            "score": "35", "assessor": "张评估", "organisation": "城关区评估中心", "valid_until": ""}
    return base | values


def parse(values):
    return parse_row(values, TODAY, parse_date, lambda text: text)


def test_a_good_row_gets_twelve_months_when_no_end_is_given():
    record, problems = parse(row())
    assert problems == []
    assert (record.level, record.score, record.valid_until) == ("重度失能", 35, date(2027, 11, 19))


def test_a_row_names_every_bad_column_in_file_order():
    _, problems = parse(row(assessed_on="2027-01-01", level="半失能", assessor=""))
    assert [column for column, _ in problems] == ["assessed_on", "level", "assessor"]


def test_an_unreadable_date_or_score_is_named():
    _, problems = parse(row(assessed_on="去年", score="三十"))
    assert dict(problems)["assessed_on"] == "'去年' is not a date like 1941-03-05"
    assert dict(problems)["score"] == "'三十' is not a number"


def test_a_bad_id_number_is_named():
    _, problems = parse_row(row(id_number="123"), TODAY, parse_date, validate_id_number)
    assert problems[0][0] == "id_number"
