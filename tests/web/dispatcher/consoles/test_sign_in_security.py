"""Sign-in under attack: the password check holds no write lock, is capped, and reveals no usernames;
`next` stays on the site; logout and a new password end every session."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from dispatcher.consoles import auth
from dispatcher.consoles.auth import add_user, change_password
from dispatcher.db import is_sqlite, make_engine

PASSWORD = "long-enough-pw"


@pytest.fixture
def operator(session, clock):
    user = add_user(session, username="xiaoli", password=PASSWORD, role="operator", display_name="小李",
                    provider_id=None, now=clock.now())
    session.commit()
    return user


def _sign_in(client, password=PASSWORD, username="xiaoli", query=""):
    return client.post(f"/login{query}", data={"username": username, "password": password})


@pytest.fixture
def checks(monkeypatch):
    """Record each password check: whether the request's session was inside a transaction, and
    whether another connection could write to the database meanwhile."""
    from dispatcher.db import get_session

    seen = []
    real = auth.check_password

    def spy(password_hash, password):
        db = get_session()
        other_could_write = True
        if is_sqlite(db.get_bind()):
            other = make_engine(str(db.get_bind().url), wait_s=0.05)
            try:
                with other.begin() as conn:
                    conn.execute(text("UPDATE staff_users SET display_name = display_name WHERE id = 0"))
            except Exception:
                other_could_write = False
            finally:
                other.dispose()
        seen.append({"in_transaction": db.in_transaction(), "other_could_write": other_could_write,
                     "hash": password_hash})
        return real(password_hash, password)

    monkeypatch.setattr(auth, "check_password", spy)
    return seen


# -- 1. wrong passwords do not stall the hotline ---------------------------------------------------

def test_the_password_is_checked_outside_any_transaction(app, operator, checks):
    assert _sign_in(app.test_client(), "wrong-password").status_code == 200
    assert _sign_in(app.test_client()).status_code == 302
    assert len(checks) == 2
    assert not any(c["in_transaction"] for c in checks)
    assert all(c["other_could_write"] for c in checks)


def test_a_sign_in_beyond_the_cap_on_password_checks_gets_429_with_a_chinese_message(app, operator, checks):
    cap = app.extensions["vnh.password_checks"]
    held = 0
    while cap.acquire(blocking=False):
        held += 1
    try:
        response = _sign_in(app.test_client())
    finally:
        for _ in range(held):
            cap.release()
    assert held >= 1
    assert response.status_code == 429 and "登录繁忙" in response.get_data(as_text=True)
    assert response.headers.get("Retry-After") and checks == []
    assert _sign_in(app.test_client()).status_code == 302


def test_a_sign_in_while_another_process_of_the_host_checks_a_password_gets_429(app, operator, checks):
    import fcntl
    import os

    fd = os.open(app.extensions["vnh.password_check_lock"], os.O_CREAT | os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        response = _sign_in(app.test_client())
    finally:
        os.close(fd)
    assert response.status_code == 429 and "登录繁忙" in response.get_data(as_text=True)
    assert checks == []
    assert _sign_in(app.test_client()).status_code == 302


def test_an_unknown_username_costs_a_password_check_like_a_known_one(app, operator, checks):
    response = _sign_in(app.test_client(), username="nobody-here")
    assert response.status_code == 200 and "用户名或密码错误" in response.get_data(as_text=True)
    assert len(checks) == 1 and checks[0]["hash"].startswith("$argon2id$")


def test_an_inactive_account_costs_a_password_check_and_does_not_sign_in(app, session, operator, checks):
    operator.is_active = False
    session.commit()
    assert _sign_in(app.test_client()).status_code == 200
    assert len(checks) == 1


# -- 3. `next` stays on the site ---------------------------------------------------------------------

@pytest.mark.parametrize("target", [
    "/%09/evil.example/", "//evil.example/", "/%5Cevil.example/", "%5C%5Cevil.example", "/%0D%0A/evil.example",
    "https://evil.example/", "javascript:alert(1)", "%20//evil.example", "/%00/evil.example",
    "https:/evil.example", "/\u3000/evil.example", "evil.example",
])
def test_next_pointing_off_the_site_signs_in_to_the_home_page(app, operator, target):
    response = _sign_in(app.test_client(), query=f"?next={target}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_next_naming_a_page_of_the_site_is_followed(app, operator):
    response = _sign_in(app.test_client(), query="?next=/console/elders%3Fq%3D%E7%8E%8B")
    assert response.headers["Location"] == "/console/elders?q=%E7%8E%8B"


def test_the_login_link_of_a_staff_page_brings_the_user_back_to_it(app, operator):
    client = app.test_client()
    to_login = client.get("/console/board")
    assert to_login.status_code == 302
    response = client.post(to_login.headers["Location"], data={"username": "xiaoli", "password": PASSWORD})
    assert response.headers["Location"].startswith("/console/board")


# -- 4. logout and a new password end every session ----------------------------------------------------

def _cookie(client) -> str:
    return client.get_cookie("session").value


def _client_with(app, cookie: str):
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client


def _lands_on_sign_in(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_the_cookie_from_before_logout_gets_the_sign_in_page(app, operator):
    client = app.test_client()
    _sign_in(client)
    old = _cookie(client)
    assert client.get("/console").status_code == 200
    assert client.post("/logout").status_code == 302
    assert _lands_on_sign_in(_client_with(app, old).get("/console"))


def test_logging_out_on_one_device_ends_the_session_on_the_others(app, operator):
    desk, tablet = app.test_client(), app.test_client()
    _sign_in(desk)
    _sign_in(tablet)
    assert tablet.get("/console").status_code == 200
    desk.post("/logout")
    assert _lands_on_sign_in(tablet.get("/console"))
    _sign_in(tablet)
    assert tablet.get("/console").status_code == 200


def test_a_new_password_ends_every_session_and_the_new_one_signs_in(app, session, operator, clock):
    client = app.test_client()
    _sign_in(client)
    old = _cookie(client)
    change_password(session, operator, "another-Long-passphrase")
    session.commit()
    assert _lands_on_sign_in(_client_with(app, old).get("/console"))
    assert _sign_in(app.test_client()).status_code == 200
    assert _sign_in(app.test_client(), "another-Long-passphrase").status_code == 302


def test_a_session_without_a_version_gets_the_sign_in_page(app, operator):
    client = app.test_client()
    _sign_in(client)
    with client.session_transaction() as cookie:
        cookie.pop("session_version")
    assert _lands_on_sign_in(client.get("/console"))


# -- 5. lockout counted before the check, whatever the concurrency ----------------------------------------

def test_forty_sign_ins_at_once_check_at_most_five_passwords(app, operator, checks):
    app.extensions["vnh.password_checks"] = threading.BoundedSemaphore(64)  # lockout, not the caps
    app.extensions["vnh.password_check_lock"] = None
    barrier = threading.Barrier(40)
    statuses, errors = [], []

    def attempt(i: int) -> None:
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            password = PASSWORD if i == 39 else f"wrong-{i}"
            statuses.append(client.post("/login", data={"username": "xiaoli", "password": password},
                                        environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and len(statuses) == 40
    assert len(checks) <= 5
    assert statuses.count(429) >= 35 and 500 not in statuses


# -- 8. weak passwords are refused --------------------------------------------------------------------

def test_a_weak_password_change_is_refused_and_keeps_the_session(app, session, operator, clock):
    client = app.test_client()
    _sign_in(client)
    with pytest.raises(ValueError, match="密码太弱"):
        change_password(session, operator, "xiaoli12345")
    session.rollback()
    assert client.get("/console").status_code == 200
