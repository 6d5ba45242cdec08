"""Every HTTP error a person can meet is a Chinese page in the app's layout with a way back; machine
paths get JSON; a form left open for hours still posts, and a refused one says so in Chinese."""

from __future__ import annotations

import re
import time

import pytest
from itsdangerous import TimestampSigner
from werkzeug.exceptions import TooManyRequests

from dispatcher.consoles.auth import add_user

PASSWORD = "long-enough-pw"
# What Werkzeug's and Flask-WTF's own pages say; none of it may reach a person.
ENGLISH = ("Not Found", "Forbidden", "Method Not Allowed", "Bad Request", "Internal Server Error",
           "Too Many Requests", "Request Entity Too Large", "CSRF", "The requested URL")


@pytest.fixture
def error_app(app):
    """The app with two routes that fail as nothing in it does on purpose: 429 and an exception."""
    def too_many():
        raise TooManyRequests(retry_after=30)

    def broken():
        raise RuntimeError("a bug")

    app.add_url_rule("/test-only/too-many", "test_too_many", too_many)
    app.add_url_rule("/test-only/broken", "test_broken", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer the bug as production does
    return app


@pytest.fixture
def signed_in(error_app, session, clock):
    def sign(role: str):
        add_user(session, username=f"e-{role}", password=PASSWORD, role=role, display_name=f"{role}员",
                 provider_id=None, now=clock.now())
        session.commit()
        client = error_app.test_client()
        token = _token(client.get("/login").get_data(as_text=True))
        assert client.post("/login", data={"username": f"e-{role}", "password": PASSWORD,
                                           "csrf_token": token}).status_code == 302
        return client

    return sign


def _page(response, code: int, title: str) -> str:
    body = response.get_data(as_text=True)
    assert response.status_code == code, body[:300]
    assert response.mimetype == "text/html"
    assert f"<h1>{title}</h1>" in body
    assert "<header>" in body and "<main>" in body and 'lang="zh-CN"' in body  # the layout
    assert not [word for word in ENGLISH if word in body], body
    return body


def test_each_error_code_is_a_chinese_page_in_the_layout_with_a_way_home(error_app, signed_in, make_elder):
    operator = signed_in("operator")
    elder = make_elder()
    error_app.config["MAX_CONTENT_LENGTH"] = 1000
    cases = [
        (operator.post(f"/console/elders/{elder.id}/orders/preview", data={}), 400, "请求有误"),
        (operator.get("/admin/staff/"), 403, "没有权限"),
        (operator.get("/no-such-page"), 404, "没有找到"),
        (operator.get("/console/elders/999999"), 404, "没有找到"),
        (operator.get("/logout"), 405, "不支持此操作"),
        (operator.post(f"/console/elders/{elder.id}/orders", data={"note": "x" * 2000}), 413, "内容过大"),
        (operator.get("/test-only/too-many"), 429, "请求过于频繁"),
        (operator.get("/test-only/broken"), 500, "系统出错"),
    ]
    for response, code, title in cases:
        body = _page(response, code, title)
        assert 'href="/">返回首页</a>' in body, code
        assert "operator员" in body, code  # the header's signed-in user: the same layout as every page


def test_405_keeps_its_allow_header_and_429_its_retry_after(error_app, signed_in):
    operator = signed_in("operator")
    assert "POST" in operator.get("/logout").headers["Allow"]
    assert operator.get("/test-only/too-many").headers["Retry-After"] == "30"


def test_a_chinese_reason_from_the_view_is_shown_an_english_one_is_not(error_app, signed_in):
    bureau = signed_in("bureau")
    body = _page(bureau.get("/bureau/?month=2026-13"), 400, "请求有误")
    assert "月份" in body
    supervisor = signed_in("supervisor")
    body = _page(supervisor.get("/supervisor/integrity/?state=zzz"), 400, "请求有误")
    assert "not one the page knows" not in body


def test_signed_out_visitors_get_the_page_with_a_way_to_the_login(error_app):
    client = error_app.test_client()
    body = _page(client.get("/no-such-page"), 404, "没有找到")
    assert 'href="/login">返回登录页</a>' in body


def test_the_way_back_is_the_referring_page_only_when_it_is_ours(error_app, signed_in):
    operator = signed_in("operator")
    body = _page(operator.get("/admin/staff/", headers={"Referer": "http://localhost/console"}), 403, "没有权限")
    assert 'href="/console">返回上一页</a>' in body
    body = _page(operator.get("/admin/staff/", headers={"Referer": "https://evil.example/x"}), 403, "没有权限")
    assert "返回上一页" not in body


def test_machine_paths_get_json_not_pages(error_app):
    client = error_app.test_client()
    for path, method, code in (("/api/v1/nothing", "get", 404), ("/api/v1/offers", "delete", 405),
                               ("/telephony/voice", "get", 405), ("/telephony/nothing", "post", 404),
                               ("/simulator/api/post", "get", 405)):
        response = getattr(client, method)(path)
        assert response.status_code == code, path
        assert response.is_json, path
        assert re.search("[\u4e00-\u9fff]", response.get_json()["message"]), path
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404 and response.is_json


def test_a_busy_database_answers_503_with_retry_after_not_an_unhandled_500(error_app, signed_in, monkeypatch,
                                                                         caplog):
    """Under load a SQLite file's write lock may not come free within VNH_DB_WAIT_S: the page or
    poll that waited says so (系统繁忙, try again) instead of "系统出错", and the log says what."""
    from sqlalchemy.exc import OperationalError

    from dispatcher.consoles import operator as console

    operator = signed_in("operator")

    def locked(*_args, **_kwargs):
        raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))

    monkeypatch.setattr(console, "count_open", locked)
    monkeypatch.setattr(console, "operator_queue", locked)
    poll = operator.get("/console/transfers.json")
    assert poll.status_code == 503 and poll.is_json and poll.headers["Retry-After"] == "2"
    assert poll.get_json()["error"] == "service_unavailable" and "系统繁忙" in poll.get_json()["message"]
    body = _page(operator.get("/console"), 503, "系统繁忙")
    assert "稍等几秒后再试" in body and "系统出错" not in body
    assert any("database busy or unavailable on GET /console" in r.getMessage() for r in caplog.records)
    assert not any("unhandled error" in r.getMessage() for r in caplog.records)


