"""The `vnh` command line: the top-level group, gathering each package's commands."""

from __future__ import annotations

import click

from billing import commands as billing_commands
from billing import duration_commands
from dispatcher import commands as core_commands
from dispatcher.catalogue import commands as catalogue_commands
from dispatcher.centre import commands as centre_commands
from dispatcher.consoles import commands as console_commands
from dispatcher.demo import commands as demo_commands
from dispatcher.enrollment import commands as enrollment_commands
from dispatcher.hotline import commands as hotline_commands
from dispatcher.integrity import commands as integrity_commands
from dispatcher.lifecycle import commands as lifecycle_commands
from dispatcher.operations import commands as operations_commands
from dispatcher.plans import commands as plan_commands
from dispatcher.programmes import commands as programme_commands
from providers import commands as provider_commands
from telephony import commands as telephony_commands


@click.group()
def main():
    """vnh: the virtual nursing home dispatcher (虚拟养老院)."""
    from dispatcher.operations.logs import configure_logging

    configure_logging()


@main.group()
def bench():
    """Benchmarks: each runs the naive way and ours in the same run and prints both."""


# billing registers `report` before the programmes add `report dormant` to it.
for package in (core_commands, catalogue_commands, enrollment_commands, billing_commands, provider_commands,
                console_commands, programme_commands, hotline_commands, operations_commands, demo_commands,
                telephony_commands, duration_commands, integrity_commands, lifecycle_commands, centre_commands,
                plan_commands):
    package.register(main)


if __name__ == "__main__":
    main()
