"""Care plans in the browser: the operators' plan pages (with CSRF), and the provider's week in the portal."""

from __future__ import annotations

import re
from datetime import date, time

import pytest
from sqlalchemy import func, select

from dispatcher.consoles.auth import add_user
from dispatcher.lifecycle import orders
from dispatcher.models import Item, Order
from dispatcher.plans import generation, service
from dispatcher.plans.models import CarePlan, PlanChange
from providers.models import Offer

PASSWORD = "long-enough-pw"
TODAY = date(2026, 11, 25)
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    def __init__(self, client):
        self.client, self.token = client, None

    def sign_in(self, username):
        page = self.client.get("/login").get_data(as_text=True)
        reply = self.client.post("/login", data={"username": username, "password": PASSWORD,
                                                 "csrf_token": _TOKEN.search(page)[1]})
        assert reply.status_code == 302
        return self

    def get(self, url):
        reply = self.client.get(url)
        found = _TOKEN.search(reply.get_data(as_text=True))
        if found:
            self.token = found[1]
        return reply

    def post(self, url, data):
        return self.client.post(url, data={"csrf_token": self.token, **data}, follow_redirects=True)


@pytest.fixture
def sign_in(app, session, clock):
    app.config["WTF_CSRF_ENABLED"] = True

    def sign(username, role, provider_id=None, street=None):
        user = add_user(session, username=username, password=PASSWORD, role=role, display_name=username,
                        provider_id=provider_id, now=clock.now())
        user.street = street  # an account bound to one street (dispatcher.consoles.scope)
        session.commit()
        return Browser(app.test_client()).sign_in(username)

    return sign


def test_an_operator_adds_pauses_and_ends_a_plan_from_the_elder_page(sign_in, session, make_elder, make_provider):
    make_provider(latitude=36.0590, longitude=103.8280, offerings={"ML01": 1200})
    elder = make_elder()
    operator = sign_in("xiaoli", "operator")
    assert "服务计划" in operator.get(f"/console/elders/{elder.id}").get_data(as_text=True)
    page = operator.get(f"/console/elders/{elder.id}/plans")
    assert page.status_code == 200

    added = operator.post(f"/console/elders/{elder.id}/plans/add", {
        "item": "ML01", "rule": "FREQ=DAILY", "at": "11:30", "starts": str(TODAY), "duration": "30"})
    text = added.get_data(as_text=True)
    assert "已建立服务计划" in text
    plan = session.scalar(select(CarePlan).where(CarePlan.elder_id == elder.id))
    plan_id = plan.id
    assert plan.duration_min == 30 and plan.rule == "FREQ=DAILY"
    assert session.scalar(select(func.count()).select_from(Order).where(Order.plan_id == plan_id)) == 7
    session.rollback()  # SQLite: the next request writes only when no session holds the file

    paused = operator.post(f"/console/plans/{plan_id}/pause", {"from": "2026-11-27", "to": "2026-11-28",
                                                               "reason": "住院"})
    assert "已暂停" in paused.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Order).where(
        Order.plan_id == plan_id, Order.state == "cancelled")) == 2
    session.rollback()

    ended = operator.post(f"/console/plans/{plan_id}/end", {"on": "2026-11-29"})
    assert "已结束" in ended.get_data(as_text=True)
    session.expire_all()
    assert session.get(CarePlan, plan_id).state == "ended"
    changes = session.scalars(select(PlanChange).where(PlanChange.plan_id == plan_id).order_by(PlanChange.id)).all()
    assert [(c.action, c.source) for c in changes] == [("added", "console"), ("paused", "console"),
                                                       ("ended", "console")]
    assert {c.changed_by for c in changes} != {None}


def test_a_bad_rule_from_the_console_is_refused_with_the_reason_and_saves_nothing(sign_in, session, make_elder):
    elder = make_elder()
    operator = sign_in("xiaoli", "operator")
    operator.get(f"/console/elders/{elder.id}/plans")
    reply = operator.post(f"/console/elders/{elder.id}/plans/add", {
        "item": "ML01", "rule": "FREQ=MINUTELY", "at": "11:30", "starts": str(TODAY)})
    assert "未保存" in reply.get_data(as_text=True) and "每天至多" in reply.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(CarePlan)) == 0


def test_a_form_without_its_csrf_token_is_refused(sign_in, app, session, make_elder):
    elder = make_elder()
    operator = sign_in("xiaoli", "operator")
    reply = operator.client.post(f"/console/elders/{elder.id}/plans/add", data={
        "item": "ML01", "rule": "FREQ=DAILY", "at": "11:30", "starts": str(TODAY)})
    assert reply.status_code == 400
    assert session.scalar(select(func.count()).select_from(CarePlan)) == 0


def test_an_account_scoped_to_another_street_cannot_see_or_change_the_elders_plans(sign_in, make_elder):
    elder = make_elder(street="酒泉路街道")
    other = sign_in("street", "operator", street="白银路街道")
    assert other.get(f"/console/elders/{elder.id}/plans").status_code == 404


def test_a_provider_sees_its_week_with_every_occurrence_per_day(sign_in, session, settings, clock, make_elder,
                                                                 make_provider):
    provider = make_provider(latitude=36.0590, longitude=103.8280, offerings={"ML01": 1200})
    elder = make_elder()
    plan = service.add_plan(session, elder=elder, item=session.scalar(select(Item).where(Item.code == "ML01")),
                            rule="FREQ=DAILY", at=time(11, 30), starts_on=TODAY, notes="少盐", now=clock.now())
    session.commit()
    generation.sweep(session, settings, clock.now())
    lead = session.scalar(select(Order).where(Order.plan_id == plan.id).order_by(Order.occurrence_date).limit(1))
    offer = session.scalar(select(Offer).where(Offer.order_id == lead.id))
    assert orders.accept_offer(session, offer, provider.id, "portal", settings, clock.now()).ok
    session.commit()
    codes = session.scalars(select(Order.job_code).where(Order.plan_id == plan.id)).all()
    session.rollback()

    page = sign_in("staff", "provider", provider.id).get("/portal/week").get_data(as_text=True)

    assert "11月25日 星期三" in page and "12月1日 星期二" in page
    assert all(code in page for code in codes) and page.count("少盐") == 7
    rival = make_provider(offerings={"ML01": 1200})
    theirs = sign_in("rival", "provider", rival.id).get("/portal/week").get_data(as_text=True)
    assert not any(code in theirs for code in codes)
