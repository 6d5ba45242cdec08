"""Searching for elders: audited, limited per member of staff and minute, and never an oracle for
the digits a masked number hides."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dispatcher.consoles.audit import ElderSearch
from dispatcher.consoles.auth import add_user

ELDER_PHONE = "+8613912340001"


@pytest.fixture
def sign_in(app, session, clock):
    def sign_in(role: str, username: str | None = None, flask_app=None):
        username = username or role
        add_user(session, username=username, password="long-enough-pw", role=role, display_name=username,
                 provider_id=None, now=clock.now())
        session.commit()
        client = (flask_app or app).test_client()
        reply = client.post("/login", data={"username": username, "password": "long-enough-pw"})
        assert reply.status_code == 302
        return client

    return sign_in


@pytest.fixture
def elder(make_elder):
    return make_elder(name="王秀英", phone=ELDER_PHONE)


def _found(client, query: str) -> bool:
    reply = client.get("/console/elders", query_string={"q": query})
    assert reply.status_code == 200
    return "王秀英" in reply.get_data(as_text=True)


def _searches(app) -> list[ElderSearch]:
    with app.extensions["vnh.sessionmaker"]() as s:
        return s.scalars(select(ElderSearch).order_by(ElderSearch.id)).all()


def test_every_search_is_audited_with_who_when_and_the_number_masked(app, sign_in, elder, clock):
    operator = sign_in("operator")
    _found(operator, "13912340001")
    _found(operator, "王秀")
    searches = _searches(app)
    assert [s.query_masked for s in searches] == ["139****0001", "王秀"]
    assert all(s.staff_user_id is not None and s.searched_at == clock.now() for s in searches)
    assert all("1234" not in s.query_masked for s in searches)


def test_an_id_number_or_a_phone_tail_searched_for_is_kept_by_its_last_four_only(app, sign_in, elder):
    admin = sign_in("admin")
    _found(admin, elder.id_number)
    _found(admin, "12340001")
    masked = [s.query_masked for s in _searches(app)]
    assert masked[0].endswith(elder.id_number[-4:]) and elder.id_number[6:14] not in masked[0]
    assert masked[1] == "****0001"


def test_the_search_past_thirty_in_a_minute_is_refused_with_429_in_chinese(sign_in, elder, clock):
    operator = sign_in("operator")
    for n in range(30):
        assert operator.get("/console/elders", query_string={"q": f"王{n}"}).status_code == 200
    refused = operator.get("/console/elders", query_string={"q": "王秀"})
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "查找过于频繁" in page and "王秀英" not in page
    clock.advance(61)
    assert _found(operator, "王秀")


def test_the_limit_counts_the_searches_made_through_every_web_process(app, sign_in, elder):
    from dispatcher import create_app

    other_worker = create_app({key: app.config[key] for key in (
        "TESTING", "DATABASE_URL", "TELEPHONY", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PUBLIC_URL",
        "SECRET_KEY", "CLOCK", "WTF_CSRF_ENABLED")})
    try:
        first = sign_in("operator")
        second = other_worker.test_client()
        second.post("/login", data={"username": "operator", "password": "long-enough-pw"})
        for n in range(15):
            assert first.get("/console/elders", query_string={"q": f"王{n}"}).status_code == 200
            assert second.get("/console/elders", query_string={"q": f"李{n}"}).status_code == 200
        assert second.get("/console/elders", query_string={"q": "王秀"}).status_code == 429
    finally:
        other_worker.extensions["vnh.engine"].dispose()


def test_the_limit_is_per_member_of_staff(sign_in, elder):
    busy, other = sign_in("operator", "busy"), sign_in("operator", "other")
    for n in range(31):
        busy.get("/console/elders", query_string={"q": f"王{n}"})
    assert _found(other, "王秀")


@pytest.mark.parametrize("query", ["0001", "340001"])
def test_a_phone_tail_shorter_than_seven_digits_finds_nobody(sign_in, elder, query):
    assert not _found(sign_in("operator"), query)


@pytest.mark.parametrize("query", ["2340001", "13912340001", "+86 139 1234 0001"])
def test_an_operator_finds_an_elder_by_seven_digits_or_more_of_the_phone(sign_in, elder, query):
    assert _found(sign_in("operator"), query)


@pytest.mark.parametrize("query", ["13912340001", "912340001", "2340001"])
def test_a_supervisor_who_sees_phones_masked_cannot_find_by_them(sign_in, elder, query):
    supervisor = sign_in("supervisor")
    assert not _found(supervisor, query)
    assert _found(supervisor, "王秀英")


def test_an_operator_who_sees_id_numbers_masked_cannot_confirm_a_guessed_one(sign_in, elder):
    assert not _found(sign_in("operator"), elder.id_number)
    assert not _found(sign_in("supervisor"), elder.id_number)
    assert _found(sign_in("admin"), elder.id_number)


def test_a_search_with_control_characters_is_audited_and_answered_without_them(app, sign_in, elder):
    assert _found(sign_in("operator"), "王\x00秀\x07")
    assert [s.query_masked for s in _searches(app)] == ["王秀"]
