"""One elder's request, the whole way, through the signed webhooks and the simulator outbox."""

from __future__ import annotations

import csv
import re

import pytest
from click.testing import CliRunner

from telephony.simulator import FlaskTransport, Phone


@pytest.fixture
def phone(app):
    return Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"],
                 app.config["HOTLINE_NUMBER"])


def _job_code(text: str) -> str:
    return re.search(r"工单号:?([\d，]+)", text).group(1).replace("，", "")


def test_a_keypad_booking_travels_to_a_payable_subsidy_in_the_report(
    app, phone, clock, make_elder, make_provider, tmp_path, monkeypatch
):
    make_elder(phone="+8613912340001", elder_class="特困")
    near = make_provider(offerings={"HK01": 4800}, latitude=36.0590, longitude=103.8280)
    make_provider(offerings={"HK01": 4000}, latitude=36.1200, longitude=103.9000)  # far, outside 5 km

    # The elder books 家政保洁 → 居室保洁 → as soon as possible → confirm.
    call = phone.call_hotline("+8613912340001", ["2", "1", "1", "1"])
    assert call.ended_with == "hangup"
    assert "王奶奶您好" in call.text
    assert "服务费48元，政府全额补贴，您无需付费" in call.text
    code = _job_code(call.text)

    offer = phone.outbox()[-1]
    assert offer["kind"] == "sms" and offer["to"] == near.dispatch_phone
    assert f"工单号:{code}" in offer["body"]

    assert "已接单" in phone.send_sms(near.dispatch_phone, f"{code} 接")
    clock.advance(1800)
    assert "已签到" in phone.send_sms(near.dispatch_phone, f"{code}到")
    clock.advance(3600)
    assert "已签退" in phone.send_sms(near.dispatch_phone, f"{code}：完")

    from dispatcher.operations.sweepers import run_due_work

    clock.advance(app.config["REVIEW_DELAY_S"])
    assert run_due_work(app)["reviews_started"] == 1
    review_call = phone.outbox()[-1]
    assert review_call["kind"] == "call" and review_call["to"] == "+8613912340001"
    answered = phone.answer_call(review_call, ["1", "5"])
    assert answered.ended_with == "hangup"
    assert "感谢您的评价" in answered.text

    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    from dispatcher.cli import main

    output = tmp_path / "subsidy.csv"
    result = CliRunner().invoke(main, ["report", "subsidy", "--month", "2026-11", "--format", "csv",
                                       "--output", str(output), "--lang", "en"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(output.open(encoding="utf-8-sig")))
    assert len(rows) == 1
    row = rows[0]
    assert row["item_code"] == "HK01" and row["provider_code"] == near.code
    assert (row["price"], row["subsidy"], row["copay"]) == ("48.00", "48.00", "0.00")
    assert row["review_result"] == "verified"
    assert "*" in row["elder_id_masked"]
