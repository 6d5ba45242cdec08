"""Issue 6 from outside: callback reviews, disputes, suspension for bad reviews, wellbeing calls."""

from __future__ import annotations

import http.cookiejar
import re
import time
import urllib.parse
import urllib.request
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from .harness import ElderRow, ProviderRow, read_csv

pytestmark = pytest.mark.acceptance

LANZHOU = ZoneInfo("Asia/Shanghai")
SUPERVISOR, PASSWORD = "jiandu6", "acceptance-supervisor-pw"
BATH = ("1", "1", "1", "1")  # 生活照料 → 助浴 → as soon as possible → confirm

# Two districts far apart, so the suspension below touches nothing else.
R1 = ProviderRow("T6R1", "东岗颐康服务站", "+8613812360001", 36.0605, 103.8305, 5, {"LC01": "80.00"})
S1 = ProviderRow("T6S1", "雁滩快捷家政", "+8613812360011", 36.0600, 104.1000, 8, {"LC01": "70.00"})
S2 = ProviderRow("T6S2", "青白石敬老服务社", "+8613812360012", 36.0600, 104.1550, 8, {"LC01": "75.00"})

K = ElderRow("蒋玉珍", "F", date(1945, 3, 3), "+8613712360001", "特困", serial=201)
L = ElderRow("沈福海", "M", date(1949, 10, 10), "+8613712360002", "低保", serial=202)
M = ElderRow("韩秀梅", "F", date(1950, 4, 4), "+8613712360003", "优抚", serial=203,
             latitude=36.0605, longitude=104.1005)
W = ElderRow("杨守义", "M", date(1941, 1, 15), "+8613712360004", "高龄", lives_alone=True,
             contact_name="杨小红", contact_phone="+8613712369004", serial=204)


@pytest.fixture(scope="module")
def server(start_server):
    server = start_server(VNH_REVIEW_DELAY_S="0", VNH_SUSPEND_BELOW="4.0", VNH_WELLBEING_RETRY_S="1")
    server.enroll([K, L, M, W], [R1, S1, S2])
    server.vnh("user", "add", SUPERVISOR, "--role", "supervisor", "--name", "监督员小刘",
               "--password", PASSWORD)
    # The daily wellbeing call, due a few seconds from now; the last test lets it ring out.
    at = datetime.now(UTC).astimezone(LANZHOU) + timedelta(seconds=8)
    server.vnh("wellbeing", "schedule", "--id-number", W.id_number, "--at", f"{at:%H:%M:%S}")
    return server


def _reviewed_visit(server, elder: ElderRow, provider: ProviderRow, seen: set[int], *, came: bool,
                    rating: int | None = None) -> str:
    _, job_code = server.book(elder.phone, *BATH)
    assert server.offer_sms(job_code)["to"] == provider.dispatch_phone
    server.visit(provider.dispatch_phone, job_code)
    server.answer_review(server.review_call(elder.phone, seen), came=came, rating=rating)
    return job_code


def _supervisor_page(server) -> str:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login = opener.open(server.base_url + "/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    form = urllib.parse.urlencode({"username": SUPERVISOR, "password": PASSWORD, "csrf_token": token})
    opener.open(server.base_url + "/login", data=form.encode(), timeout=10).read()
    with opener.open(server.base_url + "/supervisor", timeout=10) as response:
        assert response.geturl().endswith("/supervisor"), "signed in as a supervisor"
        return response.read().decode()


def test_a_confirmed_visit_is_payable_and_a_denied_one_is_withheld_with_a_dispute(server):
    seen: set[int] = set()
    _reviewed_visit(server, K, R1, seen, came=True, rating=5)
    _reviewed_visit(server, L, R1, seen, came=False)
    month = f"{datetime.now(LANZHOU):%Y-%m}"
    rows = {r["elder_name"]: r for r in read_csv(server.report("subsidy", month, "reviews"))}
    confirmed, denied = rows[K.name], rows[L.name]
    # 特困 100% of 80.00; 低保 80% of 80.00 = 64.00.
    assert (confirmed["review_result"], confirmed["subsidy"], confirmed["payable"]) == ("verified", "80.00", "80.00")
    assert (denied["review_result"], denied["subsidy"], denied["payable"], denied["withheld"]) == (
        "denied", "64.00", "0.00", "64.00")
    page = _supervisor_page(server)
    assert "争议" in page
    # Issue 19: the queue lists each case, linked to its page where it is judged.
    assert page.count("<td>争议</td>") == 1, "one dispute: the denied visit, not the confirmed one"


def test_a_provider_rated_badly_again_and_again_drops_out_of_matching(server):
    seen: set[int] = set()
    # Ratings 2,1,2,1,2 over five visits: (10 × 4.5 + 8) / 15 = 3.53 < VNH_SUSPEND_BELOW 4.0.
    for rating in (2, 1, 2, 1, 2):
        _reviewed_visit(server, M, S1, seen, came=True, rating=rating)
    told = server.wait_for(lambda m: m["kind"] == "sms" and m["to"] == S1.dispatch_phone
                           and m["purpose"] == "provider_suspended", "the suspension SMS")
    assert "暂停" in told[0]["body"]
    _, job_code = server.book(M.phone, *BATH)
    assert server.offer_sms(job_code)["to"] == S2.dispatch_phone, "the next order goes to another provider"
    assert "暂停派单" in _supervisor_page(server)


def test_an_elder_living_alone_who_misses_the_wellbeing_call_twice_has_their_contact_texted(server):
    def wellbeing_call(attempt: int) -> dict:
        placed = lambda m: (m["kind"] == "call" and m["purpose"] == "wellbeing"  # noqa: E731
                            and m["to"] == W.phone and m["sid"])  # placed: the network gave it a SID
        deadline = time.monotonic() + 30
        while len(calls := server.wait_for(placed, f"wellbeing call {attempt}", timeout=30)) < attempt:
            assert time.monotonic() < deadline, f"wellbeing call {attempt} was not placed"
            time.sleep(0.15)
        return calls[attempt - 1]

    def alarms() -> list[dict]:
        return [m for m in server.sms_to(W.contact_phone) if m["purpose"] == "wellbeing_alarm"]

    server.call_status(wellbeing_call(1), "no-answer")
    assert not alarms(), "one missed call is tried again, not yet an alarm"
    server.call_status(wellbeing_call(2), "no-answer")
    texted = server.wait_for(lambda m: m["kind"] == "sms" and m["to"] == W.contact_phone
                             and m["purpose"] == "wellbeing_alarm", "the SMS to the emergency contact")
    assert W.name in texted[0]["body"]
