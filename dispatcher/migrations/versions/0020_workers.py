"""workers on record and how each end of a visit was proved

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_VISIT_COLUMNS = (
    ("check_in_method", sa.String(length=20)),
    ("check_out_method", sa.String(length=20)),
    ("check_in_lat", sa.Float()),
    ("check_in_lng", sa.Float()),
    ("check_out_lat", sa.Float()),
    ("check_out_lng", sa.Float()),
    ("check_in_device", sa.String(length=64)),
    ("check_out_device", sa.String(length=64)),
)


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("provider_id", sa.Integer(), sa.ForeignKey("providers.id"), nullable=False),
        sa.Column("work_number", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("items", sa.String(length=500), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("provider_id", "id_number", name="uq_workers_provider_id_number"),
        sa.UniqueConstraint("provider_id", "work_number", name="uq_workers_provider_work_number"),
    )
    op.create_index("ix_workers_provider_id", "workers", ["provider_id"])
    op.create_index("ix_workers_phone", "workers", ["phone"])
    op.create_index("ix_workers_id_number", "workers", ["id_number"])
    op.create_table(
        "worker_certificates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("worker_id", sa.Integer(), sa.ForeignKey("workers.id"), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
    )
    op.create_index("ix_worker_certificates_worker_id", "worker_certificates", ["worker_id"])
    with op.batch_alter_table("visits") as batch:
        batch.add_column(sa.Column("worker_id", sa.Integer(), nullable=True))
        for name, kind in _VISIT_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
        batch.create_foreign_key("fk_visits_worker_id_workers", "workers", ["worker_id"], ["id"])
        batch.create_index("ix_visits_worker_id", ["worker_id"])


def downgrade() -> None:
    with op.batch_alter_table("visits") as batch:
        batch.drop_index("ix_visits_worker_id")
        batch.drop_constraint("fk_visits_worker_id_workers", type_="foreignkey")
        for name, _kind in reversed(_VISIT_COLUMNS):
            batch.drop_column(name)
        batch.drop_column("worker_id")
    op.drop_table("worker_certificates")
    op.drop_table("workers")
