"""The Twilio adapter against recorded API responses: a fake HTTP client inside Twilio's SDK."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
import requests
from twilio.http import HttpClient
from twilio.http.response import Response

from telephony.ports import DeliveryError, TwilioTelephony

ACCOUNT = "AC" + "a" * 32
OURS = "+869312345678"
ELDER = "+8613912340001"
CLAIMED = datetime(2026, 11, 25, 1, 0, 0, tzinfo=UTC)


def _message(sid, body, created, status="sent", to=ELDER):
    """A Message resource as Twilio's API returns it (2010-04-01), trimmed of nothing we read."""
    return {
        "account_sid": ACCOUNT, "api_version": "2010-04-01", "body": body,
        "date_created": created, "date_sent": None if status == "queued" else created,
        "date_updated": created, "direction": "outbound-api", "error_code": None,
        "error_message": None, "from": OURS, "messaging_service_sid": None, "num_media": "0",
        "num_segments": "1", "price": None, "price_unit": "USD", "sid": sid, "status": status,
        "subresource_uris": {"media": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}/Media.json"},
        "to": to, "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json",
    }


def _call(sid, created, status="completed"):
    return {
        "account_sid": ACCOUNT, "annotation": None, "answered_by": None, "api_version": "2010-04-01",
        "caller_name": None, "date_created": created, "date_updated": created, "direction": "outbound-api",
        "duration": "15", "end_time": created, "forwarded_from": None, "from": OURS,
        "from_formatted": OURS, "group_sid": None, "parent_call_sid": None, "phone_number_sid": None,
        "price": None, "price_unit": "USD", "sid": sid, "start_time": created, "status": status,
        "subresource_uris": {}, "to": ELDER, "to_formatted": ELDER, "trunk_sid": None,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{sid}.json", "queue_time": "0",
    }


def _page(key, items):
    return {key: items, "end": len(items) - 1, "first_page_uri": "/first", "next_page_uri": None,
            "page": 0, "page_size": 20, "previous_page_uri": None, "start": 0, "uri": "/this"}


