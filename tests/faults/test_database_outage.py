"""The database away for 10 s under a steady stream of webhooks: safe answers at once, recovery
without a restart, and the offer expiry that fell due in the gap runs exactly once.

On PostgreSQL the server is really stopped and started: a private throwaway cluster, never the
shared one. On SQLite another writer holds the write lock.
"""

from __future__ import annotations

import sqlite3

import pytest
from conftest import PG_URL

from dispatcher.operations import chaos, outage

DB_WAIT_S = 2
# The answer must come within the bounded wait plus the request itself, well under Twilio's 15 s.
ANSWER_WITHIN_S = DB_WAIT_S + 2


def _check(outcome: outage.OutageOutcome, undisturbed: outage.OutageOutcome) -> None:
    during = outcome.during()
    assert len(during) >= 10
    assert all(a.safe for a in during), [a.text for a in during if not a.safe]
    assert max(a.took_s for a in outcome.answers) < ANSWER_WITHIN_S
    after = outcome.after()
    assert after and not any(a.safe for a in after), "the app should recover without a restart"
    assert outcome.processes_alive and outcome.restarts == 0
    assert outcome.counts == undisturbed.counts
    assert outcome.counts["sent_twice"] == 0 and outcome.counts["offers"] >= 2


@pytest.mark.skipif(not PG_URL, reason="runs in the PostgreSQL pass (it starts a private cluster)")
@pytest.mark.skipif(outage.PrivateCluster.binaries() is None,
                    reason="no PostgreSQL server binaries (initdb, pg_ctl) to start a private cluster")
def test_postgresql_stopped_for_ten_seconds_under_load_answers_safely_and_runs_the_missed_expiry_once(
    tmp_path,
):
    cluster = outage.PrivateCluster()
    try:
        cluster.init()
        chaos.prepare_database(cluster.url, tmp_path)
        undisturbed = outage.run_outage(cluster.url, tmp_path)
        chaos.prepare_database(cluster.url, tmp_path)
        outcome = outage.run_outage(cluster.url, tmp_path, away=cluster.stop, back=cluster.start)
    finally:
        cluster.destroy()
    _check(outcome, undisturbed)


@pytest.mark.skipif(bool(PG_URL), reason="runs in the SQLite pass")
def test_sqlite_locked_by_another_writer_for_ten_seconds_under_load_answers_safely_and_runs_the_missed_expiry_once(
    tmp_path,
):
    databases = chaos.Databases(tmp_path)
    undisturbed = outage.run_outage(databases.fresh(), tmp_path)
    url = databases.fresh()
    blocker = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)

    outcome = outage.run_outage(url, tmp_path, away=lambda: blocker.execute("BEGIN IMMEDIATE"),
                               back=lambda: blocker.execute("ROLLBACK"))
    blocker.close()

    _check(outcome, undisturbed)
