"""Age classes from the birth date on the day, under the policy's [version.age] rule."""

from __future__ import annotations

import textwrap
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.eligibility import age_class_from, age_class_problem, age_on, derived_class
from billing.policy import PolicyError, load_policy
from billing.policy_tables import AgeRule, parse_age

ON_BIRTHDAY = AgeRule("高龄", 80, "birthday")
NEXT_MONTH = AgeRule("高龄", 80, "next_month")


def test_an_elder_turning_80_is_高龄_from_the_birthday_under_the_birthday_rule():
    born = date(1946, 12, 15)
    assert derived_class("普通", born, date(2026, 12, 14), ON_BIRTHDAY) == "普通"
    assert derived_class("普通", born, date(2026, 12, 15), ON_BIRTHDAY) == "高龄"


def test_an_elder_turning_80_is_高龄_from_the_next_month_under_the_next_month_rule():
    born = date(1946, 12, 15)
    assert derived_class("普通", born, date(2026, 12, 31), NEXT_MONTH) == "普通"
    assert derived_class("普通", born, date(2027, 1, 1), NEXT_MONTH) == "高龄"
    assert age_class_from(born, NEXT_MONTH) == date(2027, 1, 1)


def test_a_29_february_birthday_counts_on_1_march_in_a_common_year():
    assert age_class_from(date(1944, 2, 29), ON_BIRTHDAY) == date(2024, 2, 29)
    assert age_class_from(date(1948, 2, 29), ON_BIRTHDAY) == date(2028, 2, 29)
    assert age_class_from(date(1947, 2, 28), ON_BIRTHDAY) == date(2027, 2, 28)
    assert age_class_from(date(1946, 2, 28), NEXT_MONTH) == date(2026, 3, 1)


def test_a_typed_高龄_under_80_is_derived_down_to_普通():
    assert derived_class("高龄", date(1961, 5, 1), date(2026, 12, 1), ON_BIRTHDAY) == "普通"


def test_a_means_tested_class_is_kept_whatever_the_age():
    for elder_class in ("特困", "低保", "优抚"):
        assert derived_class(elder_class, date(1940, 1, 1), date(2026, 12, 1), ON_BIRTHDAY) == elder_class
        assert derived_class(elder_class, date(1961, 1, 1), date(2026, 12, 1), ON_BIRTHDAY) == elder_class


def test_a_高龄_class_that_contradicts_the_birth_date_is_explained():
    reason = age_class_problem("高龄", date(1961, 5, 1), date(2026, 12, 1))
    assert reason == "高龄 is for elders aged 80 and over: born 1961-05-01, 65 on 2026-12-01"
    assert age_class_problem("高龄", date(1946, 12, 1), date(2026, 12, 1)) is None
    assert age_class_problem("普通", date(1961, 5, 1), date(2026, 12, 1)) is None


@given(st.dates(date(1900, 1, 1), date(2020, 12, 31)), st.dates(date(2000, 1, 1), date(2100, 1, 1)))
def test_the_birthday_rule_agrees_with_the_age_on_the_day(born, day):
    assert (day >= age_class_from(born, ON_BIRTHDAY)) == (age_on(born, day) >= 80)


@given(st.dates(date(1900, 1, 1), date(2020, 12, 31)), st.dates(date(2000, 1, 1), date(2100, 1, 1)))
def test_the_next_month_rule_never_starts_before_the_birthday_rule(born, day):
    if derived_class("普通", born, day, NEXT_MONTH) == "高龄":
        assert derived_class("普通", born, day, ON_BIRTHDAY) == "高龄"
        assert age_class_from(born, NEXT_MONTH).day == 1


def test_the_shipped_policy_says_高龄_starts_on_the_birthday():
    version = load_policy().versions[-1]
    assert parse_age(version.tables.get("age")) == ON_BIRTHDAY


@pytest.mark.parametrize(("table", "message"), [
    ('[version.age]\nstarts = "tomorrow"', "age: starts: must be one of birthday, next_month"),
    ("[version.age]\nyears = 8", "age: years: must be a whole number from 50 to 120"),
    ("[version.age]\ncolour = 1", "age: colour: unknown field"),
    ("[version.hourly]\nunit_minutes = 7", "hourly: unit_minutes: 7 must divide an hour"),
    ("[version.hourly]\nmin_share_percent = 101", "hourly: min_share_percent: must be a whole"),
])
def test_a_bad_age_or_hourly_table_stops_the_policy_loading_and_is_named(tmp_path, table, message):
    path = tmp_path / "policy.toml"
    path.write_text(textwrap.dedent("""
        [[version]]
        name = "2026-01"
        effective_from = 2026-01-01
        rollover = false
        [[version.class]]
        code = "普通"
        share_percent = 0
        monthly_cap_yuan = "0.00"
    """) + table + "\n", encoding="utf-8")
    with pytest.raises(PolicyError) as error:
        load_policy(path)
    assert f"version '2026-01': {message}" in str(error.value)


def test_restating_the_default_tables_keeps_a_version_fingerprint(tmp_path):
    shipped = load_policy().versions[0]
    bare = type(shipped)(shipped.name, shipped.effective_from, shipped.rollover, shipped.classes,
                         shipped.disability, shipped.free_items)
    assert shipped.fingerprint() == bare.fingerprint()
    changed = type(shipped)(shipped.name, shipped.effective_from, shipped.rollover,
                            shipped.classes, shipped.disability, shipped.free_items,
                            {"hourly": {"unit_minutes": 15}})
    assert changed.fingerprint() != bare.fingerprint()
