"""The provider JSON API: bearer tokens, each route, isolation between providers, limits, OpenAPI."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from dispatcher.lifecycle import orders
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import Item, Order
from providers.models import Offer
from providers.tokens import ApiToken, issue_token, revoke_token
from telephony.models import OutboxMessage


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def two_providers(session, clock, make_provider):
    """Provider A sells HK01 and provider B sells HK02, each with a live token."""
    a = make_provider(offerings={"HK01": 4800}, latitude=36.0590, longitude=103.8280)
    b = make_provider(offerings={"HK02": 4000}, latitude=36.0590, longitude=103.8280)
    tokens = {}
    for name, provider in (("a", a), ("b", b)):
        _, tokens[name] = issue_token(session, provider.id, f"{name}-system", clock.now())
    session.commit()
    return {"a": (a, tokens["a"]), "b": (b, tokens["b"])}


@pytest.fixture
def place(session, settings, clock, make_elder):
    def place_item(item_code: str) -> Order:
        elder = make_elder()
        item = session.scalar(select(Item).where(Item.code == item_code))
        order = orders.place_order(session, elder=elder, item=item, slot=slot_for("asap", clock.now()),
                                   source="phone", call_sid=None, settings=settings, now=clock.now())
        session.commit()
        return order

    return place_item


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _offer_of(session, order: Order) -> Offer:
    session.expire_all()
    offer = session.scalars(select(Offer).where(Offer.order_id == order.id).order_by(Offer.id)).first()
    # End the read: on SQLite every transaction holds the write lock the app is about to need.
    session.commit()
    return offer


def _snapshot(session, order: Order) -> tuple:
    """Everything an answer or a visit step could change."""
    session.expire_all()
    fresh = session.get(Order, order.id)
    snapshot = (
        fresh.state, fresh.provider_id, fresh.visit is not None,
        [(o.provider_id, o.status, o.responded_at)
         for o in session.scalars(select(Offer).where(Offer.order_id == order.id).order_by(Offer.id))],
        session.scalar(select(func.count()).select_from(OutboxMessage)),
    )
    session.commit()
    return snapshot


def _accepted_job(session, settings, clock, place, provider, item_code) -> Order:
    order = place(item_code)
    orders.accept_offer(session, _offer_of(session, order), provider.id, "sms", settings, clock.now())
    session.commit()
    return order


def test_a_provider_lists_its_open_offers_with_job_item_address_window_and_price(
        client, session, two_providers, place):
    provider_a, token_a = two_providers["a"]
    order = place("HK01")
    offer = _offer_of(session, order)
    address = order.elder.address
    session.commit()

    reply = client.get("/api/v1/offers", headers=_bearer(token_a))

    assert reply.status_code == 200
    (listed,) = reply.get_json()["offers"]
    assert listed["id"] == offer.id and listed["job_code"] == order.job_code
    assert listed["item"]["code"] == "HK01" and listed["price_fen"] == 4800
    assert listed["address"] == address
    assert listed["window"]["slot"] == "asap" and listed["window"]["start"].endswith("+08:00")
    assert listed["expires_at"].endswith("+08:00")


def test_accepting_an_offer_assigns_the_order_and_lists_it_as_a_job(client, session, two_providers, place):
    provider_a, token_a = two_providers["a"]
    order = place("HK01")
    offer = _offer_of(session, order)

    reply = client.post(f"/api/v1/offers/{offer.id}/accept", headers=_bearer(token_a))

    assert reply.status_code == 200, reply.get_json()
    assert reply.get_json()["ok"] is True and reply.get_json()["job_code"] == order.job_code
    session.expire_all()
    assert session.get(Order, order.id).provider_id == provider_a.id
    assert _offer_of(session, order).response_channel == "api"
    session.commit()
    jobs = client.get("/api/v1/jobs", headers=_bearer(token_a)).get_json()["jobs"]
    assert [(j["job_code"], j["state"], j["price_fen"]) for j in jobs] == [(order.job_code, "accepted", 4800)]
    assert client.get("/api/v1/offers", headers=_bearer(token_a)).get_json()["offers"] == []


def test_declining_an_offer_moves_the_order_on(client, session, two_providers, place):
    _, token_a = two_providers["a"]
    order = place("HK01")
    offer = _offer_of(session, order)

    reply = client.post(f"/api/v1/offers/{offer.id}/decline", headers=_bearer(token_a))

    assert reply.status_code == 200
    session.expire_all()
    assert session.get(Offer, offer.id).status == "declined"
    # A was the only provider of HK01, so the order goes to the operator queue.
    assert session.get(Order, order.id).state == "unassigned"


def test_check_in_and_check_out_complete_the_visit_with_its_evidence(
        client, session, settings, clock, two_providers, place, make_worker):
    provider_a, token_a = two_providers["a"]
    make_worker(provider_a, work_number="W007")
    order = _accepted_job(session, settings, clock, place, provider_a, "HK01")

    checked_in = client.post(f"/api/v1/jobs/{order.job_code}/check-in", headers=_bearer(token_a),
                             json={"worker": "W007", "phone": "+8613800000007"})
    clock.advance(3600)
    checked_out = client.post(f"/api/v1/jobs/{order.job_code}/check-out", headers=_bearer(token_a))

    assert checked_in.status_code == 200 and checked_out.status_code == 200, checked_out.get_json()
    session.expire_all()
    fresh = session.get(Order, order.id)
    assert fresh.state == "completed"
    assert (fresh.visit.check_in_source, fresh.visit.worker_ref, fresh.visit.check_in_phone) == (
        "api", "W007", "+8613800000007")
    session.commit()
    (job,) = client.get("/api/v1/jobs", headers=_bearer(token_a)).get_json()["jobs"]
    assert job["state"] == "completed" and job["checked_out_at"] is not None


def _routes_against(order: Order, offer: Offer) -> list[tuple[str, str]]:
    return [("post", f"/api/v1/offers/{offer.id}/accept"), ("post", f"/api/v1/offers/{offer.id}/decline"),
            ("post", f"/api/v1/jobs/{order.job_code}/check-in"),
            ("post", f"/api/v1/jobs/{order.job_code}/check-out")]


def test_a_providers_token_cannot_see_or_touch_another_providers_offers(
        client, session, two_providers, place):
    _, token_a = two_providers["a"]
    order_b = place("HK02")
    offer_b = _offer_of(session, order_b)
    before = _snapshot(session, order_b)

    assert client.get("/api/v1/offers", headers=_bearer(token_a)).get_json()["offers"] == []
    for method, url in _routes_against(order_b, offer_b):
        reply = getattr(client, method)(url, headers=_bearer(token_a))
        assert reply.status_code == 404, url
        assert reply.get_json()["error"] == "not_found"
    assert _snapshot(session, order_b) == before


def test_a_providers_token_cannot_see_or_touch_another_providers_jobs(
        client, session, settings, clock, two_providers, place):
    provider_b, _ = two_providers["b"]
    _, token_a = two_providers["a"]
    order_b = _accepted_job(session, settings, clock, place, provider_b, "HK02")
    offer_b = _offer_of(session, order_b)
    before = _snapshot(session, order_b)

    assert client.get("/api/v1/jobs", headers=_bearer(token_a)).get_json()["jobs"] == []
    for method, url in _routes_against(order_b, offer_b):
        assert getattr(client, method)(url, headers=_bearer(token_a)).status_code == 404, url
    assert _snapshot(session, order_b) == before


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"},
                                     {"Authorization": "Basic dXNlcjpwdw=="}])
def test_a_missing_or_unknown_token_is_refused(client, two_providers, headers):
    reply = client.get("/api/v1/offers", headers=headers)

    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert reply.get_json()["error"] in ("missing_token", "invalid_token") and reply.get_json()["message"]


def test_a_revoked_token_is_refused_at_once(client, session, clock, two_providers):
    provider_a, token_a = two_providers["a"]
    assert client.get("/api/v1/offers", headers=_bearer(token_a)).status_code == 200
    row = session.scalar(select(ApiToken).where(ApiToken.provider_id == provider_a.id))
    revoke_token(session, row.id, clock.now())
    session.commit()

    reply = client.get("/api/v1/offers", headers=_bearer(token_a))

    assert reply.status_code == 401 and reply.get_json()["error"] == "invalid_token"


def test_accepting_an_expired_offer_is_refused_and_changes_nothing(
        client, session, clock, two_providers, place):
    _, token_a = two_providers["a"]
    order = place("HK01")
    offer = _offer_of(session, order)
    clock.set(offer.expires_at)
    before = _snapshot(session, order)

    reply = client.post(f"/api/v1/offers/{offer.id}/accept", headers=_bearer(token_a))

    assert reply.status_code == 409
    assert reply.get_json()["error"] == "conflict" and "已失效" in reply.get_json()["message"]
    assert _snapshot(session, order) == before


def test_accepting_a_withdrawn_offer_is_refused_and_changes_nothing(
        client, session, settings, clock, two_providers, place):
    _, token_a = two_providers["a"]
    order = place("HK01")
    orders.cancel_order(session, order, "老人取消", settings, clock.now())
    session.commit()
    offer = _offer_of(session, order)
    before = _snapshot(session, order)

    reply = client.post(f"/api/v1/offers/{offer.id}/accept", headers=_bearer(token_a))

    assert reply.status_code == 409
    assert _snapshot(session, order) == before


def test_checking_out_before_checking_in_is_a_conflict(client, session, settings, clock, two_providers, place):
    provider_a, token_a = two_providers["a"]
    order = _accepted_job(session, settings, clock, place, provider_a, "HK01")

    reply = client.post(f"/api/v1/jobs/{order.job_code}/check-out", headers=_bearer(token_a))

    assert reply.status_code == 409
    session.expire_all()
    assert session.get(Order, order.id).state == "accepted"


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"'])
def test_a_malformed_json_body_is_refused(client, session, settings, clock, two_providers, place, body):
    provider_a, token_a = two_providers["a"]
    order = _accepted_job(session, settings, clock, place, provider_a, "HK01")

    reply = client.post(f"/api/v1/jobs/{order.job_code}/check-in", data=body,
                        headers=_bearer(token_a) | {"Content-Type": "application/json"})

    assert reply.status_code == 400 and reply.get_json()["error"] == "malformed_json"
    session.expire_all()
    assert session.get(Order, order.id).state == "accepted"


def test_an_invalid_evidence_field_is_named(client, session, settings, clock, two_providers, place):
    provider_a, token_a = two_providers["a"]
    order = _accepted_job(session, settings, clock, place, provider_a, "HK01")

    reply = client.post(f"/api/v1/jobs/{order.job_code}/check-in", json={"worker": 7},
                        headers=_bearer(token_a))

    assert reply.status_code == 400 and "worker" in reply.get_json()["message"]


def test_a_token_over_its_minute_limit_gets_429_until_the_next_minute(client, clock, two_providers):
    _, token_a = two_providers["a"]
    _, token_b = two_providers["b"]
    clock.set(clock.now().replace(second=0, microsecond=0))
    statuses = [client.get("/api/v1/offers", headers=_bearer(token_a)).status_code for _ in range(60)]

    refused = client.get("/api/v1/offers", headers=_bearer(token_a))

    assert statuses == [200] * 60
    assert refused.status_code == 429 and refused.get_json()["error"] == "rate_limited"
    assert refused.headers["Retry-After"] == "60"
    assert client.get("/api/v1/offers", headers=_bearer(token_b)).status_code == 200
    clock.advance(60)
    assert client.get("/api/v1/offers", headers=_bearer(token_a)).status_code == 200


def test_a_used_token_records_when_it_was_last_used(client, session, clock, two_providers):
    provider_a, token_a = two_providers["a"]

    client.get("/api/v1/jobs", headers=_bearer(token_a))

    session.expire_all()
    row = session.scalar(select(ApiToken).where(ApiToken.provider_id == provider_a.id))
    assert row.last_used_at == clock.now()


def test_the_openapi_document_lists_exactly_the_api_routes(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    prefix = document["servers"][0]["url"]
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule).removeprefix(prefix)
            routes.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})

    documented = {path: set(operations) for path, operations in document["paths"].items()}

    assert document["openapi"].startswith("3.")
    assert documented == routes
    assert len(routes) == 7


def test_the_cli_issues_a_token_once_and_revokes_it(app, database_url, client, session, make_provider):
    provider = make_provider(code="PAPI1")
    env = {"VNH_DATABASE_URL": database_url, "VNH_TELEPHONY": "local", "TWILIO_ACCOUNT_SID": "",
           "TWILIO_AUTH_TOKEN": ""}
    from dispatcher.cli import main

    issued = CliRunner().invoke(main, ["provider", "token", "PAPI1", "--label", "erp"], env=env)
    assert issued.exit_code == 0, issued.output
    token_id, token = re.search(r"token (\d+) for PAPI1: (\S+)", issued.output).groups()
    row = session.get(ApiToken, int(token_id))
    assert (row.provider_id, row.label) == (provider.id, "erp") and token not in row.token_hash
    session.commit()
    assert client.get("/api/v1/offers", headers=_bearer(token)).status_code == 200

    revoked = CliRunner().invoke(main, ["provider", "revoke-token", token_id], env=env)

    assert revoked.exit_code == 0, revoked.output
    assert client.get("/api/v1/offers", headers=_bearer(token)).status_code == 401
    missing = CliRunner().invoke(main, ["provider", "revoke-token", "9999"], env=env)
    assert missing.exit_code != 0 and "no API token 9999" in missing.output


# Provider A's token, against provider B's open offer and B's accepted job. Every API route has an
# entry; a route added without one fails the coverage test below.
def _lists_nothing_of_b(reply, world) -> None:
    assert reply.status_code == 200
    assert world["job_code"] not in reply.get_data(as_text=True)
    assert world["open_code"] not in reply.get_data(as_text=True)
    listed = reply.get_json()
    assert listed == {"offers": []} or listed == {"jobs": []}


def _not_found(reply, world) -> None:
    assert reply.status_code == 404 and reply.get_json()["error"] == "not_found"


def _public_document(reply, world) -> None:
    # The OpenAPI document needs no token and holds no provider's data.
    assert reply.status_code == 200 and reply.get_json()["openapi"].startswith("3.")
    assert world["job_code"] not in reply.get_data(as_text=True)


API_ISOLATION = {
    ("GET", "/api/v1/offers"): (lambda w: "/api/v1/offers", _lists_nothing_of_b),
    ("GET", "/api/v1/jobs"): (lambda w: "/api/v1/jobs", _lists_nothing_of_b),
    ("POST", "/api/v1/offers/<int:offer_id>/accept"):
        (lambda w: f"/api/v1/offers/{w['offer_id']}/accept", _not_found),
    ("POST", "/api/v1/offers/<int:offer_id>/decline"):
        (lambda w: f"/api/v1/offers/{w['offer_id']}/decline", _not_found),
    ("POST", "/api/v1/jobs/<job_code>/check-in"):
        (lambda w: f"/api/v1/jobs/{w['job_code']}/check-in", _not_found),
    ("POST", "/api/v1/jobs/<job_code>/check-out"):
        (lambda w: f"/api/v1/jobs/{w['job_code']}/check-out", _not_found),
    ("GET", "/api/v1/openapi.json"): (lambda w: "/api/v1/openapi.json", _public_document),
}


def test_every_api_route_has_an_isolation_check(app):
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("provider_api.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}

    assert routes == set(API_ISOLATION)


@pytest.fixture
def world_b(session, settings, clock, two_providers, place):
    """B's open offer and B's accepted job, as plain values."""
    provider_b, _ = two_providers["b"]
    job = _accepted_job(session, settings, clock, place, provider_b, "HK02")
    open_order = place("HK02")
    world = {"offer_id": _offer_of(session, open_order).id, "open_id": open_order.id,
             "open_code": open_order.job_code, "job_id": job.id, "job_code": job.job_code}
    session.commit()
    return world


def _b_state(session, world) -> list:
    states = []
    for key in ("open_id", "job_id"):
        states.append(_snapshot(session, session.get(Order, world[key])))
    session.commit()
    return states


@pytest.mark.parametrize("route", sorted(API_ISOLATION), ids=lambda r: f"{r[0]} {r[1]}")
def test_provider_a_token_cannot_see_or_act_on_provider_b_data(client, session, two_providers, world_b, route):
    _, token_a = two_providers["a"]
    method, _ = route
    url_of, check = API_ISOLATION[route]
    before = _b_state(session, world_b)

    reply = client.open(url_of(world_b), method=method, headers=_bearer(token_a))

    check(reply, world_b)
    assert _b_state(session, world_b) == before


def test_provider_b_token_sees_its_own_offer_and_job(client, two_providers, world_b):
    """The isolation checks above would pass on empty lists; B's own token does see it all."""
    _, token_b = two_providers["b"]

    offers = client.get("/api/v1/offers", headers=_bearer(token_b)).get_json()["offers"]
    jobs = client.get("/api/v1/jobs", headers=_bearer(token_b)).get_json()["jobs"]

    assert [o["id"] for o in offers] == [world_b["offer_id"]]
    assert [j["job_code"] for j in jobs] == [world_b["job_code"]]


