"""Every answer carries the security headers; no page runs a script or style the policy would block."""

from __future__ import annotations

import re

import pytest
from twilio.request_validator import RequestValidator

from dispatcher.consoles.auth import add_user
from providers.tokens import issue_token

STAFF_PAGES = ["/", "/console", "/console?partial=queue", "/console/board", "/console/transfers",
               "/console/elders?q=王", "/supervisor", "/bureau/"]


@pytest.fixture
def clients(app, session, clock, make_provider):
    """Signed-in clients: an administrator and a provider's staff member, plus an API token."""
    provider = make_provider()
    add_user(session, username="admin", password="long-enough-pw", role="admin", display_name="管理员",
             provider_id=None, now=clock.now())
    add_user(session, username="gongsi", password="long-enough-pw", role="provider", display_name="服务商",
             provider_id=provider.id, now=clock.now())
    _, token = issue_token(session, provider.id, "their-system", clock.now())
    session.commit()
    signed_in = {}
    for username in ("admin", "gongsi"):
        client = app.test_client()
        assert client.post("/login", data={"username": username, "password": "long-enough-pw"}).status_code == 302
        signed_in[username] = client
    signed_in["token"] = {"Authorization": f"Bearer {token}"}
    return signed_in


def _answers(app, clients, make_elder):
    elder = make_elder()
    admin, provider, anonymous = clients["admin"], clients["gongsi"], app.test_client()
    form = {"MessageSid": "SM1", "From": "+8613711112222", "To": app.config["HOTLINE_NUMBER"], "Body": "接"}
    signature = RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature(
        "http://localhost/telephony/sms", form)
    answers = {path: admin.get(path) for path in STAFF_PAGES + [f"/console/elders/{elder.id}"]}
    answers["/portal/"] = provider.get("/portal/")
    answers["/login"] = anonymous.get("/login")
    answers["/api/v1/jobs"] = anonymous.get("/api/v1/jobs", headers=clients["token"])
    answers["/telephony/sms"] = anonymous.post("/telephony/sms", data=form, headers={"X-Twilio-Signature": signature})
    answers["/simulator/outbox"] = anonymous.get("/simulator/outbox")
    answers["/simulator"] = anonymous.get("/simulator")
    answers["/no-such-page"] = anonymous.get("/no-such-page")
    return answers


def test_every_answer_forbids_framing_sniffing_and_foreign_scripts(app, clients, make_elder):
    for path, response in _answers(app, clients, make_elder).items():
        assert response.status_code in (200, 404), (path, response.status_code)
        headers = response.headers
        csp = headers.get("Content-Security-Policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, path
        assert re.search(r"script-src 'self'( 'nonce-[\w-]+')?;", csp), (path, csp)
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "same-origin", path


def test_pages_with_personal_data_are_never_cached(app, clients, make_elder):
    for path, response in _answers(app, clients, make_elder).items():
        assert response.headers["Cache-Control"] == "no-store", path


def test_no_page_holds_a_script_or_style_the_policy_would_block(app, clients, make_elder):
    for path, response in _answers(app, clients, make_elder).items():
        if response.mimetype != "text/html":
            continue
        page = response.get_data(as_text=True)
        nonce = re.search(r"'nonce-([\w-]+)'", response.headers["Content-Security-Policy"])
        for tag in re.findall(r"<(?:script|style)\b[^>]*>", page):
            assert "src=" in tag or (nonce and f'nonce="{nonce.group(1)}"' in tag), (path, tag)
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", page), path  # onclick="…" and the like
        assert not re.search(r"<[^>]+\sstyle\s*=", page), path
        assert "javascript:" not in page, path


def test_each_page_gets_its_own_nonce(app):
    client = app.test_client()
    first, second = (re.search(r"'nonce-([\w-]+)'", client.get("/login").headers["Content-Security-Policy"])
                     for _ in range(2))
    assert first and second and first.group(1) != second.group(1)


@pytest.mark.parametrize("name", ["shortcuts.js", "console.js", "board.js"])
def test_the_consoles_scripts_are_static_files(app, name):
    response = app.test_client().get(f"/static/{name}")
    assert response.status_code == 200 and "javascript" in response.mimetype
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response.close()


def test_an_https_request_is_told_to_stay_on_https(app):
    response = app.test_client().get("/login", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Strict-Transport-Security" not in app.test_client().get("/login").headers
