"""month end: the reminder to close each month, a calendar job kept as rows

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

import dispatcher.db

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "month_end_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("due_at", dispatcher.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("handled_at", dispatcher.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_month_end_reminders")),
        sa.UniqueConstraint("month", name=op.f("uq_month_end_reminders_month")),
    )
    op.create_index("ix_month_end_reminders_due", "month_end_reminders", ["state", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_month_end_reminders_due", table_name="month_end_reminders")
    op.drop_table("month_end_reminders")
