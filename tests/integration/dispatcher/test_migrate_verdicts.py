"""Migration 0030 on a database with data: settled disputes get the verdict their order shows."""

from __future__ import annotations

import sqlalchemy as sa

from integration.dispatcher.test_migrate_sources import _at, _insert


def test_settled_disputes_get_the_verdict_their_order_shows(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    _at(engine, "0029")
    meta = sa.MetaData()
    meta.reflect(engine)
    t = meta.tables
    with engine.begin() as c:
        for n, state in ((1, "verified"), (2, "disputed"), (3, "disputed")):
            _insert(c, t["orders"], id=n, order_no=f"N{n}", job_code=f"{n}", state=state)
        _insert(c, t["operator_tasks"], id=1, kind="dispute", order_id=1, dedupe_key="d1",
                resolved_at=sa.func.current_timestamp())
        _insert(c, t["operator_tasks"], id=2, kind="dispute", order_id=2, dedupe_key="d2",
                resolved_at=sa.func.current_timestamp())
        _insert(c, t["operator_tasks"], id=3, kind="dispute", order_id=3, dedupe_key="d3")
        _insert(c, t["operator_tasks"], id=4, kind="low_rating", order_id=2, dedupe_key="l2",
                resolved_at=sa.func.current_timestamp())

    _at(engine, "head")

    with engine.begin() as c:
        verdicts = dict(c.execute(sa.text("SELECT id, verdict FROM operator_tasks ORDER BY id")).all())
    assert verdicts == {1: "happened", 2: "not_happened", 3: None, 4: None}
    engine.dispose()
