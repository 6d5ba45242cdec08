"""Visits with a fake clock: the elder told who is coming, the day-before reminder, the late
check-in alarm, re-dispatch and no-shows counted against the provider."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dispatcher.lifecycle import attendance, orders, visits
from dispatcher.lifecycle.slots import slot_for
from dispatcher.lifecycle.visits import VisitDeadline
from dispatcher.models import Item, OperatorTask, Order
from dispatcher.operations.sweepers import run_due_work
from providers.models import Offer, Provider
from telephony.models import OutboxMessage
from telephony.simulator import FlaskTransport, Phone

ELDER_AT = (36.0580, 103.8270)
NEAR = (36.0590, 103.8280)
MID = (36.0650, 103.8350)
FAR = (36.0750, 103.8450)
LANDLINE = "+869318765432"  # 0931-8765432, a Lanzhou landline: no SMS
# The fake clock starts at 09:00 on Wednesday 25 November 2026 in Lanzhou (UTC+8).
WED_1800 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
THU_0800 = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)


def _place(session, elder, settings, clock, slot="asap") -> Order:
    item = session.scalar(select(Item).where(Item.code == "HK01"))
    order = orders.place_order(session, elder=elder, item=item, slot=slot_for(slot, clock.now()),
                               source="phone", call_sid=None, settings=settings, now=clock.now())
    session.commit()
    return order


def _open_offer(session, order) -> Offer:
    session.expire_all()
    return session.scalar(select(Offer).where(Offer.order_id == order.id, Offer.status == "offered"))


def _accept(session, order, settings, clock) -> Offer:
    offer = _open_offer(session, order)
    assert orders.accept_offer(session, offer, offer.provider_id, "sms", settings, clock.now()).ok
    session.commit()
    return offer


def _messages(session, purpose) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == purpose)
                                .order_by(OutboxMessage.id)))


def _tasks(session, kind="late_check_in") -> list[OperatorTask]:
    session.expire_all()
    return list(session.scalars(select(OperatorTask).where(OperatorTask.kind == kind)))


def _sweep(session, settings, at) -> int:
    handled = visits.sweep_due_deadlines(session, settings, at)
    session.commit()
    return handled


@pytest.fixture
def town(make_elder, make_provider):
    """An elder (mobile by default) and three providers at increasing distances."""

    def build(**elder_fields):
        elder = make_elder(latitude=ELDER_AT[0], longitude=ELDER_AT[1], **elder_fields)
        near, mid, far = (make_provider(latitude=lat, longitude=lon) for lat, lon in (NEAR, MID, FAR))
        return elder, near, mid, far

    return build


# -- telling the elder --------------------------------------------------------------------------

def test_an_elder_with_a_mobile_is_told_by_sms_who_is_coming_and_when(session, settings, clock, town):
    elder, near, _, _ = town(phone="+8613912340001")
    _accept(session, _place(session, elder, settings, clock), settings, clock)

    (sms,) = _messages(session, "elder_confirmation")
    assert sms.to_number == "+8613912340001"
    assert near.name in sms.body and "为您提供居室保洁" in sms.body
    assert _messages(session, "visit_notice") == []


def test_an_elder_with_only_a_landline_gets_a_short_call_naming_the_provider(
    app, session, settings, clock, town
):
    elder, near, _, _ = town(phone=LANDLINE)
    order = _place(session, elder, settings, clock)
    _accept(session, order, settings, clock)

    (call,) = _messages(session, "visit_notice")
    assert (call.kind, call.to_number) == ("call", LANDLINE)
    assert call.url.endswith(f"/telephony/visit/{order.id}/notice")
    assert _messages(session, "elder_confirmation") == []
    session.rollback()
    run_due_work(app, clock.now())
    phone = Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"], app.config["HOTLINE_NUMBER"])
    (sent,) = [m for m in phone.outbox() if m["kind"] == "call"]
    heard = phone.answer_call(sent, [])
    assert heard.ended_with == "hangup"
    assert near.name in heard.text and "王奶奶" in heard.text and "为您提供居室保洁" in heard.text


# -- the day-before reminder --------------------------------------------------------------------

def test_a_next_day_visit_is_reminded_at_six_the_evening_before_exactly_once(
    session, settings, clock, town
):
    elder, near, _, _ = town(phone="+8613912340002")
    order = _place(session, elder, settings, clock, slot="tomorrow_am")
    _accept(session, order, settings, clock)

    reminder = session.scalar(select(VisitDeadline).where(VisitDeadline.kind == "reminder"))
    assert reminder.due_at == WED_1800
    _sweep(session, settings, WED_1800 - timedelta(seconds=1))
    assert _messages(session, "elder_reminder") == []

    _sweep(session, settings, WED_1800)
    _sweep(session, settings, WED_1800 + timedelta(minutes=5))
    (sms,) = _messages(session, "elder_reminder")
    assert sms.to_number == "+8613912340002"
    assert "提醒您" in sms.body and near.name in sms.body and order.job_code in sms.body


def test_a_same_day_visit_gets_no_reminder(session, settings, clock, town):
    elder, *_ = town()
    _accept(session, _place(session, elder, settings, clock, slot="today_pm"), settings, clock)
    assert session.scalar(select(func.count()).select_from(VisitDeadline)
                          .where(VisitDeadline.kind == "reminder")) == 0


def test_a_reminder_accepted_in_the_quiet_hours_waits_for_the_morning(session, settings, clock, town):
    elder, *_ = town(phone=LANDLINE)
    clock.advance(13 * 3600)  # 22:00 on Wednesday
    order = _place(session, elder, settings, clock, slot="tomorrow_pm")
    _accept(session, order, settings, clock)

    reminder = session.scalar(select(VisitDeadline).where(VisitDeadline.kind == "reminder"))
    assert reminder.due_at == THU_0800
    _sweep(session, settings, THU_0800 - timedelta(minutes=1))
    assert _messages(session, "visit_reminder") == []
    _sweep(session, settings, THU_0800)
    (call,) = _messages(session, "visit_reminder")
    assert call.kind == "call" and call.url.endswith(f"/telephony/visit/{order.id}/reminder")


def test_a_reminder_found_due_late_in_the_quiet_hours_is_held_until_they_end(session, settings, clock, town):
    elder, *_ = town()
    _accept(session, _place(session, elder, settings, clock, slot="tomorrow_pm"), settings, clock)

    # The scheduler was down from before 18:00 until 21:30.
    late = WED_1800 + timedelta(hours=3, minutes=30)
    _sweep(session, settings, late)
    assert _messages(session, "elder_reminder") == []
    session.expire_all()
    assert session.scalar(select(VisitDeadline.due_at).where(VisitDeadline.kind == "reminder")) == THU_0800
    _sweep(session, settings, THU_0800)
    assert len(_messages(session, "elder_reminder")) == 1


def test_a_cancelled_order_is_not_reminded_and_raises_no_alarm(session, settings, clock, town):
    elder, *_ = town()
    order = _place(session, elder, settings, clock, slot="tomorrow_am")
    _accept(session, order, settings, clock)
    assert orders.cancel_order(session, order, "老人取消", settings, clock.now()).ok
    session.commit()

    _sweep(session, settings, clock.now() + timedelta(days=2))
    assert _messages(session, "elder_reminder") == [] and _tasks(session) == []
    session.expire_all()
    assert set(session.scalars(select(VisitDeadline.state))) == {"skipped"}


# -- the late check-in alarm --------------------------------------------------------------------

def test_no_check_in_thirty_minutes_after_the_start_puts_an_alert_on_the_operator_queue_once(
    app, session, settings, clock, town
):
    elder, *_ = town()
    order = _place(session, elder, settings, clock)
    clock.advance(120)
    _accept(session, order, settings, clock)  # accepted at 09:02: due at 09:32
    due = clock.now() + timedelta(minutes=30)

    _sweep(session, settings, due - timedelta(seconds=1))
    assert _tasks(session) == []
    session.rollback()
    assert run_due_work(app, due)["visit_deadlines"] == 1
    assert run_due_work(app, due + timedelta(minutes=1))["visit_deadlines"] == 0
    (task,) = _tasks(session)
    assert task.order_id == order.id and "未签到" in task.reason and task.priority < 5


def test_a_worker_who_checks_in_in_time_raises_no_alarm(session, settings, clock, town):
    elder, near, _, _ = town()
    order = _place(session, elder, settings, clock)
    _accept(session, order, settings, clock)
    clock.advance(25 * 60)
    assert attendance.check_in(session, order, near.id, "sms", clock.now()).ok
    session.commit()

    _sweep(session, settings, clock.now() + timedelta(hours=1))
    assert _tasks(session) == []


# -- re-dispatch and no-shows -------------------------------------------------------------------

def test_a_late_order_is_redispatched_to_the_next_provider_and_the_no_show_counts(
    session, settings, clock, town
):
    elder, near, mid, _ = town()
    order = _place(session, elder, settings, clock)
    _accept(session, order, settings, clock)
    clock.advance(31 * 60)
    _sweep(session, settings, clock.now())
    before = session.get(Provider, near.id).quality_score

    outcome = orders.redispatch_order(session, order, clock.now(), settings=settings)
    session.commit()

    assert outcome.ok
    session.expire_all()
    offers = {o.provider_id: o for o in session.scalars(select(Offer).where(Offer.order_id == order.id))}
    assert offers[near.id].status == "no_show"
    assert offers[mid.id].status == "offered"
    fresh = session.get(Order, order.id)
    assert (fresh.state, fresh.provider_id) == ("offered", None)
    (told,) = _messages(session, "order_redispatched")
    assert told.to_number == near.dispatch_phone and "请勿上门" in told.body
    provider = session.get(Provider, near.id)
    assert provider.quality_parts["no_show_count"] == 1
    assert provider.quality_score < before

    # The late worker can no longer check in; the new provider gets its own deadline.
    assert not attendance.check_in(session, fresh, near.id, "sms", clock.now()).ok
    _accept(session, fresh, settings, clock)
    deadline = session.scalar(select(VisitDeadline).where(VisitDeadline.provider_id == mid.id))
    assert deadline.due_at == clock.now() + timedelta(minutes=30)


def test_an_operator_may_redispatch_to_a_chosen_provider(session, settings, clock, town):
    elder, near, _, far = town()
    order = _place(session, elder, settings, clock)
    _accept(session, order, settings, clock)
    clock.advance(40 * 60)

    outcome = orders.redispatch_order(session, order, clock.now(), provider_id=far.id, settings=settings)
    session.commit()

    assert outcome.ok
    offer = _open_offer(session, order)
    assert offer.provider_id == far.id and offer.reasons["chosen_by_operator"] is True


def test_an_early_reassignment_is_not_counted_as_a_no_show(session, settings, clock, town):
    elder, near, mid, _ = town()
    order = _place(session, elder, settings, clock)
    _accept(session, order, settings, clock)
    clock.advance(10 * 60)

    assert orders.redispatch_order(session, order, clock.now(), settings=settings).ok
    session.commit()
    session.expire_all()
    statuses = dict(session.execute(select(Offer.provider_id, Offer.status).where(Offer.order_id == order.id)).all())
    assert statuses == {near.id: "withdrawn", mid.id: "offered"}
    assert session.get(Provider, near.id).quality_parts is None


def _snapshot(session, order) -> tuple:
    session.expire_all()
    fresh = session.get(Order, order.id)
    return (fresh.state, fresh.provider_id,
            sorted(session.execute(select(Offer.provider_id, Offer.status).where(Offer.order_id == order.id))),
            session.scalar(select(func.count()).select_from(OutboxMessage)))


@pytest.mark.parametrize("why", ["suspended", "outside", "asked", "checked_in"])
def test_a_redispatch_that_cannot_be_done_is_refused_and_changes_nothing(
    session, settings, clock, town, make_provider, why
):
    elder, near, _, _ = town()
    order = _place(session, elder, settings, clock)
    _accept(session, order, settings, clock)
    clock.advance(40 * 60)
    chosen = {
        "suspended": lambda: make_provider(latitude=NEAR[0], longitude=NEAR[1], contract_status="suspended").id,
        "outside": lambda: make_provider(latitude=36.2, longitude=104.0).id,
        "asked": lambda: near.id,
        "checked_in": lambda: None,
    }[why]()
    if why == "checked_in":
        assert attendance.check_in(session, order, near.id, "sms", clock.now()).ok
        session.commit()
    before = _snapshot(session, order)

    outcome = orders.redispatch_order(session, session.get(Order, order.id), clock.now(), provider_id=chosen,
                                      settings=settings)
    session.commit()

    assert not outcome.ok and outcome.message
    assert _snapshot(session, order) == before


def test_a_next_day_order_redispatched_before_the_reminder_reminds_of_the_new_provider_only(
    session, settings, clock, town
):
    elder, near, mid, _ = town()
    order = _place(session, elder, settings, clock, slot="tomorrow_am")
    _accept(session, order, settings, clock)
    clock.advance(3600)
    assert orders.redispatch_order(session, order, clock.now(), settings=settings).ok
    session.commit()
    _accept(session, order, settings, clock)

    _sweep(session, settings, WED_1800)
    (sms,) = _messages(session, "elder_reminder")
    assert mid.name in sms.body and near.name not in sms.body
    session.expire_all()
    assert sorted(session.scalars(select(VisitDeadline.state).where(VisitDeadline.kind == "reminder"))) == [
        "done", "skipped"]
