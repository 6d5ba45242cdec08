"""`vnh serve`: gunicorn worker processes for the web, and one scheduler process beside them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from gunicorn.app.base import BaseApplication


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

        return create_app()


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
        "on_exit": stop_ticker,
    }
    try:
        WebServer(options).run()
    finally:
        stop_ticker()
