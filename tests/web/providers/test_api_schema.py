"""The provider API keeps to its own OpenAPI document: requests are validated against it by
openapi-core, and schemathesis finds no request the document allows that the API answers wrongly."""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlalchemy import select

from dispatcher.lifecycle import orders
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import Item, Order, Visit
from providers.api import OPENAPI, FixedWindowLimiter
from providers.models import Offer
from providers.tokens import issue_token


@pytest.fixture
def provider_token(session, clock, make_provider):
    provider = make_provider(offerings={"HK01": 4800}, latitude=36.0590, longitude=103.8280)
    _, token = issue_token(session, provider.id, "schema-test", clock.now())
    session.commit()
    return provider, token


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def accepted_job(session, settings, clock, make_elder, provider_token):
    provider, _ = provider_token
    item = session.scalar(select(Item).where(Item.code == "HK01"))
    order = orders.place_order(session, elder=make_elder(), item=item, slot=slot_for("asap", clock.now()),
                               source="phone", call_sid=None, settings=settings, now=clock.now())
    offer = session.scalars(select(Offer).where(Offer.order_id == order.id)).first()
    orders.accept_offer(session, offer, provider.id, "sms", settings, clock.now())
    session.commit()
    return order


def _check_in(client, token, job_code, headers=None, **kwargs):
    return client.post(f"/api/v1/jobs/{job_code}/check-in",
                       headers={"Authorization": f"Bearer {token}", **(headers or {})}, **kwargs)


def _state(session, order: Order) -> str:
    session.expire_all()
    state = session.get(Order, order.id).state
    session.commit()
    return state


def test_a_blank_phone_the_schema_allows_is_accepted(client, session, provider_token, accepted_job):
    reply = _check_in(client, provider_token[1], accepted_job.job_code, json={"phone": "", "worker": "  "})
    assert reply.status_code == 200, reply.get_json()
    assert _state(session, accepted_job) == "in_progress"
    visit = session.scalar(select(Visit).where(Visit.order_id == accepted_job.id))
    assert visit.check_in_phone is None and visit.worker_ref is None


@pytest.mark.parametrize("body", [{"phone": None}, {"worker": None}, {"worker": " " * 5 + "W" * 16},
                                  {"worker": "W" * 21}, {"phone": "139\x0012340001"}])
def test_a_value_the_schema_forbids_is_refused_and_named(client, session, provider_token, accepted_job, body):
    reply = _check_in(client, provider_token[1], accepted_job.job_code, json=body)
    assert reply.status_code == 400
    assert reply.get_json()["error"] == "invalid_field" and next(iter(body)) in reply.get_json()["message"]
    assert _state(session, accepted_job) == "accepted"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_gets_415(client, session, provider_token, accepted_job, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    reply = _check_in(client, provider_token[1], accepted_job.job_code, data=b'{"worker": "W1"}',
                      headers=headers)
    assert reply.status_code == 415
    assert reply.get_json()["error"] == "unsupported_media_type" and reply.get_json()["message"]
    assert _state(session, accepted_job) == "accepted"


def test_an_offer_answer_with_a_text_body_gets_415(client, provider_token):
    reply = client.post("/api/v1/offers/1/accept", data=b"{}",
                        headers={"Authorization": f"Bearer {provider_token[1]}", "Content-Type": "text/plain"})
    assert reply.status_code == 415 and reply.is_json


@pytest.mark.parametrize("url", [f"/api/v1/offers/{2**31}/decline", "/api/v1/jobs/12ab/check-in",
                                 "/api/v1/jobs/123456789/check-out"])
def test_a_path_parameter_outside_the_schema_is_refused_as_json(client, provider_token, url):
    reply = client.post(url, headers={"Authorization": f"Bearer {provider_token[1]}"})
    assert reply.status_code == 400 and reply.get_json()["error"] == "invalid_parameter"


def test_an_id_no_row_can_have_is_not_found_before_the_schema_is_asked(client, provider_token):
    # The app's id converter (1..2**63-1) answers first, as on every other route.
    reply = client.post(f"/api/v1/offers/{2**64}/accept", headers={"Authorization": f"Bearer {provider_token[1]}"})
    assert reply.status_code == 404 and reply.is_json


def test_the_served_document_is_a_valid_openapi_document_and_the_one_requests_are_checked_against(app, client):
    from openapi_core import OpenAPI

    served = client.get("/api/v1/openapi.json").get_json()
    OpenAPI.from_dict(served)  # raises unless it is a valid OpenAPI 3 document
    assert served == json.loads(json.dumps(OPENAPI))
    assert app.extensions["vnh.api_openapi"].spec.read_value() == served


# -- schemathesis: requests generated from the document, responses checked against it ------------
# schemathesis's pytest loader does not run under pytest 9, so each operation's cases are drawn from
# its Hypothesis strategy here; the checks are schemathesis's own (no 500, status codes, content
# types, headers and bodies as documented, authentication not ignored, unsupported methods refused).
OPERATIONS = [(method.upper(), path) for path, methods in OPENAPI["paths"].items() for method in methods]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_the_api_answers_every_request_its_document_allows_as_the_document_says(
        app, provider_token, accepted_job, method, path):
    # Every generated request counts against the token's minute; the limit is tested elsewhere.
    app.extensions["vnh.api_limiter"] = FixedWindowLimiter(10**6)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operation = schema[path][method]
    bearer = {"Authorization": f"Bearer {provider_token[1]}"}

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def answers_as_documented(case):
        case.call_and_validate(headers=bearer)

    answers_as_documented()
