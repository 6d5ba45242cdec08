"""registry: contract dates and reason, capacity per slot, dispatch phones, communities served,
days off; visit deadlines (day-before reminders, late check-in alarms)

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

import dispatcher.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("providers") as batch_op:
        batch_op.add_column(sa.Column("contract_starts_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("contract_ends_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("contract_reason", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("capacity_per_slot", sa.Integer(), nullable=True))
    op.create_table(
        "provider_phones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"], ondelete="CASCADE",
                                name=op.f("fk_provider_phones_provider_id_providers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_phones")),
        sa.UniqueConstraint("provider_id", "phone", name=op.f("uq_provider_phones_provider_id_phone")),
    )
    op.create_index(op.f("ix_provider_phones_phone"), "provider_phones", ["phone"])
    op.create_table(
        "provider_communities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("community", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"], ondelete="CASCADE",
                                name=op.f("fk_provider_communities_provider_id_providers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_communities")),
        sa.UniqueConstraint("provider_id", "community", name=op.f("uq_provider_communities_provider_id_community")),
    )
    op.create_index(op.f("ix_provider_communities_community"), "provider_communities", ["community"])
    op.create_table(
        "provider_days_off",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"], ondelete="CASCADE",
                                name=op.f("fk_provider_days_off_provider_id_providers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_days_off")),
        sa.UniqueConstraint("provider_id", "day", name=op.f("uq_provider_days_off_provider_id_day")),
    )
    op.create_table(
        "visit_deadlines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("due_at", dispatcher.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("handled_at", dispatcher.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_visit_deadlines_order_id_orders")),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"],
                                name=op.f("fk_visit_deadlines_provider_id_providers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_deadlines")),
        sa.UniqueConstraint("key", name=op.f("uq_visit_deadlines_key")),
    )
    op.create_index(op.f("ix_visit_deadlines_order_id"), "visit_deadlines", ["order_id"])
    op.create_index("ix_visit_deadlines_due", "visit_deadlines", ["state", "due_at"])


def downgrade() -> None:
    op.drop_table("visit_deadlines")
    op.drop_table("provider_days_off")
    op.drop_table("provider_communities")
    op.drop_table("provider_phones")
    with op.batch_alter_table("providers") as batch_op:
        batch_op.drop_column("capacity_per_slot")
        batch_op.drop_column("contract_reason")
        batch_op.drop_column("contract_ends_on")
        batch_op.drop_column("contract_starts_on")
