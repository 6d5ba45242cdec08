"""hotline: visit verification by phone, voicemail and priority on operator tasks

Revision ID: 0004
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("visits") as batch_op:
        batch_op.add_column(sa.Column("worker_ref", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("check_in_phone", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("check_out_phone", sa.String(length=20), nullable=True))
    with op.batch_alter_table("operator_tasks") as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="5"))
        batch_op.add_column(sa.Column("recording_url", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("operator_tasks") as batch_op:
        batch_op.drop_column("recording_url")
        batch_op.drop_column("priority")
    with op.batch_alter_table("visits") as batch_op:
        batch_op.drop_column("check_out_phone")
        batch_op.drop_column("check_in_phone")
        batch_op.drop_column("worker_ref")
