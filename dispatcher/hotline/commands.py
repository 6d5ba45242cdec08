"""The hotline's benchmarks: `vnh bench ivr` and `vnh bench webhooks`."""

from __future__ import annotations

import click

from dispatcher.commands import subgroup
from dispatcher.hotline.bench import bench_ivr, bench_webhooks


def register(cli: click.Group) -> None:
    bench = subgroup(cli, "bench")
    bench.add_command(bench_ivr)
    bench.add_command(bench_webhooks)
