"""Two and three `vnh scheduler` processes on one PostgreSQL, on an accelerated clock, the lease
holder killed once: no work done twice, none missed, counted from the rows."""

from __future__ import annotations

import pytest
from conftest import PG_URL

from dispatcher.operations import outage

pytestmark = pytest.mark.skipif(not PG_URL, reason="the scheduler lease is PostgreSQL's advisory lock")
SPEED = 60  # a simulated minute per wall second
WALL_S = 35
ORDERS = 20


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory):
    return outage.run_soak_undisturbed(PG_URL, tmp_path_factory.mktemp("soak"), ORDERS)


@pytest.mark.parametrize("schedulers", [2, 3])
def test_schedulers_sharing_one_database_with_the_holder_killed_do_every_expiry_and_send_exactly_once(
    tmp_path, undisturbed, schedulers
):
    outcome = outage.run_soak(PG_URL, tmp_path, schedulers=schedulers, wall_s=WALL_S, speed=SPEED,
                             orders=ORDERS)

    assert outcome.simulated_s >= 5 * 60
    assert outcome.killed is not None, "the lease holder should have been found and killed"
    assert outcome.takeover_s is not None and outcome.takeover_s < 30
    assert len(outcome.holders) >= 2
    assert outcome.duplicates == dict.fromkeys(outage.SOAK_DUPLICATES, 0)
    assert outcome.missed == dict.fromkeys(outage.SOAK_MISSED, 0)
    assert outcome.counts == undisturbed
    assert outcome.counts["offers"] > outcome.counts["orders"]  # expiries happened
