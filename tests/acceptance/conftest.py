"""Acceptance tests from outside: each module starts its own `vnh serve` (see harness.py)."""

from __future__ import annotations

import pytest

from .harness import Server, fresh_database


def pytest_configure(config):
    config.addinivalue_line("markers", "acceptance: drives a running `vnh serve` from outside")


@pytest.fixture(scope="module")
def start_server(tmp_path_factory):
    """Start `vnh serve` with extra environment; every server is stopped when the module ends."""
    servers: list[Server] = []

    def start(**env: str) -> Server:
        tmp = tmp_path_factory.mktemp("serve")
        server = Server(tmp, fresh_database(tmp), env)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()
