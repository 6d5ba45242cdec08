"""staff accounts bound to a street or community, and the record of changes to staff accounts

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("street", sa.String(length=50), nullable=True))
        batch.add_column(sa.Column("community", sa.String(length=50), nullable=True))
    op.create_table(
        "staff_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("staff_user_id", sa.Integer(), sa.ForeignKey("staff_users.id"), nullable=False),
        sa.Column("changed_by", sa.Integer(), sa.ForeignKey("staff_users.id"), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("before", sa.Text(), nullable=False),
        sa.Column("after", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_staff_changes_staff_user_id", "staff_changes", ["staff_user_id"])


def downgrade() -> None:
    op.drop_index("ix_staff_changes_staff_user_id", table_name="staff_changes")
    op.drop_table("staff_changes")
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("community")
        batch.drop_column("street")
