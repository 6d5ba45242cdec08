"""billing: adjustments to closed months, and the closed months themselves

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:12:12.649303
"""

import sqlalchemy as sa
from alembic import op

import dispatcher.db

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# The database keeps the ledger append-only and closed months shut, whatever the client.
SQLITE_TRIGGERS = [
    "CREATE TRIGGER ledger_postings_no_update BEFORE UPDATE ON ledger_postings "
    "BEGIN SELECT RAISE(ABORT, 'ledger postings are never updated'); END",
    "CREATE TRIGGER ledger_postings_no_delete BEFORE DELETE ON ledger_postings "
    "BEGIN SELECT RAISE(ABORT, 'ledger postings are never deleted'); END",
    "CREATE TRIGGER ledger_postings_open_month BEFORE INSERT ON ledger_postings "
    "WHEN EXISTS (SELECT 1 FROM closed_months WHERE month = NEW.month) "
    "BEGIN SELECT RAISE(ABORT, 'ledger month is closed'); END",
]
POSTGRESQL_TRIGGERS = [
    """CREATE OR REPLACE FUNCTION ledger_postings_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'INSERT' THEN
        RAISE EXCEPTION 'ledger postings are never %', lower(TG_OP) || 'd';
      END IF;
      IF EXISTS (SELECT 1 FROM closed_months WHERE month = NEW.month) THEN
        RAISE EXCEPTION 'ledger month % is closed', NEW.month;
      END IF;
      RETURN NEW;
    END $$""",
    "CREATE TRIGGER ledger_postings_guard BEFORE INSERT OR UPDATE OR DELETE ON ledger_postings "
    "FOR EACH ROW EXECUTE FUNCTION ledger_postings_guard()",
]


def upgrade() -> None:
    op.create_table('closed_months',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('closed_at', dispatcher.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('is_forced', sa.Boolean(), nullable=False),
    sa.Column('pending_reviews', sa.Integer(), nullable=False),
    sa.Column('policy_version', sa.String(length=20), nullable=False),
    sa.Column('policy_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('totals', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('month', name=op.f('pk_closed_months'))
    )
    with op.batch_alter_table('ledger_postings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('service_month', sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column('original_txn_key', sa.String(length=60), nullable=True))
    # Until now every posting was booked in its visit's month.
    op.execute("UPDATE ledger_postings SET service_month = month")
    with op.batch_alter_table('ledger_postings', schema=None) as batch_op:
        batch_op.alter_column('service_month', existing_type=sa.String(length=7), nullable=False)
        batch_op.create_index('ix_ledger_postings_elder_service_month', ['elder_id', 'service_month'], unique=False)
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_TRIGGERS, "postgresql": POSTGRESQL_TRIGGERS}.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ledger_postings_guard ON ledger_postings")
        op.execute("DROP FUNCTION IF EXISTS ledger_postings_guard()")
    else:
        for name in ("ledger_postings_no_update", "ledger_postings_no_delete",
                     "ledger_postings_open_month"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table('ledger_postings', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_postings_elder_service_month')
        batch_op.drop_column('original_txn_key')
        batch_op.drop_column('service_month')

    op.drop_table('closed_months')
