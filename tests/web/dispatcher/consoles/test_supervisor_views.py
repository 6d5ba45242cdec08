"""The supervisor's queue: disputes settled both ways, cases closed, complaints, click-to-call."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from billing.ledger import visit_outcome
from dispatcher.consoles.auth import add_user
from dispatcher.lifecycle import attendance, orders, reviews
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import CallbackReview, Item, OperatorTask, Order
from dispatcher.programmes.supervision import Complaint
from providers.models import Offer
from telephony.models import OutboxMessage
from telephony.simulator import FlaskTransport, Phone


@pytest.fixture
def denied(app, session, clock, settings, policy, make_elder, make_provider):
    """A visit the elder said never happened: withheld, with a dispute on the queue."""
    elder = make_elder(phone="+8613912340001")
    make_provider(offerings={"HK01": 4800}, latitude=36.0590, longitude=103.8280)
    item = session.scalar(select(Item).where(Item.code == "HK01"))
    order = orders.place_order(session, elder=elder, item=item, slot=slot_for("asap", clock.now()),
                               source="phone", call_sid=None, settings=settings, now=clock.now())
    offer = session.scalars(select(Offer).where(Offer.order_id == order.id)).one()
    orders.accept_offer(session, offer, offer.provider_id, "sms", settings, clock.now())
    attendance.check_in(session, order, offer.provider_id, "sms", clock.now())
    attendance.check_out(session, order, offer.provider_id, "sms", policy, settings, clock.now())
    review = session.scalar(select(CallbackReview))
    reviews.record_review_answer(session, review, False, clock.now())
    session.commit()
    return order.id


@pytest.fixture
def supervisor(app, session, clock):
    add_user(session, username="zhou", password="long-enough-pw", role="supervisor",
             display_name="老周", provider_id=None, now=clock.now())
    session.commit()
    client = app.test_client()
    client.post("/login", data={"username": "zhou", "password": "long-enough-pw"})
    return client


def _case(app, kind):
    with app.extensions["vnh.sessionmaker"]() as s:
        return s.scalars(select(OperatorTask).where(OperatorTask.kind == kind)).one()


def _order(app, order_id):
    with app.extensions["vnh.sessionmaker"]() as s:
        order = s.get(Order, order_id)
        return order.state, visit_outcome(s, order.visit.id)


def test_the_queue_shows_a_dispute_linked_to_its_case_page(app, denied, supervisor):
    page = supervisor.get("/supervisor").get_data(as_text=True)
    case = _case(app, "dispute")
    assert "争议" in page and f'href="/supervisor/cases/{case.id}"' in page
    assert f'href="/console/orders/{denied}"' in page
    assert "<title>质量监督 - 虚拟养老院</title>" in page
    assert page.index("服务商质量") > page.index("<main>")  # the provider scores, in the page body


def test_a_dispute_found_true_makes_the_subsidy_payable_after_all(app, denied, supervisor):
    case = _case(app, "dispute")
    supervisor.post(f"/supervisor/cases/{case.id}", data={"action": "dispute_happened",
                                                           "note": "电话核实，服务人员确已上门"})
    assert _order(app, denied) == ("verified", "verify")
    closed = _case(app, "dispute")
    assert closed.resolved_at is not None and "确已上门" in closed.resolution


def test_a_dispute_found_false_stays_withheld_with_its_reason(app, denied, supervisor):
    case = _case(app, "dispute")
    supervisor.post(f"/supervisor/cases/{case.id}", data={"action": "dispute_not_happened",
                                                           "note": "服务商无法提供签到记录"})
    assert _order(app, denied) == ("disputed", "withhold")
    assert _case(app, "dispute").resolution == "服务商无法提供签到记录"


def test_a_case_needs_a_written_outcome(app, denied, supervisor):
    case = _case(app, "dispute")
    page = supervisor.post(f"/supervisor/cases/{case.id}", data={"action": "dispute_happened", "note": ""},
                           follow_redirects=True).get_data(as_text=True)
    assert "请填写处理结果" in page
    assert _case(app, "dispute").resolved_at is None


def test_a_complaint_is_logged_against_the_provider(app, denied, supervisor):
    case = _case(app, "dispute")
    supervisor.post(f"/supervisor/cases/{case.id}", data={"action": "complaint", "note": "态度很差"})
    with app.extensions["vnh.sessionmaker"]() as s:
        (complaint,) = s.scalars(select(Complaint)).all()
        assert complaint.text == "态度很差" and complaint.order_id == denied


def test_click_to_call_rings_the_supervisor_and_bridges_the_elder(app, session, denied, supervisor):
    from dispatcher.models import StaffUser

    session.scalar(select(StaffUser).where(StaffUser.username == "zhou")).phone = "+8613600000000"
    session.commit()
    case = _case(app, "dispute")
    supervisor.post(f"/supervisor/cases/{case.id}", data={"action": "call"})

    with app.extensions["vnh.sessionmaker"]() as s:
        (call,) = s.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "supervisor_bridge")).all()
        assert call.to_number == "+8613600000000"
    phone = Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"])
    answered = phone.answer_call({"from": call.from_number, "to": call.to_number, "url": call.url}, [])
    assert ">+8613912340001</Dial>" in answered.responses[0]


def test_operators_cannot_reach_the_supervisor_queue(app, session, clock):
    add_user(session, username="li", password="long-enough-pw", role="operator", display_name="小李",
             provider_id=None, now=clock.now())
    session.commit()
    client = app.test_client()
    client.post("/login", data={"username": "li", "password": "long-enough-pw"})
    assert client.get("/supervisor").status_code == 403
