"""Issue 17 in the console: an order for any date and time, and an order moved (改期) or skipped (跳过)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from dispatcher.consoles.auth import add_user
from dispatcher.enrollment.models import AuditEntry
from dispatcher.lifecycle import orders
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import Item, Order
from providers.models import Offer, ProviderDayOff
from telephony.models import OutboxMessage
from telephony.simulator import FlaskTransport, Phone


@pytest.fixture
def operator(app, session, clock):
    add_user(session, username="xiaoli", password="long-enough-pw", role="operator",
             display_name="话务员小李", provider_id=None, now=clock.now())
    session.commit()
    client = app.test_client()
    assert client.post("/login", data={"username": "xiaoli", "password": "long-enough-pw"}).status_code == 302
    return client


@pytest.fixture
def elder(make_elder):
    return make_elder(name="王秀英", phone="+8613912340001")


def _read(app, model, *where):
    with app.extensions["vnh.sessionmaker"]() as session:
        return session.scalars(select(model).where(*where)).all()


def _accepted_order(app, session, settings, clock, elder, provider) -> Order:
    item = session.scalar(select(Item).where(Item.code == "ML01"))
    order = orders.place_order(session, elder=elder, item=item, slot=slot_for("tomorrow_am", clock.now()),
                               source="operator", call_sid=None, settings=settings, now=clock.now())
    session.commit()
    phone = Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"])
    assert "已接单" in phone.send_sms(provider.dispatch_phone, f"{order.job_code} 接")
    return order


def test_an_order_by_hand_for_any_date_and_time(app, operator, elder, make_provider):
    make_provider(offerings={"HK01": 4800}, latitude=36.0590, longitude=103.8280)
    form = {"item_code": "HK01", "slot_code": "", "day": "2026-12-10", "part": "time", "at": "15:30"}

    preview = operator.post(f"/console/elders/{elder.id}/orders/preview", data=form).get_data(as_text=True)
    operator.post(f"/console/elders/{elder.id}/orders", data=form)

    assert "12月10日 星期四 下午3点半" in preview
    (order,) = _read(app, Order)
    assert order.slot_code == "2026-12-10/15:30" and order.state == "offered"
    assert 'type="date"' in operator.get(f"/console/elders/{elder.id}").get_data(as_text=True)


@pytest.mark.parametrize(("form", "why"), [
    ({"day": "2026-11-20", "part": "am"}, "已经过去"),
    ({"day": "2027-03-01", "part": "am"}, "60天以内"),
    ({"day": "2026-12-10", "part": "time", "at": ""}, "请填写上门的具体时间"),
    ({"day": "2026-12-10", "part": "evening"}, "请选择上午、下午或具体时间"),
    ({"day": "", "slot_code": ""}, "请选择上门时间"),
])
def test_an_order_by_hand_at_a_bad_time_is_refused_in_chinese(app, operator, elder, form, why):
    response = operator.post(f"/console/elders/{elder.id}/orders", data={"item_code": "HK01", **form})

    assert response.status_code == 400 and why in response.get_data(as_text=True)
    assert _read(app, Order) == []


def test_moving_from_the_console_keeps_the_provider_and_texts_it(app, operator, session, settings, clock, elder,
                                                                 make_provider):
    provider = make_provider(offerings={"ML01": 1200}, latitude=36.0590, longitude=103.8280)
    order = _accepted_order(app, session, settings, clock, elder, provider)
    page = operator.get(f"/console/orders/{order.id}").get_data(as_text=True)
    assert "改期" in page and "跳过这一次" in page

    response = operator.post(f"/console/orders/{order.id}/move", data={"day": "2026-12-03", "part": "pm"})

    assert response.status_code == 303
    (moved,) = _read(app, Order)
    assert (moved.job_code, moved.state, moved.provider_id) == (order.job_code, "accepted", provider.id)
    assert moved.slot_code == "2026-12-03/pm"
    (sms,) = _read(app, OutboxMessage, OutboxMessage.purpose == "order_moved")
    assert "改期至12月3日 星期四 下午" in sms.body
    (audit,) = _read(app, AuditEntry, AuditEntry.entity == "order")
    assert audit.actor == "staff:xiaoli" and audit.action == "move"
    assert "已改到12月3日 星期四 下午" in operator.get(f"/console/orders/{order.id}").get_data(as_text=True)


def test_moving_to_the_providers_day_off_from_the_console_re_offers_it(app, operator, session, settings, clock,
                                                                       elder, make_provider):
    provider = make_provider(offerings={"ML01": 1200}, latitude=36.0590, longitude=103.8280)
    other = make_provider(offerings={"ML01": 1300}, latitude=36.0610, longitude=103.8310)
    order = _accepted_order(app, session, settings, clock, elder, provider)
    session.add(ProviderDayOff(provider_id=provider.id, day=date(2026, 12, 3), reason="休息"))
    session.commit()

    operator.post(f"/console/orders/{order.id}/move", data={"day": "2026-12-03", "part": "am"})

    (moved,) = _read(app, Order)
    assert moved.state == "offered" and moved.provider_id is None and moved.job_code == order.job_code
    assert {o.provider_id: o.status for o in _read(app, Offer)} == {provider.id: "withdrawn", other.id: "offered"}
    assert _read(app, OutboxMessage, OutboxMessage.purpose == "order_redispatched")


def test_skipping_from_the_console_cancels_a_one_off_order_and_tells_the_provider(app, operator, session, settings,
                                                                                 clock, elder, make_provider):
    provider = make_provider(offerings={"ML01": 1200}, latitude=36.0590, longitude=103.8280)
    order = _accepted_order(app, session, settings, clock, elder, provider)

    operator.post(f"/console/orders/{order.id}/skip", data={"reason": "老人住院"})

    (skipped,) = _read(app, Order)
    assert skipped.state == "cancelled" and skipped.queue_reason == "老人住院"
    assert _read(app, OutboxMessage, OutboxMessage.purpose == "order_cancelled")
    (audit,) = _read(app, AuditEntry, AuditEntry.entity == "order")
    assert audit.action == "cancel"


def test_a_started_visit_is_not_moved_from_the_console(app, operator, session, settings, clock, elder,
                                                      make_provider):
    provider = make_provider(offerings={"ML01": 1200}, latitude=36.0590, longitude=103.8280)
    order = _accepted_order(app, session, settings, clock, elder, provider)
    session.get(Order, order.id).state = "in_progress"
    session.commit()

    operator.post(f"/console/orders/{order.id}/move", data={"day": "2026-12-03", "part": "am"})
    operator.post(f"/console/orders/{order.id}/skip", data={})

    (kept,) = _read(app, Order)
    assert kept.state == "in_progress" and kept.slot_code == "tomorrow_am"
    page = operator.get(f"/console/orders/{order.id}").get_data(as_text=True)
    assert "未改期" in page and "服务已经开始" in page and "不能改期或跳过" in page
    assert _read(app, AuditEntry, AuditEntry.entity == "order") == []
