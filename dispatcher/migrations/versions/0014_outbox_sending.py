"""outbox_sending: the time a message was claimed for sending; the local network's record of sends

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

import dispatcher.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch_op:
        batch_op.add_column(sa.Column("claimed_at", dispatcher.db.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "local_network_sends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("to_number", sa.String(length=20), nullable=False),
        sa.Column("from_number", sa.String(length=20), nullable=False),
        sa.Column("sent_at", dispatcher.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_local_network_sends")),
        sa.UniqueConstraint("sid", name=op.f("uq_local_network_sends_sid")),
    )
    with op.batch_alter_table("local_network_sends") as batch_op:
        batch_op.create_index(batch_op.f("ix_local_network_sends_key"), ["key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("local_network_sends") as batch_op:
        batch_op.drop_index(batch_op.f("ix_local_network_sends_key"))
    op.drop_table("local_network_sends")
    with op.batch_alter_table("outbox_messages") as batch_op:
        batch_op.drop_column("claimed_at")