# -- CSRF ------------------------------------------------------------------------------------------


def _token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.fixture
def csrf_client(error_app, signed_in, make_elder):
    error_app.config["WTF_CSRF_ENABLED"] = True
    client = signed_in("operator")
    elder = make_elder()
    page = client.get(f"/console/elders/{elder.id}").get_data(as_text=True)
    return client, elder, _token(page)


def test_a_refused_form_says_the_page_expired_in_chinese_with_a_way_back(csrf_client):
    client, elder, _ = csrf_client
    back = f"http://localhost/console/elders/{elder.id}"
    response = client.post(f"/console/elders/{elder.id}/orders/preview",
                           data={"item_code": "HK01", "slot_code": "asap", "csrf_token": "stale"},
                           headers={"Referer": back})
    body = _page(response, 400, "页面已过期，请重新提交")
    assert f'href="/console/elders/{elder.id}">返回上一页</a>' in body


def test_a_form_left_open_for_hours_still_posts(csrf_client, monkeypatch):
    """The token lasts as long as the signed-in session, not Flask-WTF's default hour."""
    client, elder, token = csrf_client
    later = int(time.time()) + 6 * 3600
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    response = client.post(f"/console/elders/{elder.id}/orders/preview",
                           data={"item_code": "HK01", "slot_code": "asap", "csrf_token": token})
    assert response.status_code == 200


def test_the_token_dies_with_the_session(csrf_client):
    client, elder, token = csrf_client
    client.post("/logout", data={"csrf_token": token})
    response = client.post(f"/console/elders/{elder.id}/orders/preview",
                           data={"item_code": "HK01", "slot_code": "asap", "csrf_token": token})
    _page(response, 400, "页面已过期，请重新提交")
