"""family members in the loop; the visit code the elder reads to the worker

Revision ID: 0028
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "family_members",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("elder_id", sa.Integer(), sa.ForeignKey("elders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("relation", sa.String(length=20), nullable=False),
        sa.Column("wants_visit_sms", sa.Boolean(), nullable=False),
        sa.Column("wants_statement", sa.Boolean(), nullable=False),
        sa.Column("is_review_contact", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("elder_id", "phone", name="uq_family_members_elder_id_phone"),
    )
    op.create_index("ix_family_members_elder_id", "family_members", ["elder_id"])
    op.create_index("ix_family_members_phone", "family_members", ["phone"])
    with op.batch_alter_table("elders") as batch:
        batch.add_column(sa.Column("is_reviewed_via_family", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("visit_code", sa.String(length=6), nullable=True))
        batch.add_column(sa.Column("visit_code_failures", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("visit_code_failures")
        batch.drop_column("visit_code")
    with op.batch_alter_table("elders") as batch:
        batch.drop_column("is_reviewed_via_family")
    op.drop_table("family_members")
