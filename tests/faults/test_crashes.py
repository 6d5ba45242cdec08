"""`kill -9` at named points of a dispatch: after a restart every order completes exactly once."""

from __future__ import annotations

import pytest
from conftest import PG_URL

from dispatcher.operations import chaos

FAULTS = [s for s in chaos.SCENARIOS if s[2] is not None]


@pytest.fixture(scope="module")
def databases(tmp_path_factory):
    return chaos.Databases(tmp_path_factory.mktemp("chaos"), PG_URL or None)


@pytest.fixture(scope="module")
def undisturbed(databases):
    outcome = chaos.run_scenario("undisturbed", None, None, databases.fresh(), databases.workdir)
    assert outcome.restarts == 0
    assert outcome.counts["orders"] == outcome.counts["visits"] == 1
    assert outcome.counts["postings"] > 0 and outcome.counts["network_sends"] == outcome.counts["outbox"]
    return outcome.counts


@pytest.mark.parametrize("name, fault_in, fault", FAULTS, ids=[s[2] for s in FAULTS])
def test_a_process_killed_at_this_point_restarts_and_the_rows_end_as_in_an_undisturbed_run(
    databases, undisturbed, name, fault_in, fault
):
    outcome = chaos.run_scenario(name, fault_in, fault, databases.fresh(), databases.workdir)

    assert outcome.restarts == 1, "the fault should have killed a process exactly once"
    assert outcome.counts == undisturbed
    assert outcome.counts["sent_twice"] == 0
