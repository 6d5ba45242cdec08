"""The month-end reminder: a calendar job kept as rows, sent once, late rather than never."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from billing.closing import close_month
from dispatcher.models import OperatorTask
from dispatcher.operations.health import health_report
from dispatcher.operations.sweepers import run_due_work
from dispatcher.programmes.month_end import MonthEndReminder, sweep_due_reminders
from dispatcher.programmes.supervision import supervisor_queue

from ...billing.test_billing import NEAR, _answer, _visit

DUE = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 09:00 on 1 December in Beijing


@pytest.fixture
def provider(make_provider):
    return make_provider(latitude=NEAR[0], longitude=NEAR[1], offerings={"HK01": 4800})


def _reminders(session) -> list[MonthEndReminder]:
    return list(session.scalars(select(MonthEndReminder).order_by(MonthEndReminder.month)))


def test_the_current_months_reminder_is_a_row_due_at_nine_on_the_next_months_first_day(session, clock):
    assert sweep_due_reminders(session, clock.now()) == 0
    session.commit()
    (row,) = _reminders(session)
    assert (row.month, row.state, row.due_at) == ("2026-11", "scheduled", DUE)


def test_the_reminder_names_the_reviews_still_pending_and_is_sent_once(
    session, policy, settings, clock, make_elder, provider
):
    _visit(session, policy, settings, clock, make_elder())
    sweep_due_reminders(session, clock.now())
    clock.set(datetime(2026, 12, 1, 0, 0, tzinfo=UTC))  # 08:00 in Beijing: not yet due
    assert sweep_due_reminders(session, clock.now()) == 0
    clock.set(DUE)
    assert sweep_due_reminders(session, clock.now()) == 1
    assert sweep_due_reminders(session, clock.now()) == 0
    session.commit()

    (task,) = [t for t in supervisor_queue(session) if t.kind == "month_close"]
    assert "2026-11" in task.reason and "1次上门服务的回访尚未完成" in task.reason
    november, december = _reminders(session)
    assert november.state == "done" and december.state == "scheduled"
    assert december.due_at == datetime(2027, 1, 1, 1, 0, tzinfo=UTC)


def test_a_scheduler_that_was_down_at_month_end_sends_the_reminder_when_it_comes_back(app, session, clock):
    sweep_due_reminders(session, clock.now())
    session.commit()
    clock.set(datetime(2026, 12, 4, 3, 0, tzinfo=UTC))  # three days late
    assert health_report(session, clock.now())["oldest_overdue_s"] == (3 * 86400 + 2 * 3600)
    session.rollback()
    assert run_due_work(app, clock.now())["month_end_reminders"] == 1
    assert run_due_work(app, clock.now())["month_end_reminders"] == 0
    tasks = session.scalars(select(OperatorTask).where(OperatorTask.kind == "month_close")).all()
    assert [t.dedupe_key for t in tasks] == ["month_close:2026-11"]


def test_a_month_already_closed_needs_no_reminder(session, policy, settings, clock, make_elder, provider):
    _answer(session, _visit(session, policy, settings, clock, make_elder()), True, clock)
    sweep_due_reminders(session, clock.now())
    clock.set(datetime(2026, 12, 1, 0, 0, tzinfo=UTC))  # 08:00 in Beijing, before the reminder is due
    close_month(session, "2026-11", policy=policy, now=clock.now())
    clock.set(DUE)
    assert sweep_due_reminders(session, clock.now()) == 0
    session.commit()
    assert _reminders(session)[0].outcome == "already closed"
    assert not session.scalars(select(OperatorTask).where(OperatorTask.kind == "month_close")).all()
