"""report index: the reports read each visit's postings from two covering indexes

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ledger_postings_month_visit", "ledger_postings", ["month", "visit_id"])
    op.create_index("ix_ledger_postings_visit_amounts", "ledger_postings",
                    ["visit_id", "month", "account", "kind", "amount_fen", "service_month",
                     "elder_class"])


def downgrade() -> None:
    op.drop_index("ix_ledger_postings_visit_amounts", table_name="ledger_postings")
    op.drop_index("ix_ledger_postings_month_visit", table_name="ledger_postings")
