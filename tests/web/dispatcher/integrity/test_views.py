"""The supervisor's flag page and the bureau's counts, through the browser's requests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from billing import ledger
from dispatcher.consoles.auth import add_user
from dispatcher.integrity.checks import month_bounds, run_checks
from dispatcher.integrity.models import IntegrityFlag
from dispatcher.integrity.rules import Rules


def sign_in(app, session, clock, role, username):
    from providers.models import Provider

    provider_id = session.scalar(select(Provider.id).where(Provider.code == "P7001")) if (
        role == "provider") else None
    add_user(session, username=username, password="long-enough-pw", role=role,
             display_name=username, provider_id=provider_id, now=clock.now())
    session.commit()
    client = app.test_client()
    assert client.post("/login", data={"username": username,
                                       "password": "long-enough-pw"}).status_code == 302
    return client


@pytest.fixture
def flagged(session, clock, make_provider, make_worker, make_visit, make_elder, bill):
    provider = make_provider(code="P7001", name="夕阳红家政")
    worker = make_worker(provider)
    start = clock.now() - timedelta(days=3)
    first = make_visit(provider=provider, worker=worker, start=start, minutes=90)
    second = make_visit(provider=provider, worker=worker, start=start + timedelta(minutes=30),
                        elder=make_elder(latitude=36.07, longitude=103.83))
    bill(first, verified=True)
    bill(second, verified=True)
    since, until = month_bounds("2026-11")
    run_checks(session, Rules(), since, min(until, clock.now()), clock.now())
    session.commit()
    found = (Seen(worker.phone, worker.id_number, None, None),
             Seen(None, None, first.id, first.order.job_code),
             Seen(None, None, second.id, second.order.job_code))
    session.rollback()  # SQLite: no transaction of the test's may hold the write lock
    return found


class Seen:
    def __init__(self, phone, id_number, visit_id, job_code):
        self.phone, self.id_number, self.id, self.job_code = phone, id_number, visit_id, job_code


def _flag(session, visit):
    """The visit's flag, read and let go of (the app's requests need the database)."""
    flag = session.scalar(select(IntegrityFlag).where(IntegrityFlag.visit_id == visit.id))
    session.expunge(flag)
    session.rollback()
    return flag


def outcome(session, visit):
    found = ledger.visit_outcome(session, visit.id)
    session.rollback()
    return found


def test_a_supervisor_lists_filters_and_opens_a_flag_with_the_worker_masked(app, session, clock,
                                                                            flagged):
    worker, first, second = flagged
    client = sign_in(app, session, clock, "supervisor", "jiandu")
    page = client.get("/supervisor/integrity/?month=2026-11").get_data(as_text=True)
    assert first.job_code in page and second.job_code in page
    assert "夕阳红家政" in page and "同一服务人员同时在两处服务" in page
    assert worker.phone not in page and worker.id_number not in page
    assert "本月没有标记" not in page
    empty = client.get("/supervisor/integrity/?month=2026-11&check=travel").get_data(as_text=True)
    assert first.job_code not in empty and "没有符合条件的标记" in empty
    assert client.get("/supervisor/integrity/?state=maybe").status_code == 400
    one = client.get(f"/supervisor/integrity/{_flag(session, second).id}").get_data(as_text=True)
    assert "overlap_minutes" in one and "排除" in one and worker.id_number not in one
    assert client.get("/supervisor/integrity/999999").status_code == 404


def test_clearing_a_flag_pays_the_visit_and_records_who_and_why(app, session, clock, flagged):
    _, first, second = flagged
    client = sign_in(app, session, clock, "supervisor", "jiandu")
    flag = _flag(session, second)
    assert outcome(session, second) is None
    refused = client.post(f"/supervisor/integrity/{flag.id}/decide", data={"action": "clear", "note": ""},
                          follow_redirects=True)
    assert "请填写处理说明" in refused.get_data(as_text=True)
    client.post(f"/supervisor/integrity/{flag.id}/decide", data={"action": "clear", "note": "电话核实属实"})
    flag = _flag(session, second)
    assert flag.state == "cleared" and flag.decision_note == "电话核实属实"
    assert flag.decided_by is not None
    assert outcome(session, second) == ledger.VERIFY
    assert outcome(session, first) is None


def test_confirming_a_flag_withholds_the_subsidy(app, session, clock, flagged):
    _, first, _ = flagged
    client = sign_in(app, session, clock, "supervisor", "jiandu")
    flag = _flag(session, first)
    client.post(f"/supervisor/integrity/{flag.id}/decide", data={"action": "confirm", "note": "虚假签到"})
    assert _flag(session, first).state == "confirmed"
    assert outcome(session, first) == ledger.WITHHOLD
    assert client.post(f"/supervisor/integrity/{flag.id}/decide",
                       data={"action": "dance", "note": "x"}).status_code == 400


@pytest.mark.parametrize("role", ["operator", "bureau", "provider"])
def test_other_roles_are_refused_the_flag_pages(app, session, clock, flagged, role):
    _, first, _ = flagged
    client = sign_in(app, session, clock, role, f"someone-{role}")
    flag = _flag(session, first)
    assert client.get("/supervisor/integrity/").status_code == 403
    assert client.get(f"/supervisor/integrity/{flag.id}").status_code == 403
    assert client.post(f"/supervisor/integrity/{flag.id}/decide",
                       data={"action": "clear", "note": "x"}).status_code == 403
    assert _flag(session, first).state == "open"


def test_anonymous_visitors_are_sent_to_sign_in(app, flagged):
    response = app.test_client().get("/supervisor/integrity/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_bureau_page_counts_flags_per_check_and_provider(app, session, clock, flagged):
    client = sign_in(app, session, clock, "bureau", "minzheng")
    page = client.get("/bureau/?month=2026-11").get_data(as_text=True)
    assert "诚信核查" in page and "夕阳红家政" in page and "同一服务人员同时在两处服务" in page
