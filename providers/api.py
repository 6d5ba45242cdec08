"""The JSON API for providers' own systems (服务商接口), under /api/v1/, with bearer tokens.

Every request is checked against this API's own OpenAPI document (`OPENAPI` below, served at
/api/v1/openapi.json) by openapi-core before its view runs. Each view is: authenticate → validate →
parse → call one service in `dispatcher.lifecycle.orders` → commit once →
render JSON. Errors carry an English `error` code and a Chinese `message`.
"""

from __future__ import annotations

import json
import math
import threading
from datetime import datetime, timedelta

from flask import Blueprint, current_app, g, jsonify, request
from openapi_core import OpenAPI
from openapi_core.contrib.flask import FlaskOpenAPIRequest
from openapi_core.deserializing.media_types.exceptions import MediaTypeDeserializeError
from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
from openapi_core.validation.request.exceptions import (
    InvalidParameter,
    InvalidRequestBody,
    MissingRequestBody,
    ParameterValidationError,
)
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from dispatcher.clock import local
from dispatcher.config import Settings
from dispatcher.db import get_session
from dispatcher.lifecycle import attendance, orders
from dispatcher.lifecycle.proof import device_hash
from dispatcher.models import Order
from providers import jobs
from providers.jobs import JOB_STATES, JOBS_LISTED
from providers.models import Offer
from providers.tokens import token_in_use

bp = Blueprint("provider_api", __name__, url_prefix="/api/v1")

REQUESTS_PER_MINUTE = 60
# Writing last_used_at on every request would make every read a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class FixedWindowLimiter:
    """Count requests per token in fixed one-minute windows (aligned to the clock's minute).

    Chosen over a sliding window or token bucket for being small and obvious: one integer per
    token, reset when the minute turns. A client may burst up to twice the limit across a minute
    boundary, which is acceptable for a fairness guard. The counts live in this process only, so
    under `vnh serve --workers N` a token may get up to N times the limit in a minute; a shared
    counter (the database or Redis) would be needed to make it exact.
    """

    def __init__(self, limit: int, window_s: int = 60):
        self.limit, self.window_s = limit, window_s
        self._counts: dict[int, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: int, now: datetime) -> int:
        """Count one request; return 0 if allowed, else the seconds until the window resets."""
        stamp = now.timestamp()
        window = int(stamp // self.window_s)
        with self._lock:
            seen_window, count = self._counts.get(key, (window, 0))
            count = count + 1 if seen_window == window else 1
            self._counts[key] = (window, count)
        if count <= self.limit:
            return 0
        return max(1, math.ceil((window + 1) * self.window_s - stamp))


@bp.record_once
def _add_limiter(state) -> None:
    limit = state.app.config.get("API_REQUESTS_PER_MINUTE", REQUESTS_PER_MINUTE)
    state.app.extensions["vnh.api_limiter"] = FixedWindowLimiter(limit)


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, headers: dict | None = None):
        super().__init__(error)
        self.status, self.error, self.message, self.headers = status, error, message, headers or {}


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    # Roll back first: nothing a refused request did may reach the database.
    get_session().rollback()
    return jsonify(error=exc.error, message=exc.message), exc.status, exc.headers


_HTTP_MESSAGES = {400: "请求格式不正确。", 404: "没有找到。", 405: "不支持该请求方法。"}


def _http_json(exc: HTTPException):
    error = (exc.name or "error").lower().replace(" ", "_")
    reply = jsonify(error=error, message=_HTTP_MESSAGES.get(exc.code, "请求未能处理。"))
    allowed = getattr(exc, "valid_methods", None)
    return reply, exc.code, {"Allow": ", ".join(allowed)} if allowed else {}


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    get_session().rollback()
    return _http_json(exc)


@bp.record_once
def _json_for_unmatched_urls(state) -> None:
    """Answer JSON for an /api/v1/ URL that matches no route (404) or not this method (405).

    Routing fails before a blueprint is chosen, so only an application-wide handler sees these.
    Any application-wide handler registered before this one (a Chinese error page, say) still
    answers every other path.
    """
    spec = state.app.error_handler_spec[None]
    for exc_class in (NotFound, MethodNotAllowed):
        # What Flask would have picked: a handler for the code, else one for a base class.
        previous = spec[exc_class.code].get(exc_class) or next(
            (spec[None][c] for c in exc_class.__mro__ if c in spec[None]), None)

        def unmatched(exc: HTTPException, previous=previous):
            if request.path == bp.url_prefix or request.path.startswith(bp.url_prefix + "/"):
                get_session().rollback()
                return _http_json(exc)
            return previous(exc) if previous is not None else exc

        state.app.register_error_handler(exc_class, unmatched)


def _now() -> datetime:
    return current_app.extensions["vnh.clock"].now()