ERROR_429 = {"code": 20429, "message": "Too Many Requests", "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429}
ERROR_400 = {"code": 21211, "message": "The 'To' number +861 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}
ERROR_503 = {"code": 20500, "message": "Service Unavailable", "more_info": "https://www.twilio.com/docs/errors/20500", "status": 503}


class RecordedTwilio(HttpClient):
    """Answers each request with the next recorded (status, JSON) pair, or raises a recorded error."""

    def __init__(self, *answers):
        super().__init__(logging.getLogger("test.twilio"), is_async=False, timeout=15)
        self.answers = list(answers)
        self.requests: list[tuple[str, str, dict, dict]] = []

    def request(self, method, uri, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):
        self.requests.append((method, uri, dict(params or {}), dict(data or {})))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        return Response(status, json.dumps(body))


def _adapter(*answers) -> tuple[TwilioTelephony, RecordedTwilio]:
    http = RecordedTwilio(*answers)
    return TwilioTelephony(ACCOUNT, "token", http_client=http), http


def test_an_sms_is_created_with_its_status_callback_and_the_sid_returned():
    sid = "SM" + "1" * 32
    twilio, http = _adapter((201, _message(sid, "您好", "Wed, 25 Nov 2026 01:00:01 +0000", "queued")))

    got = twilio.send_sms(to=ELDER, from_=OURS, body="您好", key="outbox-7",
                          status_callback="https://vnh.example/telephony/status/sms?outbox=7")

    assert got == sid
    ((method, uri, _params, data),) = http.requests
    assert method == "POST" and uri.endswith(f"/Accounts/{ACCOUNT}/Messages.json")
    assert data["StatusCallback"] == "https://vnh.example/telephony/status/sms?outbox=7"
    assert (data["To"], data["From"], data["Body"]) == (ELDER, OURS, "您好")


@pytest.mark.parametrize("answer, text", [
    ((429, ERROR_429), "429"),
    ((503, ERROR_503), "503"),
    (requests.exceptions.ReadTimeout("Read timed out. (read timeout=15)"), "timed out"),
    (requests.exceptions.ConnectionError("Connection refused"), "refused"),
])
def test_rate_limits_server_errors_and_timeouts_are_worth_retrying(answer, text):
    twilio, _ = _adapter(answer)

    with pytest.raises(DeliveryError) as caught:
        twilio.send_sms(to=ELDER, from_=OURS, body="您好", status_callback=None, key="outbox-1")

    assert not caught.value.permanent and text in str(caught.value)


def test_an_invalid_number_is_permanent():
    twilio, _ = _adapter((400, ERROR_400))

    with pytest.raises(DeliveryError) as caught:
        twilio.place_call(to="+861", from_=OURS, url="https://x/t", status_callback=None, key="outbox-1")

    assert caught.value.permanent and "21211" in str(caught.value)


def test_after_a_crash_an_sms_twilio_accepted_is_found_by_recipient_and_body():
    ours = "SM" + "2" * 32
    twilio, http = _adapter((200, _page("messages", [
        _message("SM" + "3" * 32, "另一条", "Wed, 25 Nov 2026 01:00:01 +0000"),
        _message(ours, "工单号:123456 居室保洁", "Wed, 25 Nov 2026 01:00:02 +0000", "queued"),
        _message("SM" + "4" * 32, "工单号:123456 居室保洁", "Tue, 24 Nov 2026 09:00:00 +0000"),
    ])))

    found = twilio.find_sent(key="outbox-7", kind="sms", to=ELDER, from_=OURS,
                             body="工单号:123456 居室保洁", since=CLAIMED)

    assert found == ours
    ((method, uri, params, _data),) = http.requests
    assert method == "GET" and uri.endswith("/Messages.json")
    assert (params["To"], params["From"]) == (ELDER, OURS)


def test_after_a_crash_an_sms_twilio_never_got_is_not_found():
    twilio, _ = _adapter((200, _page("messages", [
        _message("SM" + "4" * 32, "工单号:123456 居室保洁", "Tue, 24 Nov 2026 09:00:00 +0000")])))

    assert twilio.find_sent(key="outbox-7", kind="sms", to=ELDER, from_=OURS,
                            body="工单号:123456 居室保洁", since=CLAIMED) is None


def test_after_a_crash_a_call_placed_since_the_claim_is_found():
    ours = "CA" + "5" * 32
    twilio, http = _adapter((200, _page("calls", [
        _call(ours, "Wed, 25 Nov 2026 01:00:01 +0000", "ringing"),
        _call("CA" + "6" * 32, "Mon, 23 Nov 2026 01:00:00 +0000"),
    ])))

    found = twilio.find_sent(key="outbox-9", kind="call", to=ELDER, from_=OURS, body=None,
                             since=CLAIMED)

    assert found == ours
    assert http.requests[0][1].endswith("/Calls.json")


def test_when_twilio_cannot_say_whether_it_sent_the_adapter_says_so_instead_of_guessing():
    twilio, _ = _adapter(requests.exceptions.ReadTimeout("Read timed out."))

    with pytest.raises(DeliveryError):
        twilio.find_sent(key="outbox-7", kind="sms", to=ELDER, from_=OURS, body="x", since=CLAIMED)


def test_a_review_call_asks_for_asynchronous_answering_machine_detection_reported_to_its_status_callback():
    twilio, http = _adapter((201, _call("CA" + "7" * 32, "Wed, 25 Nov 2026 01:00:01 +0000", "queued")))

    twilio.place_call(to=ELDER, from_=OURS, url="https://vnh.example/telephony/review/3", key="outbox-3",
                      status_callback="https://vnh.example/telephony/status/call?outbox=3")

    data = http.requests[0][3]
    assert data["MachineDetection"] == "Enable" and data["AsyncAmd"] == "true"
    assert data["AsyncAmdStatusCallback"] == "https://vnh.example/telephony/status/call?outbox=3"


@pytest.mark.parametrize("url", ["https://vnh.example/telephony/visit/3/notice",
                                 "https://vnh.example/telephony/bridge/8"])
def test_calls_whose_flow_never_reads_answered_by_ask_for_no_answering_machine_detection(url):
    twilio, http = _adapter((201, _call("CA" + "8" * 32, "Wed, 25 Nov 2026 01:00:01 +0000", "queued")))

    twilio.place_call(to=ELDER, from_=OURS, url=url, key="outbox-4",
                      status_callback="https://vnh.example/telephony/status/call?outbox=4")

    data = http.requests[0][3]
    assert "MachineDetection" not in data and "AsyncAmd" not in data
