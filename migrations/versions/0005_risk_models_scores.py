"""Add the backorder-risk models and the risk score of every SKU and warehouse.

Revision ID: 0005
Revises: 0006
Create Date: 2026-12-04 22:40:00+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('risk_models',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('features', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('trained_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('training_rows', sa.Integer(), nullable=False),
    sa.Column('positive_rows', sa.Integer(), nullable=False),
    sa.Column('threshold', sa.Numeric(precision=7, scale=6), nullable=False),
    sa.Column('validation_scores', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('model_bytes', sa.LargeBinary(), nullable=False),
    sa.CheckConstraint("source in ('kaggle', 'history')", name=op.f('ck_risk_models_source_known')),
    sa.CheckConstraint('threshold between 0 and 1', name=op.f('ck_risk_models_threshold_is_probability')),
    sa.CheckConstraint('training_rows >= 0', name=op.f('ck_risk_models_training_rows_not_negative')),
    sa.CheckConstraint('positive_rows >= 0', name=op.f('ck_risk_models_positive_rows_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_models')),
    sa.UniqueConstraint('version', name=op.f('uq_risk_models_version'))
    )
    op.create_table('risk_scores',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('warehouse_id', sa.BigInteger(), nullable=False),
    sa.Column('job_run_id', sa.BigInteger(), nullable=True),
    sa.Column('model_version', sa.Integer(), nullable=True),
    sa.Column('feature_date', sa.Date(), nullable=False),
    sa.Column('probability', sa.Numeric(precision=7, scale=6), nullable=True),
    sa.Column('flagged', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('scored_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status in ('scored', 'no_data')", name=op.f('ck_risk_scores_status_known')),
    sa.CheckConstraint(
        "(status = 'scored' and probability is not null and model_version is not null)"
        " or (status = 'no_data' and probability is null and not flagged)",
        name=op.f('ck_risk_scores_probability_when_scored'),
    ),
    sa.CheckConstraint('probability is null or probability between 0 and 1', name=op.f('ck_risk_scores_probability_is_share')),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_risk_scores_item_id_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['job_run_id'], ['job_runs.id'], name=op.f('fk_risk_scores_job_run_id_job_runs')),
    sa.ForeignKeyConstraint(['model_version'], ['risk_models.version'], name=op.f('fk_risk_scores_model_version_risk_models')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_risk_scores_warehouse_id_warehouses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_scores')),
    sa.UniqueConstraint('item_id', 'warehouse_id', name=op.f('uq_risk_scores_item_id_warehouse_id'))
    )
    op.create_index('ix_risk_scores_flagged', 'risk_scores', [sa.text('probability desc')], unique=False, postgresql_where=sa.text('flagged'))


def downgrade() -> None:
    op.drop_index('ix_risk_scores_flagged', table_name='risk_scores', postgresql_where=sa.text('flagged'))
    op.drop_table('risk_scores')
    op.drop_table('risk_models')
