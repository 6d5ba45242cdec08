"""Provider quality from reviews: a provider elders rate badly drops out of matching."""

from __future__ import annotations

from sqlalchemy import select

from dispatcher.consoles.auth import add_user
from dispatcher.lifecycle import attendance, orders, reviews
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import CallbackReview, Item
from dispatcher.programmes.supervision import log_complaint
from providers.models import Offer, Provider
from providers.quality import ProviderSuspension, recompute
from telephony.models import OutboxMessage


def _visit_rated(session, clock, settings, policy, elder, rating: int):
    item = session.scalar(select(Item).where(Item.code == "HK01"))
    order = orders.place_order(session, elder=elder, item=item, slot=slot_for("asap", clock.now()),
                               source="phone", call_sid=None, settings=settings, now=clock.now())
    offer = session.scalars(select(Offer).where(Offer.order_id == order.id)).one()
    orders.accept_offer(session, offer, offer.provider_id, "sms", settings, clock.now())
    attendance.check_in(session, order, offer.provider_id, "sms", clock.now())
    attendance.check_out(session, order, offer.provider_id, "sms", policy, settings, clock.now())
    review = session.scalar(select(CallbackReview).where(CallbackReview.order_id == order.id))
    reviews.record_review_answer(session, review, True, clock.now(), 0.0)
    reviews.record_review_rating(session, review, rating, clock.now())
    recompute(session, offer.provider_id, threshold=settings.suspend_below,
              hotline_number=settings.hotline_number, now=clock.now())
    session.commit()
    clock.advance(600)
    return order


def test_a_provider_with_bad_reviews_is_suspended_told_and_drops_out_of_matching(
    session, clock, settings, policy, make_elder, make_provider
):
    elder = make_elder(phone="+8613912340001")
    bad = make_provider(offerings={"HK01": 4000}, latitude=36.0585, longitude=103.8275)
    good = make_provider(offerings={"HK01": 4800}, latitude=36.0700, longitude=103.8400)
    for _ in range(12):
        _visit_rated(session, clock, settings, policy, elder, rating=1)

    session.expire_all()
    assert session.get(Provider, bad.id).contract_status == "suspended"
    (suspension,) = session.scalars(select(ProviderSuspension)).all()
    assert suspension.provider_id == bad.id and "低于" in suspension.reason
    assert suspension.parts["ratings"] >= 5
    told = session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "provider_suspended")).all()
    assert [m.to_number for m in told] == [bad.dispatch_phone]
    order = _visit_rated(session, clock, settings, policy, elder, rating=5)
    assert order.provider_id == good.id


def test_a_supervisor_can_reinstate_a_suspended_provider(session, clock, settings, make_provider):
    from providers.quality import reinstate

    provider = make_provider(contract_status="suspended")
    session.add(ProviderSuspension(provider_id=provider.id, reason="test", parts={}, suspended_at=clock.now()))
    user = add_user(session, username="zhou", password="long-enough-pw", role="supervisor",
                    display_name="老周", provider_id=None, now=clock.now())
    session.commit()

    assert reinstate(session, provider.id, user.id, clock.now()) is True
    session.commit()
    assert session.get(Provider, provider.id).contract_status == "active"
    assert session.scalars(select(ProviderSuspension)).one().reinstated_by == user.id
    assert reinstate(session, provider.id, user.id, clock.now()) is False


def test_an_elder_is_never_sent_a_provider_they_complained_about(
    session, clock, settings, policy, make_elder, make_provider
):
    elder = make_elder(phone="+8613912340001")
    near = make_provider(offerings={"HK01": 4000}, latitude=36.0585, longitude=103.8275)
    far = make_provider(offerings={"HK01": 4800}, latitude=36.0700, longitude=103.8400)
    first = _visit_rated(session, clock, settings, policy, elder, rating=4)
    assert first.provider_id == near.id
    staff = add_user(session, username="zhou", password="long-enough-pw", role="supervisor",
                     display_name="老周", provider_id=None, now=clock.now())
    log_complaint(session, first, staff, "服务人员态度很差", clock.now())
    session.commit()

    second = _visit_rated(session, clock, settings, policy, elder, rating=4)
    assert second.provider_id == far.id
