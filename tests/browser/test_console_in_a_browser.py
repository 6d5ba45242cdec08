"""In a real browser: an operator signs in, a call presses 0, the screen-pop appears, the operator
makes an order by hand, the provider accepts it in the portal, and the board shows it accepted."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from dispatcher.operations.server import free_port, wait_until_healthy
from telephony.simulator import HttpTransport, Phone

pytestmark = pytest.mark.browser

TOKEN = "browser-token"
PASSWORD = "operator-pw-123"


def _cli(env, *args):
    subprocess.run([sys.executable, "-m", "dispatcher.cli", *args], env=env, check=True, capture_output=True)


def _bookable(database_url: str) -> tuple[str, str, str]:
    """An elder (name, phone) and an item someone near them can do tomorrow morning."""
    from sqlalchemy import select

    from dispatcher import create_app
    from dispatcher.clock import SystemClock
    from dispatcher.db import session_scope
    from dispatcher.lifecycle import ranking
    from dispatcher.lifecycle.slots import slot_for
    from dispatcher.models import Elder, Item

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x"})
    try:
        with session_scope(app) as session:
            slot = slot_for("tomorrow_am", SystemClock().now())
            items = session.scalars(select(Item).where(Item.is_emergency.is_(False)).order_by(Item.id)).all()
            for elder in session.scalars(select(Elder).order_by(Elder.id)):
                primary = next(p.phone for p in elder.phones if p.is_primary)
                for item in items:
                    if ranking.rank_for(session, elder, item, slot.start, top=1):
                        return elder.name, primary, item.code
    finally:
        app.extensions["vnh.engine"].dispose()
    raise AssertionError("the demo district has no bookable elder")


def _offered(database_url: str, order_no: str) -> tuple[str, str]:
    """The code of the provider the order is offered to, and the order's job code."""
    from sqlalchemy import select

    from dispatcher import create_app
    from dispatcher.db import session_scope
    from dispatcher.models import Order
    from providers.models import Offer

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x"})
    try:
        with session_scope(app) as session:
            order = session.scalars(select(Order).where(Order.order_no == order_no)).one()
            offer = session.scalars(select(Offer).where(Offer.order_id == order.id,
                                                        Offer.status == "offered")).one()
            return offer.provider.code, order.job_code
    finally:
        app.extensions["vnh.engine"].dispose()


@pytest.fixture(scope="module")
def server_env(tmp_path_factory):
    """The environment `vnh` runs with in these tests, and its database URL."""
    database_url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'vnh.sqlite'}"
    env = {**os.environ, "VNH_DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": TOKEN,
           "VNH_TELEPHONY": "local", "VNH_TICK_S": "0.5", "VNH_AFTER_HOURS": "", "VNH_QUIET_HOURS": ""}
    for name in ("VNH_PUBLIC_URL", "TWILIO_ACCOUNT_SID"):
        env.pop(name, None)
    env["VNH_SECRET_KEY"] = "browser-secret"  # one key for every worker process
    return env, database_url


