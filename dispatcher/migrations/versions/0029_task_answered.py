"""operator tasks: when a person answered the transferred call (the centre's answer times)

Revision ID: 0029_task_answered
Revises: 0028
"""

import sqlalchemy as sa
from alembic import op

import dispatcher.db

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operator_tasks") as batch:
        batch.add_column(sa.Column("answered_at", dispatcher.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("operator_tasks") as batch:
        batch.drop_column("answered_at")