@bp.before_request
def _authenticate():
    """Find the provider behind the bearer token, then count the request against its limit."""
    if request.endpoint == "provider_api.openapi":
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="vnh"'}
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "missing_token", "缺少接口令牌（Authorization: Bearer …）。", challenge)
    row = token_in_use(get_session(), token.strip())
    if row is None:
        raise ApiError(401, "invalid_token", "接口令牌无效或已吊销。", challenge)
    now = _now()
    wait_s = current_app.extensions["vnh.api_limiter"].hit(row.id, now)
    if wait_s:
        raise ApiError(429, "rate_limited", f"请求过于频繁，请{wait_s}秒后再试。",
                       {"Retry-After": str(wait_s)})
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
    g.api_provider_id, g.api_token_id = row.provider_id, row.id


@bp.record_once
def _load_openapi(state) -> None:
    state.app.extensions["vnh.api_openapi"] = OpenAPI.from_dict(OPENAPI)


@bp.before_request
def _validate():
    """Refuse a request its OpenAPI document does not allow: 415 for a body that is not JSON, 400
    for anything else, naming the field."""
    if request.endpoint == "provider_api.openapi" or request.url_rule is None:
        return
    try:
        errors = list(current_app.extensions["vnh.api_openapi"].iter_request_errors(FlaskOpenAPIRequest(request)))
    except RecursionError:
        raise ApiError(400, "malformed_json", "请求体嵌套过深。") from None
    for error in errors:
        raise _refusal(error)


def _refusal(error: Exception) -> ApiError:
    cause = error.__cause__
    if isinstance(cause, MediaTypeNotFound):
        return ApiError(415, "unsupported_media_type", "请求体应为JSON（Content-Type: application/json）。")
    if isinstance(cause, MediaTypeDeserializeError) or isinstance(error, MissingRequestBody):
        return ApiError(400, "malformed_json", "请求体不是有效的JSON。")
    if isinstance(error, InvalidRequestBody) and isinstance(cause, InvalidSchemaValue):
        paths = [list(e.absolute_path) for e in cause.schema_errors]
        fields = sorted({str(path[0]) for path in paths if path})
        if not fields:
            return ApiError(400, "malformed_json", "请求体应为JSON对象。")
        return ApiError(400, "invalid_field", f"字段{'、'.join(fields)}不符合接口说明（见 /api/v1/openapi.json）。")
    if isinstance(error, InvalidParameter | ParameterValidationError):
        name = getattr(error, "name", "")
        return ApiError(400, "invalid_parameter", f"参数{name}不符合接口说明（见 /api/v1/openapi.json）。")
    return ApiError(400, "invalid_request", "请求不符合接口说明（见 /api/v1/openapi.json）。")


def _body() -> dict:
    """The request's JSON object, already checked against the OpenAPI document; no body is an empty one."""
    raw = request.get_data(cache=True)
    return json.loads(raw) if raw.strip() else {}


def _evidence(body: dict) -> dict:
    """Visit evidence: the worker's work number or mobile, the phone they report from, the visit
    code the elder read out, the worker's location; blank is none. The device is this token."""
    evidence = {"device": device_hash("api", g.api_token_id)}
    for field, key in (("worker", "worker"), ("phone", "phone"), ("visit_code", "code")):
        value = (body.get(field) or "").strip()
        if value:
            evidence[key] = value
    if body.get("latitude") is not None or body.get("longitude") is not None:
        evidence["lat"], evidence["lng"] = body.get("latitude"), body.get("longitude")
    return evidence


def _moment(value: datetime | None) -> str | None:
    return local(value).isoformat() if value is not None else None


def _window(order: Order) -> dict:
    return {"slot": order.slot_code, "start": _moment(order.window_start_at), "end": _moment(order.window_end_at)}


def _reply(outcome: orders.Outcome, **extra):
    if not outcome.ok:
        if outcome.keep:
            get_session().commit()  # a wrong visit code is counted even though the check-in is refused
        if outcome.error:
            raise ApiError(422, outcome.error, outcome.message)
        raise ApiError(409, "conflict", outcome.message)
    get_session().commit()
    return jsonify(ok=True, message=outcome.message, **extra)


def _own_offer(offer_id: int) -> Offer:
    offer = jobs.own_offer(get_session(), g.api_provider_id, offer_id)
    # Another provider's offer is "not found": its existence is none of this caller's business.
    if offer is None:
        raise ApiError(404, "not_found", f"没有找到派给您的派单{offer_id}。")
    return offer


def _own_job(job_code: str) -> Order:
    order = jobs.own_job(get_session(), g.api_provider_id, job_code)
    if order is None:
        raise ApiError(404, "not_found", f"没有找到您的工单{job_code}。")
    return order


