"""The provider portal: offers, today's and upcoming jobs, visits, settlement — each company its own.

CSRF protection is on for these tests (the shared app fixture turns it off): every form posts the
token the page gave it, as a browser does.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from billing.reports import settlement_tables
from dispatcher.clock import local
from dispatcher.consoles.auth import add_user
from dispatcher.enrollment.identity import mask_id_number
from dispatcher.lifecycle import attendance, orders
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import Item, Order
from providers.models import Offer
from telephony.models import OutboxMessage
from telephony.numbers import mask_phone

PASSWORD = "long-enough-pw"
ADDRESS_A = "城关区酒泉路街道民勤街社区3号楼2单元"
ADDRESS_B = "城关区白银路街道贡元巷社区7号楼1单元"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A signed-in staff member's browser: it posts forms with the CSRF token pages carry."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def sign_in(self, username: str):
        page = self.client.get("/login").get_data(as_text=True)
        reply = self.client.post("/login", data={"username": username, "password": PASSWORD,
                                                 "csrf_token": _TOKEN.search(page)[1]})
        assert reply.status_code == 302, reply.get_data(as_text=True)
        return self

    def get(self, url: str, **kwargs):
        reply = self.client.get(url, **kwargs)
        found = _TOKEN.search(reply.get_data(as_text=True))
        if found:
            self.token = found[1]
        return reply

    def post(self, url: str, data: dict | None = None, follow: bool = True):
        if self.token is None:
            self.get("/portal/")
        return self.client.post(url, data={"csrf_token": self.token, **(data or {})},
                                follow_redirects=follow)


@pytest.fixture
def staff(app, make_provider):
    """Provider A sells HK01 and provider B sells HK02; both answer emergencies (EM03)."""
    a = make_provider(offerings={"HK01": 4800, "EM03": 8000}, latitude=36.0590, longitude=103.8280)
    b = make_provider(offerings={"HK02": 4000, "EM03": 8000}, latitude=36.0591, longitude=103.8281)
    app.config["WTF_CSRF_ENABLED"] = True
    return {"a": a, "b": b}


@pytest.fixture
def browser(app, session, clock, staff):
    """Sign in as staff_a or staff_b (A's or B's staff), operator or admin; accounts made on demand."""
    accounts = {"staff_a": ("provider", staff["a"].id), "staff_b": ("provider", staff["b"].id),
                "operator": ("operator", None), "admin": ("admin", None)}

    def sign_in(username: str) -> Browser:
        role, provider_id = accounts[username]
        # Password hashing is slow on purpose: make only the accounts a test signs in with.
        add_user(session, username=username, password=PASSWORD, role=role, display_name=username,
                 provider_id=provider_id, now=clock.now())
        session.commit()
        return Browser(app.test_client()).sign_in(username)

    return sign_in


@pytest.fixture
def place(session, settings, clock, make_elder):
    def place_item(item_code: str, slot: str = "asap", **elder_fields) -> Order:
        elder = make_elder(**elder_fields)
        item = session.scalar(select(Item).where(Item.code == item_code))
        order = orders.place_order(session, elder=elder, item=item, slot=slot_for(slot, clock.now()),
                                   source="phone", call_sid=None, settings=settings, now=clock.now())
        session.commit()
        return order

    return place_item


def _offer_of(session, order: Order) -> Offer:
    session.expire_all()
    offer = session.scalars(select(Offer).where(Offer.order_id == order.id).order_by(Offer.id)).first()
    # End the read: on SQLite every transaction holds the write lock the app is about to need.
    session.commit()
    return offer


def _accepted(session, settings, clock, order: Order) -> Order:
    offer = _offer_of(session, order)
    orders.accept_offer(session, offer, offer.provider_id, "sms", settings, clock.now())
    session.commit()
    return order


def _completed(session, settings, clock, policy, order: Order) -> Order:
    _accepted(session, settings, clock, order)
    attendance.check_in(session, order, order.provider_id, "sms", clock.now())
    attendance.check_out(session, order, order.provider_id, "sms", policy, settings, clock.now())
    session.commit()
    return order


def _snapshot(session, order: Order | int) -> tuple:
    """Everything an answer or a visit step could change."""
    order_id = order if isinstance(order, int) else order.id
    session.expire_all()
    fresh = session.get(Order, order_id)
    snapshot = (
        fresh.state, fresh.provider_id, fresh.visit is not None,
        fresh.visit.checked_in_at if fresh.visit else None,
        [(o.provider_id, o.status, o.responded_at, o.response_channel)
         for o in session.scalars(select(Offer).where(Offer.order_id == order_id).order_by(Offer.id))],
        session.scalar(select(func.count()).select_from(OutboxMessage)),
    )
    session.commit()
    return snapshot


def _text(reply) -> str:
    return reply.get_data(as_text=True)


def test_the_landing_page_leads_provider_staff_to_the_portal(browser):
    page = _text(browser("staff_a").get("/"))

    assert 'href="/portal/"' in page and "服务商门户" in page


def test_my_open_offer_is_listed_with_its_deadline_in_beijing_time(browser, session, place):
    order = place("HK01")
    offer = _offer_of(session, order)
    deadline = local(offer.expires_at)

    page = _text(browser("staff_a").get("/portal/"))

    assert order.job_code in page and ADDRESS_A in page and "48.00 元" in page
    assert f"{deadline:%m月%d日 %H:%M}" in page
    assert deadline.hour == 9  # 01:00 UTC plus the offer window, shown as Beijing time
    assert f"/portal/offers/{offer.id}/accept" in page and f"/portal/offers/{offer.id}/decline" in page


def test_accepting_in_the_portal_assigns_the_order_through_the_shared_service(browser, session, staff, place):
    order = place("HK01")
    offer = _offer_of(session, order)

    reply = browser("staff_a").post(f"/portal/offers/{offer.id}/accept")

    assert reply.status_code == 200 and f"/portal/jobs/{order.id}" == reply.request.path
    assert "接单" in _text(reply) and order.job_code in _text(reply)
    session.expire_all()
    assert (session.get(Order, order.id).state, session.get(Order, order.id).provider_id) == (
        "accepted", staff["a"].id)
    assert session.get(Offer, offer.id).response_channel == "portal"
    session.commit()


def test_declining_in_the_portal_moves_the_order_on(browser, session, place):
    order = place("HK01")
    offer = _offer_of(session, order)

    reply = browser("staff_a").post(f"/portal/offers/{offer.id}/decline")

    assert f"已拒绝工单{order.job_code}" in _text(reply)
    session.expire_all()
    assert session.get(Offer, offer.id).status == "declined"
    # A is the only provider of HK01: the order goes to the operator queue.
    assert session.get(Order, order.id).state == "unassigned"
    session.commit()


def test_checking_in_and_out_in_the_portal_completes_and_bills_the_visit(
        browser, session, settings, clock, place, staff, make_worker):
    make_worker(staff["a"], work_number="W007")
    order = _accepted(session, settings, clock, place("HK01"))
    portal = browser("staff_a")

    checked_in = portal.post(f"/portal/jobs/{order.id}/check-in", {"worker": "W007"})
    clock.advance(3600)
    checked_out = portal.post(f"/portal/jobs/{order.id}/check-out")

    assert "已签到" in _text(checked_in) and "已签退" in _text(checked_out)
    session.expire_all()
    fresh = session.get(Order, order.id)
    assert fresh.state == "completed"
    assert (fresh.visit.check_in_source, fresh.visit.check_out_source, fresh.visit.worker_ref) == (
        "portal", "portal", "W007")
    session.commit()


def test_today_and_upcoming_jobs_are_listed_with_the_right_button(
        browser, session, settings, clock, place):
    today = _accepted(session, settings, clock, place("HK01"))
    started = _accepted(session, settings, clock, place("HK01"))
    attendance.check_in(session, started, started.provider_id, "sms", clock.now())
    session.commit()
    tomorrow = _accepted(session, settings, clock, place("HK01", slot="tomorrow_am"))

    page = _text(browser("staff_a").get("/portal/"))

    todays, upcoming = page.split("今日工单")[1].split("即将开始的工单")
    assert today.job_code in todays and started.job_code in todays and tomorrow.job_code in upcoming
    assert f"/portal/jobs/{today.id}/check-in" in todays
    assert f"/portal/jobs/{started.id}/check-out" in todays
    assert f"/portal/jobs/{tomorrow.id}/check-in" in upcoming


def test_a_job_shows_the_address_but_masks_the_elders_phone_and_id_number(
        browser, session, settings, clock, place):
    order = _accepted(session, settings, clock, place("HK01", phone="+8613912345678"))
    id_number = order.elder.id_number

    page = _text(browser("staff_a").get(f"/portal/jobs/{order.id}"))

    assert ADDRESS_A in page
    assert mask_phone("+8613912345678") in page and "13912345678" not in page
    assert mask_id_number(id_number) in page and id_number not in page


def test_accepting_an_expired_offer_is_refused_in_chinese_and_changes_nothing(
        browser, session, clock, place):
    order = place("HK01")
    offer = _offer_of(session, order)
    portal = browser("staff_a")
    portal.get("/portal/")
    clock.set(offer.expires_at)
    before = _snapshot(session, order)

    reply = portal.post(f"/portal/offers/{offer.id}/accept")

    assert f"工单{order.job_code}已失效或已由其他服务商接单" in _text(reply)
    assert _snapshot(session, order) == before


def test_accepting_a_withdrawn_offer_is_refused_and_changes_nothing(
        browser, session, settings, clock, place):
    order = place("HK01")
    offer = _offer_of(session, order)
    orders.cancel_order(session, order, "老人取消", settings, clock.now())
    session.commit()
    before = _snapshot(session, order)

    reply = browser("staff_a").post(f"/portal/offers/{offer.id}/accept")

    assert "已失效" in _text(reply)
    assert _snapshot(session, order) == before


def test_accepting_an_emergency_another_provider_won_is_refused_and_changes_nothing(
        browser, session, settings, clock, staff, place):
    order = place("EM03")
    offers = {o.provider_id: o for o in session.scalars(select(Offer).where(Offer.order_id == order.id))}
    orders.accept_offer(session, offers[staff["b"].id], staff["b"].id, "sms", settings, clock.now())
    session.commit()
    withdrawn_id, b_id = offers[staff["a"].id].id, staff["b"].id
    before = _snapshot(session, order)

    reply = browser("staff_a").post(f"/portal/offers/{withdrawn_id}/accept")

    assert f"工单{order.job_code}已失效或已由其他服务商接单" in _text(reply)
    assert _snapshot(session, order) == before
    session.expire_all()
    assert session.get(Order, order.id).provider_id == b_id
    session.commit()


def test_checking_out_before_checking_in_is_refused_and_changes_nothing(
        browser, session, settings, clock, place):
    order = _accepted(session, settings, clock, place("HK01"))
    before = _snapshot(session, order)

    reply = browser("staff_a").post(f"/portal/jobs/{order.id}/check-out")

    assert "尚未签到，不能签退" in _text(reply)
    assert _snapshot(session, order) == before


def test_a_too_long_worker_reference_is_refused_and_changes_nothing(
        browser, session, settings, clock, place):
    order = _accepted(session, settings, clock, place("HK01"))
    before = _snapshot(session, order)

    reply = browser("staff_a").post(f"/portal/jobs/{order.id}/check-in", {"worker": "W" * 21})

    assert "工号不能超过20个字符" in _text(reply)
    assert _snapshot(session, order) == before


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(browser, session, place):
    order = place("HK01")
    offer = _offer_of(session, order)
    before = _snapshot(session, order)

    reply = browser("staff_a").client.post(f"/portal/offers/{offer.id}/accept")

    assert reply.status_code == 400
    assert _snapshot(session, order) == before


def test_the_settlement_shows_the_bureaus_figures_for_my_company_only(
        app, browser, session, settings, clock, policy, staff, place):
    _completed(session, settings, clock, policy, place("HK01"))
    _completed(session, settings, clock, policy, place("HK02", address=ADDRESS_B, name="李桂兰"))
    (table,) = settlement_tables(session, "2026-11")
    mine = next(r for r in table.records() if r["provider_code"] == staff["a"].code)
    session.commit()

    page = _text(browser("staff_a").get("/portal/settlement?month=2026-11"))

    assert (mine["visits"], mine["price"]) == (1, 4800) and "48.00 元" in page
    assert f"{mine['subsidy'] / 100:.2f} 元" in page and "待回访" in page
    assert staff["a"].name in page
    assert staff["b"].name not in page and "李桂兰" not in page and "40.00 元" not in page


def test_a_month_that_does_not_parse_falls_back_to_this_month(browser):
    page = _text(browser("staff_a").get("/portal/settlement?month=2026-13"))

    assert "月份“2026-13”无效" in page and "2026-11 结算" in page


@pytest.mark.parametrize("username, status", [("operator", 403), ("admin", 403)])
def test_staff_who_are_not_provider_staff_are_refused(browser, username, status):
    portal = browser(username)

    assert portal.get("/portal/").status_code == status
    assert portal.get("/portal/settlement").status_code == status


def test_the_portal_asks_a_stranger_to_sign_in(app, staff):
    reply = app.test_client().get("/portal/")

    assert reply.status_code == 302 and "/login" in reply.headers["Location"]


# Provider A's staff, against provider B's open offer and B's accepted job. Every portal route
# has an entry; a route added without one fails the coverage test below.
def _b_is_absent(reply, world) -> None:
    page = _text(reply)
    assert reply.status_code == 200
    assert ADDRESS_B not in page and world["job_code"] not in page
    assert world["done_order_no"] not in page and "李桂兰" not in page
    assert f"/portal/offers/{world['offer_id']}" not in page and f"/portal/jobs/{world['job_id']}" not in page


def _not_found(reply, world) -> None:
    assert reply.status_code == 404 and "没有找到" in _text(reply)


def _b_worker_is_absent(reply, world) -> None:
    assert reply.status_code == 200 and world["worker_name"] not in _text(reply)


def _nothing_added_to_b(reply, world) -> None:
    assert reply.status_code in (303, 400)


ISOLATION = {
    ("GET", "/portal/"): (lambda w: "/portal/", _b_is_absent),
    ("GET", "/portal/settlement"): (lambda w: "/portal/settlement", _b_is_absent),
    # Issue 19: the cards the portal page polls are the signed-in provider's own.
    ("GET", "/portal/cards"): (lambda w: "/portal/cards", _b_is_absent),
    ("GET", "/portal/offers/<int:offer_id>"): (lambda w: f"/portal/offers/{w['offer_id']}", _not_found),
    ("POST", "/portal/offers/<int:offer_id>/accept"):
        (lambda w: f"/portal/offers/{w['offer_id']}/accept", _not_found),
    ("POST", "/portal/offers/<int:offer_id>/decline"):
        (lambda w: f"/portal/offers/{w['offer_id']}/decline", _not_found),
    ("GET", "/portal/jobs/<int:order_id>"): (lambda w: f"/portal/jobs/{w['job_id']}", _not_found),
    ("POST", "/portal/jobs/<int:order_id>/check-in"):
        (lambda w: f"/portal/jobs/{w['job_id']}/check-in", _not_found),
    ("POST", "/portal/jobs/<int:order_id>/check-out"):
        (lambda w: f"/portal/jobs/{w['job_id']}/check-out", _not_found),
    # Issue 18: the worker list is the signed-in provider's own; B's workers are not found.
    ("GET", "/portal/workers"): (lambda w: "/portal/workers", _b_worker_is_absent),
    ("POST", "/portal/workers"): (lambda w: "/portal/workers", _nothing_added_to_b),
    ("POST", "/portal/workers/<int:worker_id>/active"):
        (lambda w: f"/portal/workers/{w['worker_id']}/active", _not_found),
    ("POST", "/portal/workers/<int:worker_id>/certificates"):
        (lambda w: f"/portal/workers/{w['worker_id']}/certificates", _not_found),
}


def test_every_portal_route_has_an_isolation_check(app):
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules() if rule.endpoint.startswith("portal.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}

    assert routes == set(ISOLATION)


@pytest.fixture
def world_b(session, settings, clock, policy, staff, place, make_worker):
    """B's open offer, B's accepted job for today, and a billed visit of B's this month (as ids)."""
    done = _completed(session, settings, clock, policy, place("HK02", address=ADDRESS_B, name="李桂兰"))
    job = _accepted(session, settings, clock, place("HK02", address=ADDRESS_B))
    open_order = place("HK02", address=ADDRESS_B)
    world = {"offer_id": _offer_of(session, open_order).id, "open_id": open_order.id, "job_id": job.id,
             "job_code": job.job_code, "done_order_no": done.order_no}
    worker = make_worker(staff["b"], name="赵敏")
    world["worker_id"], world["worker_name"] = worker.id, worker.name
    session.commit()
    return world


