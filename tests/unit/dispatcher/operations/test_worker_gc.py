"""A web worker takes what it built at start out of the garbage collector's view."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import gc
from dispatcher.operations.server import WebServer
before = gc.get_freeze_count()
app = WebServer({"bind": "127.0.0.1:0"}).load()
print(before, gc.get_freeze_count(), len(gc.get_objects()), app.name)
"""


def test_a_worker_freezes_what_it_built_so_a_full_collection_walks_only_what_came_after(tmp_path):
    env = {**os.environ, "VNH_DATABASE_URL": f"sqlite:///{tmp_path / 'gc.sqlite'}", "VNH_TELEPHONY": "local",
           "VNH_SECRET_KEY": "gc-test"}
    env.pop("VNH_CONFIG_FILE", None)
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    before, frozen, tracked, name = done.stdout.split()
    assert int(before) == 0 and name == "dispatcher"
    # The app's modules, metadata and templates (hundreds of thousands of objects) are frozen; a
    # full collection right after start walks next to nothing (without the freeze: all of them).
    assert int(frozen) > 50_000 and int(tracked) < 1_000
