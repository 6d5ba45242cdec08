"""`vnh bench mixed` runs end to end at a tiny size (its figures are read by people, not asserted)."""

from __future__ import annotations

import re

from click.testing import CliRunner


def test_the_mixed_bench_runs_every_route_and_the_sweep_at_a_tiny_size(monkeypatch):
    from dispatcher.cli import main

    monkeypatch.delenv("VNH_BENCH_DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, ["bench", "mixed", "--seconds", "1", "--rate", "10", "--consoles", "2",
                                       "--portal-users", "1", "--backlog", "30"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for route in ("webhooks", "console transfers", "console queue", "board", "portal"):
        assert any(line.startswith(route) and "×" in line for line in lines), (route, result.output)
    # Failures are counted, not asserted: on a busy machine SQLite's write lock can time a page out.
    assert re.search(r"sqlite: the scheduler expired \d+ of 30 due offers .* failed requests: \d+", result.output)
    # Where Linux's /proc is, the server's CPU over the load is printed as cores in use.
    assert re.search(r"sqlite: the server used [\d.]+ s of CPU in the 1 s of mixed load, [\d.]+ of the machine's",
                     result.output), result.output