def _b_state(session, world) -> list:
    return [_snapshot(session, world[k]) for k in ("open_id", "job_id")]


@pytest.mark.parametrize("route", sorted(ISOLATION), ids=lambda r: f"{r[0]} {r[1]}")
def test_provider_a_staff_cannot_see_or_act_on_provider_b_data(browser, session, world_b, route):
    method, _ = route
    url_of, check = ISOLATION[route]
    portal = browser("staff_a")
    before = _b_state(session, world_b)

    reply = portal.get(url_of(world_b)) if method == "GET" else portal.post(url_of(world_b), follow=False)

    check(reply, world_b)
    assert _b_state(session, world_b) == before


def test_provider_b_staff_see_their_own_offer_and_job(browser, session, world_b):
    """The isolation checks above would pass on an empty page; B's own staff do see it all."""
    portal = browser("staff_b")

    index = _text(portal.get("/portal/"))

    assert world_b["job_code"] in index and f"/portal/offers/{world_b['offer_id']}" in index
    assert ADDRESS_B in index
    assert portal.get(f"/portal/offers/{world_b['offer_id']}").status_code == 200
    assert portal.get(f"/portal/jobs/{world_b['job_id']}").status_code == 200
    settlement = _text(portal.get("/portal/settlement"))
    assert world_b["done_order_no"] in settlement and "李桂兰" in settlement and "40.00 元" in settlement


