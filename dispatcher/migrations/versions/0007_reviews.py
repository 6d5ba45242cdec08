"""reviews: attempts by call outcome, the supervisor's sample with its seed

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

import dispatcher.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("callback_reviews") as batch_op:
        batch_op.add_column(sa.Column("called_at", dispatcher.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_call_status", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("sample_seed", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("is_sampled", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("callback_reviews") as batch_op:
        batch_op.drop_column("is_sampled")
        batch_op.drop_column("sample_seed")
        batch_op.drop_column("last_call_status")
        batch_op.drop_column("called_at")
