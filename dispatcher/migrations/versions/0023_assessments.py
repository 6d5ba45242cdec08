"""assessments (能力评估) kept as history, elders' long-term care insurance, hourly approvals;
every elder with a disability level gets it as their first assessment

Revision ID: 0023
Revises: 0022
"""

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

LOCAL = timedelta(hours=8)  # Asia/Shanghai has no daylight saving


def _year_on(day: date) -> date:
    """The day before the anniversary: 12 months of validity (29 Feb counts to 28 Feb)."""
    try:
        return day.replace(year=day.year + 1) - timedelta(days=1)
    except ValueError:
        return date(day.year + 1, 2, 27)


def upgrade() -> None:
    assessments = op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("elder_id", sa.Integer(), sa.ForeignKey(
            "elders.id", ondelete="CASCADE", name="fk_assessments_elder_id_elders"), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("assessor", sa.String(length=50), nullable=False),
        sa.Column("organisation", sa.String(length=100), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assessments"),
    )
    op.create_index("ix_assessments_elder_day", "assessments", ["elder_id", "assessed_on"])
    op.create_table(
        "hourly_approvals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("visit_id", sa.Integer(), sa.ForeignKey(
            "visits.id", name="fk_hourly_approvals_visit_id_visits"), nullable=False),
        sa.Column("approved_minutes", sa.Integer(), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hourly_approvals"),
        sa.UniqueConstraint("visit_id", name="uq_hourly_approvals_visit_id"),
    )
    with op.batch_alter_table("elders") as batch:
        batch.add_column(sa.Column("is_insured", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    # The level each elder was enrolled with becomes their first assessment: made the day they
    # were enrolled, holding 12 months from today so that nobody loses an entitlement overnight.
    now = datetime.now(UTC)
    today = (now + LOCAL).date()
    elders = sa.table("elders", sa.column("id", sa.Integer), sa.column("created_at", sa.DateTime),
                      sa.column("disability_level", sa.String))
    rows = op.get_bind().execute(
        sa.select(elders.c.id, elders.c.created_at, elders.c.disability_level)
        .where(elders.c.disability_level != "")
    ).all()
    op.bulk_insert(assessments, [
        {"elder_id": elder_id, "assessed_on": min(_local_day(enrolled, today), today),
         "level": level, "score": None, "assessor": "登记表", "organisation": "",
         "valid_until": _year_on(today), "source": "enrollment", "recorded_by": "migration",
         "created_at": now}
        for elder_id, enrolled, level in rows
    ])


def _local_day(moment, today: date) -> date:
    if moment is None:
        return today
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment.astimezone(UTC) + LOCAL).date()


def downgrade() -> None:
    with op.batch_alter_table("elders") as batch:
        batch.drop_column("is_insured")
    op.drop_table("hourly_approvals")
    op.drop_index("ix_assessments_elder_day", table_name="assessments")
    op.drop_table("assessments")
