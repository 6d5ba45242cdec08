"""Plan rules and occurrence days: examples, and properties (hypothesis) of the pure generation."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatcher.plans.generation import compiled_rule, wanted_rows
from dispatcher.plans.rules import BadRule, describe, parse_rule, plan_days

START = date(2026, 11, 25)
RULES = ["FREQ=DAILY", "FREQ=DAILY;INTERVAL=2", "FREQ=DAILY;INTERVAL=3", "FREQ=WEEKLY;BYDAY=TU",
         "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "FREQ=WEEKLY;INTERVAL=2;BYDAY=SA", "FREQ=MONTHLY;BYMONTHDAY=1,15",
         "FREQ=DAILY;COUNT=5", "FREQ=DAILY;UNTIL=20261210"]


@pytest.mark.parametrize(("rule", "words"), [
    ("FREQ=DAILY", "每天"), ("FREQ=DAILY;INTERVAL=2", "每2天"), ("FREQ=WEEKLY;BYDAY=TU", "每周二"),
    ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "每个工作日"), ("FREQ=WEEKLY;BYDAY=TU,FR", "每周二、周五"),
])
def test_a_rule_is_described_in_a_few_words(rule, words):
    assert describe(rule) == words


def test_a_rule_every_tuesday_occurs_on_tuesdays_only():
    days = plan_days(parse_rule("FREQ=WEEKLY;BYDAY=TU", START), starts_on=START, until=None,
                     first=START, last=START + timedelta(days=27))
    assert len(days) == 4 and {d.weekday() for d in days} == {1}


@pytest.mark.parametrize("rule", ["FREQ=DAILY;UNTIL=20261124", "FREQ=DAILY;COUNT=0",
                                  "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=31", "FREQ=MINUTELY", "FREQ=DAILY;BYHOUR=7,19",
                                  "RRULE:FREQ=DAILY\nRRULE:FREQ=WEEKLY", "DTSTART:20261125\nRRULE:FREQ=DAILY", ""])
def test_a_rule_that_never_occurs_or_occurs_more_than_once_a_day_is_refused(rule):
    with pytest.raises(BadRule):
        parse_rule(rule, START)


pauses = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 6)), max_size=4).map(
    lambda spans: [(START + timedelta(days=a), START + timedelta(days=a + n)) for a, n in spans])


@given(rule=st.sampled_from(RULES), offset=st.integers(0, 30), span=st.integers(0, 20),
       until=st.one_of(st.none(), st.integers(0, 60)), paused=pauses)
def test_plan_days_fall_within_the_plan_and_never_on_a_paused_day(rule, offset, span, until, paused):
    last_day = START + timedelta(days=until) if until is not None else None
    first, last = START + timedelta(days=offset), START + timedelta(days=offset + span)
    days = plan_days(compiled_rule(rule, START), starts_on=START, until=last_day, first=first, last=last,
                     pauses=paused)
    assert days == sorted(set(days))
    assert all(first <= d <= last and (last_day is None or d <= last_day) for d in days)
    assert not any(a <= d <= b for d in days for a, b in paused)
    every = plan_days(compiled_rule(rule, START), starts_on=START, until=last_day, first=first, last=last)
    assert set(days) <= set(every)
    assert set(every) - set(days) == {d for d in every if any(a <= d <= b for a, b in paused)}


plans = st.lists(st.tuples(st.sampled_from(RULES), st.integers(0, 10), st.integers(6, 20)), min_size=1, max_size=6)


@given(specs=plans, cut=st.integers(0, 100), paused=pauses)
def test_generating_twice_adds_nothing_and_a_partial_run_is_completed_without_duplicates(specs, cut, paused):
    now = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    plan_rows = [SimpleNamespace(id=n, elder_id=n, item_id=1, rule=rule, at_time=time(hour, 0), duration_min=60,
                                 starts_on=START + timedelta(days=start), until=None)
                 for n, (rule, start, hour) in enumerate(specs, 1)]
    first, last = START, START + timedelta(days=6)
    by_plan = {p.id: paused for p in plan_rows}
    full = wanted_rows(plan_rows, by_plan, set(), first, last, now)
    keys = [(r["plan_id"], r["occurrence_date"]) for r in full]
    assert len(keys) == len(set(keys))
    assert all(r["window_start_at"] > now for r in full)
    # A run that stopped part-way (a crash, another scheduler) is finished by the next, never doubled.
    done = set(keys[: len(keys) * cut // 100])
    rest = wanted_rows(plan_rows, by_plan, done, first, last, now)
    assert done | {(r["plan_id"], r["occurrence_date"]) for r in rest} == set(keys)
    assert not done & {(r["plan_id"], r["occurrence_date"]) for r in rest}
    assert wanted_rows(plan_rows, by_plan, set(keys), first, last, now) == []