# -- issue 18: the worker on record and the proof of place ---------------------------------------------

def test_the_portal_check_in_names_a_worker_on_record_and_the_phone_location_proves_the_place(
        browser, session, settings, clock, place, staff, make_worker):
    worker = make_worker(staff["a"])
    worker_id, number = worker.id, worker.work_number
    order = _accepted(session, settings, clock, place("HK01"))
    session.commit()
    portal = browser("staff_a")
    page = _text(portal.get(f"/portal/jobs/{order.id}"))
    assert number in page and "portal_geo.js" in page and 'name="latitude"' in page

    refused = portal.post(f"/portal/jobs/{order.id}/check-in", {"worker": "9999"})
    assert "不在本服务商登记的名单上" in _text(refused)
    done = portal.post(f"/portal/jobs/{order.id}/check-in", {"worker": number,
                                                              "latitude": "36.0581", "longitude": "103.8271"})
    assert "已签到" in _text(done) and "手机定位核验" in _text(done)
    session.expire_all()
    visit = session.get(Order, order.id).visit
    assert (visit.worker_id, visit.check_in_method) == (worker_id, "location")
    assert visit.check_in_device and len(visit.check_in_device) <= 64
    session.commit()


def test_a_wrong_visit_code_in_the_portal_is_refused_but_counted(
        browser, session, settings, clock, place, staff, make_worker):
    number = make_worker(staff["a"]).work_number
    order = _accepted(session, settings, clock, place("HK01"))
    right = session.get(Order, order.id).visit_code
    session.commit()
    wrong = f"{(int(right) + 1) % 10000:04d}"
    reply = browser("staff_a").post(f"/portal/jobs/{order.id}/check-in", {"worker": number, "visit_code": wrong})
    assert "验证码不对" in _text(reply)
    session.expire_all()
    fresh = session.get(Order, order.id)
    assert (fresh.state, fresh.visit_code_failures) == ("accepted", 1)
    session.commit()