@pytest.mark.parametrize("method, url", [("get", "/api/v1/nothing-here"), ("post", "/api/v1/offers/1/accepted"),
                                         ("get", "/api/v1"), ("get", "/api/v1/offers/not-a-number/accept")])
def test_an_unknown_api_url_answers_json_404(client, method, url):
    reply = getattr(client, method)(url)

    assert reply.status_code == 404 and reply.is_json
    assert reply.get_json() == {"error": "not_found", "message": "没有找到。"}


@pytest.mark.parametrize("method, url, allowed", [("get", "/api/v1/offers/1/accept", "POST"),
                                                  ("post", "/api/v1/offers", "GET"),
                                                  ("delete", "/api/v1/jobs/123456/check-in", "POST")])
def test_a_wrong_method_on_an_api_route_answers_json_405_naming_the_allowed_ones(client, method, url, allowed):
    reply = getattr(client, method)(url)

    assert reply.status_code == 405 and reply.is_json
    assert reply.get_json()["error"] == "method_not_allowed" and reply.get_json()["message"]
    assert allowed in reply.headers["Allow"]


def test_an_unknown_url_outside_the_api_keeps_the_html_404(client):
    reply = client.get("/no-such-page")

    assert reply.status_code == 404 and not reply.is_json


def test_an_application_404_page_registered_before_the_api_still_answers_outside_it(database_url):
    from flask import Blueprint, Flask

    from dispatcher import db
    from providers import api

    pages = Blueprint("pages", __name__)
    pages.app_errorhandler(404)(lambda exc: ("页面不存在", 404))
    app = Flask(__name__)
    app.config.update(DATABASE_URL=database_url)
    db.init_app(app)
    app.register_blueprint(pages)
    app.register_blueprint(api.bp)
    client = app.test_client()

    assert client.get("/no-such-page").get_data(as_text=True) == "页面不存在"
    assert client.get("/api/v1/no-such-route").get_json()["error"] == "not_found"
    assert client.put("/api/v1/offers").get_json()["error"] == "method_not_allowed"
    app.extensions["vnh.engine"].dispose()


