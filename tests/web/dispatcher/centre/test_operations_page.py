"""The operations page (运营统计): who may read it, its month, its street, its charts; and the answer
time a Dial's report leaves on the transfer task."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from dispatcher.consoles.auth import add_user
from dispatcher.models import OperatorTask

ELDER_PHONE = "+8613912340001"


def _signed_in(app, session, clock, role, *, street=None, provider_id=None):
    user = add_user(session, username=f"{role}-{street or 'all'}", password="correct-horse-battery",
                    role=role, display_name=role, provider_id=provider_id, now=clock.now())
    user.street = street
    session.commit()
    client = app.test_client()
    response = client.post("/login", data={"username": user.username, "password": "correct-horse-battery"})
    assert response.status_code == 302
    return client


def _voice(app, client, seq: int, **fields):
    path = f"/telephony/voice?seq={seq}"
    form = {"CallSid": "CA" + "f" * 32, "From": ELDER_PHONE, "To": app.config["HOTLINE_NUMBER"], **fields}
    signature = RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature("http://localhost" + path, form)
    response = client.post(path, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture
def answered_transfer(app, session, clock, make_elder):
    """An elder presses 0; an operator picks up 12 s later and they talk for 20 s."""
    make_elder(phone=ELDER_PHONE, street="东岗街道")
    client = app.test_client()
    _voice(app, client, 0)
    assert "<Dial" in _voice(app, client, 1, Digits="0")
    clock.advance(32)
    _voice(app, client, 2, DialCallStatus="completed", DialCallDuration="20")
    return client


def test_a_completed_dial_notes_when_the_operator_answered_once(app, session, clock, answered_transfer):
    task = session.scalar(select(OperatorTask))
    assert task.answered_at - task.created_at == timedelta(seconds=12)
    clock.advance(5)
    _voice(app, answered_transfer, 2, DialCallStatus="completed", DialCallDuration="1")  # Twilio retries
    session.expire_all()
    assert session.scalar(select(OperatorTask)).answered_at - task.created_at == timedelta(seconds=12)


@pytest.mark.parametrize("role", ["bureau", "supervisor"])
def test_the_bureau_and_the_centre_read_the_months_figures_with_charts(app, session, clock, role,
                                                                       answered_transfer):
    page = _signed_in(app, session, clock, role).get("/centre/operations?month=2026-11")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "运营统计 2026-11-01" in html and '<input type="month" name="month" value="2026-11"' in html
    assert re.search(r"来电总数</td><td class=\"num\">1<", html)
    assert re.search(r"20秒内接听率</td><td class=\"num\">100.0%<", html)
    assert html.count("<svg") == 3
    # Pixel sizes: the em sizes in pygal's CSS are its tooltips', which need the script the page drops.
    svgs = "".join(re.findall(r"<svg.*?</svg>", html, re.S))
    sizes = [float(s) for s in re.findall(r"font-size:\s*([\d.]+)px", svgs)]
    assert sizes and min(sizes) >= 12


@pytest.mark.parametrize("role", ["provider", "operator"])
def test_provider_staff_and_operators_may_not_read_the_figures(app, session, clock, make_provider, role):
    provider_id = make_provider().id if role == "provider" else None
    client = _signed_in(app, session, clock, role, provider_id=provider_id)
    assert client.get("/centre/operations").status_code == 403
    assert client.get("/centre/operations.csv").status_code == 403


def test_nobody_signed_in_is_sent_to_sign_in(app):
    response = app.test_client().get("/centre/operations")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(("query", "words"), [
    ("month=2026-13", "月份“2026-13”无效"),
    ("month=november", "月份“november”无效"),
    ("month=2099-01", "月份“2099-01”无效"),
    ("month=2026-11&day=2026-12-01", "不在 2026-11 月内"),
    ("month=2026-11&day=25", "日期“25”无效"),
])
def test_a_bad_month_or_day_is_a_400_in_chinese(app, session, clock, query, words):
    response = _signed_in(app, session, clock, "bureau").get(f"/centre/operations?{query}")
    assert response.status_code == 400
    assert words in response.get_data(as_text=True)


def test_a_day_and_a_street_narrow_the_figures(app, session, clock, answered_transfer):
    client = _signed_in(app, session, clock, "bureau")
    html = client.get("/centre/operations?month=2026-11&day=2026-11-25&street=东岗街道").get_data(as_text=True)
    assert "运营统计 2026-11-25，东岗街道" in html and re.search(r"来电总数</td><td class=\"num\">1<", html)
    other = client.get("/centre/operations?month=2026-11&street=西湖街道").get_data(as_text=True)
    assert re.search(r"来电总数</td><td class=\"num\">0<", other) and "—" in other


def test_an_account_bound_to_a_street_sees_only_its_street(app, session, clock, answered_transfer):
    client = _signed_in(app, session, clock, "bureau", street="西湖街道")
    html = client.get("/centre/operations?month=2026-11").get_data(as_text=True)
    assert "运营统计 2026-11-01 至 2026-12-01（不含），西湖街道" in html
    assert re.search(r"来电总数</td><td class=\"num\">0<", html) and "全部街道" not in html
    assert client.get("/centre/operations?month=2026-11&street=东岗街道").status_code == 403


def test_the_figures_download_as_csv(app, session, clock, answered_transfer):
    response = _signed_in(app, session, clock, "supervisor").get("/centre/operations.csv?month=2026-11")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data().decode("utf-8-sig")
    assert text.startswith("类别,指标,数值,分子,分母") and "来电,来电总数,1,1," in text
