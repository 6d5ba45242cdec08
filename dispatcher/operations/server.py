"""`vnh serve`: gunicorn worker processes for the web, and one scheduler process beside them."""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from gunicorn.app.base import BaseApplication

# Gunicorn's own loggers (a worker's traceback, a timeout) write through the same masking JSON
# formatter as the app, so no phone or ID number reaches its log in full either.
GUNICORN_LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "dispatcher.operations.logs.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                            "stream": "ext://sys.stderr"}},
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False}},
}


class WebServer(BaseApplication):
    """Gunicorn with threaded workers; each worker process builds its own app after the fork."""

    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from dispatcher import create_app

        app = create_app()
        freeze_what_was_built()
        return app


def freeze_what_was_built() -> None:
    """Take what a worker has built so far (the imported modules, the app, its metadata and
    templates) out of Python's garbage collector's view, after one last collection.

    A full collection walks every object the process holds: about 350,000 in a worker, 170–190 ms
    with the GIL held (so every call in that worker waited that long), about once in each worker's
    ten seconds of `vnh bench mixed`. What is built at start lives as long as the worker, so
    walking it again and again is wasted; `gc.freeze` (Python's `gc` documentation) moves it to a
    generation no collection walks. Objects made later (caches, lazily imported modules) are still
    collected as before.
    """
    gc.collect()
    gc.freeze()


def start_scheduler_process() -> subprocess.Popen:
    """The one process that ticks, beside the web workers (rows, not it, remember what is due)."""
    return subprocess.Popen([sys.executable, "-m", "dispatcher.cli", "scheduler"], env=os.environ.copy())


def serve(host: str, port: int, workers: int, threads: int, with_scheduler: bool) -> None:
    ticker = start_scheduler_process() if with_scheduler else None

    def stop_ticker(_server=None) -> None:
        if ticker is not None and ticker.poll() is None:
            ticker.send_signal(signal.SIGTERM)
            ticker.wait(10)

    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": None,
        "logconfig_dict": GUNICORN_LOG_CONFIG,
        "on_exit": stop_ticker,
    }
    try:
        WebServer(options).run()
    finally:
        stop_ticker()


def free_port() -> int:
    """A localhost port nothing listens on now: for a server a bench, a test or `vnh chaos` starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_healthy(base_url: str, timeout_s: float = 30, process: subprocess.Popen | None = None) -> None:
    """Wait until the `vnh serve` at `base_url` answers `/healthz` with ok (its app is loaded, its
    database reachable), not merely until its port listens; raise TimeoutError otherwise, or
    RuntimeError at once if `process` exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"vnh serve exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=2) as response:
                if json.loads(response.read().decode()).get("ok"):
                    return
        except (OSError, ValueError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"vnh serve at {base_url} was not healthy within {timeout_s:g} s")


def _processes() -> dict[int, tuple[int, float]]:
    """Every process Linux's /proc shows: pid → (parent pid, CPU seconds used, user and system)."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join("/proc", name, "stat")) as stat:
                # The command name (field 2) may hold spaces and brackets: fields after its last ')'.
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        found[int(name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    return found


def process_tree(pid: int, processes: dict[int, tuple[int, float]] | None = None) -> list[int]:
    """`pid` and every process under it (a server's workers), from Linux's /proc; [] without it."""
    if not os.path.isdir(f"/proc/{pid}"):
        return []
    children: dict[int, list[int]] = {}
    for child, (parent, _used) in (processes if processes is not None else _processes()).items():
        children.setdefault(parent, []).append(child)
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo.extend(children.get(tree[-1], []))
    return tree


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user and system) used so far by process `pid` and every process under it, read
    from Linux's /proc; None where there is no /proc to read. A bench takes it before and after a
    load: the difference over the requests answered is a figure that, unlike a latency, does not
    grow with how busy the machine is."""
    processes = _processes() if os.path.isdir(f"/proc/{pid}") else {}
    tree = process_tree(pid, processes)
    return sum(processes.get(p, (0, 0.0))[1] for p in tree) if tree else None
