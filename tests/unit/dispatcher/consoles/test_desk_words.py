"""The desk's words (issue 19): the ranking as a sentence, outcomes to close, ages, counts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from dispatcher.consoles.desk import (
    OUTCOMES,
    CloseRefused,
    age_in_years,
    closing_note,
    counts_by_state,
    ranking_words,
    remaining,
)
from dispatcher.consoles.operator import phone_for

REASONS = {"distance_m": 586, "quality_score": 4.5, "booked_that_day": 2, "parts": {"distance": 0.586}}


def test_the_ranking_reads_as_a_sentence():
    assert ranking_words(REASONS, nearest=True) == "最近 0.6 公里，评分 4.5，今日已接 2 单"
    assert ranking_words(REASONS) == "距离 0.6 公里，评分 4.5，今日已接 2 单"
    assert ranking_words({**REASONS, "area": "community"}).endswith("，同社区")
    assert ranking_words({}) == "" and ranking_words(None) == ""


def test_the_outcomes_are_the_short_list():
    assert OUTCOMES == ("已下单", "已解答", "已转介", "无法联系", "误拨", "其他")


@pytest.mark.parametrize("outcome", ["", " ", "已处理", "done"])
def test_a_close_without_a_listed_outcome_is_refused(outcome):
    with pytest.raises(CloseRefused, match="请选择办结结果"):
        closing_note(SimpleNamespace(kind="operator_request"), outcome, "note", confirmed=True)


def test_an_emergency_needs_the_confirmation_too():
    emergency = SimpleNamespace(kind="emergency")
    with pytest.raises(CloseRefused, match="紧急求助"):
        closing_note(emergency, "已转介", "", confirmed=False)
    assert closing_note(emergency, "已转介", "", confirmed=True) == "已转介"


def test_the_note_is_optional_and_kept_tidy():
    task = SimpleNamespace(kind="voicemail")
    assert closing_note(task, "误拨", "", confirmed=False) == "误拨"
    assert closing_note(task, "其他", " 老人\n 要求 明天再打 ", confirmed=False) == "其他：老人 要求 明天再打"
    assert len(closing_note(task, "其他", "长" * 2000, confirmed=False)) < 500


def test_ages_are_in_years_on_the_local_date():
    # 16:30 UTC on 31 December is already 1 January in Lanzhou: the birthday has come.
    now = datetime(2025, 12, 31, 16, 30, tzinfo=UTC)
    assert age_in_years(date(1940, 1, 1), now) == "86岁"
    assert age_in_years(date(1940, 1, 2), now) == "85岁"
    assert age_in_years(None, now) == ""


def test_time_left_to_answer():
    now = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
    assert remaining(now.replace(minute=7), now) == "7分钟"
    assert remaining(now.replace(hour=3, minute=5), now) == "1小时5分"
    assert remaining(now.replace(hour=1), now) == "已超时"


def test_counts_by_state_follow_the_lifecycle():
    rows = [SimpleNamespace(state=s) for s in ("accepted", "offered", "offered", "unassigned")]
    assert counts_by_state(rows) == [("offered", 2), ("unassigned", 1), ("accepted", 1)]


@pytest.mark.parametrize(("role", "shown"), [("operator", "139 1234 0001"), ("admin", "139 1234 0001"),
                                             ("supervisor", "139 **** 0001"), ("bureau", "139 **** 0001")])
def test_phone_numbers_keep_their_masking_by_role(role, shown):
    assert phone_for(role, "+8613912340001") == shown
