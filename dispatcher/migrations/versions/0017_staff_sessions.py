"""staff sessions: a session version per staff account, and sign-in attempts counted in one row

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

import dispatcher.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("session_version", sa.Integer(), server_default="1", nullable=False))
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=50), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("window_started_at", dispatcher.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_attempts")),
        sa.UniqueConstraint("username", "remote_addr", name=op.f("uq_sign_in_attempts_username_remote_addr")),
    )
    op.create_index(op.f("ix_sign_in_attempts_window_started_at"), "sign_in_attempts", ["window_started_at"])
    # The failures counted one row each could not be counted atomically; the counters replace them.
    op.drop_index("ix_failed_sign_ins_who", table_name="failed_sign_ins")
    op.drop_table("failed_sign_ins")


def downgrade() -> None:
    op.create_table(
        "failed_sign_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=50), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=False),
        sa.Column("attempted_at", dispatcher.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failed_sign_ins")),
    )
    op.create_index("ix_failed_sign_ins_who", "failed_sign_ins", ["username", "remote_addr", "attempted_at"])
    op.drop_index(op.f("ix_sign_in_attempts_window_started_at"), table_name="sign_in_attempts")
    op.drop_table("sign_in_attempts")
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("session_version")
