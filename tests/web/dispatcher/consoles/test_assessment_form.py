"""The elder page's assessment form and history, and the order page's approval of more time."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from dispatcher.assessments.models import Assessment
from dispatcher.consoles.auth import add_user


def test_an_operator_records_an_assessment_and_sees_it_in_the_history(
        operator_client, session, make_elder):
    elder = make_elder(disability_level="能力完好")
    page = operator_client.get(f"/console/elders/{elder.id}").get_data(as_text=True)
    assert 'id="assessment-form"' in page and "尚无评估记录" in page
    response = operator_client.post(f"/console/elders/{elder.id}/assessments", data={
        "assessed_on": "2026-11-20", "level": "重度失能", "score": "36", "assessor": "张评估",
        "organisation": "城关区评估中心", "valid_until": "",
    })
    assert response.status_code == 302
    page = operator_client.get(f"/console/elders/{elder.id}").get_data(as_text=True)
    assert "已记录能力评估" in page
    assert "重度失能" in page and "2027-11-19" in page and "话务台录入" in page
    saved = session.scalar(select(Assessment))
    assert (saved.level, saved.score, saved.recorded_by) == ("重度失能", 36, "staff:xiaoli")
    assert saved.valid_until == date(2027, 11, 19)


def test_a_bad_assessment_is_refused_with_each_reason_and_nothing_is_recorded(
        operator_client, session, make_elder):
    elder = make_elder()
    operator_client.post(f"/console/elders/{elder.id}/assessments", data={
        "assessed_on": "2027-01-01", "level": "半失能", "assessor": "",
    })
    page = operator_client.get(f"/console/elders/{elder.id}").get_data(as_text=True)
    assert "未记录：评估日期：2027-01-01 is in the future" in page
    assert "未记录：评估等级" in page and "未记录：评估人" in page
    assert session.scalar(select(Assessment)) is None


def test_a_provider_cannot_record_an_assessment(app, session, clock, make_elder, make_provider):
    provider = make_provider()
    add_user(session, username="firm", password="long-enough-pw", role="provider",
             display_name="企业", provider_id=provider.id, now=clock.now())
    session.commit()
    client = app.test_client()
    client.post("/login", data={"username": "firm", "password": "long-enough-pw"})
    elder = make_elder()
    response = client.post(f"/console/elders/{elder.id}/assessments", data={
        "assessed_on": "2026-11-20", "level": "重度失能", "assessor": "张评估"})
    assert response.status_code == 403
    assert session.scalar(select(Assessment)) is None


def test_an_operator_approves_more_time_for_an_hourly_visit_on_the_order_page(
        operator_client, session, policy, settings, clock, make_elder, make_provider):
    from billing import ledger
    from billing.duration import HourlyApproval
    from dispatcher.lifecycle import attendance, orders
    from dispatcher.lifecycle.slots import slot_for
    from dispatcher.models import Item

    make_provider(latitude=36.0590, longitude=103.8280, offerings={"LC03": 3200})
    item = session.scalar(select(Item).where(Item.code == "LC03"))
    order = orders.place_order(session, elder=make_elder(), item=item,
                               slot=slot_for("asap", clock.now()), source="phone", call_sid=None,
                               settings=settings, now=clock.now())
    offer = next(o for o in session.scalars(select(orders.Offer).where(
        orders.Offer.order_id == order.id)) if o.status == "offered")
    orders.accept_offer(session, offer, offer.provider_id, "sms", settings, clock.now())
    attendance.check_in(session, order, offer.provider_id, "sms", clock.now())
    clock.advance(100 * 60)
    attendance.check_out(session, order, offer.provider_id, "sms", policy, settings, clock.now())
    session.commit()
    order_id, visit_id = order.id, order.visit.id
    session.rollback()

    page = operator_client.get(f"/console/orders/{order_id}").get_data(as_text=True)
    assert 'id="approve-time-form"' in page
    response = operator_client.post(f"/console/visits/{visit_id}/approve-time",
                                    data={"minutes": "120", "reason": "陪同就医"})
    assert response.status_code == 302
    assert "已批准按120分钟计费" in operator_client.get(f"/console/orders/{order_id}").get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(HourlyApproval.approved_by)) == "staff:xiaoli"
    charge = [t for t in ledger.live_transactions(session, visit_id) if t.kind == ledger.CHARGE][-1]
    assert -charge.legs[ledger.PROVIDER_REVENUE] == 6400  # 100 minutes: four started half hours