# -- issue 18: a worker on record and proof of place ----------------------------------------------

def test_a_check_in_naming_an_unknown_worker_is_refused_as_json(
        client, session, settings, clock, two_providers, place, make_worker):
    provider_a, token_a = two_providers["a"]
    make_worker(provider_a, work_number="0001")
    order = _accepted_job(session, settings, clock, place, provider_a, "HK01")
    reply = client.post(f"/api/v1/jobs/{order.job_code}/check-in", headers=_bearer(token_a),
                        json={"worker": "0404"})
    assert reply.status_code == 422
    assert reply.get_json()["error"] == "unknown_worker" and "0404" in reply.get_json()["message"]
    session.expire_all()
    assert session.get(Order, order.id).state == "accepted"
    session.commit()


def test_an_api_check_in_with_the_visit_code_and_a_location_records_both_the_strongest_wins(
        client, session, settings, clock, two_providers, place, make_worker):
    provider_a, token_a = two_providers["a"]
    worker = make_worker(provider_a)
    number = worker.work_number
    order = _accepted_job(session, settings, clock, place, provider_a, "HK01")
    code = session.get(Order, order.id).visit_code
    session.commit()
    wrong = client.post(f"/api/v1/jobs/{order.job_code}/check-in", headers=_bearer(token_a),
                        json={"worker": number, "visit_code": f"{(int(code) + 1) % 10000:04d}"})
    assert wrong.status_code == 422 and wrong.get_json()["error"] == "wrong_visit_code"
    session.expire_all()
    assert session.get(Order, order.id).visit_code_failures == 1  # counted although refused
    session.commit()
    reply = client.post(f"/api/v1/jobs/{order.job_code}/check-in", headers=_bearer(token_a),
                        json={"worker": number, "visit_code": code, "latitude": 36.058, "longitude": 103.827})
    assert reply.status_code == 200, reply.get_json()
    session.expire_all()
    visit = session.get(Order, order.id).visit
    assert visit.check_in_method == "visit_code" and visit.check_in_device
    session.commit()


def test_an_api_location_at_zero_zero_leaves_the_check_in_unverified(
        client, session, settings, clock, two_providers, place, make_worker):
    provider_a, token_a = two_providers["a"]
    number = make_worker(provider_a).work_number
    order = _accepted_job(session, settings, clock, place, provider_a, "HK01")
    reply = client.post(f"/api/v1/jobs/{order.job_code}/check-in", headers=_bearer(token_a),
                        json={"worker": number, "latitude": 0, "longitude": 0})
    assert reply.status_code == 200 and "定位不可信" in reply.get_json()["message"]
    session.expire_all()
    visit = session.get(Order, order.id).visit
    assert (visit.check_in_method, visit.check_in_lat) == ("none", None)
    session.commit()
