"""Fair pacing per recipient: no more texts to one provider number than its carrier allows."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from dispatcher.config import Settings
from dispatcher.lifecycle import orders
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import Item, Order
from dispatcher.operations.sweepers import deliver_outbox
from providers.models import Offer, ProviderPhone
from telephony.models import OutboxMessage
from telephony.outbox import SKIPPED_RATE_LIMIT

SECOND_PHONE = "+8613811112222"


@pytest.fixture
def paced(app):
    """Two texts per number per day, as if the carrier allowed no more."""
    app.config.update(SMS_PER_NUMBER=2, SMS_WINDOW_S=86400)
    return Settings(app.config)


def _place(session, elder, settings, clock) -> Order:
    item = session.scalar(select(Item).where(Item.code == "HK01"))
    order = orders.place_order(session, elder=elder, item=item, slot=slot_for("asap", clock.now()),
                               source="phone", call_sid=None, settings=settings, now=clock.now())
    session.commit()
    return order


def _texts(session, to):
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.to_number == to,
                                                            OutboxMessage.kind == "sms")
                                .order_by(OutboxMessage.id)))


def test_an_offer_over_the_per_number_limit_is_not_texted_but_still_offered(
    app, session, clock, paced, make_elder, make_provider
):
    provider = make_provider()
    placed = []
    for _ in range(3):
        placed.append(_place(session, make_elder(), paced, clock))
        clock.advance(60)

    texts = _texts(session, provider.dispatch_phone)
    assert [m.status for m in texts] == ["queued", "queued", SKIPPED_RATE_LIMIT]
    assert "per-number limit" in texts[2].last_error and "(limit 2)" in texts[2].last_error
    # The offer is an Offer row either way: the portal and the API show it, and it expires in
    # its own window, so the order moves on in minutes, not after the carrier's day.
    third = session.scalar(select(Offer).where(Offer.order_id == placed[2].id))
    assert third.status == "offered" and third.provider_id == provider.id
    assert third.expires_at - third.offered_at == timedelta(seconds=paced.asap_offer_window_s)


def test_a_held_back_text_is_never_sent_and_the_log_says_why(
    app, session, clock, paced, make_elder, make_provider, caplog
):
    provider = make_provider()
    with caplog.at_level(logging.INFO, logger="telephony.outbox"):
        for _ in range(3):
            _place(session, make_elder(), paced, clock)
    (line,) = [r.getMessage() for r in caplog.records if "not sent" in r.getMessage()]
    assert line.startswith("sms offer to +86138****") and "per-number limit: 2 texts" in line

    deliver_outbox(app, clock.now())

    statuses = [m.status for m in _texts(session, provider.dispatch_phone)]
    assert statuses == ["sent", "sent", SKIPPED_RATE_LIMIT]


def test_the_next_dispatch_phone_still_gets_the_offer_the_first_may_not(
    app, session, clock, paced, make_elder, make_provider
):
    provider = make_provider()
    _place(session, make_elder(), paced, clock)
    _place(session, make_elder(), paced, clock)
    provider.phones.append(ProviderPhone(phone=SECOND_PHONE))
    session.commit()

    _place(session, make_elder(), paced, clock)

    assert [m.status for m in _texts(session, provider.dispatch_phone)][-1] == SKIPPED_RATE_LIMIT
    (to_second,) = _texts(session, SECOND_PHONE)
    assert to_second.status == "queued" and to_second.purpose == "offer"


def test_the_limit_counts_only_the_window(app, session, clock, paced, make_elder, make_provider):
    provider = make_provider()
    for _ in range(3):
        _place(session, make_elder(), paced, clock)
    clock.advance(86400 + 1)

    _place(session, make_elder(), paced, clock)

    assert [m.status for m in _texts(session, provider.dispatch_phone)] == [
        "queued", "queued", SKIPPED_RATE_LIMIT, "queued"]


def test_without_a_limit_every_offer_is_texted(app, session, clock, settings, make_elder, make_provider):
    assert settings.sms_per_number == 0  # the local network has no carrier to hold texts
    provider = make_provider()
    for _ in range(5):
        _place(session, make_elder(), settings, clock)

    assert {m.status for m in _texts(session, provider.dispatch_phone)} == {"queued"}


def test_the_default_limit_follows_the_carrier():
    from dispatcher.config import settings_from_env

    assert settings_from_env({"VNH_TELEPHONY": "twilio"})["SMS_PER_NUMBER"] == 4
    assert settings_from_env({})["SMS_PER_NUMBER"] == 0
    custom = settings_from_env({"VNH_SMS_PER_NUMBER": "7", "VNH_SMS_WINDOW_S": "3600"})
    assert (custom["SMS_PER_NUMBER"], custom["SMS_WINDOW_S"]) == (7, 3600)
