"""The family in the loop over the phone network (issue 18): an opted-in family member hears the
worker arrive, answers the review for an elder flagged "review via family", and reports "nobody
came" on the hotline, which disputes the visit like a denied review."""

from __future__ import annotations

from sqlalchemy import select

from dispatcher.lifecycle.family import FamilyFields, add_family_member, set_reviewed_via_family
from dispatcher.lifecycle.reviews import start_due_reviews
from dispatcher.models import CallbackReview, OperatorTask, Order
from telephony.simulator import FlaskTransport, Phone

ELDER = "+8613912340001"
SON = "+8613912345678"


def _phone(app):
    return Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"], app.config["HOTLINE_NUMBER"])


def _visit_done(app, session, clock, make_elder, make_provider, make_worker, *, via_family=False):
    elder = make_elder(phone=ELDER)
    provider = make_provider(latitude=36.0590, longitude=103.8280)
    worker = make_worker(provider)
    add_family_member(session, elder, FamilyFields("李明", SON, "儿子", wants_visit_sms=True,
                                                   is_review_contact=True), clock.now())
    if via_family:
        set_reviewed_via_family(session, elder, True)
    session.commit()
    phone = _phone(app)
    call = phone.call_hotline(ELDER, ["2", "1", "1", "1"])
    code = call.text.split("工单号")[1].split("。")[0].replace("，", "")
    assert "已接单" in phone.send_sms(provider.dispatch_phone, f"{code} 接")
    arrived = phone.send_sms(worker.phone, f"{code} 到")
    assert arrived.startswith("已签到"), arrived
    clock.advance(3600)
    assert phone.send_sms(worker.phone, f"{code} 完").startswith("已签退")
    return phone, code, worker


def test_an_opted_in_family_member_gets_an_sms_when_the_worker_checks_in(
        app, session, clock, make_elder, make_provider, make_worker):
    phone, _, worker = _visit_done(app, session, clock, make_elder, make_provider, make_worker)
    to_son = [m for m in phone.outbox() if m["to"] == SON and m["kind"] == "sms"]
    assert len(to_son) == 2
    assert "到达" in to_son[0]["body"] and worker.name in to_son[0]["body"]
    assert "离开" in to_son[1]["body"]


def test_a_family_member_reports_nobody_came_and_the_visit_is_disputed(
        app, session, clock, make_elder, make_provider, make_worker):
    phone, code, _ = _visit_done(app, session, clock, make_elder, make_provider, make_worker)
    menu = phone.call_hotline(SON, [])
    assert "家属反映服务人员没有上门，请按6" in menu.text
    call = phone.call_hotline(SON, ["6"])
    assert "未上门" in call.text and call.ended_with == "hangup", call.text
    session.expire_all()
    order = session.scalar(select(Order).where(Order.job_code == code))
    assert order.state == "disputed"
    (task,) = session.scalars(select(OperatorTask).where(OperatorTask.kind == "dispute")).all()
    assert "家属李明" in task.reason and task.order_id == order.id


def test_the_elder_does_not_hear_the_family_key(app, session, clock, make_elder, make_provider, make_worker):
    phone, _, _ = _visit_done(app, session, clock, make_elder, make_provider, make_worker)
    assert "家属反映" not in phone.call_hotline(ELDER, []).text


def test_the_review_of_an_elder_flagged_review_via_family_calls_the_family_contact(
        app, session, clock, settings, make_elder, make_provider, make_worker):
    phone, code, _ = _visit_done(app, session, clock, make_elder, make_provider, make_worker, via_family=True)
    clock.advance(settings.review_delay_s + 60)
    assert start_due_reviews(session, settings, clock.now()) == 1
    session.commit()
    (call,) = [m for m in phone.outbox() if m["kind"] == "call" and "/telephony/review/" in (m["url"] or "")]
    assert call["to"] == SON
    answered = phone.answer_call(call, ["1", "5"])
    assert "李明您好" in answered.text
    session.expire_all()
    review = session.scalar(select(CallbackReview).join(Order).where(Order.job_code == code))
    assert review.did_worker_come is True