def test_provider_staff_keep_their_workers_in_the_portal_with_id_numbers_masked(browser, session, staff):
    from dispatcher.enrollment.identity import check_digit

    id_number = "62010219800601001" + check_digit("62010219800601001")
    portal = browser("staff_a")
    added = _text(portal.post("/portal/workers", {"name": "张丽", "phone": "13712340001", "id_number": id_number,
                                                 "items": "HK01"}))
    assert "已添加服务人员张丽，工号0001" in added
    again = _text(portal.post("/portal/workers", {"name": "张丽", "phone": "13712340002", "id_number": id_number}))
    assert "已登记为本服务商的服务人员" in again
    page = _text(portal.get("/portal/workers"))
    assert "张丽" in page and id_number not in page and "13712340001" not in page
    from providers.models import Worker

    worker_id = session.scalar(select(Worker.id).where(Worker.provider_id == staff["a"].id))
    session.commit()
    assert "已添加证书" in _text(portal.post(f"/portal/workers/{worker_id}/certificates",
                                           {"kind": "健康证", "expires_on": "2026-01-01"}))
    assert "已停用" in _text(portal.post(f"/portal/workers/{worker_id}/active", {"active": ""}))
    assert "已过期" in _text(portal.get("/portal/workers"))
    other = browser("staff_b")
    assert other.post(f"/portal/workers/{worker_id}/active", {"active": "1"}).status_code == 404