@bp.get("/offers")
def list_offers():
    """This provider's offers still waiting for an answer."""
    session = get_session()
    offers = [
        {"id": row.offer.id, "job_code": row.order.job_code,
         "item": {"code": row.item.code, "name": row.item.name}, "address": row.elder.address,
         "window": _window(row.order), "price_fen": row.offer.price_fen,
         "expires_at": _moment(row.offer.expires_at)}
        for row in jobs.open_offers(session, g.api_provider_id, _now())
    ]
    session.commit()
    return jsonify(offers=offers)


@bp.get("/jobs")
def list_jobs():
    """This provider's accepted, in-progress and completed orders, latest window first."""
    session = get_session()
    listed = [
        {"job_code": row.order.job_code, "order_no": row.order.order_no, "state": row.order.state,
         "item": {"code": row.item.code, "name": row.item.name}, "address": row.elder.address,
         "window": _window(row.order), "price_fen": row.price_fen,
         "checked_in_at": _moment(row.visit.checked_in_at if row.visit else None),
         "checked_out_at": _moment(row.visit.checked_out_at if row.visit else None)}
        for row in jobs.recent_jobs(session, g.api_provider_id)
    ]
    session.commit()
    return jsonify(jobs=listed)


@bp.post("/offers/<int:offer_id>/accept")
def accept(offer_id: int):
    """Accept an offer; the first acceptance of an order wins."""
    offer = _own_offer(offer_id)
    outcome = orders.accept_offer(get_session(), offer, g.api_provider_id, "api",
                                  Settings(current_app.config), _now())
    return _reply(outcome, job_code=outcome.order.job_code if outcome.order else None)


@bp.post("/offers/<int:offer_id>/decline")
def decline(offer_id: int):
    """Decline an offer; the order goes to the next candidate."""
    offer = _own_offer(offer_id)
    outcome = orders.decline_offer(get_session(), offer, g.api_provider_id, "api",
                                   Settings(current_app.config), _now())
    return _reply(outcome)


@bp.post("/jobs/<job_code>/check-in")
def check_in(job_code: str):
    """Record the worker's arrival at the elder's home."""
    evidence = _evidence(_body())
    order = _own_job(job_code)
    return _reply(attendance.check_in(get_session(), order, g.api_provider_id, "api", _now(), evidence,
                                      Settings(current_app.config)), job_code=job_code)


