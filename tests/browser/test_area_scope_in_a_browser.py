"""In a real browser: an administrator adds a community worker's account (街道/社区工作人员) and reads
its one-time password off the page; the worker signs in and finds only its own community's elders."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from dispatcher.operations.server import free_port, wait_until_healthy

pytestmark = pytest.mark.browser

ADMIN_PASSWORD = "Yellow-river-at-dusk"


def _cli(env, *args):
    subprocess.run([sys.executable, "-m", "dispatcher.cli", *args], env=env, check=True, capture_output=True)


def _two_communities(database_url: str):
    """A community and one of its elders (id, name), and an elder (id, name) of another community,
    names unique in the district."""
    from sqlalchemy import func, select

    from dispatcher import create_app
    from dispatcher.db import session_scope
    from dispatcher.models import Elder

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x"})
    try:
        with session_scope(app) as session:
            unique = select(Elder.name).group_by(Elder.name).having(func.count() == 1)
            elders = session.scalars(select(Elder).where(Elder.name.in_(unique)).order_by(Elder.id)).all()
            own = elders[0]
            other = next(e for e in elders if (e.street, e.community) != (own.street, own.community))
            return (own.street, own.community), (own.id, own.name), (other.id, other.name)
    finally:
        app.extensions["vnh.engine"].dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    database_url = f"sqlite:///{tmp_path_factory.mktemp('scope') / 'vnh.sqlite'}"
    env = {**os.environ, "VNH_DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": "browser-token",
           "VNH_TELEPHONY": "local", "VNH_TICK_S": "0.5", "VNH_SECRET_KEY": "browser-secret"}
    for name in ("VNH_PUBLIC_URL", "TWILIO_ACCOUNT_SID"):
        env.pop(name, None)
    _cli(env, "demo-data", "--elders", "30", "--providers", "3", "--no-staff")
    _cli(env, "user", "add", "laowang", "--role", "admin", "--name", "管理员老王", "--password", ADMIN_PASSWORD)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "dispatcher.cli", "serve", "--port", str(port),
                                "--workers", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", 30, process)
        yield f"http://127.0.0.1:{port}", _two_communities(database_url)
    finally:
        process.terminate()
        process.wait(20)


def _sign_in(page, base, username, password):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/login)"))


def test_a_community_workers_account_sees_only_its_communitys_elders(server, browser, shoot):
    base, ((street, community), (own_id, own_name), (other_id, other_name)) = server
    admin = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    admin.set_default_timeout(10_000)
    _sign_in(admin, base, "laowang", ADMIN_PASSWORD)
    admin.goto(f"{base}/admin/staff/")
    admin.fill("input[name=username]", "shequ")
    admin.fill("input[name=display_name]", "社区工作人员小刘")
    admin.select_option("select[name=role]", "operator")
    admin.fill("input[name=street]", street)
    admin.fill("input[name=community]", community)
    admin.click("form[action$='/admin/staff/'] button[type=submit]")
    password = admin.inner_text("#one-time-password").strip()
    shoot(admin, "scope-01-one-time-password")
    admin.close()

    page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    page.set_default_timeout(10_000)
    _sign_in(page, base, "shequ", password)
    assert f"{street}{community}" in page.inner_text("#my-area")
    page.goto(f"{base}/console/elders?q={own_name}")
    assert page.locator(f"a[href='/console/elders/{own_id}']").count() == 1
    page.goto(f"{base}/console/elders?q={other_name}")
    assert page.locator(f"a[href='/console/elders/{other_id}']").count() == 0
    assert "没有找到" in page.inner_text("table")
    shoot(page, "scope-02-search-other-community")
    response = page.goto(f"{base}/console/elders/{other_id}")
    assert response.status == 404
    page.goto(f"{base}/programmes/dormant?days=36500")
    communities = {c.strip() for c in page.locator("#dormant td:nth-child(2)").all_inner_texts()}
    assert communities <= {community}
    shoot(page, "scope-03-dormant-list")
    page.close()
