"""dashboard: daily rollups (filled from the incidents) and indexes for open incidents and deadlines

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 23:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

INCIDENT = (
    ('ix_incident_dash_open', ['org_id', 'is_open', 'state', 'severity', 'workflow', 'workflow_version']),
)
DEADLINE = (
    ('ix_deadline_dash_unmet', ['org_id', 'met_at', 'kind', 'due_at', 'incident_id']),
    ('ix_deadline_dash_kind_due', ['org_id', 'kind', 'due_at', 'met_at']),
)


def upgrade():
    op.create_table('dashboard_daily',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('metric', sa.String(length=8), nullable=False),
    sa.Column('key', sa.String(length=160), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_dashboard_daily_org_id_organisation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dashboard_daily')),
    sa.UniqueConstraint('org_id', 'day', 'metric', 'key', name='uq_dashboard_daily')
    )
    with op.batch_alter_table('dashboard_daily', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dashboard_daily_org_id'), ['org_id'], unique=False)
        batch_op.create_index('ix_dashboard_daily_metric_key', ['org_id', 'metric', 'key', 'day', 'n'], unique=False)
    with op.batch_alter_table('incident', schema=None) as batch_op:
        for name, columns in INCIDENT:
            batch_op.create_index(name, columns, unique=False)
    with op.batch_alter_table('deadline', schema=None) as batch_op:
        for name, columns in DEADLINE:
            batch_op.create_index(name, columns, unique=False)
    # Fill the rollups from the incidents already there (the app's code: the same rules as the hook).
    from app.dashboard import rollup

    rollup.backfill(op.get_bind())


def downgrade():
    with op.batch_alter_table('deadline', schema=None) as batch_op:
        for name, _columns in reversed(DEADLINE):
            batch_op.drop_index(name)
    with op.batch_alter_table('incident', schema=None) as batch_op:
        for name, _columns in reversed(INCIDENT):
            batch_op.drop_index(name)
    with op.batch_alter_table('dashboard_daily', schema=None) as batch_op:
        batch_op.drop_index('ix_dashboard_daily_metric_key')
        batch_op.drop_index(batch_op.f('ix_dashboard_daily_org_id'))
    op.drop_table('dashboard_daily')
