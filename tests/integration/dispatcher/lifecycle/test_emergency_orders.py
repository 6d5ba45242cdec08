"""The emergency policy and the offer windows, as services on a real database with a fake clock."""

from __future__ import annotations

from datetime import timedelta

from geopy.distance import distance as geo_distance
from sqlalchemy import select

from dispatcher.lifecycle import orders
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import Item, OperatorTask, Order
from providers.models import Offer
from telephony.models import OutboxMessage

ELDER_AT = (36.0580, 103.8270)
BOTH = {"EM03": 8000, "HK01": 4800}


def _point(metres, bearing=90):
    p = geo_distance(meters=metres).destination(ELDER_AT, bearing)
    return {"latitude": p.latitude, "longitude": p.longitude}


def _place(session, elder, settings, clock, item_code, slot="asap") -> Order:
    item = session.scalar(select(Item).where(Item.code == item_code))
    order = orders.place_order(session, elder=elder, item=item, slot=slot_for(slot, clock.now()),
                               source="phone", call_sid=None, settings=settings, now=clock.now())
    session.commit()
    return order


def _offers(session, order) -> list[Offer]:
    session.expire_all()
    return list(session.scalars(select(Offer).where(Offer.order_id == order.id).order_by(Offer.rank)))


def _sms(session, purpose) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == purpose)
                                .order_by(OutboxMessage.id)))


def _book(session, provider, elder, clock, count):
    """Give a provider `count` accepted visits today: its load."""
    elder_id = elder.id
    item_id = session.scalar(select(Item.id).where(Item.code == "HK01"))
    for n in range(count):
        start = clock.now() + timedelta(hours=1)
        session.add(Order(order_no=f"L{provider.id:04d}{n:04d}", job_code=f"9{provider.id:03d}{n:03d}",
                          elder_id=elder_id, item_id=item_id, state="accepted", source="phone",
                          slot_code="asap", window_start_at=start, window_end_at=start + timedelta(hours=3),
                          provider_id=provider.id, created_at=clock.now(), updated_at=clock.now()))
    session.commit()


def test_an_emergency_is_offered_to_three_providers_at_once_each_by_sms(
    session, settings, clock, make_elder, make_provider
):
    elder = make_elder(latitude=ELDER_AT[0], longitude=ELDER_AT[1])
    providers = [make_provider(offerings=BOTH, **_point(300 * n)) for n in range(1, 5)]

    order = _place(session, elder, settings, clock, "EM03")

    offers = _offers(session, order)
    assert [o.provider_id for o in offers] == [p.id for p in providers[:3]]
    assert all(o.status == "offered" for o in offers) and order.state == "offered"
    assert [o.rank for o in offers] == [1, 2, 3]
    assert {m.to_number for m in _sms(session, "offer")} == {p.dispatch_phone for p in providers[:3]}


def test_an_ordinary_item_is_still_offered_to_one_provider_at_a_time(
    session, settings, clock, make_elder, make_provider
):
    elder = make_elder(latitude=ELDER_AT[0], longitude=ELDER_AT[1])
    for n in range(1, 4):
        make_provider(offerings=BOTH, **_point(300 * n))

    order = _place(session, elder, settings, clock, "HK01")

    assert len(_offers(session, order)) == 1 and len(_sms(session, "offer")) == 1


def test_an_emergency_ignores_fairness_and_goes_to_the_nearest_however_busy(
    session, settings, clock, make_elder, make_provider
):
    elder = make_elder(latitude=ELDER_AT[0], longitude=ELDER_AT[1])
    busy_near = make_provider(offerings=BOTH, **_point(300))
    idle_farther = make_provider(offerings=BOTH, **_point(1000))
    _book(session, busy_near, elder, clock, 5)

    ordinary = _place(session, elder, settings, clock, "HK01")
    emergency = _place(session, make_elder(latitude=ELDER_AT[0], longitude=ELDER_AT[1]), settings, clock, "EM03")

    assert _offers(session, ordinary)[0].provider_id == idle_farther.id
    first = _offers(session, emergency)[0]
    assert first.provider_id == busy_near.id
    assert first.reasons["parts"]["load"] == 0 and first.reasons["booked_that_day"] == 5


