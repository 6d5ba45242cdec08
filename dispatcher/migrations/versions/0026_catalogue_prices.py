"""the catalogue as data: where an item happens, and its market prices over time

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("place", sa.String(length=20), server_default="home", nullable=False))
        batch.add_column(sa.Column("venue", sa.String(length=50), nullable=True))
    op.create_table(
        "item_price_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("items.id"), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("market_price_fen", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=50), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.UniqueConstraint("item_id", "effective_on", name="uq_item_price_versions_item_id_effective_on"),
    )
    op.create_index("ix_item_price_versions_item_id", "item_price_versions", ["item_id"])


def downgrade() -> None:
    op.drop_table("item_price_versions")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("venue")
        batch.drop_column("place")
