"""Add the supplier acknowledgement state of PO lines and the forecast series table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 20:25:47.766616+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('forecast_series',
    sa.Column('series_key', sa.Text(), nullable=False),
    sa.Column('level', sa.String(length=24), nullable=False),
    sa.Column('model', sa.String(length=32), nullable=False),
    sa.Column('receipts_count', sa.Integer(), nullable=False),
    sa.Column('last_receipt_date', sa.Date(), nullable=True),
    sa.Column('fitted_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('backtest_mae_days', sa.Numeric(precision=10, scale=3), nullable=True),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.CheckConstraint("level in ('supplier_mode', 'supplier_family', 'supplier', 'global')", name=op.f('ck_forecast_series_level_known')),
    sa.CheckConstraint('receipts_count >= 0', name=op.f('ck_forecast_series_receipts_count_not_negative')),
    sa.PrimaryKeyConstraint('series_key', name=op.f('pk_forecast_series'))
    )
    op.add_column('purchase_order_lines', sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('purchase_order_lines', sa.Column('ack_status', sa.String(length=16), nullable=True))
    op.create_check_constraint(
        op.f('ck_purchase_order_lines_ack_status_known'),
        'purchase_order_lines',
        "ack_status is null or ack_status in ('accepted', 'changed', 'backordered', 'rejected')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f('ck_purchase_order_lines_ack_status_known'), 'purchase_order_lines', type_='check')
    op.drop_column('purchase_order_lines', 'ack_status')
    op.drop_column('purchase_order_lines', 'acknowledged_at')
    op.drop_table('forecast_series')
