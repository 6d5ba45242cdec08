"""The fault hook: inert unless VNH_FAULT names the point, and then a SIGKILL, not an exception."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

PROGRAM = "from dispatcher.operations.faults import crash_point; crash_point('after_send', 'call'); print('alive')"


@pytest.mark.parametrize("fault, killed", [
    (None, False), ("before_send", False), ("after_send:sms", False),
    ("after_send", True), ("after_send:call", True),
])
def test_a_crash_point_kills_the_process_only_when_named(fault, killed):
    env = {k: v for k, v in os.environ.items() if k != "VNH_FAULT"}
    if fault:
        env["VNH_FAULT"] = fault

    done = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True)

    if killed:
        assert done.returncode == -signal.SIGKILL and done.stdout == ""
    else:
        assert done.returncode == 0 and done.stdout.strip() == "alive"
