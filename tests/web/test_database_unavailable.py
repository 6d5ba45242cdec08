"""The database away: webhooks answer something safe within about two seconds, then recover."""

from __future__ import annotations

import sqlite3
import time

import pytest
from conftest import PG_URL

from telephony.simulator import FlaskTransport, Phone

pytestmark = pytest.mark.skipif(bool(PG_URL), reason="locks the SQLite file from another writer")
ELDER = "+8613912340001"


def test_a_call_while_another_writer_holds_the_database_hears_a_safe_message_then_recovers(
    app, make_elder
):
    make_elder(phone=ELDER)
    phone = Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"],
                  app.config["HOTLINE_NUMBER"])
    path = app.config["DATABASE_URL"].removeprefix("sqlite:///")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        began = time.monotonic()
        blocked = phone.call_hotline(ELDER, [])
        waited = time.monotonic() - began
        reply = phone.send_sms("+8613800000001", "123456 接")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    assert "系统繁忙" in blocked.text and blocked.ended_with == "hangup"
    assert waited < app.config["DB_WAIT_S"] + 1.5
    assert "系统繁忙" in reply
    recovered = phone.call_hotline(ELDER, [])
    assert "王奶奶您好" in recovered.text
