"""the operator's desk: what the network last said of a transferred call (ringing, talking, ended)

Revision ID: 0031
Revises: 0030
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hotline_calls") as batch:
        batch.add_column(sa.Column("call_status", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hotline_calls") as batch:
        batch.drop_column("call_status")
