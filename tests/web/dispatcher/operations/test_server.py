"""`vnh serve` for real: worker processes answer signed webhooks, the scheduler process ticks."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from dispatcher.operations.server import free_port, wait_until_healthy
from telephony.simulator import HttpTransport, Phone

pytestmark = pytest.mark.skipif(bool(os.environ.get("VNH_TEST_DATABASE_URL")),
                                reason="runs once, on its own SQLite file")


def test_vnh_serve_answers_webhooks_and_its_scheduler_delivers_the_outbox(tmp_path):
    port = free_port()
    env = {**os.environ, "VNH_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite'}",
           "TWILIO_AUTH_TOKEN": "serve-token", "VNH_TELEPHONY": "local", "VNH_TICK_S": "0.5",
           "VNH_AFTER_HOURS": ""}
    env.pop("VNH_PUBLIC_URL", None)
    subprocess.run([sys.executable, "-m", "dispatcher.cli", "demo-data", "--elders", "20",
                    "--providers", "4", "--no-staff"], env=env, check=True, capture_output=True)
    server = subprocess.Popen([sys.executable, "-m", "dispatcher.cli", "serve", "--port", str(port),
                               "--workers", "2"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", 30, server)
        deadline = time.monotonic() + 30
        phone = Phone(HttpTransport(f"http://127.0.0.1:{port}"), "serve-token")
        call = phone.call_hotline("+8613900000001", ["9"])  # the emergency path texts the contacts
        assert "虚拟养老院" in call.text and call.ended_with == "dial"
        texts = [m for m in phone.outbox() if m["purpose"] == "emergency_contact"]
        assert texts, "the emergency SMS should be in the outbox"
        # Until every message is sent, not only until the last is no longer queued: the scheduler
        # claims a message ("sending") before the network takes it, and it runs at a lower priority.
        while time.monotonic() < deadline and any(m["status"] != "sent" for m in phone.outbox()):
            time.sleep(0.3)
        assert all(m["status"] == "sent" for m in phone.outbox())
        unsigned = HttpTransport(f"http://127.0.0.1:{port}").post(
            f"http://127.0.0.1:{port}/telephony/voice", {"CallSid": "CAx", "From": "+8613900000001"}, {})
        assert unsigned[0] == 403
    finally:
        server.terminate()
        server.wait(20)