def test_an_emergency_reaches_providers_outside_their_radius_up_to_the_widening_factor(
    session, settings, clock, make_elder, make_provider
):
    elder = make_elder(latitude=ELDER_AT[0], longitude=ELDER_AT[1])
    widened = make_provider(offerings=BOTH, service_radius_m=4000, **_point(7000))
    make_provider(offerings=BOTH, service_radius_m=4000, **_point(8500))

    ordinary = _place(session, elder, settings, clock, "HK01")
    emergency = _place(session, make_elder(latitude=ELDER_AT[0], longitude=ELDER_AT[1]), settings, clock, "EM03")

    assert ordinary.state == "unassigned" and _offers(session, ordinary) == []
    (offer,) = _offers(session, emergency)
    assert offer.provider_id == widened.id
    assert offer.reasons["radius_factor"] == settings.emergency_radius_factor == 2.0


def test_the_first_to_accept_an_emergency_wins_and_the_others_are_withdrawn_by_sms(
    session, settings, clock, make_elder, make_provider
):
    elder = make_elder(latitude=ELDER_AT[0], longitude=ELDER_AT[1])
    for n in range(1, 4):
        make_provider(offerings=BOTH, **_point(300 * n))
    order = _place(session, elder, settings, clock, "EM03")
    first, second, third = _offers(session, order)
    clock.advance(60)

    won = orders.accept_offer(session, third, third.provider_id, "sms", settings, clock.now())
    session.commit()
    late = orders.accept_offer(session, first, first.provider_id, "sms", settings, clock.now())
    session.commit()

    assert won.ok and not late.ok
    assert [o.status for o in _offers(session, order)] == ["withdrawn", "withdrawn", "accepted"]
    assert session.get(Order, order.id).provider_id == third.provider_id
    withdrawn = _sms(session, "offer_withdrawn")
    assert sorted(m.to_number for m in withdrawn) == sorted(o.provider.dispatch_phone for o in (first, second))


def test_a_decline_of_one_emergency_offer_leaves_the_others_open_and_asks_nobody_new(
    session, settings, clock, make_elder, make_provider
):
    elder = make_elder(latitude=ELDER_AT[0], longitude=ELDER_AT[1])
    for n in range(1, 5):
        make_provider(offerings=BOTH, **_point(300 * n))
    order = _place(session, elder, settings, clock, "EM03")
    first = _offers(session, order)[0]

    assert orders.decline_offer(session, first, first.provider_id, "sms", settings, clock.now()).ok
    session.commit()

    assert [o.status for o in _offers(session, order)] == ["declined", "offered", "offered"]


def test_an_emergency_nobody_answers_goes_to_the_operator_queue_when_the_short_window_ends(
    session, settings, clock, make_elder, make_provider
):
    elder = make_elder(latitude=ELDER_AT[0], longitude=ELDER_AT[1])
    for n in range(1, 5):
        make_provider(offerings=BOTH, **_point(300 * n))
    order = _place(session, elder, settings, clock, "EM03")

    clock.advance(settings.asap_offer_window_s - 1)
    assert orders.expire_due_offers(session, settings, clock.now()) == 0
    clock.advance(2)
    assert orders.expire_due_offers(session, settings, clock.now()) == 3
    session.commit()

    assert session.get(Order, order.id).state == "unassigned"
    (task,) = session.scalars(select(OperatorTask).where(OperatorTask.order_id == order.id)).all()
    assert task.kind == "unassigned" and "3" in task.reason


def test_an_as_soon_as_possible_offer_has_the_short_window_and_a_booked_slot_the_long_one(
    session, settings, clock, make_elder, make_provider
):
    make_provider(offerings=BOTH, **_point(300))
    soon = _place(session, make_elder(), settings, clock, "HK01")
    later = _place(session, make_elder(), settings, clock, "HK01", slot="tomorrow_am")

    (soon_offer,), (later_offer,) = _offers(session, soon), _offers(session, later)
    assert soon_offer.expires_at == clock.now() + timedelta(seconds=settings.asap_offer_window_s)
    assert later_offer.expires_at == clock.now() + timedelta(seconds=settings.offer_window_s)
    assert settings.asap_offer_window_s == 300 < settings.offer_window_s
    sms = _sms(session, "offer")
    assert "5分钟内有效" in sms[0].body and "10分钟内有效" in sms[1].body
