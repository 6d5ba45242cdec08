"""Issue 17 by phone: any day of the next week (keyed or said), an hour where the item needs it,
moving, skipping or cancelling a booked visit, and a canteen visit not checked in from home.

The clock is Wednesday 25 November 2026, 09:00 in Lanzhou.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from dispatcher.enrollment.models import AuditEntry
from dispatcher.models import Order, Visit
from providers.models import Offer, ProviderDayOff
from telephony.models import OutboxMessage
from telephony.simulator import FlaskTransport, Phone

ELDER = "+8613912340001"
LUNCH = ["3", "1"]       # 助餐送餐 → 送午餐 (by the portion: no hour asked)
CLEANING = ["2", "1"]    # 家政保洁 → 居室保洁 (次(2小时): the hour is asked)


@pytest.fixture
def phone(app):
    return Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"], app.config["HOTLINE_NUMBER"])


@pytest.fixture
def provider(make_elder, make_provider):
    make_elder(phone=ELDER)
    return make_provider(offerings={"HK01": 4800, "ML01": 1200, "ML06": 800}, latitude=36.0590,
                         longitude=103.8280)


def _rows(app, statement):
    with app.extensions["vnh.sessionmaker"]() as session:
        return session.scalars(statement).all()


def _accepted(phone, provider, keys) -> str:
    call = phone.call_hotline(ELDER, keys)
    assert call.ended_with == "hangup", call.text
    code = call.text.split("工单号")[1].split("。")[0].replace("，", "")
    assert "已接单" in phone.send_sms(provider.dispatch_phone, f"{code} 接")
    return code


def test_the_day_menu_offers_the_next_seven_days_and_speech(app, phone, provider):
    call = phone.call_hotline(ELDER, LUNCH + ["2"])

    assert "今天按1。明天按2。后天按3。星期六按4。星期日按5。星期一按6。星期二按7。" in call.text
    assert "下周三" in call.text


def test_a_day_next_week_by_keys(app, phone, provider):
    call = phone.call_hotline(ELDER, LUNCH + ["2", "7", "1", "1"])  # 7 = Tuesday 1 December, 1 = 上午

    assert "送午餐，12月1日 星期二 上午上门" in call.text, call.text
    (order,) = _rows(app, select(Order))
    assert order.slot_code == "2026-12-01/am" and order.state == "offered"
    (offer,) = _rows(app, select(OutboxMessage).where(OutboxMessage.purpose == "offer"))
    assert "12月01日 08:30起" in offer.body


def test_a_day_next_week_by_speech(app, phone, provider):
    call = phone.call_hotline(ELDER, LUNCH + ["2", "", "2", "1"], speech={3: "下周三吧"})

    assert "12月2日 星期三，上午按1，下午按2" in call.text
    assert "送午餐，12月2日 星期三 下午上门" in call.text, call.text
    (order,) = _rows(app, select(Order))
    assert order.slot_code == "2026-12-02/pm"


def test_a_day_not_understood_twice_reaches_an_operator(app, phone, provider):
    call = phone.call_hotline(ELDER, LUNCH + ["2", "", ""], speech={3: "随便", 4: "啊"})

    assert "没有听清是哪一天" in call.text and call.ended_with == "dial"


def test_this_morning_has_begun_so_only_the_afternoon_is_bookable_today(app, phone, provider):
    call = phone.call_hotline(ELDER, LUNCH + ["2", "1", "1", "2", "1"])

    assert "已经过去或马上开始" in call.text
    (order,) = _rows(app, select(Order))
    assert order.slot_code == "2026-11-25/pm"


def test_an_hourly_item_asks_the_hour(app, phone, provider):
    call = phone.call_hotline(ELDER, CLEANING + ["2", "2", "1", "2", "1"])  # 明天 上午 9点

    assert "上午8点按1。上午9点按2。上午10点按3。上午11点按4。" in call.text
    assert "居室保洁，明天 11月26日 星期四 上午9点上门" in call.text, call.text
    (order,) = _rows(app, select(Order))
    assert order.slot_code == "2026-11-26/09:00"


def test_moving_by_phone_keeps_the_provider_and_the_job_code_and_texts_the_provider(app, phone, provider):
    code = _accepted(phone, provider, LUNCH + ["1", "1"])

    call = phone.call_hotline(ELDER, ["2", "3", "2", "1"])  # move → 后天 → 下午 → confirm

    assert "把送午餐改到后天 11月27日 星期五 下午" in call.text
    assert "已为您改到后天 11月27日 星期五 下午" in call.text and "服务商已收到通知" in call.text
    (order,) = _rows(app, select(Order))
    assert (order.job_code, order.state, order.provider_id) == (code, "accepted", provider.id)
    assert order.slot_code == "2026-11-27/pm"
    (moved,) = _rows(app, select(OutboxMessage).where(OutboxMessage.purpose == "order_moved"))
    assert moved.to_number == provider.dispatch_phone
    assert f"工单{code}（送午餐）改期至11月27日 星期五 下午" in moved.body
    (audit,) = _rows(app, select(AuditEntry).where(AuditEntry.entity == "order"))
    assert audit.entity_key == code and audit.action == "move" and audit.actor == f"elder-phone:{ELDER}"
    assert audit.changes["slot_code"] == ["asap", "2026-11-27/pm"]


def test_moving_to_the_providers_day_off_offers_the_visit_again(app, phone, provider, session, make_provider):
    other = make_provider(offerings={"ML01": 1300}, latitude=36.0610, longitude=103.8310)
    session.add(ProviderDayOff(provider_id=provider.id, day=date(2026, 11, 27), reason="培训"))
    session.commit()
    code = _accepted(phone, provider, LUNCH + ["1", "1"])

    call = phone.call_hotline(ELDER, ["2", "3", "2", "1"])

    assert "原服务商那天不方便" in call.text
    (order,) = _rows(app, select(Order))
    assert (order.job_code, order.state, order.provider_id) == (code, "offered", None)
    told = _rows(app, select(OutboxMessage).where(OutboxMessage.purpose == "order_redispatched"))
    assert [m.to_number for m in told] == [provider.dispatch_phone] and "因改期已改派" in told[0].body
    offers = {o.provider_id: o.status for o in _rows(app, select(Offer))}
    assert offers == {provider.id: "withdrawn", other.id: "offered"}


def test_a_started_visit_is_neither_moved_nor_cancelled_by_phone(app, phone, provider, make_worker):
    make_worker(provider, work_number="20731")
    code = _accepted(phone, provider, LUNCH + ["1", "1"])
    assert "已签到" in phone.call_hotline(ELDER, ["7", f"{code}#", "20731#", "1"]).text

    moved = phone.call_hotline(ELDER, ["2"])
    cancelled = phone.call_hotline(ELDER, ["3"])

    for call in (moved, cancelled):
        assert "服务已经开始（服务人员已签到），不能改期或取消" in call.text, call.text
    (order,) = _rows(app, select(Order))
    assert order.state == "in_progress" and order.slot_code == "asap"


def test_a_canteen_visit_is_not_checked_in_from_the_elders_phone(app, phone, provider, make_worker):
    make_worker(provider, work_number="20731")
    code = _accepted(phone, provider, LUNCH[:1] + ["8", "1", "1", "1"])  # 老年食堂就餐, first on page two

    call = phone.call_hotline(ELDER, ["7", f"{code}#"])

    assert "这项服务在社区老年食堂进行，不能用老人家里的电话签到" in call.text
    assert _rows(app, select(Visit)) == []
    (offer,) = _rows(app, select(OutboxMessage).where(OutboxMessage.purpose == "offer"))
    assert f"老人到社区老年食堂（{provider.address}）" in offer.body
    (notice,) = _rows(app, select(OutboxMessage).where(OutboxMessage.purpose == "elder_confirmation_venue"))
    assert "到社区老年食堂" in notice.body


def test_a_delivered_meal_is_offered_as_a_delivery(app, phone, provider):
    phone.call_hotline(ELDER, LUNCH + ["1", "1"])

    (offer,) = _rows(app, select(OutboxMessage).where(OutboxMessage.purpose == "offer"))
    assert "送餐上门：" in offer.body


def test_a_care_plan_is_paused_for_a_week_by_phone(app, phone, provider, settings, clock):
    """Issue 17, item 5: the elder of a daily lunch hears 5 for pausing the whole plan, and a week goes."""
    from datetime import time, timedelta

    from dispatcher.clock import local
    from dispatcher.models import Elder, Item
    from dispatcher.plans import generation, service
    from dispatcher.plans.models import CarePlan, PlanPause
    from providers.models import Offer as PlanOffer

    today = local(clock.now()).date()
    with app.extensions["vnh.sessionmaker"]() as session:
        elder = session.scalar(select(Elder))
        lunch = session.scalar(select(Item).where(Item.code == "ML01"))
        plan = service.add_plan(session, elder=elder, item=lunch, rule="FREQ=DAILY", at=time(11, 30),
                                starts_on=today + timedelta(days=1), now=clock.now())
        session.commit()
        generation.sweep(session, settings, clock.now())
        session.commit()
        offer = session.scalar(select(PlanOffer))
        from dispatcher.lifecycle import orders
        assert orders.accept_offer(session, offer, provider.id, "sms", settings, clock.now()).ok
        session.commit()
        plan_id = plan.id

    call = phone.call_hotline(ELDER, ["5", "1"])

    assert "跳过这一次按3" in call.text and "暂停整个服务计划按5" in call.text, call.text
    assert "暂停一周按1，暂停两周按2，暂停一个月按3" in call.text
    assert "已为您暂停送午餐一周" in call.text and call.ended_with == "hangup", call.text
    (pause,) = _rows(app, select(PlanPause).where(PlanPause.plan_id == plan_id))
    assert (pause.starts_on, pause.ends_on) == (today, today + timedelta(days=6))
    kept = _rows(app, select(Order).where(Order.plan_id == plan_id, Order.state != "cancelled"))
    assert all(o.occurrence_date > today + timedelta(days=6) for o in kept)
    assert _rows(app, select(Order).where(Order.plan_id == plan_id, Order.state == "cancelled"))
    assert _rows(app, select(CarePlan).where(CarePlan.id == plan_id))[0].state != "ended"


def test_a_one_off_order_is_not_offered_a_plan_pause(app, phone, provider):
    code = _accepted(phone, provider, LUNCH + ["1", "1"])
    call = phone.call_hotline(ELDER, ["5"])

    assert code and "暂停整个服务计划" not in call.text
    assert "按键无效" in call.text
