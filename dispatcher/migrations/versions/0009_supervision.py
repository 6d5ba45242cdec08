"""supervision: complaints, case resolutions, staff phones for click-to-call

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

import dispatcher.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("logged_by", sa.Integer(), nullable=False),
        sa.Column("created_at", dispatcher.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], name=op.f("fk_complaints_elder_id_elders")),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"],
                                name=op.f("fk_complaints_provider_id_providers")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_complaints_order_id_orders")),
        sa.ForeignKeyConstraint(["logged_by"], ["staff_users.id"],
                                name=op.f("fk_complaints_logged_by_staff_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
    )
    op.create_index(op.f("ix_complaints_elder_id"), "complaints", ["elder_id"])
    op.create_index(op.f("ix_complaints_provider_id"), "complaints", ["provider_id"])
    with op.batch_alter_table("operator_tasks") as batch_op:
        batch_op.add_column(sa.Column("resolved_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("resolution", sa.String(length=500), nullable=True))
        batch_op.create_foreign_key(op.f("fk_operator_tasks_resolved_by_staff_users"), "staff_users",
                                    ["resolved_by"], ["id"])
    with op.batch_alter_table("staff_users") as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_users") as batch_op:
        batch_op.drop_column("phone")
    with op.batch_alter_table("operator_tasks") as batch_op:
        batch_op.drop_constraint(op.f("fk_operator_tasks_resolved_by_staff_users"), type_="foreignkey")
        batch_op.drop_column("resolution")
        batch_op.drop_column("resolved_by")
    op.drop_table("complaints")
