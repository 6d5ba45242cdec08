"""Issue 3 from outside: the hotline, as Twilio drives it, for callers who are not the demo's.

Prompt wording changes; these tests hold the product to facts a caller relies on: amounts and
words like 补贴 in the read-back, the numbers a <Dial> rings, the SMS that go out, the visit's times.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import date, datetime

import pytest
from twilio.request_validator import RequestValidator

from .harness import AUTH_TOKEN, OPERATORS, ElderRow, ProviderRow

pytestmark = pytest.mark.acceptance

P1 = ProviderRow("T3P1", "安康居家服务中心", "+8613812340001", 36.0605, 103.8305, 5,
                 {"LC01": "80.00", "LC02": "19.99", "HK01": "48.00"})
P2 = ProviderRow("T3P2", "福寿家政服务社", "+8613812340002", 36.0800, 103.8500, 5,
                 {"LC01": "78.00", "LC02": "19.00", "HK01": "45.00"})

GUILAN = ElderRow("张桂兰", "F", date(1944, 4, 2), "+8613712340001", "特困", lives_alone=True,
                  contact_name="张明", contact_phone="+8613712349001", serial=11)
DEFU = ElderRow("李德福", "M", date(1948, 9, 17), "+8613712340002", "低保",
                contact_name="李娜", contact_phone="+8613712349002", serial=13)
SHUZHEN = ElderRow("王淑珍", "F", date(1950, 1, 20), "+8613712340003", "优抚", serial=22)
GUOQIANG = ElderRow("赵国强", "M", date(1952, 6, 8), "+8613712340004", "普通", serial=31)
STRANGER = "+8613099998888"


@pytest.fixture(scope="module")
def server(start_server):
    server = start_server()
    server.enroll([GUILAN, DEFU, SHUZHEN, GUOQIANG], [P1, P2])
    return server


def test_a_caller_not_in_the_demo_books_by_keypad_and_hears_price_subsidy_and_copay(server):
    call = server.call_hotline(DEFU.phone)
    assert "李" in call.steps[0].said, "the caller is greeted by name"
    call.keys("1", "1", "1")  # 生活照料 → 助浴 → as soon as possible
    # 低保: 80% of the nearest provider's 80.00 → subsidy 64.00, co-pay 16.00 (worked by hand).
    assert "助浴" in call.step.said
    for fact in ("80元", "补贴", "64元", "16元"):
        assert fact in call.step.said, f"{fact} missing from the read-back: {call.step.said}"
    before = {m["id"] for m in server.outbox()}
    call.press("1")
    assert call.step.hangup
    offer = server.wait_for(lambda m: m["id"] not in before and m["kind"] == "sms", "the offer SMS")[0]
    assert offer["to"] == P1.dispatch_phone and "工单号:" in offer["body"]


def test_a_caller_books_by_speech_and_hears_the_read_back(server):
    call = server.call_hotline(GUILAN.phone)
    call.say("我想找人来打扫一下卫生")
    if "居室保洁" in call.step.said:  # an unsure match is read back for a yes
        call.press("1")
    call.press("1")  # as soon as possible
    # 特困: 100% of 48.00, nothing to pay.
    assert "居室保洁" in call.step.said
    assert "48元" in call.step.said and "补贴" in call.step.said
    call.press("1")
    assert call.step.hangup
    assert server.wait_for(lambda m: m["kind"] == "sms" and m["to"] == P1.dispatch_phone
                           and "居室保洁" in (m["body"] or ""), "the offer of 居室保洁")


def test_a_caller_cancels_an_open_order_by_phone_and_the_provider_is_told(server):
    _, job_code = server.book(SHUZHEN.phone, "1", "2", "1", "1")  # 上门理发, as soon as possible
    call = server.call_hotline(SHUZHEN.phone)
    assert "上门理发" in call.step.said, "the open order's status comes first"
    call.press("3")  # issue 17: 1 keep, 2 move, 3 cancel, 4 book something else
    assert call.step.hangup and "取消" in call.step.said
    told = server.wait_for(lambda m: m["kind"] == "sms" and m["to"] == P1.dispatch_phone
                           and job_code in (m["body"] or "") and "取消" in m["body"], "the cancellation SMS")
    assert told
    server.sms(P1.dispatch_phone, f"{job_code} 接")  # too late: the order stays cancelled
    again = server.call_hotline(SHUZHEN.phone)
    assert "上门理发" not in again.step.said, "no open order is read out any more"


@pytest.mark.parametrize("how", ["0", "silence twice"])
def test_a_caller_reaches_an_operator_by_0_or_by_silence(server, how):
    call = server.call_hotline(DEFU.phone)
    if how == "0":
        call.press("0")
    else:
        call.silence()
        assert not call.step.dial, "one silence only asks again"
        call.silence()
    assert call.step.dial == list(OPERATORS)


def test_9_rings_the_operators_at_once_and_texts_the_emergency_contact(server):
    before = {m["id"] for m in server.outbox()}
    call = server.call_hotline(GUILAN.phone)
    call.press("9")
    assert call.step.dial == list(OPERATORS)
    texts = server.wait_for(lambda m: m["id"] not in before and m["kind"] == "sms"
                            and m["to"] == GUILAN.contact_phone, "the SMS to the emergency contact")
    assert GUILAN.name in texts[0]["body"]


def test_the_worker_checks_in_and_out_from_the_elders_phone_and_the_visit_has_its_times(server):
    # Issue 18: the worker is on the provider's record.
    server.vnh("worker", "add", "--provider", P1.code, "--name", "郭师傅", "--phone", "13600008001",
               "--id-number", "620102198001010017", "--work-number", "8001")
    _, job_code = server.book(GUOQIANG.phone, "1", "1", "1", "1")
    assert "接单" in server.sms(P1.dispatch_phone, f"{job_code} 接")
    for action, word in (("1", "签到"), ("2", "签退")):
        call = server.call_hotline(GUOQIANG.phone)  # the worker, on the elder's phone
        call.press("7")
        call.press(job_code)
        call.press("8001")
        call.press(action)
        assert call.step.hangup and word in call.step.said, call.text
    token = server.vnh("provider", "token", P1.code).stdout.split(": ", 1)[1].split()[0]
    request = urllib.request.Request(server.base_url + "/api/v1/jobs",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        jobs = {job["job_code"]: job for job in json.loads(response.read())["jobs"]}
    job = jobs[job_code]
    assert job["state"] == "completed"
    started = datetime.fromisoformat(job["checked_in_at"])
    ended = datetime.fromisoformat(job["checked_out_at"])
    assert started <= ended


def test_an_unknown_number_reaches_an_operator_or_leaves_a_voicemail(server):
    call = server.call_hotline(STRANGER)
    assert call.step.dial == list(OPERATORS)
    call.dial_ends("no-answer")
    assert call.step.record_action, "nobody at the desk: the caller may leave a message"
    call.record()
    assert call.step.hangup and "留言" in call.step.said


def test_every_webhook_rejects_a_missing_or_wrong_signature(server):
    form = {"CallSid": "CA" + "1" * 32, "From": DEFU.phone, "To": "+869312345678"}
    for path in ("/telephony/voice", "/telephony/sms", "/telephony/status/call"):
        url = server.base_url + path
        unsigned = server.phone.transport  # posts without signing, unlike the Phone
        assert unsigned.post(url, form, {})[0] == 403
        wrong = RequestValidator(AUTH_TOKEN + "x").compute_signature(url, form)
        assert unsigned.post(url, form, {"X-Twilio-Signature": wrong})[0] == 403
