"""Check-in and check-out (issue 18): a worker on record is named, the place is proved by the elder's
phone, the visit code or the location (or not at all), and the family who opted in is told."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dispatcher.hotline.sms import handle_inbound_sms
from dispatcher.lifecycle import attendance, orders
from dispatcher.lifecycle.family import FamilyFields, add_family_member
from dispatcher.lifecycle.proof import MAX_CODE_FAILURES
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import Item, Order
from providers.models import Offer
from telephony.models import OutboxMessage

HOME = (36.0580, 103.8270)
LANDLINE = "+869318765432"


@pytest.fixture
def job(session, settings, clock, make_elder, make_provider, make_worker):
    """An accepted job at an elder's home, its provider and a worker on record allowed HK01."""

    def build(*, elder_fields=None, items=("HK01",)):
        elder = make_elder(latitude=HOME[0], longitude=HOME[1], **(elder_fields or {}))
        provider = make_provider()
        worker = make_worker(provider, items=list(items), work_number="0001")
        item = session.scalar(select(Item).where(Item.code == "HK01"))
        order = orders.place_order(session, elder=elder, item=item, slot=slot_for("asap", clock.now()),
                                   source="phone", call_sid=None, settings=settings, now=clock.now())
        offer = session.scalar(select(Offer).where(Offer.order_id == order.id, Offer.status == "offered"))
        assert orders.accept_offer(session, offer, provider.id, "sms", settings, clock.now()).ok
        session.commit()
        return order, provider, worker

    return build


def _check_in(session, settings, clock, order, provider, **evidence):
    outcome = attendance.check_in(session, order, provider.id, "api", clock.now(), evidence, settings)
    if outcome.ok or outcome.keep:
        session.commit()
    else:
        session.rollback()
    return outcome


def _sms(session, purpose) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == purpose)))


# -- naming the worker ------------------------------------------------------------------------------

def test_a_check_in_naming_a_worker_on_record_records_the_worker(session, settings, clock, job):
    order, provider, worker = job()
    outcome = _check_in(session, settings, clock, order, provider, worker="0001")
    assert outcome.ok, outcome.message
    visit = session.get(Order, order.id).visit
    assert (visit.worker_id, visit.worker_ref, visit.check_in_method) == (worker.id, "0001", "none")


def test_a_worker_may_be_named_by_their_own_mobile(session, settings, clock, job):
    order, provider, worker = job()
    assert _check_in(session, settings, clock, order, provider, worker=worker.phone[3:]).ok
    assert session.get(Order, order.id).visit.worker_id == worker.id


def test_a_check_in_naming_an_unknown_worker_is_refused_and_nothing_is_recorded(session, settings, clock, job):
    order, provider, _ = job()
    outcome = _check_in(session, settings, clock, order, provider, worker="9999")
    assert not outcome.ok and outcome.error == "unknown_worker" and "不在本服务商登记的名单上" in outcome.message
    assert session.get(Order, order.id).state == "accepted" and session.get(Order, order.id).visit is None


def test_a_check_in_naming_no_worker_is_refused_once_the_provider_has_workers_on_record(
        session, settings, clock, job):
    order, provider, _ = job()
    outcome = _check_in(session, settings, clock, order, provider)
    assert not outcome.ok and outcome.error == "worker_required"


def test_a_worker_not_allowed_the_item_is_refused_by_name(session, settings, clock, job):
    order, provider, _ = job(items=("LC01",))
    outcome = _check_in(session, settings, clock, order, provider, worker="0001")
    assert not outcome.ok and outcome.error == "worker_not_allowed" and "未登记可提供" in outcome.message


def test_a_deactivated_worker_cannot_check_in(session, settings, clock, job):
    from providers.workers import set_active

    order, provider, worker = job()
    set_active(session, worker, False)
    session.commit()
    outcome = _check_in(session, settings, clock, order, provider, worker="0001")
    assert not outcome.ok and outcome.error in ("worker_inactive", "worker_required")


def test_another_providers_worker_is_unknown_here(session, settings, clock, job, make_provider, make_worker):
    order, provider, _ = job()
    stranger = make_worker(make_provider(), work_number="0777")
    outcome = _check_in(session, settings, clock, order, provider, worker=stranger.work_number)
    assert not outcome.ok and outcome.error == "unknown_worker"


