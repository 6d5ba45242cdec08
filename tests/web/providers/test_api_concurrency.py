"""Racing accepts through the JSON API over real HTTP: one threaded server, one thread per provider,
each request its own database transaction. Exactly one acceptance wins.

Runs on PostgreSQL when VNH_TEST_DATABASE_URL is set (the row lock in `orders.accept_offer` is what
decides), and on SQLite otherwise (there BEGIN IMMEDIATE serialises the writers).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest
from geopy.distance import distance as geo_distance
from sqlalchemy import func, select
from werkzeug.serving import make_server

from dispatcher.config import Settings
from dispatcher.lifecycle import orders
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import Item, Order
from providers.models import Offer
from providers.tokens import issue_token
from telephony.models import OutboxMessage

RACERS = 8
ELDER_AT = (36.0580, 103.8270)


@pytest.fixture
def server(app):
    """The app on a threaded HTTP server on a free local port; yields its base URL."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join()


def _point(metres: int) -> dict:
    p = geo_distance(meters=metres).destination(ELDER_AT, 90)
    return {"latitude": p.latitude, "longitude": p.longitude}


@pytest.fixture
def emergency(app, session, clock, make_elder, make_provider):
    """An emergency offered to RACERS providers at once; each provider's offer id and token."""
    app.config.update(EMERGENCY_OFFERS=RACERS, MAX_OFFERS=RACERS)
    providers = [make_provider(offerings={"EM03": 8000}, **_point(200 * n)) for n in range(1, RACERS + 1)]
    tokens = {p.id: issue_token(session, p.id, "erp", clock.now())[1] for p in providers}
    elder = make_elder(phone="+8613912340001", latitude=ELDER_AT[0], longitude=ELDER_AT[1])
    item = session.scalar(select(Item).where(Item.code == "EM03"))
    order = orders.place_order(session, elder=elder, item=item, slot=slot_for("asap", clock.now()),
                               source="phone", call_sid=None, settings=Settings(app.config), now=clock.now())
    session.commit()
    offers = session.scalars(select(Offer).where(Offer.order_id == order.id)).all()
    racers = [(o.id, o.provider_id, tokens[o.provider_id]) for o in offers]
    order_id = order.id
    session.commit()
    return order_id, racers


def _accept(base: str, offer_id: int, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"{base}/api/v1/offers/{offer_id}/accept", data=b"", method="POST",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


def _race(base: str, racers: list[tuple[int, int, str]]) -> dict[int, tuple[int, dict]]:
    """Start every accept at the same moment; return each provider's (status, body)."""
    start = threading.Barrier(len(racers))
    answers: dict[int, tuple[int, dict]] = {}

    def run(offer_id: int, provider_id: int, token: str) -> None:
        start.wait()
        answers[provider_id] = _accept(base, offer_id, token)

    threads = [threading.Thread(target=run, args=racer) for racer in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def test_eight_providers_accepting_one_emergency_at_once_yield_exactly_one_winner(
        app, session, server, emergency):
    order_id, racers = emergency
    assert len(racers) == RACERS

    answers = _race(server, racers)

    assert len(answers) == RACERS
    winners = [pid for pid, (status, _) in answers.items() if status == 200]
    assert len(winners) == 1, answers
    (winner,) = winners
    assert answers[winner][1]["ok"] is True
    for pid, (status, body) in answers.items():
        if pid != winner:
            assert status == 409, body
            assert body["error"] == "conflict" and "已由其他服务商接单" in body["message"]
    with app.extensions["vnh.sessionmaker"]() as fresh:
        order = fresh.get(Order, order_id)
        statuses = fresh.execute(select(Offer.provider_id, Offer.status).where(Offer.order_id == order_id)).all()
        confirmations = fresh.scalar(select(func.count()).select_from(OutboxMessage)
                                     .where(OutboxMessage.purpose == "elder_confirmation"))
        assert (order.state, order.provider_id) == ("accepted", winner)
        assert sorted(status for _, status in statuses) == ["accepted"] + ["withdrawn"] * (RACERS - 1)
        assert dict(statuses)[winner] == "accepted"
        assert confirmations == 1


def test_one_provider_accepting_its_offer_from_eight_threads_at_once_is_accepted_once(
        app, session, server, emergency):
    """Retries from a provider's own system race each other: all succeed, one acceptance is stored."""
    order_id, racers = emergency
    offer_id, provider_id, token = racers[0]

    answers = _race(server, [(offer_id, n, token) for n in range(RACERS)])

    assert [status for status, _ in answers.values()] == [200] * RACERS
    with app.extensions["vnh.sessionmaker"]() as fresh:
        statuses = fresh.execute(select(Offer.provider_id, Offer.status).where(Offer.order_id == order_id)).all()
        assert [pid for pid, status in statuses if status == "accepted"] == [provider_id]
        assert fresh.scalar(select(func.count()).select_from(OutboxMessage)
                            .where(OutboxMessage.purpose == "elder_confirmation")) == 1