@bp.post("/jobs/<job_code>/check-out")
def check_out(job_code: str):
    """Record the end of the visit; it is billed and the callback review is scheduled."""
    evidence = _evidence(_body())
    order = _own_job(job_code)
    try:
        outcome = attendance.check_out(get_session(), order, g.api_provider_id, "api",
                                   current_app.extensions["vnh.policy"], Settings(current_app.config),
                                   _now(), evidence)
    except ValueError as exc:
        # The visit cannot be priced (e.g. the elder's class is missing): an operator must look.
        raise ApiError(422, "cannot_bill", f"无法结算该工单：{exc}") from None
    return _reply(outcome, job_code=job_code)


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 description of this API."""
    return jsonify(OPENAPI)


def _error_response(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _ok_response(description: str, schema_ref: str = "Result") -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}}


_AUTH_ERRORS = {"401": _error_response("missing, unknown or revoked token"),
                "429": _error_response("rate limited; see Retry-After")}
_ANSWER_ERRORS = {**_AUTH_ERRORS,
                  "400": _error_response("malformed JSON, or a field or parameter this document does not allow"),
                  "404": _error_response("no such offer or job for this provider"),
                  "409": _error_response("expired, withdrawn or in the wrong state; nothing changed"),
                  "415": _error_response("a request body that is not application/json")}
_VISIT_ERRORS = {**_ANSWER_ERRORS,
                 "422": _error_response("refused: unknown_worker, worker_required, worker_inactive, "
                                        "worker_not_allowed, worker_mismatch, wrong_visit_code (counted), "
                                        "visit_code_locked, or cannot_bill")}
# Ids are INTEGER columns: 32 bits on PostgreSQL.
_OFFER_ID = {"name": "offer_id", "in": "path", "required": True,
             "schema": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 2**31 - 1}}
_JOB_CODE = {"name": "job_code", "in": "path", "required": True,
             "schema": {"type": "string", "pattern": "^[0-9]{4,8}$", "description": "the job code (工单号)"}}
# Text a person typed: no control characters; blank (or spaces only) is the same as not given.
_TEXT = {"type": "string", "maxLength": 20, "pattern": "^[^\\u0000-\\u001f\\u007f]*$"}
_EVIDENCE_BODY = {"required": False, "content": {"application/json": {"schema": {
    "type": "object", "properties": {
        "worker": {**_TEXT, "description": "the worker's work number or reference"},
        "phone": {**_TEXT, "description": "the phone the worker reports from"},
        "visit_code": {"type": "string", "pattern": "^[0-9]{4}$",
                       "description": "the one-time code the elder read to the worker (proves the place)"},
        "latitude": {"type": "number", "minimum": -90, "maximum": 90,
                     "description": "the worker's location, WGS-84; within the set distance of the home it proves the place"},
        "longitude": {"type": "number", "minimum": -180, "maximum": 180, "description": "see latitude"},
    }}}}}
_EMPTY_BODY = {"required": False, "content": {"application/json": {"schema": {"type": "object"}}}}
_WINDOW = {"type": "object", "properties": {
    "slot": {"type": "string"}, "start": {"type": "string", "format": "date-time"},
    "end": {"type": "string", "format": "date-time"}}}
_ITEM = {"type": "object", "properties": {"code": {"type": "string"}, "name": {"type": "string"}}}

OPENAPI: dict = {
    "openapi": "3.0.3",
    "info": {"title": "vnh provider API (服务商接口)", "version": "1.0.0",
             "description": f"Offers and jobs for a provider's own system. Bearer token per provider "
                            f"(`vnh provider token CODE`); {REQUESTS_PER_MINUTE} requests a minute per "
                            f"token. Times are ISO 8601 in Asia/Shanghai; money is integer fen."},
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearerAuth": []}],
    "paths": {
        "/offers": {"get": {
            "operationId": "listOffers", "summary": "This provider's offers awaiting an answer",
            "responses": {"200": _ok_response("open offers", "OfferList"), **_AUTH_ERRORS}}},
        "/jobs": {"get": {
            "operationId": "listJobs",
            "summary": f"Accepted, in-progress and completed jobs, latest first (at most {JOBS_LISTED})",
            "responses": {"200": _ok_response("jobs", "JobList"), **_AUTH_ERRORS}}},
        "/offers/{offer_id}/accept": {"post": {
            "operationId": "acceptOffer", "summary": "Accept an offer", "parameters": [_OFFER_ID],
            "requestBody": _EMPTY_BODY,
            "responses": {"200": _ok_response("accepted (or already accepted by you)"), **_ANSWER_ERRORS}}},
        "/offers/{offer_id}/decline": {"post": {
            "operationId": "declineOffer", "summary": "Decline an offer", "parameters": [_OFFER_ID],
            "requestBody": _EMPTY_BODY,
            "responses": {"200": _ok_response("declined"), **_ANSWER_ERRORS}}},
        "/jobs/{job_code}/check-in": {"post": {
            "operationId": "checkIn", "summary": "The worker has arrived", "parameters": [_JOB_CODE],
            "requestBody": _EVIDENCE_BODY,
            "responses": {"200": _ok_response("checked in"), **_VISIT_ERRORS}}},
        "/jobs/{job_code}/check-out": {"post": {
            "operationId": "checkOut", "summary": "The visit is over", "parameters": [_JOB_CODE],
            "requestBody": _EVIDENCE_BODY,
            "responses": {"200": _ok_response("checked out"), **_VISIT_ERRORS}}},
        "/openapi.json": {"get": {
            "operationId": "openapi", "summary": "This document", "security": [],
            "responses": {"200": {"description": "the OpenAPI document",
                                  "content": {"application/json": {"schema": {"type": "object"}}}}}}},
    },
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error", "message"], "properties": {
                "error": {"type": "string", "description": "English code, e.g. invalid_token, conflict"},
                "message": {"type": "string", "description": "Chinese text to show a person"}}},
            "Result": {"type": "object", "properties": {
                "ok": {"type": "boolean"}, "message": {"type": "string"}, "job_code": {"type": "string"}}},
            "OfferList": {"type": "object", "properties": {"offers": {"type": "array", "items": {
                "type": "object", "properties": {
                    "id": {"type": "integer"}, "job_code": {"type": "string"}, "item": _ITEM,
                    "address": {"type": "string"}, "window": _WINDOW, "price_fen": {"type": "integer"},
                    "expires_at": {"type": "string", "format": "date-time"}}}}}},
            "JobList": {"type": "object", "properties": {"jobs": {"type": "array", "items": {
                "type": "object", "properties": {
                    "job_code": {"type": "string"}, "order_no": {"type": "string"},
                    "state": {"type": "string", "enum": list(JOB_STATES)}, "item": _ITEM,
                    "address": {"type": "string"}, "window": _WINDOW, "price_fen": {"type": "integer"},
                    "checked_in_at": {"type": "string", "format": "date-time", "nullable": True},
                    "checked_out_at": {"type": "string", "format": "date-time", "nullable": True}}}}}},
        },
    },
}