# -- proof of place ---------------------------------------------------------------------------------

def test_the_visit_code_the_elder_was_told_proves_the_place(session, settings, clock, job):
    order, provider, _ = job()
    code = session.get(Order, order.id).visit_code
    assert code is not None and len(code) == 4
    assert _check_in(session, settings, clock, order, provider, worker="0001", code=code).ok
    assert session.get(Order, order.id).visit.check_in_method == "visit_code"


def test_a_wrong_visit_code_is_refused_counted_and_locked_at_the_third(session, settings, clock, job):
    order, provider, _ = job()
    right = session.get(Order, order.id).visit_code
    wrong = f"{(int(right) + 1) % 10000:04d}"
    answers = [_check_in(session, settings, clock, order, provider, worker="0001", code=wrong)
               for _ in range(MAX_CODE_FAILURES)]
    assert [a.error for a in answers] == ["wrong_visit_code", "wrong_visit_code", "visit_code_locked"]
    session.expire_all()
    assert session.get(Order, order.id).visit_code_failures == MAX_CODE_FAILURES
    # Locked: even the right code is refused now, and nothing more is counted.
    late = _check_in(session, settings, clock, order, provider, worker="0001", code=right)
    assert not late.ok and late.error == "visit_code_locked"
    assert session.get(Order, order.id).visit_code_failures == MAX_CODE_FAILURES
    # Without a code the worker may still check in, unverified.
    assert _check_in(session, settings, clock, order, provider, worker="0001").ok
    assert session.get(Order, order.id).visit.check_in_method == "none"


def test_two_wrong_codes_then_the_right_one_still_proves_the_place(session, settings, clock, job):
    order, provider, _ = job()
    right = session.get(Order, order.id).visit_code
    wrong = f"{(int(right) + 1) % 10000:04d}"
    for _ in range(MAX_CODE_FAILURES - 1):
        _check_in(session, settings, clock, order, provider, worker="0001", code=wrong)
    assert _check_in(session, settings, clock, order, provider, worker="0001", code=right).ok
    assert session.get(Order, order.id).visit.check_in_method == "visit_code"


@pytest.mark.parametrize("lat, lng, method, kept", [
    (HOME[0] + 0.001, HOME[1], "location", True),    # ~111 m away
    (HOME[0] + 0.01, HOME[1], "none", True),         # ~1.1 km away: kept, unverified
    (0.0, 0.0, "none", False),                       # implausible: not kept as a place
    (51.5, -0.12, "none", False),                    # London
])
def test_a_location_proves_the_place_only_near_the_home_and_a_bad_one_leaves_the_check_in_unverified(
        session, settings, clock, job, lat, lng, method, kept):
    order, provider, _ = job()
    outcome = _check_in(session, settings, clock, order, provider, worker="0001", lat=lat, lng=lng)
    assert outcome.ok
    visit = session.get(Order, order.id).visit
    assert visit.check_in_method == method
    assert (visit.check_in_lat is not None) is kept


def test_the_elder_phone_and_the_device_are_recorded(session, settings, clock, job):
    order, provider, _ = job()
    assert _check_in(session, settings, clock, order, provider, worker="0001", elder_phone=True,
                     device="abc123").ok
    visit = session.get(Order, order.id).visit
    assert (visit.check_in_method, visit.check_in_device) == ("elder_phone", "abc123")


def test_check_out_by_another_worker_is_refused_and_by_the_same_one_records_its_proof(
        session, settings, clock, job, policy, make_worker):
    order, provider, _ = job()
    make_worker(provider, work_number="0002")
    assert _check_in(session, settings, clock, order, provider, worker="0001").ok
    clock.advance(3600)
    other = attendance.check_out(session, order, provider.id, "api", policy, settings, clock.now(), {"worker": "0002"})
    assert not other.ok and other.error == "worker_mismatch"
    session.rollback()
    done = attendance.check_out(session, order, provider.id, "api", policy, settings, clock.now(),
                                {"lat": HOME[0], "lng": HOME[1], "device": "d1"})
    assert done.ok
    session.commit()
    visit = session.get(Order, order.id).visit
    assert (visit.check_out_method, visit.check_out_device, visit.check_out_lat) == ("location", "d1", HOME[0])


# -- SMS: `CODE 到 工号` from a dispatch phone, or from the worker's own mobile --------------------------

