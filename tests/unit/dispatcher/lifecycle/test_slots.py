from datetime import UTC, datetime, timedelta

import pytest

from dispatcher.lifecycle.slots import (
    UnknownSlot,
    half_day_bounds,
    local_day_bounds,
    slot_for,
    slot_label,
    slot_options,
)

# 09:00 on Wednesday 25 November 2026 in Asia/Shanghai (UTC+8).
MORNING = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def utc(day, hour, minute=0):
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_as_soon_as_possible_means_the_next_three_hours():
    slot = slot_for("asap", MORNING)
    assert slot.code == "asap"
    assert slot.label.startswith("尽快")
    assert (slot.start, slot.end) == (MORNING, MORNING + timedelta(hours=3))


@pytest.mark.parametrize(
    ("code", "label", "start", "end"),
    [
        ("today_pm", "今天下午", utc(25, 6), utc(25, 10)),
        ("tomorrow_am", "明天上午", utc(26, 0, 30), utc(26, 4)),
        ("tomorrow_pm", "明天下午", utc(26, 6), utc(26, 10)),
    ],
)
def test_a_half_day_slot_is_its_local_window_given_in_utc(code, label, start, end):
    slot = slot_for(code, MORNING)
    assert (slot.code, slot.label, slot.start, slot.end) == (code, label, start, end)


def test_tomorrow_means_the_local_tomorrow_even_when_utc_is_still_on_the_previous_day():
    # 17:00 UTC on the 25th is already 01:00 on the 26th in Shanghai.
    slot = slot_for("tomorrow_am", utc(25, 17))
    assert (slot.start, slot.end) == (utc(27, 0, 30), utc(27, 4))


@pytest.mark.parametrize("code", ["asap", "today_pm", "tomorrow_am", "tomorrow_pm"])
def test_every_window_is_timezone_aware_utc(code):
    slot = slot_for(code, MORNING)
    assert slot.start.utcoffset() == slot.end.utcoffset() == timedelta(0)
    assert slot.start < slot.end


def test_an_unknown_slot_code_is_rejected():
    with pytest.raises(UnknownSlot):
        slot_for("next_week", MORNING)
    with pytest.raises(UnknownSlot):
        slot_label("tonight")


@pytest.mark.parametrize(
    ("now", "codes"),
    [
        (utc(25, 1), ["asap", "today_pm", "tomorrow_am", "tomorrow_pm"]),
        (utc(25, 4, 59), ["asap", "today_pm", "tomorrow_am", "tomorrow_pm"]),
        (utc(25, 5), ["asap", "tomorrow_am", "tomorrow_pm"]),
        (utc(25, 12), ["asap", "tomorrow_am", "tomorrow_pm"]),
        (utc(25, 16, 30), ["asap", "today_pm", "tomorrow_am", "tomorrow_pm"]),
    ],
    ids=["09:00", "12:59", "13:00", "20:00", "00:30-next-local-day"],
)
def test_this_afternoon_is_offered_only_before_one_pm_local(now, codes):
    assert [slot.code for slot in slot_options(now)] == codes


def test_the_options_are_the_same_windows_as_slot_for():
    assert slot_options(MORNING) == [slot_for(s.code, MORNING) for s in slot_options(MORNING)]


@pytest.mark.parametrize(
    ("moment", "start", "end"),
    [
        (utc(25, 1), utc(24, 16), utc(25, 16)),
        (utc(25, 15, 59), utc(24, 16), utc(25, 16)),
        (utc(25, 16), utc(25, 16), utc(26, 16)),
        (utc(25, 17), utc(25, 16), utc(26, 16)),
    ],
)
def test_the_local_day_runs_from_local_midnight_to_local_midnight_in_utc(moment, start, end):
    bounds = local_day_bounds(moment)
    assert bounds == (start, end)
    assert all(b.utcoffset() == timedelta(0) for b in bounds)


@pytest.mark.parametrize(
    ("moment", "bounds"),
    [
        (utc(25, 1), (utc(24, 16), utc(25, 5))),       # 09:00 local: the morning half-day
        (utc(25, 4, 59), (utc(24, 16), utc(25, 5))),   # 12:59 local
        (utc(25, 5), (utc(25, 5), utc(25, 16))),       # 13:00 local: the afternoon half-day
        (utc(25, 15, 59), (utc(25, 5), utc(25, 16))),  # 23:59 local
    ],
)
def test_a_slots_capacity_is_counted_over_its_local_half_day(moment, bounds):
    assert half_day_bounds(moment) == bounds


def test_every_hotline_slot_lies_in_one_half_day():
    for slot in slot_options(MORNING):
        if slot.code != "asap":
            assert half_day_bounds(slot.start)[1] >= slot.end


# -- any date and time (issue 17) ------------------------------------------------------------------

def test_a_dated_half_day_keeps_its_code_and_says_the_date():
    from dispatcher.lifecycle.slots import dated_slot

    slot = dated_slot(datetime(2026, 12, 3).date(), "am", MORNING)
    assert slot.code == "2026-12-03/am"
    assert slot.label == "12月3日 星期四 上午"
    assert (slot.start, slot.end) == (utc(3, 0, 30).replace(month=12), utc(3, 4).replace(month=12))
    assert slot_label("2026-12-03/pm") == "12月3日 星期四 下午"
    assert slot_for("2026-11-26/pm", MORNING).label == "明天 11月26日 星期四 下午"


def test_a_set_time_is_an_hour_long():
    slot = slot_for("2026-11-27/09:30", MORNING)
    assert slot.label == "后天 11月27日 星期五 上午9点半"
    assert (slot.start, slot.end) == (utc(27, 1, 30), utc(27, 2, 30))


@pytest.mark.parametrize(("day", "part", "why"), [
    (24, "pm", "已经过去"),           # yesterday
    (25, "am", "已经过去或马上开始"),  # this morning has begun
    (25, "09:30", "已经过去或马上开始"),
    (25, "25:00", "时间格式不对"),
])
def test_a_dated_slot_in_the_past_or_too_soon_is_refused(day, part, why):
    from dispatcher.lifecycle.slots import SlotRefused, dated_slot

    with pytest.raises(SlotRefused, match=why):
        dated_slot(datetime(2026, 11, day).date(), part, MORNING)


def test_a_dated_slot_beyond_the_horizon_is_refused():
    from dispatcher.lifecycle.slots import SlotRefused, dated_slot

    with pytest.raises(SlotRefused, match="60天以内"):
        dated_slot(datetime(2027, 1, 25).date(), "am", MORNING)
    assert dated_slot(datetime(2027, 1, 24).date(), "am", MORNING).code == "2027-01-24/am"


@pytest.mark.parametrize("code", ["2026-12-03/noon", "2026-13-03/am", "someday/am"])
def test_a_malformed_dated_code_is_unknown(code):
    with pytest.raises(UnknownSlot):
        slot_for(code, MORNING)
