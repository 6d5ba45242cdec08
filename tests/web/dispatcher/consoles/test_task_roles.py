"""Who may close which task from the console: every kind against every console role."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dispatcher.consoles.auth import add_user
from dispatcher.consoles.operator import (
    CLOSED_BY,
    KIND_NAMES,
    QUEUE_RANK,
    TRANSFER_KINDS,
    may_close,
)
from dispatcher.lifecycle.tasks import open_task
from dispatcher.models import OperatorTask
from dispatcher.programmes.supervision import SUPERVISOR_KINDS

SUPERVISOR_ONLY = ("dispute", "low_rating", "complaint", "month_close", "review_sample", "review_unreachable")
OPERATORS_TOO = ("emergency", "operator_request", "silence", "unknown_caller", "invalid", "speech", "worker",
                 "transfer", "voicemail", "after_hours", "unassigned", "late_check_in", "failed_message",
                 "wellbeing_alarm", "reassessment")


@pytest.fixture
def signed_in(app, session, clock):
    """A signed-in console client for a role."""

    def sign_in(role: str):
        add_user(session, username=f"u-{role}", password="long-enough-pw", role=role, display_name=role,
                 provider_id=None, now=clock.now())
        session.commit()
        client = app.test_client()
        assert client.post("/login", data={"username": f"u-{role}", "password": "long-enough-pw"}).status_code == 302
        return client

    return sign_in


@pytest.fixture
def task_of(session, clock, make_elder):
    def make(kind: str) -> int:
        elder = make_elder()
        task = open_task(session, kind=kind, reason="测试", dedupe_key=f"test:{kind}:{elder.id}", now=clock.now(),
                         elder_id=elder.id)
        session.commit()
        return task.id

    return make


def _resolved(app, task_id: int) -> bool:
    with app.extensions["vnh.sessionmaker"]() as s:
        return s.get(OperatorTask, task_id).resolved_at is not None


def test_every_kind_the_product_names_has_a_line_in_the_table():
    named = set(SUPERVISOR_KINDS) | set(TRANSFER_KINDS) | set(QUEUE_RANK) | set(KIND_NAMES)
    assert named <= set(CLOSED_BY)
    assert set(CLOSED_BY) == set(SUPERVISOR_ONLY) | set(OPERATORS_TOO)


def test_a_kind_missing_from_the_table_is_the_supervisors_alone():
    assert not may_close("operator", "something_new")
    assert may_close("supervisor", "something_new") and may_close("admin", "something_new")


@pytest.mark.parametrize("role", ["operator", "supervisor", "admin"])
@pytest.mark.parametrize("kind", SUPERVISOR_ONLY + OPERATORS_TOO)
def test_closing_a_task_from_the_console_is_for_the_roles_its_kind_names(app, signed_in, task_of, role, kind):
    client, task_id = signed_in(role), task_of(kind)
    response = client.post(f"/console/tasks/{task_id}/close",
                           data={"outcome": "已解答", "note": "已处理", "confirm_emergency": "1"})
    if role == "operator" and kind in SUPERVISOR_ONLY:
        assert response.status_code == 403
        assert not _resolved(app, task_id)
    else:
        assert response.status_code == 302
        assert _resolved(app, task_id)


def test_an_operator_placing_an_order_does_not_close_the_elders_dispute(app, session, signed_in, task_of,
                                                                         make_provider):
    make_provider()
    task_id = task_of("dispute")
    elder_id = session.get(OperatorTask, task_id).elder_id
    response = signed_in("operator").post(f"/console/elders/{elder_id}/orders",
                                          data={"item_code": "HK01", "slot_code": "asap", "task_id": task_id})
    assert response.status_code == 302
    assert not _resolved(app, task_id)


def test_an_operator_placing_an_order_for_a_transferred_call_closes_it(app, session, signed_in, task_of,
                                                                        make_provider):
    make_provider()
    task_id = task_of("operator_request")
    elder_id = session.scalar(select(OperatorTask.elder_id).where(OperatorTask.id == task_id))
    response = signed_in("operator").post(f"/console/elders/{elder_id}/orders",
                                          data={"item_code": "HK01", "slot_code": "asap", "task_id": task_id})
    assert response.status_code == 302
    assert _resolved(app, task_id)
