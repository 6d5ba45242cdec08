from datetime import UTC, datetime, time, timedelta

import pytest

from dispatcher.lifecycle.quiet_hours import outside_quiet_hours, parse_quiet_hours

NIGHT = (time(21, 0), time(8, 0))


def local(day, hour, minute=0):
    """A moment given in Shanghai time (UTC+8), expressed in UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("21:00-08:00", NIGHT),
        (" 21:00 - 08:00 ", NIGHT),
        ("12:30-14:00", (time(12, 30), time(14, 0))),
    ],
)
def test_quiet_hours_parse_from_text(text, expected):
    assert parse_quiet_hours(text) == expected


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_quiet_hours_mean_none(text):
    assert parse_quiet_hours(text) is None


@pytest.mark.parametrize(
    "text",
    ["21:00", "9pm-8am", "21:00-08:00-09:00", "25:00-08:00", "21:00-", "-08:00", "21:00~08:00"],
)
def test_quiet_hours_that_do_not_look_like_a_range_are_rejected(text):
    with pytest.raises(ValueError, match="quiet hours"):
        parse_quiet_hours(text)


@pytest.mark.parametrize(
    ("moment", "moved_to"),
    [
        pytest.param(local(25, 21, 0), local(26, 8, 0), id="21:00-starts-quiet"),
        pytest.param(local(25, 22, 30), local(26, 8, 0), id="22:30-to-next-morning"),
        pytest.param(local(25, 23, 59), local(26, 8, 0), id="23:59-to-next-morning"),
        pytest.param(local(26, 0, 0), local(26, 8, 0), id="midnight-to-same-morning"),
        pytest.param(local(26, 3, 15), local(26, 8, 0), id="03:15-to-same-morning"),
        pytest.param(local(26, 7, 59), local(26, 8, 0), id="07:59-to-same-morning"),
    ],
)
def test_a_moment_inside_the_quiet_hours_moves_to_their_end(moment, moved_to):
    result = outside_quiet_hours(moment, NIGHT)
    assert result == moved_to
    assert result.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "moment",
    [local(26, 8, 0), local(26, 12, 0), local(26, 20, 59)],
    ids=["08:00", "12:00", "20:59"],
)
def test_a_moment_outside_the_quiet_hours_is_unchanged(moment):
    assert outside_quiet_hours(moment, NIGHT) == moment


def test_no_quiet_hours_change_nothing():
    moment = local(25, 23, 0)
    assert outside_quiet_hours(moment, None) == moment


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (local(25, 12, 30), local(25, 14, 0)),
        (local(25, 14, 0), local(25, 14, 0)),
        (local(25, 11, 0), local(25, 11, 0)),
    ],
)
def test_quiet_hours_within_one_day_move_to_their_end_that_day(moment, expected):
    assert outside_quiet_hours(moment, (time(12, 30), time(14, 0))) == expected
