"""The scheduler gives way to the web workers: its process runs at a lower CPU priority."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="no process priorities here")
def test_the_scheduler_process_lowers_its_cpu_priority_and_its_threads_inherit_it():
    script = ("import os, threading\n"
              "from dispatcher.operations.sweepers import SCHEDULER_NICENESS, give_way_to_the_web\n"
              "give_way_to_the_web()\n"
              "seen = []\n"
              "t = threading.Thread(target=lambda: seen.append(os.getpriority(os.PRIO_PROCESS, 0)))\n"
              "t.start(); t.join()\n"
              "print(os.getpriority(os.PRIO_PROCESS, 0), seen[0], SCHEDULER_NICENESS)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          cwd=os.getcwd(), env={**os.environ, "PYTHONPATH": os.getcwd()})
    mine, thread, wanted = (int(n) for n in done.stdout.split())
    assert mine >= wanted and thread >= wanted
