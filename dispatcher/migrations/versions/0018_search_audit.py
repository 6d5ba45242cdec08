"""search audit: every search for elders, its query masked; also the per-minute search limit's counter

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

import dispatcher.db

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "elder_searches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=False),
        sa.Column("query_masked", sa.String(length=100), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("searched_at", dispatcher.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["staff_user_id"], ["staff_users.id"],
                                name=op.f("fk_elder_searches_staff_user_id_staff_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_elder_searches")),
    )
    op.create_index("ix_elder_searches_who", "elder_searches", ["staff_user_id", "searched_at"])


def downgrade() -> None:
    op.drop_index("ix_elder_searches_who", table_name="elder_searches")
    op.drop_table("elder_searches")
