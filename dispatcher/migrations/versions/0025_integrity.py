"""integrity flags on visits (one per visit and check, held until a supervisor decides) and runs

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

import dispatcher.db

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_UTC = dispatcher.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "integrity_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("check", sa.String(length=20), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=True),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("found_at", _UTC, nullable=False),
        sa.Column("decided_at", _UTC, nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.id"],
                                name=op.f("fk_integrity_flags_visit_id_visits")),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"],
                                name=op.f("fk_integrity_flags_provider_id_providers")),
        sa.ForeignKeyConstraint(["worker_id"], ["workers.id"],
                                name=op.f("fk_integrity_flags_worker_id_workers")),
        sa.ForeignKeyConstraint(["decided_by"], ["staff_users.id"],
                                name=op.f("fk_integrity_flags_decided_by_staff_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrity_flags")),
        sa.UniqueConstraint("visit_id", "check", name=op.f("uq_integrity_flags_visit_id_check")),
    )
    op.create_index("ix_integrity_flags_visit_id", "integrity_flags", ["visit_id"])
    op.create_index("ix_integrity_flags_provider_id", "integrity_flags", ["provider_id"])
    op.create_index("ix_integrity_flags_month_state", "integrity_flags", ["month", "state"])
    op.create_table(
        "integrity_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(length=40), nullable=False),
        sa.Column("since_at", _UTC, nullable=False),
        sa.Column("until_at", _UTC, nullable=False),
        sa.Column("due_at", _UTC, nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("finished_at", _UTC, nullable=True),
        sa.Column("flags_found", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrity_runs")),
        sa.UniqueConstraint("run_key", name=op.f("uq_integrity_runs_run_key")),
    )
    op.create_index("ix_integrity_runs_due", "integrity_runs", ["state", "due_at"])
    # The checks walk a month of visits by check-in time.
    op.create_index("ix_visits_checked_in_at", "visits", ["checked_in_at"])


def downgrade() -> None:
    op.drop_index("ix_visits_checked_in_at", table_name="visits")
    op.drop_index("ix_integrity_runs_due", table_name="integrity_runs")
    op.drop_table("integrity_runs")
    op.drop_index("ix_integrity_flags_month_state", table_name="integrity_flags")
    op.drop_index("ix_integrity_flags_provider_id", table_name="integrity_flags")
    op.drop_index("ix_integrity_flags_visit_id", table_name="integrity_flags")
    op.drop_table("integrity_flags")
