"""Assessments on a real database: history, the level that holds on a day, billing from facts,
re-assessment reminders, and the enrollment level as the first assessment."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from billing.charges import charge_for_month
from billing.eligibility import facts_on
from dispatcher.assessments.models import Assessment
from dispatcher.assessments.records import (
    BadAssessment,
    first_assessments,
    history,
    record_assessment,
)
from dispatcher.assessments.reminders import sweep_reassessment_reminders
from dispatcher.models import Item, OperatorTask

TODAY = date(2026, 11, 25)  # the clock's day in Beijing


@pytest.fixture
def assess(session, clock):
    def add(elder, level, assessed_on, valid_until=None, assessor="张评估"):
        found = record_assessment(session, elder, assessed_on=assessed_on, level=level,
                                  assessor=assessor, organisation="城关区评估中心",
                                  valid_until=valid_until, source="console",
                                  recorded_by="staff:op", today=TODAY, now=clock.now())
        session.commit()
        return found
    return add


def test_the_level_that_holds_is_the_newest_assessment_up_to_the_day(session, make_elder, assess):
    elder = make_elder(disability_level="能力完好")
    assess(elder, "轻度失能", date(2026, 1, 10))
    assess(elder, "重度失能", date(2026, 6, 1))
    assert facts_on(session, elder, date(2026, 1, 9)).disability_level is None
    assert facts_on(session, elder, date(2026, 3, 1)).disability_level == "轻度失能"
    assert facts_on(session, elder, date(2026, 6, 1)).disability_level == "重度失能"
    assert [a.level for a in history(session, elder.id)] == ["重度失能", "轻度失能"]
    assert elder.disability_level == "重度失能"


def test_an_expired_assessment_holds_to_the_end_of_its_month_and_stops_the_next(
        session, make_elder, assess):
    elder = make_elder()
    assess(elder, "中度失能", date(2025, 11, 1), valid_until=date(2026, 10, 15))
    assert facts_on(session, elder, date(2026, 10, 31)).disability_level == "中度失能"
    assert facts_on(session, elder, date(2026, 11, 1)).disability_level is None


def test_an_elder_with_no_assessment_on_record_keeps_the_enrollment_level(session, make_elder):
    elder = make_elder(disability_level="完全失能")
    assert facts_on(session, elder, TODAY).disability_level == "完全失能"


def test_the_national_voucher_follows_the_assessment_valid_on_the_visits_day(
        session, policy, make_elder, assess):
    elder = make_elder(elder_class="普通", birth_date=date(1950, 1, 1), disability_level="")
    assess(elder, "中度失能", date(2025, 10, 1), valid_until=date(2026, 9, 30))
    item = session.scalar(select(Item).where(Item.code == "HK06"))
    during, _ = charge_for_month(session, elder=elder, item=item, price_fen=10000, policy=policy,
                                 month="2026-09", day=date(2026, 9, 30))
    after, _ = charge_for_month(session, elder=elder, item=item, price_fen=10000, policy=policy,
                                month="2026-10", day=date(2026, 10, 1))
    assert (during.subsidy_fen, during.source) == (5000, "disability:中度失能")
    assert after.subsidy_fen == 0


def test_an_elder_turning_80_is_charged_as_高龄_from_the_birthday(session, policy, make_elder):
    elder = make_elder(elder_class="普通", birth_date=date(1946, 11, 20), disability_level="")
    item = session.scalar(select(Item).where(Item.code == "HK06"))
    before, _ = charge_for_month(session, elder=elder, item=item, price_fen=10000, policy=policy,
                                 month="2026-11", day=date(2026, 11, 19))
    on_the_day, _ = charge_for_month(session, elder=elder, item=item, price_fen=10000,
                                     policy=policy, month="2026-11", day=date(2026, 11, 20))
    assert before.subsidy_fen == 0
    assert (on_the_day.subsidy_fen, on_the_day.source) == (5000, "class:高龄")
    assert facts_on(session, elder, date(2026, 11, 20)).age == 80


def test_a_typed_高龄_under_80_gets_nothing_for_age(session, policy, make_elder):
    elder = make_elder(elder_class="高龄", birth_date=date(1961, 3, 1), disability_level="")
    assert facts_on(session, elder, TODAY).elder_class == "普通"


@pytest.mark.parametrize(("changes", "field"), [
    ({"level": "半失能"}, "level"),
    ({"assessed_on": TODAY + timedelta(days=1)}, "assessed_on"),
    ({"assessor": ""}, "assessor"),
])
def test_a_bad_assessment_is_refused_with_its_reason_and_nothing_is_written(
        session, make_elder, clock, changes, field):
    elder = make_elder()
    values = {"assessed_on": TODAY, "level": "中度失能", "assessor": "张评估"} | changes
    with pytest.raises(BadAssessment) as error:
        record_assessment(session, elder, **values, source="console", recorded_by="t",
                          today=TODAY, now=clock.now())
    assert [f for f, _ in error.value.problems] == [field]
    assert session.scalar(select(func.count()).select_from(Assessment)) == 0


def test_a_reassessment_reminder_is_opened_once_thirty_days_before_expiry(
        session, make_elder, assess, clock):
    due = make_elder()
    later = make_elder()
    first = assess(due, "重度失能", date(2025, 12, 26), valid_until=TODAY + timedelta(days=30))
    assess(later, "重度失能", date(2026, 1, 1), valid_until=TODAY + timedelta(days=31))
    assert sweep_reassessment_reminders(session, clock.now()) == 1
    session.commit()
    assert sweep_reassessment_reminders(session, clock.now()) == 0
    task = session.scalar(select(OperatorTask).where(OperatorTask.kind == "reassessment"))
    assert task.elder_id == due.id and task.dedupe_key == f"reassessment:{first.id}"
    assert "请安排复评" in task.reason and task.resolved_at is None


def test_a_new_assessment_ends_the_reminders_of_the_old(session, make_elder, assess, clock):
    elder = make_elder()
    assess(elder, "重度失能", date(2025, 12, 1), valid_until=TODAY + timedelta(days=5))
    assess(elder, "中度失能", TODAY)
    assert sweep_reassessment_reminders(session, clock.now()) == 0


def test_the_scheduler_tick_runs_the_reminder_sweeper(app, session, make_elder, assess, clock):
    from dispatcher.operations.sweepers import run_due_work

    assess(make_elder(), "重度失能", date(2025, 12, 1), valid_until=TODAY + timedelta(days=5))
    assert run_due_work(app, clock.now())["reassessment_reminders"] == 1
    assert run_due_work(app, clock.now())["reassessment_reminders"] == 0


def test_the_enrollment_level_becomes_the_first_assessment_once(session, make_elder, clock):
    elder = make_elder(disability_level="中度失能")
    assert first_assessments(session, [elder.id_number], today=TODAY, now=clock.now(),
                             recorded_by="import:x.csv") == 1
    assert first_assessments(session, [elder.id_number], today=TODAY, now=clock.now(),
                             recorded_by="import:x.csv") == 0
    (only,) = history(session, elder.id)
    assert (only.level, only.source, only.assessor) == ("中度失能", "enrollment", "登记表")
    assert only.valid_until == date(2027, 11, 24)
