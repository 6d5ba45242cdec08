"""Migration 0027 on a database with data: no posting rewritten, free items priced."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import sqlalchemy as sa
from alembic import command

from dispatcher.migrate import alembic_config

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _filler(column: sa.Column):
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer):
        return 1
    if isinstance(kind, sa.Float):
        return 0.0
    if isinstance(kind, sa.DateTime):
        return NOW
    if isinstance(kind, sa.Date):
        return date(1940, 1, 1)
    if isinstance(kind, sa.Time):
        return time(8)
    if isinstance(kind, sa.JSON):
        return {}
    return "x"


def _insert(connection, table: sa.Table, **values) -> None:
    row = {c.name: _filler(c) for c in table.columns
           if not c.nullable and c.server_default is None and not c.primary_key}
    connection.execute(table.insert().values(**(row | values)))


def _at(engine, revision: str) -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_the_migration_keeps_every_posting_and_contracts_free_items_at_a_price(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    _at(engine, "0026")
    meta = sa.MetaData()
    meta.reflect(engine)
    t = meta.tables
    with engine.begin() as c:
        _insert(c, t["categories"], id=1, code="EM")
        _insert(c, t["items"], id=1, code="EM02", category_id=1, is_free=True,
                market_price_fen=0)
        _insert(c, t["items"], id=2, code="HK01", category_id=1, is_free=False,
                market_price_fen=6000)
        _insert(c, t["providers"], id=1, code="P1")
        _insert(c, t["offerings"], id=1, provider_id=1, item_id=1, price_fen=0)
        _insert(c, t["offerings"], id=2, provider_id=1, item_id=2, price_fen=4800)
        for n, (account, amount) in enumerate((("subsidy_pending", 2400),
                                               ("elder_copay", 2400),
                                               ("provider_revenue", -4800)), 1):
            _insert(c, t["ledger_postings"], id=n, txn_key="visit:1:charge", kind="charge",
                    account=account, amount_fen=amount, month="2026-10",
                    service_month="2026-10", order_id=1, visit_id=1, elder_id=1,
                    provider_id=1)
        _insert(c, t["closed_months"], month="2026-10", policy_version="2026-01",
                policy_fingerprint="f", totals={})
        before = c.execute(sa.text("SELECT id, txn_key, account, amount_fen, month, created_at "
                                   "FROM ledger_postings ORDER BY id")).all()

    _at(engine, "head")

    with engine.begin() as c:
        after = c.execute(sa.text("SELECT id, txn_key, account, amount_fen, month, created_at "
                                  "FROM ledger_postings ORDER BY id")).all()
        assert after == before
        assert set(c.scalars(sa.text("SELECT source FROM ledger_postings"))) == {"unsplit"}
        assert c.execute(sa.text("SELECT item_id, price_fen FROM offerings ORDER BY id")).all() \
            == [(1, 12000), (2, 4800)]  # 80% of 跌倒救助's 150.00 market price
        assert c.scalar(sa.text("SELECT market_price_fen FROM items WHERE code = 'EM02'")) == 15000
    with engine.connect() as c:  # the rebuilt table kept its append-only triggers
        for statement in ("UPDATE ledger_postings SET amount_fen = 0",
                          "DELETE FROM ledger_postings"):
            try:
                c.execute(sa.text(statement))
            except sa.exc.DatabaseError as error:
                assert "never" in str(error)
            else:
                raise AssertionError(f"{statement} was allowed")
        c.rollback()
    engine.dispose()
