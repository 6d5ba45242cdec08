"""enrollment files uploaded in the browser, kept between the dry run and the apply

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

import dispatcher.db

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enrollment_uploads",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), sa.ForeignKey("staff_users.id"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", dispatcher.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("applied_at", dispatcher.db.UTCDateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("token", name="uq_enrollment_uploads_token"),
    )
    op.create_index("ix_enrollment_uploads_staff_user_id", "enrollment_uploads", ["staff_user_id"])
    op.create_index("ix_enrollment_uploads_created_at", "enrollment_uploads", ["created_at"])


def downgrade() -> None:
    op.drop_table("enrollment_uploads")
