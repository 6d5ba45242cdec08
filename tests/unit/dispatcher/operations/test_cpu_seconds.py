"""The CPU a server and its workers used: what `vnh bench webhooks` divides by the requests answered."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from dispatcher.operations.server import cpu_seconds, process_tree

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads Linux's /proc")

# A parent that idles while its child burns about half a second of CPU, then both wait to be stopped.
BURNING_CHILD = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import time\\nend = time.process_time() + 0.5\\nwhile time.process_time() < end: pass\\ntime.sleep(30)"])
time.sleep(30)
"""


def test_it_counts_the_processes_under_the_one_named():
    parent = subprocess.Popen([sys.executable, "-c", BURNING_CHILD])
    try:
        deadline = time.monotonic() + 20
        while (cpu_seconds(parent.pid) or 0) < 0.5 and time.monotonic() < deadline:
            time.sleep(0.1)
        used = cpu_seconds(parent.pid)
        assert used is not None and used >= 0.5  # the child's half second, counted under the parent
    finally:
        for pid in process_tree(parent.pid)[1:]:
            os.kill(pid, 9)
        parent.kill()
        parent.wait()


def test_a_process_that_is_not_there_is_none():
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    assert cpu_seconds(finished.pid) is None

