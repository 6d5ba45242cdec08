"""providers: indexes for matching at scale

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("providers") as batch_op:
        batch_op.drop_index("ix_providers_position")
        batch_op.create_index("ix_providers_position", ["latitude", "longitude", "service_radius_m"])
        batch_op.create_index("ix_providers_service_radius_m", ["service_radius_m"])
    with op.batch_alter_table("orders") as batch_op:
        batch_op.create_index("ix_orders_provider_day", ["provider_id", "window_start_at"])


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_index("ix_orders_provider_day")
    with op.batch_alter_table("providers") as batch_op:
        batch_op.drop_index("ix_providers_service_radius_m")
        batch_op.drop_index("ix_providers_position")
        batch_op.create_index("ix_providers_position", ["latitude", "longitude"])
