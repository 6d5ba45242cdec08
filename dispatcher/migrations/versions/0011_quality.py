"""quality: the parts of each provider's score, suspensions with their reasons, review comments

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

import dispatcher.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("providers") as batch_op:
        batch_op.add_column(sa.Column("quality_parts", sa.JSON(), nullable=True))
    with op.batch_alter_table("callback_reviews") as batch_op:
        batch_op.add_column(sa.Column("comment_url", sa.String(length=500), nullable=True))
    op.create_table(
        "provider_suspensions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("suspended_at", dispatcher.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reinstated_at", dispatcher.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reinstated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"],
                                name=op.f("fk_provider_suspensions_provider_id_providers")),
        sa.ForeignKeyConstraint(["reinstated_by"], ["staff_users.id"],
                                name=op.f("fk_provider_suspensions_reinstated_by_staff_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_suspensions")),
    )
    op.create_index(op.f("ix_provider_suspensions_provider_id"), "provider_suspensions", ["provider_id"])


def downgrade() -> None:
    op.drop_table("provider_suspensions")
    with op.batch_alter_table("callback_reviews") as batch_op:
        batch_op.drop_column("comment_url")
    with op.batch_alter_table("providers") as batch_op:
        batch_op.drop_column("quality_parts")