@pytest.fixture(scope="module")
def server(server_env):
    env, database_url = server_env
    port = free_port()
    _cli(env, "demo-data", "--elders", "30", "--providers", "6", "--no-staff")
    _cli(env, "user", "add", "xiaoli", "--role", "operator", "--name", "话务员小李", "--password", PASSWORD)
    elder = _bookable(database_url)
    process = subprocess.Popen([sys.executable, "-m", "dispatcher.cli", "serve", "--port", str(port),
                                "--workers", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", 30, process)
        yield f"http://127.0.0.1:{port}", elder
    finally:
        process.terminate()
        process.wait(20)


def test_an_operator_takes_a_transferred_call_and_books_a_visit_the_provider_accepts(server, server_env, browser,
                                                                                     shoot):
    base, (elder_name, elder_phone, item_code) = server
    phone = Phone(HttpTransport(base), TOKEN)
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page.set_default_timeout(10_000)
    refused = []  # what the Content-Security-Policy blocked: nothing, the pages run only static scripts
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text
            else None)

    page.goto(f"{base}/console")
    assert "/login" in page.url
    shoot(page, "01-sign-in")
    page.fill("input[name=username]", "xiaoli")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/console"))  # back where the sign-in page was asked for
    page.wait_for_selector("text=暂无转人工来电")
    polls = []
    page.on("request", lambda r: polls.append(r.url) if "/console/transfers.json" in r.url else None)
    page.wait_for_timeout(3_000)
    # desk.js polls once a second and hands each answer to the screen-pop: one request, not two.
    assert 2 <= len(polls) <= 4, polls

    # The first fetch of the card meets a busy server (503): the pop asks again at the next poll.
    refused_cards = []

    def busy_once(route):
        if refused_cards:
            route.continue_()
        else:
            refused_cards.append(route.request.url)
            route.fulfill(status=503, body="busy", headers={"Retry-After": "2"})

    page.route("**/console/transfers/*/card", busy_once)
    call = phone.call_hotline(elder_phone, ["0"])  # the elder presses 0 at the first menu
    assert call.ended_with == "dial"
    transferred = time.monotonic()
    card = page.wait_for_selector("#pop-card", timeout=5_000)  # no reload: the page polls
    assert len(refused_cards) == 1
    page.unroute("**/console/transfers/*/card")
    # A figure for the report, not a test: how long the card took to appear after the transfer.
    print(f"screen-pop appeared {time.monotonic() - transferred:.2f} s after the transfer")
    assert elder_name in card.inner_text() and "按0" in card.inner_text()
    assert "剩余" in card.inner_text()
    shoot(page, "02-screen-pop")

    page.keyboard.press("n")  # the shortcut: an order for the caller on the screen
    page.wait_for_selector("#order-form")
    page.select_option("select[name=item_code]", item_code)
    page.select_option("select[name=slot_code]", "tomorrow_am")
    shoot(page, "03-elder-record")
    page.click("#order-form button[type=submit]")
    read_back = page.wait_for_selector("#read-back").inner_text()
    assert "价格" in read_back and "自付" in read_back
    assert page.query_selector("svg") is not None
    shoot(page, "04-confirm")
    page.click("#confirm-order")
    page.wait_for_selector("#order-state")
    assert page.inner_text("#order-state") == "派单中"
    order_no = re.search(r"工单 (\d+)", page.inner_text("h1")).group(1)
    shoot(page, "05-order")

    page.goto(f"{base}/console/board")
    row = f"tr[data-order='{order_no}']"
    assert page.get_attribute(row, "data-state") == "offered"
    shoot(page, "06-board-offered")

    # The provider's staff accept the offer through the portal, in a second browser session.
    env, database_url = server_env
    provider_code, job_code = _offered(database_url, order_no)
    _cli(env, "user", "add", "gongsi", "--role", "provider", "--provider", provider_code,
         "--name", "服务商小王", "--password", PASSWORD)
    portal = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    portal.on("console", lambda message: refused.append(message.text)
              if "Content Security Policy" in message.text else None)
    portal.goto(f"{base}/portal/")
    portal.fill("input[name=username]", "gongsi")
    portal.fill("input[name=password]", PASSWORD)
    portal.click("button[type=submit]")
    portal.wait_for_url(re.compile(r"/portal"))
    offer_row = portal.locator("article.job-card", has_text=job_code)
    shoot(portal, "07-portal-offer")
    offer_row.locator("button", has_text="接单").click()
    portal.wait_for_url(re.compile(r"/portal/jobs/"))  # the job page, ready for check-in
    assert "待上门" in portal.inner_text("h1")
    shoot(portal, "08-portal-accepted")
    portal.close()

    page.wait_for_selector(f"{row}[data-state='accepted']", timeout=8_000)  # the board refreshes itself
    shoot(page, "09-board-accepted")

    page.goto(f"{base}/console")
    assert page.query_selector("#pop-card") is None  # the order closed the transfer
    page.close()
    assert refused == []


def test_a_form_posted_without_its_csrf_token_is_refused_in_the_browser(server, browser):
    base, _ = server
    page = browser.new_page()
    page.goto(f"{base}/login")
    page.evaluate("document.querySelector('input[name=csrf_token]').remove()")
    page.fill("input[name=username]", "xiaoli")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("button[type=submit]")
    assert posted.value.status == 400
    page.close()
