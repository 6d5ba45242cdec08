"""In a real browser (issue 19): a worker on a 390×844 phone accepts an offer, checks in and checks out
on the portal's cards without ever scrolling sideways; a supervisor judges a dispute from its case page."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from dispatcher.operations.server import free_port, wait_until_healthy

pytestmark = pytest.mark.browser

PASSWORD = "portal-pw-12345"
PHONE = {"width": 390, "height": 844}
NO_SIDEWAYS = "document.documentElement.scrollWidth <= window.innerWidth"


def _cli(env, *args):
    subprocess.run([sys.executable, "-m", "dispatcher.cli", *args], env=env, check=True, capture_output=True)


def _seed(database_url: str) -> dict:
    """An open offer (its provider's code and job code), and a denied visit with its dispute."""
    from sqlalchemy import select

    from dispatcher import create_app
    from dispatcher.clock import SystemClock
    from dispatcher.config import Settings
    from dispatcher.db import session_scope
    from dispatcher.lifecycle import attendance, orders, ranking, reviews
    from dispatcher.lifecycle.slots import slot_for
    from dispatcher.models import CallbackReview, Elder, Item, OperatorTask
    from providers.models import Offer, Worker

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x"})
    settings, policy, now = Settings(app.config), app.extensions["vnh.policy"], SystemClock().now()
    slot = slot_for("asap", now)
    try:
        with session_scope(app) as session:
            items = session.scalars(select(Item).where(Item.is_emergency.is_(False)).order_by(Item.id)).all()
            pairs = [(e, i) for e in session.scalars(select(Elder).order_by(Elder.id)) for i in items
                     if not i.unit.startswith("小时")]
            placed = []
            for elder, item in pairs:
                if len(placed) == 2:
                    break
                if any(p.elder_id == elder.id for p in placed) or not ranking.rank_for(
                        session, elder, item, slot.start, top=1):
                    continue
                placed.append(orders.place_order(session, elder=elder, item=item, slot=slot, source="phone",
                                                 call_sid=None, settings=settings, now=now))
            offered, disputed = placed
            offer = session.scalars(select(Offer).where(Offer.order_id == offered.id,
                                                        Offer.status == "offered")).first()
            first = session.scalars(select(Offer).where(Offer.order_id == disputed.id)).first()
            worker = session.scalar(select(Worker.id).where(Worker.provider_id == first.provider_id,
                                                            Worker.active.is_(True)))
            steps = [orders.accept_offer(session, first, first.provider_id, "sms", settings, now),
                     attendance.check_in(session, disputed, first.provider_id, "sms", now, {"worker_id": worker}),
                     attendance.check_out(session, disputed, first.provider_id, "sms", policy, settings, now)]
            assert all(step.ok for step in steps), [step.message for step in steps]
            review = session.scalar(select(CallbackReview).where(CallbackReview.order_id == disputed.id))
            reviews.record_review_answer(session, review, False, now)
            case = session.scalar(select(OperatorTask).where(OperatorTask.kind == "dispute"))
            return {"provider": offer.provider.code, "job_code": offered.job_code, "order_id": offered.id,
                    "case_id": case.id, "disputed_job": disputed.job_code}
    finally:
        app.extensions["vnh.engine"].dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    database_url = f"sqlite:///{tmp_path_factory.mktemp('portal') / 'vnh.sqlite'}"
    env = {**os.environ, "VNH_DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": "browser-token",
           "VNH_TELEPHONY": "local", "VNH_TICK_S": "0.5", "VNH_SECRET_KEY": "browser-secret",
           "VNH_AFTER_HOURS": "", "VNH_QUIET_HOURS": ""}
    for name in ("VNH_PUBLIC_URL", "TWILIO_ACCOUNT_SID"):
        env.pop(name, None)
    _cli(env, "demo-data", "--elders", "30", "--providers", "6", "--no-staff")
    world = _seed(database_url)
    _cli(env, "user", "add", "gongsi", "--role", "provider", "--provider", world["provider"],
         "--name", "服务人员小张", "--password", PASSWORD)
    _cli(env, "user", "add", "zhou", "--role", "supervisor", "--name", "监督员老周", "--password", PASSWORD)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "dispatcher.cli", "serve", "--port", str(port),
                                "--workers", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", 30, process)
        yield f"http://127.0.0.1:{port}", world
    finally:
        process.terminate()
        process.wait(20)


def _sign_in(page, base: str, path: str, username: str) -> None:
    page.goto(f"{base}{path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation(timeout=30_000):  # a password check is slow on purpose
        page.click("button[type=submit]", no_wait_after=True)
    page.wait_for_url(f"{base}{path}", timeout=30_000)


def test_a_worker_accepts_checks_in_and_out_on_a_phone_without_scrolling_sideways(server, browser, shoot):
    base, world = server
    context = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    _sign_in(page, base, "/portal/", "gongsi")
    assert page.evaluate(NO_SIDEWAYS)

    card = page.locator("article.job-card", has_text=world["job_code"])
    seconds = int(card.locator(".countdown").get_attribute("data-seconds"))
    page.wait_for_timeout(1500)
    assert re.fullmatch(r"\d+分\d\d秒", card.locator(".countdown").inner_text())
    assert card.locator("a.call").get_attribute("href").startswith("tel:")
    assert card.locator("a", has_text="地图导航").get_attribute("href").startswith("https://uri.amap.com/search?")
    assert seconds > 0
    accept = card.locator("button", has_text="接单")
    box = accept.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] and box["height"] >= 44
    shoot(page, "portal-phone-01-offer")

    accept.click()
    page.wait_for_url(re.compile(r"/portal/jobs/"))
    assert "已接单" in page.inner_text("main") and "回复" not in page.inner_text("main")
    assert page.evaluate(NO_SIDEWAYS)
    shoot(page, "portal-phone-02-job")

    page.goto(f"{base}/portal/")
    job = page.locator(f"#job-{world['order_id']}")
    if job.locator("select[name=worker]").count():  # the provider has workers on record: name one
        job.locator("select[name=worker]").select_option(index=1)
    job.locator("button", has_text="签到").click()
    page.wait_for_selector("text=已签到")
    assert page.evaluate(NO_SIDEWAYS)

    page.goto(f"{base}/portal/")
    assert page.evaluate(NO_SIDEWAYS)
    page.locator(f"#job-{world['order_id']} button", has_text="签退").click()
    page.wait_for_load_state()
    if page.locator("button", has_text="仍然签退").count():  # a visit this short asks for a confirmation
        assert page.evaluate(NO_SIDEWAYS)
        shoot(page, "portal-phone-03-confirm")
        page.locator("button", has_text="仍然签退").click()
    page.wait_for_selector("text=已签退")
    assert "已完成" in page.inner_text("h1")
    assert page.evaluate(NO_SIDEWAYS)
    shoot(page, "portal-phone-04-done")

    # The cards refresh in place: a fetch of the fragment, not a reload.
    page.goto(f"{base}/portal/")
    with page.expect_response(lambda r: r.url.endswith("/portal/cards"), timeout=20_000):
        pass
    assert page.evaluate(NO_SIDEWAYS)
    page.set_viewport_size({"width": 360, "height": 740})  # the narrowest phone the portal is laid out for
    for path in ("/portal/", f"/portal/jobs/{world['order_id']}", "/portal/settlement", "/portal/workers"):
        page.goto(f"{base}{path}")
        assert page.evaluate(NO_SIDEWAYS), path
    context.close()
    assert refused == []


def test_a_supervisor_judges_a_dispute_from_its_case_page(server, browser, shoot):
    base, world = server
    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page.set_default_timeout(20_000)
    _sign_in(page, base, "/supervisor", "zhou")
    page.locator("tr", has_text=world["disputed_job"]).locator("a", has_text="查看并处理").click()
    page.wait_for_url(re.compile(rf"/supervisor/cases/{world['case_id']}$"))
    body = page.inner_text("main")
    assert "优先级中" in body and "老人说：没有来" in body and world["disputed_job"] in body
    shoot(page, "supervisor-case-01")

    page.fill("textarea[name=note]", "服务商拿不出上门证据")
    page.locator("button", has_text="裁定：未上门").click()
    page.wait_for_selector("text=裁定：未上门（计入服务商评分）")
    assert "监督员老周：裁定：未上门（服务商拿不出上门证据）" in page.inner_text("main")
    shoot(page, "supervisor-case-02-judged")

    page.goto(f"{base}/supervisor?resolved=1&q={world['disputed_job']}")
    assert "服务商拿不出上门证据" in page.inner_text("main")
    page.close()
