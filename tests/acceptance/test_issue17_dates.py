"""Issue 17 from outside: an elder books a visit for a day next week by phone, and later moves it.

The server runs on the real clock: the dates are worked out here from today in Lanzhou.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from .harness import ElderRow, ProviderRow

pytestmark = pytest.mark.acceptance

P1 = ProviderRow("T17P1", "和美居家服务中心", "+8613812347001", 36.0605, 103.8305, 5,
                 {"LC01": "80.00", "LC02": "20.00"})
GUIHUA = ElderRow("刘桂花", "F", date(1945, 3, 8), "+8613712347001", "低保", serial=17)
WEEKDAYS = "一二三四五六日"


@pytest.fixture(scope="module")
def server(start_server):
    server = start_server()
    server.enroll([GUIHUA], [P1])
    return server


def _today() -> date:
    return datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()


def _said(day: date) -> str:
    return f"{day.month}月{day.day}日 星期{WEEKDAYS[day.weekday()]}"


def test_an_elder_books_a_visit_for_a_day_next_week_by_phone_and_moves_it(server):
    today = _today()
    wednesday = today - timedelta(days=today.weekday()) + timedelta(days=7 + 2)

    before = {m["id"] for m in server.outbox()}
    call = server.call_hotline(GUIHUA.phone)
    call.keys("1", "2")              # 生活照料 → 上门理发
    assert "尽快上门按1" in call.step.said
    call.press("2")                  # another day
    assert "今天按1" in call.step.said and "明天按2" in call.step.said and "按7" in call.step.said
    call.say("下周三")
    assert _said(wednesday) in call.step.said and "上午按1，下午按2" in call.step.said
    call.press("1")                  # 上午
    assert f"上门理发，{_said(wednesday)} 上午上门" in call.step.said, call.step.said
    assert "补贴" in call.step.said
    call.press("1")
    assert call.step.hangup and "工单号" in call.step.said

    offer = server.wait_for(lambda m: m["id"] not in before and m["kind"] == "sms" and "工单号:" in (m["body"] or ""),
                            "the offer SMS")[0]
    assert offer["to"] == P1.dispatch_phone
    assert f"{wednesday:%m月%d日} 08:30起" in offer["body"]
    job_code = offer["body"].split("工单号:")[1][:6]
    assert "已接单" in server.sms(P1.dispatch_phone, f"{job_code} 接")
    notice = server.wait_for(lambda m: m["to"] == GUIHUA.phone and job_code in (m["body"] or "")
                             and "理发" in (m["body"] or ""), "the elder's notice")[0]
    assert f"{wednesday:%m月%d日} 08:30起" in notice["body"]

    # She calls again: the visit is read out, and 2 moves it to the afternoon of the day after.
    thursday = wednesday + timedelta(days=1)
    again = server.call_hotline(GUIHUA.phone)
    assert "改期按2" in again.step.said
    again.press("2")
    again.say("下周四")
    again.press("2")
    assert f"改到{_said(thursday)} 下午" in again.step.said
    again.press("1")
    assert again.step.hangup and "服务商已收到通知" in again.step.said
    moved = server.wait_for(lambda m: m["to"] == P1.dispatch_phone and "改期至" in (m["body"] or ""),
                            "the provider's SMS about the move")[0]
    assert f"工单{job_code}（上门理发）改期至{_said(thursday)} 下午" in moved["body"]
