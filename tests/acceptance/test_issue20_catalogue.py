"""Issue 20 from outside: an item deep in a category's menu is booked by keys alone."""

from __future__ import annotations

from datetime import date

import pytest

from .harness import ElderRow, ProviderRow

pytestmark = pytest.mark.acceptance

# 助浴车上门 (LC19, market 150 yuan) is the 19th item of 生活照料: page 4 of the item menu, key 4.
P1 = ProviderRow("T20P1", "金城助浴服务中心", "+8613812342001", 36.0605, 103.8305, 5, {"LC19": "120.00"})
XIULAN = ElderRow("刘秀兰", "F", date(1939, 2, 14), "+8613712342001", "特困", serial=41)


@pytest.fixture(scope="module")
def server(start_server):
    server = start_server()
    server.enroll([XIULAN], [P1])
    return server


def test_an_item_on_the_fourth_page_of_a_category_is_booked_by_keys(server):
    call = server.call_hotline(XIULAN.phone)
    call.press("1")  # 生活照料
    assert "更多按8" in call.step.said
    call.keys("8", "8", "8")
    assert "助浴车上门按4" in call.step.said, call.step.said
    call.keys("4", "1")  # 助浴车上门, as soon as possible
    assert "助浴车上门" in call.step.said and "120元" in call.step.said, call.step.said

    before = {m["id"] for m in server.outbox()}
    call.press("1")
    assert call.step.hangup and "已为您下单" in call.step.said
    offer = server.wait_for(lambda m: m["id"] not in before and m["kind"] == "sms", "the offer SMS")[0]
    assert offer["to"] == P1.dispatch_phone and "助浴车上门" in offer["body"]
