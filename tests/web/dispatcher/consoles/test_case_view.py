"""The supervisor's case page (issue 19): everything needed to judge a dispute, its history, priorities
in words, resolved cases searchable, and a denial docking the provider only once judged against it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dispatcher.consoles.auth import add_user
from dispatcher.models import CallbackReview, OperatorTask, Order
from dispatcher.programmes.cases import priority_words
from providers.models import Provider
from providers.quality import recompute
from web.dispatcher.consoles import test_supervisor_views as base

denied = base.denied
supervisor = base.supervisor


def _text(reply) -> str:
    return reply.get_data(as_text=True)


def _dispute(app) -> OperatorTask:
    with app.extensions["vnh.sessionmaker"]() as s:
        return s.scalars(select(OperatorTask).where(OperatorTask.kind == "dispute")).one()


def _provider(app, order_id: int) -> Provider:
    with app.extensions["vnh.sessionmaker"]() as s:
        order = s.get(Order, order_id)
        provider = s.get(Provider, order.provider_id)
        s.expunge(provider)
        return provider


@pytest.mark.parametrize("priority, words", [(0, "紧急"), (1, "紧急"), (2, "高"), (5, "中"), (6, "低")])
def test_priorities_are_told_in_words(priority, words):
    assert priority_words(priority) == words


def test_the_case_page_shows_the_order_people_times_answers_and_history(
        app, session, denied, supervisor, make_worker):
    order = session.get(Order, denied)
    job_code, elder_name, elder_id = order.job_code, order.elder.name, order.elder_id
    provider_name = session.get(Provider, order.provider_id).name
    review = session.scalar(select(CallbackReview))
    review.comment_url = "/switch/recordings/7"
    session.commit()  # end the test's transaction: on SQLite it would hold the app's write lock
    case = _dispute(app)

    page = _text(supervisor.get(f"/supervisor/cases/{case.id}"))

    assert f'href="/console/orders/{denied}"' in page and job_code in page
    assert elder_name in page and f'href="/console/elders/{elder_id}"' in page
    assert provider_name in page
    assert "预约时段" in page and "签到" in page and "签退" in page and "未签到" not in page
    assert "老人说：没有来" in page
    assert '<audio controls preload="none" src="/switch/recordings/7"' in page
    assert "优先级中" in page and "立案：回访中老人表示服务人员未上门" in page and "服务人员签退" in page
    assert "裁定：未上门" in page


def test_a_supervisor_judges_from_the_case_page_and_the_history_keeps_it(app, denied, supervisor):
    case = _dispute(app)

    reply = supervisor.post(f"/supervisor/cases/{case.id}",
                            data={"action": "dispute_not_happened", "note": "服务商拿不出签到证据", "back": "case"})

    assert reply.status_code == 302 and reply.headers["Location"].endswith(f"/supervisor/cases/{case.id}")
    page = _text(supervisor.get(f"/supervisor/cases/{case.id}"))
    assert "裁定：未上门（计入服务商评分）" in page
    assert "老周：裁定：未上门（服务商拿不出签到证据）" in page
    assert _dispute(app).verdict == "not_happened"


def test_resolved_cases_leave_the_queue_but_can_be_found(app, session, denied, supervisor):
    case = _dispute(app)
    job_code = session.get(Order, denied).job_code
    session.commit()
    supervisor.post(f"/supervisor/cases/{case.id}", data={"action": "dispute_happened", "note": "老人记错了日子"})

    assert f"/supervisor/cases/{case.id}" not in _text(supervisor.get("/supervisor"))
    resolved = _text(supervisor.get("/supervisor?resolved=1"))
    assert f"/supervisor/cases/{case.id}" in resolved and "老人记错了日子" in resolved
    assert "服务属实（不扣分）" in resolved
    assert f"/supervisor/cases/{case.id}" in _text(supervisor.get(f"/supervisor?resolved=1&q={job_code}"))
    assert f"/supervisor/cases/{case.id}" in _text(supervisor.get("/supervisor?resolved=1&q=记错"))
    assert f"/supervisor/cases/{case.id}" not in _text(supervisor.get("/supervisor?resolved=1&q=没有这回事"))


def test_the_case_page_is_for_supervisors_only(app, session, clock, denied):
    case = _dispute(app)
    add_user(session, username="li", password="long-enough-pw", role="operator", display_name="小李",
             provider_id=None, now=clock.now())
    session.commit()
    client = app.test_client()
    client.post("/login", data={"username": "li", "password": "long-enough-pw"})

    assert client.get(f"/supervisor/cases/{case.id}").status_code == 403


def test_an_unknown_case_is_not_found(app, denied, supervisor):
    assert supervisor.get("/supervisor/cases/999999").status_code == 404


def test_a_denial_docks_the_provider_only_after_it_is_judged_against_it(
        app, session, clock, settings, denied, supervisor):
    provider_id = session.get(Order, denied).provider_id
    before = recompute(session, provider_id, threshold=0.0, hotline_number=settings.hotline_number,
                       now=clock.now())
    session.commit()
    assert before.parts["denials"] == 0  # the elder's word alone docks nothing

    case = _dispute(app)
    supervisor.post(f"/supervisor/cases/{case.id}", data={"action": "dispute_not_happened", "note": "确未上门"})

    after = _provider(app, denied)
    assert after.quality_parts["denials"] == -3.0
    assert after.quality_score == pytest.approx(before.score - 3.0, abs=1e-3)


def test_a_denial_found_untrue_never_docks_the_provider(app, session, clock, settings, denied, supervisor):
    provider_id = session.get(Order, denied).provider_id
    before = recompute(session, provider_id, threshold=0.0, hotline_number=settings.hotline_number,
                       now=clock.now())
    session.commit()
    case = _dispute(app)

    supervisor.post(f"/supervisor/cases/{case.id}", data={"action": "dispute_happened", "note": "核实已上门"})

    after = _provider(app, denied)
    assert after.quality_parts["denials"] == 0 and after.quality_score == pytest.approx(before.score)


def test_a_scoped_supervisor_opens_and_finds_only_its_areas_cases(area_staff, two_areas):
    client = area_staff["a-supervisor"]
    a, b = two_areas["A"], two_areas["B"]

    assert a.elder_name in _text(client.get(f"/supervisor/cases/{a.case_id}"))
    assert client.get(f"/supervisor/cases/{b.case_id}").status_code == 404
    client.post(f"/supervisor/cases/{a.case_id}", data={"action": "dispute_happened", "note": "已核实"})
    client.post(f"/supervisor/cases/{b.case_id}", data={"action": "dispute_happened", "note": "已核实"})
    found = _text(client.get("/supervisor?resolved=1&q=已核实"))
    assert f"/supervisor/cases/{a.case_id}" in found and f"/supervisor/cases/{b.case_id}" not in found
    assert f"/supervisor/cases/{b.case_id}" not in _text(client.get(f"/supervisor?resolved=1&q={b.elder_name}"))
