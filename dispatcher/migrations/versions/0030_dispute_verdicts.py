"""a dispute's verdict, so a denial docks the provider only once judged against it (issue 19)

Disputes already settled before this revision get the verdict their order shows: a visit found to
have happened was moved on to `verified`; one found not to have happened stayed `disputed`.

Revision ID: 0030
Revises: 0029
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operator_tasks") as batch:
        batch.add_column(sa.Column("verdict", sa.String(length=20), nullable=True))
    op.execute(
        "UPDATE operator_tasks SET verdict = CASE WHEN (SELECT state FROM orders WHERE orders.id = "
        "operator_tasks.order_id) = 'verified' THEN 'happened' ELSE 'not_happened' END "
        "WHERE kind = 'dispute' AND resolved_at IS NOT NULL AND order_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("operator_tasks") as batch:
        batch.drop_column("verdict")
