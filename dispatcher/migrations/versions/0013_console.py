"""console: the audit record of views of an elder's full record, and failed sign-ins

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

import dispatcher.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "elder_record_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("viewed_at", dispatcher.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["elder_id"], ["elders.id"], name=op.f("fk_elder_record_views_elder_id_elders")),
        sa.ForeignKeyConstraint(["staff_user_id"], ["staff_users.id"],
                                name=op.f("fk_elder_record_views_staff_user_id_staff_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_elder_record_views")),
    )
    op.create_index(op.f("ix_elder_record_views_elder_id"), "elder_record_views", ["elder_id"])
    op.create_index(op.f("ix_elder_record_views_staff_user_id"), "elder_record_views", ["staff_user_id"])
    op.create_table(
        "failed_sign_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=50), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=False),
        sa.Column("attempted_at", dispatcher.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failed_sign_ins")),
    )
    op.create_index("ix_failed_sign_ins_who", "failed_sign_ins", ["username", "remote_addr", "attempted_at"])


def downgrade() -> None:
    op.drop_table("failed_sign_ins")
    op.drop_table("elder_record_views")
