"""Every role's main pages in a real browser, at a desktop (1366×900) and a phone (390×844): axe-core
finds no serious or critical violation on any of them, and each screen is saved as a screenshot
(artifacts/screenshots/pages/). One server and one browser for the whole module; one signed-in
browser context per role, reused for both sizes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dispatcher.operations.server import free_port, wait_until_healthy

pytestmark = pytest.mark.browser

PASSWORD = "Yellow-river-at-dusk"
VIEWPORTS = {"desktop": (1366, 900), "phone": (390, 844)}
ROLES = ("operator", "supervisor", "bureau", "admin", "provider")


def _cli(env, *args):
    subprocess.run([sys.executable, "-m", "dispatcher.cli", *args], env=env, check=True, capture_output=True)


def _seed(database_url: str) -> dict:
    """An open order, a visit done and denied by the elder (a dispute for the supervisor), an
    emergency for the console, and an account for each role; the ids the pages need."""
    from sqlalchemy import select

    from dispatcher import create_app
    from dispatcher.clock import SystemClock
    from dispatcher.config import Settings
    from dispatcher.consoles.auth import add_user
    from dispatcher.db import session_scope
    from dispatcher.lifecycle import attendance, orders, ranking, reviews
    from dispatcher.lifecycle.slots import slot_for
    from dispatcher.lifecycle.tasks import open_task
    from dispatcher.models import CallbackReview, Elder, Item, StaffUser
    from providers.models import Offer

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x"})
    now = SystemClock().now()
    settings, policy = Settings(app.config), app.extensions["vnh.policy"]
    try:
        with session_scope(app) as session:
            slot = slot_for("asap", now)
            items = session.scalars(select(Item).where(Item.is_emergency.is_(False)).order_by(Item.id)).all()
            elder, item = next((e, i) for e in session.scalars(select(Elder).order_by(Elder.id)) for i in items
                               if ranking.rank_for(session, e, i, slot.start, top=1))
            done = orders.place_order(session, elder=elder, item=item, slot=slot, source="phone", call_sid=None,
                                      settings=settings, now=now)
            offer = session.scalars(select(Offer).where(Offer.order_id == done.id)).one()
            for outcome in (orders.accept_offer(session, offer, offer.provider_id, "sms", settings, now),
                            attendance.check_in(session, done, offer.provider_id, "sms", now, {"worker": "0001"}),
                            attendance.check_out(session, done, offer.provider_id, "sms", policy, settings, now,
                                                 {"worker": "0001"})):
                assert outcome.ok, outcome
            review = session.scalar(select(CallbackReview).where(CallbackReview.order_id == done.id))
            reviews.record_review_answer(session, review, False, now)
            open_order = orders.place_order(session, elder=elder, item=item, slot=slot, source="phone",
                                            call_sid=None, settings=settings, now=now)
            open_task(session, kind="emergency", reason="紧急求助", dedupe_key="a11y-emergency",
                      elder_id=elder.id, now=now, priority=0)
            for role in ROLES:
                add_user(session, username=f"a11y-{role}", password=PASSWORD, role=role,
                         display_name=f"测试{role}", provider_id=offer.provider_id if role == "provider" else None,
                         now=now)
            session.commit()
            return {"elder": elder.id, "elder_name": elder.name, "order": open_order.id, "done": done.id,
                    "provider": offer.provider_id, "item": item.code,
                    "staff": session.scalar(select(StaffUser.id).where(StaffUser.username == "a11y-operator"))}
    finally:
        app.extensions["vnh.engine"].dispose()


def _pages(ids: dict) -> dict[str, list[tuple[str, str]]]:
    """Each role's pages to check: (name, path)."""
    return {
        "anonymous": [("login", "/login"), ("not-found", "/no-such-page"), ("simulator", "/simulator")],
        "operator": [("home", "/"), ("console", "/console"), ("board", "/console/board"),
                     ("search", f"/console/elders?q={ids['elder_name']}"),
                     ("elder", f"/console/elders/{ids['elder']}"), ("order", f"/console/orders/{ids['order']}"),
                     ("wellbeing", "/programmes/wellbeing"), ("dormant", "/programmes/dormant"),
                     ("forbidden", "/admin/staff/")],
        "supervisor": [("supervisor", "/supervisor"), ("integrity", "/supervisor/integrity/"),
                       ("disputed-order", f"/console/orders/{ids['done']}")],
        "bureau": [("bureau", "/bureau/"), ("verify", "/bureau/verify")],
        "admin": [("staff", "/admin/staff/"), ("staff-account", f"/admin/staff/{ids['staff']}"),
                  ("uploads", "/admin/uploads"), ("elders", "/admin/elders"),
                  ("elder-record", f"/admin/elders/{ids['elder']}"), ("elder-new", "/admin/elders/new"),
                  ("providers", "/admin/providers"), ("provider", f"/admin/providers/{ids['provider']}"),
                  ("provider-record", f"/admin/providers/{ids['provider']}/record"),
                  ("catalogue", "/admin/catalogue"), ("catalogue-item", f"/admin/catalogue/{ids['item']}")],
        "provider": [("portal", "/portal/"), ("job", f"/portal/jobs/{ids['done']}"),
                     ("settlement", "/portal/settlement"), ("workers", "/portal/workers")],
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    database_url = f"sqlite:///{tmp_path_factory.mktemp('a11y') / 'vnh.sqlite'}"
    env = {**os.environ, "VNH_DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": "browser-token",
           "VNH_TELEPHONY": "local", "VNH_TICK_S": "5", "VNH_SECRET_KEY": "browser-secret",
           "VNH_AFTER_HOURS": "", "VNH_QUIET_HOURS": ""}
    for name in ("VNH_PUBLIC_URL", "TWILIO_ACCOUNT_SID"):
        env.pop(name, None)
    _cli(env, "demo-data", "--elders", "20", "--providers", "4", "--no-staff")
    ids = _seed(database_url)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "dispatcher.cli", "serve", "--port", str(port),
                                "--workers", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", 30, process)
        yield f"http://127.0.0.1:{port}", ids
    finally:
        process.terminate()
        process.wait(20)


@pytest.mark.parametrize("role", ["anonymous", *ROLES])
def test_each_page_of_each_role_passes_axe_at_desktop_and_phone_size(axe, server, browser, shoot, role):
    base, ids = server
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    if role != "anonymous":
        page.goto(f"{base}/login")
        page.fill("input[name=username]", f"a11y-{role}")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert "/login" not in page.url, f"{role} could not sign in"
    problems, failed = [], []
    try:
        for name, path in _pages(ids)[role]:
            for size, (width, height) in VIEWPORTS.items():
                page.set_viewport_size({"width": width, "height": height})
                response = page.goto(f"{base}{path}")
                expected = {"not-found": 404, "forbidden": 403}.get(name, 200)
                if response.status != expected:
                    failed.append(f"{role} {path}: HTTP {response.status}, expected {expected}")
                shoot(page, f"pages/{role}-{name}-{size}", check=False)  # gathered below, all pages at once
                if role != "anonymous" and not page.query_selector("nav, [role=navigation]"):
                    problems.append(f"{role} {name} ({path}) at {size}: no <nav> landmark")
                problems += [f"{role} {name} ({path}) at {size} {width}×{height}: {p}"
                             for p in axe.problems(page)]
    finally:
        context.close()
    assert not failed, "\n".join(failed)
    assert not problems, (f"{len(problems)} accessibility problems (axe-core serious/critical, page outline):\n  "
                          + "\n  ".join(problems))