def _reply(session, settings, policy, clock, sender, body, sid):
    text = handle_inbound_sms(session, message_sid=sid, sender=sender, to=settings.hotline_number, body=body,
                              settings=settings, policy=policy, now=clock.now())
    session.commit()
    return text


def test_an_sms_from_the_dispatch_phone_names_the_worker_by_work_number(session, settings, policy, clock, job):
    order, provider, worker = job()
    refused = _reply(session, settings, policy, clock, provider.dispatch_phone, f"{order.job_code} 到 0404", "SM1")
    assert "不在本服务商登记的名单上" in refused
    done = _reply(session, settings, policy, clock, provider.dispatch_phone, f"{order.job_code} 到 0001", "SM2")
    assert done.startswith("已签到")
    assert session.get(Order, order.id).visit.worker_id == worker.id


def test_an_sms_from_the_workers_own_mobile_names_the_worker_and_may_carry_the_code(
        session, settings, policy, clock, job):
    order, _, worker = job()
    code = session.get(Order, order.id).visit_code
    done = _reply(session, settings, policy, clock, worker.phone, f"{order.job_code} 到 码{code}", "SM3")
    assert done.startswith("已签到"), done
    visit = session.get(Order, order.id).visit
    assert (visit.worker_id, visit.check_in_method, visit.check_in_source) == (worker.id, "visit_code", "sms")
    assert visit.check_in_device and worker.phone not in visit.check_in_device


# -- the family in the loop --------------------------------------------------------------------------

def test_a_family_member_who_opted_in_gets_an_sms_at_check_in_and_check_out(
        session, settings, policy, clock, job):
    order, provider, worker = job()
    elder = session.get(Order, order.id).elder
    add_family_member(session, elder, FamilyFields("李明", "13912345678", "儿子", wants_visit_sms=True), clock.now())
    add_family_member(session, elder, FamilyFields("李红", "13912345679", "女儿"), clock.now())
    session.commit()
    assert _check_in(session, settings, clock, order, provider, worker="0001").ok
    (told,) = _sms(session, "family_check_in")
    assert told.to_number == "+8613912345678" and told.kind == "sms"
    assert worker.name in told.body and elder.name in told.body and "到达" in told.body
    clock.advance(3600)
    assert attendance.check_out(session, order, provider.id, "api", policy, settings, clock.now(), {}).ok
    session.commit()
    (left,) = _sms(session, "family_check_out")
    assert left.to_number == "+8613912345678" and "离开" in left.body


def test_a_family_member_on_a_landline_gets_a_short_call_instead(session, settings, clock, job):
    order, provider, _ = job()
    elder = session.get(Order, order.id).elder
    add_family_member(session, elder, FamilyFields("李明", LANDLINE, "儿子", wants_visit_sms=True), clock.now())
    session.commit()
    assert _check_in(session, settings, clock, order, provider, worker="0001").ok
    (told,) = _sms(session, "family_check_in")
    assert told.kind == "call" and told.to_number == LANDLINE and "到达" in told.body


def test_a_provider_with_no_workers_on_record_yet_still_checks_in_unnamed(
        session, settings, clock, make_elder, make_provider):
    elder = make_elder()
    provider = make_provider()
    item = session.scalar(select(Item).where(Item.code == "HK01"))
    order = orders.place_order(session, elder=elder, item=item, slot=slot_for("asap", clock.now()),
                               source="phone", call_sid=None, settings=settings, now=clock.now())
    offer = session.scalar(select(Offer).where(Offer.order_id == order.id, Offer.status == "offered"))
    assert orders.accept_offer(session, offer, provider.id, "sms", settings, clock.now()).ok
    assert _check_in(session, settings, clock, order, provider).ok
    assert session.get(Order, order.id).visit.worker_id is None
    # Naming a worker that is not on record is refused even so.
    order2 = orders.place_order(session, elder=elder, item=item, slot=slot_for("asap", clock.now()),
                                source="phone", call_sid=None, settings=settings, now=clock.now())
    offer2 = session.scalar(select(Offer).where(Offer.order_id == order2.id, Offer.status == "offered"))
    assert orders.accept_offer(session, offer2, provider.id, "sms", settings, clock.now()).ok
    assert _check_in(session, settings, clock, order2, provider, worker="W1").error == "unknown_worker"
