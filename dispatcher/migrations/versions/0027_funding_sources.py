"""funding sources on every ledger posting; free items get a market price and a contracted price

Every ledger posting names its funding source. Postings booked before are read as `unsplit`
through the column's default: no posting is updated, so no closed month changes (on SQLite the
table is rebuilt to change its unique key; its rows are copied as they are and the append-only
triggers are created again).

Free items are paid by the government at their contracted price, so they need one. The
catalogue's free items get market prices (the same figures as dispatcher/data/catalogue.toml);
an offering of a free item still at 0 is contracted at 80% of that market price (the ceiling,
rounded down to ten fen), which a provider may lower with `vnh provider price`; an offer still
open on such an item gets the same price. Ledger postings keep what they booked: a free visit
already charged at 0 stays at 0 unless corrected.

Revision ID: 0027
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op

from billing.models import TRIGGERS

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

FREE_ITEM_MARKET_FEN = {"HC01": 3000, "HC04": 3000, "CP01": 2000, "CP02": 5000, "EM01": 10000,
                        "EM02": 15000, "EM05": 10000, "EM06": 20000}
_OLD_INDEX = ["visit_id", "month", "account", "kind", "amount_fen", "service_month", "elder_class"]


def _rebuild(add_source: bool) -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("ledger_postings") as batch_op:
        batch_op.drop_index("ix_ledger_postings_visit_amounts")
        batch_op.drop_index("ix_ledger_postings_month_account")
        if add_source:
            batch_op.add_column(sa.Column("source", sa.String(length=30),
                                          server_default="unsplit", nullable=False))
            batch_op.drop_constraint("uq_ledger_postings_txn_key_account", type_="unique")
            batch_op.create_unique_constraint("uq_ledger_postings_txn_key_account_source",
                                              ["txn_key", "account", "source"])
            batch_op.create_index("ix_ledger_postings_visit_amounts", [*_OLD_INDEX, "source"])
            batch_op.create_index("ix_ledger_postings_month_account", ["month", "account", "source"])
        else:
            batch_op.drop_constraint("uq_ledger_postings_txn_key_account_source", type_="unique")
            batch_op.create_unique_constraint("uq_ledger_postings_txn_key_account",
                                              ["txn_key", "account"])
            batch_op.drop_column("source")
            batch_op.create_index("ix_ledger_postings_visit_amounts", _OLD_INDEX)
            batch_op.create_index("ix_ledger_postings_month_account", ["month", "account"])
    if dialect == "sqlite":  # the rebuilt table lost its triggers
        for name in ("ledger_postings_no_update", "ledger_postings_no_delete",
                     "ledger_postings_open_month"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        for statement in TRIGGERS["sqlite"]:
            op.execute(statement)


def upgrade() -> None:
    _rebuild(add_source=True)
    items = sa.table("items", sa.column("id", sa.Integer), sa.column("code", sa.String),
                     sa.column("is_free", sa.Boolean), sa.column("market_price_fen", sa.Integer))
    offerings = sa.table("offerings", sa.column("item_id", sa.Integer),
                         sa.column("price_fen", sa.Integer))
    for code, fen in FREE_ITEM_MARKET_FEN.items():
        op.execute(items.update().where(items.c.code == code, items.c.market_price_fen == 0)
                   .values(market_price_fen=fen))
    free = sa.select(items.c.id).where(items.c.is_free == sa.true())
    ceiling = sa.select(items.c.market_price_fen * 80 / 100 / 10 * 10).where(
        items.c.id == offerings.c.item_id).scalar_subquery()
    op.execute(offerings.update().where(offerings.c.price_fen == 0, offerings.c.item_id.in_(free))
               .values(price_fen=ceiling))
    op.execute(sa.text(
        "UPDATE offers SET price_fen = (SELECT o.price_fen FROM offerings o, orders r "
        "WHERE r.id = offers.order_id AND o.item_id = r.item_id "
        "AND o.provider_id = offers.provider_id) "
        "WHERE price_fen = 0 AND status IN ('offered', 'accepted') "
        "AND order_id IN (SELECT r.id FROM orders r JOIN items i ON i.id = r.item_id "
        "WHERE i.is_free = :yes) "
        "AND order_id NOT IN (SELECT v.order_id FROM visits v WHERE v.checked_out_at IS NOT NULL) "
        "AND EXISTS (SELECT 1 FROM offerings o, orders r WHERE r.id = offers.order_id "
        "AND o.item_id = r.item_id AND o.provider_id = offers.provider_id)"
    ).bindparams(yes=True))


def downgrade() -> None:
    _rebuild(add_source=False)
