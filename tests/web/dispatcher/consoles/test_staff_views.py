"""The administrator's staff pages: add an account (a one-time password shown once), refuse a weak
one, disable (signed out everywhere), reset, bind to an area; every change recorded."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from dispatcher.consoles.audit import StaffChange
from dispatcher.consoles.auth import add_user
from dispatcher.models import StaffUser

PASSWORD = "long-enough-pw"


@pytest.fixture
def admin(app, session, clock, sign_in):
    add_user(session, username="admin", password=PASSWORD, role="admin", display_name="管理员",
             provider_id=None, now=clock.now())
    session.commit()
    return sign_in("admin")


@pytest.fixture
def worker(session, clock, make_elder):
    """An operator account bound to nothing yet, and an elder in 东岗街道雁园社区."""
    make_elder(street="东岗街道", community="雁园社区", name="张桂兰")
    user = add_user(session, username="xiaowang", password=PASSWORD, role="operator", display_name="小王",
                    provider_id=None, now=clock.now())
    session.commit()
    return user.id


def _account(app, username):
    with app.extensions["vnh.sessionmaker"]() as s:
        return s.scalar(select(StaffUser).where(StaffUser.username == username))


def _changes(app, user_id):
    with app.extensions["vnh.sessionmaker"]() as s:
        return [(c.action, json.loads(c.before), json.loads(c.after), c.changed_by)
                for c in s.scalars(select(StaffChange).where(StaffChange.staff_user_id == user_id)
                                   .order_by(StaffChange.id))]


def test_an_administrator_adds_a_community_worker_and_sees_its_password_once(app, admin, worker):
    response = admin.post("/admin/staff/", data={"username": "yanyuan", "display_name": "雁园社区小李",
                                                 "role": "operator", "street": "东岗街道", "community": "雁园社区"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "只显示这一次" in page
    password = re.search(r'id="one-time-password"><code>([^<]+)</code>', page).group(1)
    account = _account(app, "yanyuan")
    assert (account.street, account.community, account.is_active) == ("东岗街道", "雁园社区", True)
    assert password not in account.password_hash
    assert app.test_client().post("/login", data={"username": "yanyuan", "password": password}).status_code == 302
    ((action, before, after, by),) = _changes(app, account.id)
    assert action == "add" and before == {} and after["community"] == "雁园社区" and by == _account(app, "admin").id
    assert password not in admin.get(f"/admin/staff/{account.id}").get_data(as_text=True)


def test_a_weak_password_is_refused_and_nothing_is_written(app, admin):
    response = admin.post("/admin/staff/", data={"username": "xiaozhao", "role": "operator", "password": "xiaozhao123"})
    assert response.status_code == 400 and "密码太弱" in response.get_data(as_text=True)
    assert _account(app, "xiaozhao") is None
    assert 'value="xiaozhao"' in response.get_data(as_text=True)  # the form comes back filled, not its password


def test_an_area_nobody_lives_in_is_refused_naming_the_field(app, admin, worker):
    response = admin.post("/admin/staff/", data={"username": "typo", "role": "operator", "street": "东岗街道",
                                                 "community": "雁园", "password": "Yellow-river-at-dusk"})
    assert response.status_code == 400 and "community" in response.get_data(as_text=True)
    assert _account(app, "typo") is None


def test_disabling_an_account_signs_it_out_everywhere_and_is_recorded(app, admin, worker, sign_in):
    own = sign_in("xiaowang")
    assert own.get("/console").status_code == 200
    admin.post(f"/admin/staff/{worker}/disable")
    assert own.get("/console").status_code == 302
    assert app.test_client().post("/login", data={"username": "xiaowang", "password": PASSWORD}).status_code == 200
    assert [(a, b["is_active"], c["is_active"]) for a, b, c, _ in _changes(app, worker)] == [("disable", True, False)]
    admin.post(f"/admin/staff/{worker}/enable")
    assert sign_in("xiaowang").get("/console").status_code == 200


def test_an_administrator_cannot_disable_their_own_account(app, admin):
    me = _account(app, "admin")
    page = admin.post(f"/admin/staff/{me.id}/disable", follow_redirects=True).get_data(as_text=True)
    assert "不能停用自己的账号" in page and _account(app, "admin").is_active


def test_a_reset_gives_a_one_time_password_and_signs_the_old_sessions_out(app, admin, worker, sign_in):
    own = sign_in("xiaowang")
    page = admin.post(f"/admin/staff/{worker}/reset").get_data(as_text=True)
    password = re.search(r'id="one-time-password"><code>([^<]+)</code>', page).group(1)
    assert own.get("/console").status_code == 302
    client = app.test_client()
    assert client.post("/login", data={"username": "xiaowang", "password": PASSWORD}).status_code == 200
    assert client.post("/login", data={"username": "xiaowang", "password": password}).status_code == 302
    ((action, _, after, _),) = _changes(app, worker)
    assert action == "reset" and password not in json.dumps(after)


def test_a_weak_reset_password_is_refused(app, admin, worker):
    before = _account(app, "xiaowang").password_hash
    page = admin.post(f"/admin/staff/{worker}/reset", data={"password": "xiaowang1"},
                      follow_redirects=True).get_data(as_text=True)
    assert "密码太弱" in page and _account(app, "xiaowang").password_hash == before
    assert _changes(app, worker) == []


def test_binding_an_account_to_a_community_narrows_what_it_sees_at_once(app, admin, worker, sign_in, make_elder):
    other = make_elder(street="西湖街道", community="滨河社区", name="李淑珍")
    own = sign_in("xiaowang")
    assert own.get(f"/console/elders/{other.id}").status_code == 200
    admin.post(f"/admin/staff/{worker}/area", data={"street": "东岗街道", "community": "雁园社区"})
    assert own.get(f"/console/elders/{other.id}").status_code == 404
    assert "东岗街道雁园社区" in own.get("/").get_data(as_text=True)
    ((action, before, after, _),) = _changes(app, worker)
    assert (action, before["street"], after["street"]) == ("area", None, "东岗街道")
    admin.post(f"/admin/staff/{worker}/area", data={"street": "", "community": ""})
    assert own.get(f"/console/elders/{other.id}").status_code == 200


def test_provider_staff_and_administrators_cannot_be_bound_to_an_area(app, admin, worker, make_provider):
    provider = make_provider()
    response = admin.post("/admin/staff/", data={"username": "p1", "role": "provider", "provider_id": str(provider.id),
                                                 "street": "东岗街道", "password": "Yellow-river-at-dusk"})
    assert response.status_code == 400 and _account(app, "p1") is None
