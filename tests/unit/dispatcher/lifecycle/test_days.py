"""The day a caller says (issue 17), said on Wednesday 25 November 2026."""

from datetime import date, time

import pytest

from dispatcher import texts
from dispatcher.lifecycle.days import chinese_number, parse_day

WEDNESDAY = date(2026, 11, 25)


@pytest.mark.parametrize(("said", "day"), [
    ("今天", date(2026, 11, 25)),
    ("明天上午", date(2026, 11, 26)),
    ("后天", date(2026, 11, 27)),
    ("大后天吧", date(2026, 11, 28)),
    ("星期五", date(2026, 11, 27)),
    ("周一", date(2026, 11, 30)),           # the next Monday
    ("礼拜天", date(2026, 11, 29)),
    ("星期三", date(2026, 11, 25)),         # today is a Wednesday
    ("下周三", date(2026, 12, 2)),
    ("下星期一", date(2026, 11, 30)),
    ("下个礼拜五", date(2026, 12, 4)),
    ("下周日", date(2026, 12, 6)),
    ("这周六", date(2026, 11, 28)),
    ("3号", date(2026, 12, 3)),             # the 3rd has passed this month: next month's
    ("三号", date(2026, 12, 3)),
    ("二十八号", date(2026, 11, 28)),
    ("12月3日", date(2026, 12, 3)),
    ("十二月三号", date(2026, 12, 3)),
    ("1月5号", date(2027, 1, 5)),           # next January
    ("11月1日", date(2027, 11, 1)),         # passed this year: next year's
])
def test_a_said_day_means_the_next_such_date(said, day):
    assert parse_day(said, WEDNESDAY) == day


@pytest.mark.parametrize("said", ["", "嗯", "上午", "越快越好", "2月30号", "星期八", "13月1日"])
def test_words_naming_no_day_give_none(said):
    assert parse_day(said, WEDNESDAY) is None


def test_month_end_is_respected_for_a_day_of_the_month():
    assert parse_day("31号", date(2026, 11, 25)) == date(2026, 12, 31)  # November has no 31st


@pytest.mark.parametrize(("text", "number"), [("一", 1), ("十", 10), ("十二", 12), ("二十五", 25),
                                              ("三十一", 31), ("12", 12), ("两", 2), ("", None), ("百", None)])
def test_chinese_numbers(text, number):
    assert chinese_number(text) == number


@pytest.mark.parametrize(("day", "words"), [
    (date(2026, 11, 25), "今天 11月25日 星期三"),
    (date(2026, 11, 26), "明天 11月26日 星期四"),
    (date(2026, 11, 27), "后天 11月27日 星期五"),
    (date(2026, 12, 3), "12月3日 星期四"),
])
def test_a_date_is_said_as_a_person_would(day, words):
    assert texts.day_words(day, WEDNESDAY) == words
    assert texts.day_words(day) == words.removeprefix("今天 ").removeprefix("明天 ").removeprefix("后天 ")


@pytest.mark.parametrize(("at", "words"), [(time(9), "上午9点"), (time(12), "中午12点"), (time(15, 30), "下午3点半"),
                                           (time(16, 15), "下午4点15分"), (time(19), "晚上7点")])
def test_a_time_is_said_as_a_person_would(at, words):
    assert texts.clock_words(at) == words


def test_the_place_of_a_venue_visit_is_the_venue_not_the_elders_home():
    from types import SimpleNamespace

    from dispatcher.lifecycle.evv import service_place

    elder = SimpleNamespace(address="城关区民勤街1号")
    canteen = SimpleNamespace(item=SimpleNamespace(place="venue", venue="社区老年食堂"), elder=elder)
    at_home = SimpleNamespace(item=SimpleNamespace(place="home", venue=None), elder=elder)

    assert service_place(canteen) == "社区老年食堂（老人到场，非老人家中）"
    assert service_place(at_home) == "城关区民勤街1号"
