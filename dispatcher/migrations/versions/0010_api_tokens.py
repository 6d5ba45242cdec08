"""api tokens: bearer tokens for the provider JSON API

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

import dispatcher.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_at", dispatcher.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", dispatcher.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", dispatcher.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"],
                                name=op.f("fk_api_tokens_provider_id_providers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_provider_id"), "api_tokens", ["provider_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_api_tokens_provider_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
