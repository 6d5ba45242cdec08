"""wellbeing calls: a daily schedule per elder and one row per day's call

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

import dispatcher.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wellbeing_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("local_time", sa.Time(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("next_due_at", dispatcher.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"],
                                name=op.f("fk_wellbeing_schedules_elder_id_elders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wellbeing_schedules")),
        sa.UniqueConstraint("elder_id", name=op.f("uq_wellbeing_schedules_elder_id")),
    )
    op.create_index(op.f("ix_wellbeing_schedules_next_due_at"), "wellbeing_schedules", ["next_due_at"])
    op.create_table(
        "wellbeing_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("called_at", dispatcher.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("due_at", dispatcher.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", dispatcher.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], name=op.f("fk_wellbeing_calls_elder_id_elders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wellbeing_calls")),
        sa.UniqueConstraint("elder_id", "day", name=op.f("uq_wellbeing_calls_elder_id_day")),
    )
    op.create_index(op.f("ix_wellbeing_calls_elder_id"), "wellbeing_calls", ["elder_id"])


def downgrade() -> None:
    op.drop_table("wellbeing_calls")
    op.drop_table("wellbeing_schedules")
