"""enrollment: audit log and geocode cache

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-26 10:00:00
"""

import sqlalchemy as sa
from alembic import op

import dispatcher.db

revision = '0003'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', dispatcher.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('entity', sa.String(length=20), nullable=False),
    sa.Column('entity_key', sa.String(length=60), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries'))
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entries_record', ['entity', 'entity_key'], unique=False)

    op.create_table('geocode_cache_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('geocoder', sa.String(length=30), nullable=False),
    sa.Column('query', sa.String(length=300), nullable=False),
    sa.Column('latitude', sa.Double(), nullable=False),
    sa.Column('longitude', sa.Double(), nullable=False),
    sa.Column('precision', sa.String(length=30), nullable=False),
    sa.Column('created_at', dispatcher.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_geocode_cache_entries')),
    sa.UniqueConstraint('geocoder', 'query', name=op.f('uq_geocode_cache_entries_geocoder_query'))
    )


def downgrade() -> None:
    op.drop_table('geocode_cache_entries')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_record')

    op.drop_table('audit_entries')
