"""care plans: standing services, their pauses and changes; orders become their occurrences

Revision ID: 0032
Revises: 0031
"""

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "care_plans",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("elder_id", sa.Integer(), sa.ForeignKey("elders.id"), nullable=False),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("items.id"), nullable=False),
        sa.Column("rule", sa.String(length=500), nullable=False),
        sa.Column("at_time", sa.Time(), nullable=False),
        sa.Column("duration_min", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("preferred_provider_id", sa.Integer(), sa.ForeignKey("providers.id"), nullable=True),
        sa.Column("provider_id", sa.Integer(), sa.ForeignKey("providers.id"), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_care_plans_elder_id", "care_plans", ["elder_id"])
    op.create_index("ix_care_plans_provider_id", "care_plans", ["provider_id"])
    op.create_index("ix_care_plans_state", "care_plans", ["state"])
    op.create_table(
        "plan_pauses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("care_plans.id", ondelete="CASCADE"), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_plan_pauses_plan_id", "plan_pauses", ["plan_id"])
    op.create_table(
        "plan_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("care_plans.id", ondelete="CASCADE"), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("changed_by", sa.Integer(), sa.ForeignKey("staff_users.id"), nullable=True),
        sa.Column("before", sa.Text(), nullable=False),
        sa.Column("after", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_plan_changes_plan_id", "plan_changes", ["plan_id"])
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("plan_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("occurrence_date", sa.Date(), nullable=True))
        batch.create_foreign_key("fk_orders_plan_id_care_plans", "care_plans", ["plan_id"], ["id"])
        batch.create_index("ix_orders_plan_id", ["plan_id"])
    op.create_index("uq_orders_plan_occurrence", "orders", ["plan_id", "occurrence_date"], unique=True,
                    postgresql_where=sa.text("state <> 'cancelled'"),
                    sqlite_where=sa.text("state <> 'cancelled'"))


def downgrade() -> None:
    op.drop_index("uq_orders_plan_occurrence", table_name="orders")
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_plan_id")
        batch.drop_constraint("fk_orders_plan_id_care_plans", type_="foreignkey")
        batch.drop_column("occurrence_date")
        batch.drop_column("plan_id")
    op.drop_table("plan_changes")
    op.drop_table("plan_pauses")
    op.drop_table("care_plans")
