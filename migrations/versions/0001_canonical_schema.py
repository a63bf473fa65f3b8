"""Create the canonical schema: master, transaction, derived, workflow and operations tables.

Revision ID: 0001
Revises: 
Create Date: 2026-12-04 19:49:43.867443+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

# Rows of the audit log are never updated, deleted or truncated.
AUDIT_LOG_APPEND_ONLY_SQL = """
create or replace function audit_log_reject_change() returns trigger
language plpgsql as $$
begin
    raise exception 'audit_log is append-only: % rejected', tg_op;
end;
$$;
create trigger audit_log_append_only
    before update or delete on audit_log
    for each row execute function audit_log_reject_change();
create trigger audit_log_no_truncate
    before truncate on audit_log
    for each statement execute function audit_log_reject_change();
"""


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('entity', sa.String(length=64), nullable=False),
    sa.Column('entity_id', sa.Text(), nullable=True),
    sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('rule', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=64), server_default='app', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index('ix_audit_log_entity', 'audit_log', ['entity', 'entity_id'], unique=False)
    op.create_index('ix_audit_log_occurred_at', 'audit_log', [sa.literal_column('occurred_at desc')], unique=False)
    op.create_table('business_settings',
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('value', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_by', sa.String(length=128), server_default='system', nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_business_settings'))
    )
    op.create_table('job_runs',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('job_name', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), server_default='running', nullable=False),
    sa.Column('counts', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('host', sa.Text(), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.CheckConstraint("status in ('running', 'succeeded', 'partial', 'failed', 'skipped')", name=op.f('ck_job_runs_status_known')),
    sa.CheckConstraint('finished_at is null or finished_at >= started_at', name=op.f('ck_job_runs_finished_after_start')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs'))
    )
    op.create_index('ix_job_runs_job_started', 'job_runs', ['job_name', sa.literal_column('started_at desc')], unique=False)
    op.create_table('kpi_snapshots',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('kpi', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=128), server_default='all', nullable=False),
    sa.Column('value', sa.Numeric(precision=20, scale=6), nullable=True),
    sa.Column('numerator', sa.Numeric(precision=20, scale=6), nullable=True),
    sa.Column('denominator', sa.Numeric(precision=20, scale=6), nullable=True),
    sa.Column('taken_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('extract(isodow from week_start) = 1', name=op.f('ck_kpi_snapshots_week_starts_monday')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_snapshots')),
    sa.UniqueConstraint('week_start', 'kpi', 'scope', name=op.f('uq_kpi_snapshots_week_start_kpi_scope'))
    )
    op.create_table('message_templates',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('approved', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_message_templates'))
    )
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.UUID(), nullable=False),
    sa.Column('target', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status in ('pending', 'delivered', 'failed')", name=op.f('ck_outbox_status_known')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_outbox_attempts_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('message_id', name=op.f('uq_outbox_message_id'))
    )
    op.create_index('ix_outbox_pending', 'outbox', ['next_attempt_at'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.create_table('sync_runs',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('entity', sa.String(length=64), nullable=False),
    sa.Column('file_name', sa.Text(), nullable=True),
    sa.Column('checksum', sa.String(length=64), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), server_default='running', nullable=False),
    sa.Column('read_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('inserted_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('updated_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('unchanged_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('rejected_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('watermark', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("status <> 'succeeded' or read_count = inserted_count + updated_count + unchanged_count + rejected_count", name=op.f('ck_sync_runs_counts_balance')),
    sa.CheckConstraint("status in ('running', 'succeeded', 'failed')", name=op.f('ck_sync_runs_status_known')),
    sa.CheckConstraint('inserted_count >= 0', name=op.f('ck_sync_runs_inserted_count_not_negative')),
    sa.CheckConstraint('read_count >= 0', name=op.f('ck_sync_runs_read_count_not_negative')),
    sa.CheckConstraint('rejected_count >= 0', name=op.f('ck_sync_runs_rejected_count_not_negative')),
    sa.CheckConstraint('unchanged_count >= 0', name=op.f('ck_sync_runs_unchanged_count_not_negative')),
    sa.CheckConstraint('updated_count >= 0', name=op.f('ck_sync_runs_updated_count_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_runs'))
    )
    op.create_index('ix_sync_runs_source_started', 'sync_runs', ['source', 'entity', sa.literal_column('started_at desc')], unique=False)
    op.create_table('users',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.Text(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('approval_limit', sa.Numeric(precision=18, scale=4), server_default='0', nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("role in ('executive', 'operations_leader', 'planner', 'administrator')", name=op.f('ck_users_role_known')),
    sa.CheckConstraint('approval_limit >= 0', name=op.f('ck_users_approval_limit_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('customers',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('customer_code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('tier', sa.String(length=16), server_default='standard', nullable=False),
    sa.Column('segment', sa.String(length=64), nullable=True),
    sa.Column('sla_days', sa.Integer(), server_default='0', nullable=False),
    sa.Column('fill_rate_target', sa.Numeric(precision=7, scale=6), server_default='0.95', nullable=False),
    sa.Column('late_penalty_per_day', sa.Numeric(precision=18, scale=4), server_default='0', nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.Text(), nullable=False),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sync_run_id', sa.BigInteger(), nullable=True),
    sa.Column('loaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("tier in ('strategic', 'key', 'standard')", name=op.f('ck_customers_tier_known')),
    sa.CheckConstraint('fill_rate_target between 0 and 1', name=op.f('ck_customers_fill_rate_target_is_share')),
    sa.CheckConstraint('late_penalty_per_day >= 0', name=op.f('ck_customers_late_penalty_per_day_not_negative')),
    sa.CheckConstraint('sla_days >= 0', name=op.f('ck_customers_sla_days_not_negative')),
    sa.ForeignKeyConstraint(['sync_run_id'], ['sync_runs.id'], name=op.f('fk_customers_sync_run_id_sync_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('customer_code', name=op.f('uq_customers_customer_code')),
    sa.UniqueConstraint('source', 'source_key', name='uq_customers_source_key')
    )
    op.create_table('forecast_backtests',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('job_run_id', sa.BigInteger(), nullable=True),
    sa.Column('series_key', sa.Text(), nullable=False),
    sa.Column('model', sa.String(length=32), nullable=False),
    sa.Column('chosen', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('mae_p50_days', sa.Numeric(precision=10, scale=3), nullable=True),
    sa.Column('mae_promise_days', sa.Numeric(precision=10, scale=3), nullable=True),
    sa.Column('coverage_p10_p90', sa.Numeric(precision=7, scale=6), nullable=True),
    sa.Column('train_count', sa.Integer(), nullable=False),
    sa.Column('test_count', sa.Integer(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('test_count >= 0', name=op.f('ck_forecast_backtests_test_count_not_negative')),
    sa.CheckConstraint('train_count >= 0', name=op.f('ck_forecast_backtests_train_count_not_negative')),
    sa.ForeignKeyConstraint(['job_run_id'], ['job_runs.id'], name=op.f('fk_forecast_backtests_job_run_id_job_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forecast_backtests'))
    )
    op.create_index('ix_forecast_backtests_series', 'forecast_backtests', ['series_key', sa.literal_column('computed_at desc')], unique=False)
    op.create_table('inbox_files',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('checksum', sa.String(length=64), nullable=False),
    sa.Column('file_name', sa.Text(), nullable=False),
    sa.Column('folder', sa.Text(), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('job_run_id', sa.BigInteger(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("status in ('processed', 'failed')", name=op.f('ck_inbox_files_status_known')),
    sa.ForeignKeyConstraint(['job_run_id'], ['job_runs.id'], name=op.f('fk_inbox_files_job_run_id_job_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_files')),
    sa.UniqueConstraint('checksum', name=op.f('uq_inbox_files_checksum'))
    )
    op.create_table('items',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('family', sa.String(length=64), nullable=False),
    sa.Column('base_unit', sa.String(length=16), server_default='EA', nullable=False),
    sa.Column('unit_cost', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('list_price', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('regulated', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.Text(), nullable=False),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sync_run_id', sa.BigInteger(), nullable=True),
    sa.Column('loaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('list_price >= 0', name=op.f('ck_items_list_price_not_negative')),
    sa.CheckConstraint('unit_cost >= 0', name=op.f('ck_items_unit_cost_not_negative')),
    sa.ForeignKeyConstraint(['sync_run_id'], ['sync_runs.id'], name=op.f('fk_items_sync_run_id_sync_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_items')),
    sa.UniqueConstraint('sku', name=op.f('uq_items_sku')),
    sa.UniqueConstraint('source', 'source_key', name='uq_items_source_key')
    )
    op.create_index('ix_items_family', 'items', ['family'], unique=False)
    op.create_table('quarantine',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('sync_run_id', sa.BigInteger(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('entity', sa.String(length=64), nullable=False),
    sa.Column('file_name', sa.Text(), nullable=True),
    sa.Column('position', sa.Text(), nullable=False),
    sa.Column('record', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['sync_run_id'], ['sync_runs.id'], name=op.f('fk_quarantine_sync_run_id_sync_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantine'))
    )
    op.create_index('ix_quarantine_open', 'quarantine', ['created_at'], unique=False, postgresql_where=sa.text('resolved_at is null'))
    op.create_index('ix_quarantine_sync_run_id', 'quarantine', ['sync_run_id'], unique=False)
    op.create_table('suppliers',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('supplier_code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('country', sa.String(length=64), nullable=True),
    sa.Column('default_lead_days', sa.Integer(), server_default='14', nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.Text(), nullable=False),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sync_run_id', sa.BigInteger(), nullable=True),
    sa.Column('loaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('default_lead_days >= 0', name=op.f('ck_suppliers_default_lead_days_not_negative')),
    sa.ForeignKeyConstraint(['sync_run_id'], ['sync_runs.id'], name=op.f('fk_suppliers_sync_run_id_sync_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suppliers')),
    sa.UniqueConstraint('source', 'source_key', name='uq_suppliers_source_key'),
    sa.UniqueConstraint('supplier_code', name=op.f('uq_suppliers_supplier_code'))
    )
    op.create_table('warehouses',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('warehouse_code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.Text(), nullable=False),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sync_run_id', sa.BigInteger(), nullable=True),
    sa.Column('loaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['sync_run_id'], ['sync_runs.id'], name=op.f('fk_warehouses_sync_run_id_sync_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warehouses')),
    sa.UniqueConstraint('source', 'source_key', name='uq_warehouses_source_key'),
    sa.UniqueConstraint('warehouse_code', name=op.f('uq_warehouses_warehouse_code'))
    )
    op.create_table('inventory',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('warehouse_id', sa.BigInteger(), nullable=False),
    sa.Column('on_hand_qty', sa.Numeric(precision=18, scale=6), nullable=False),
    sa.Column('quality_hold_qty', sa.Numeric(precision=18, scale=6), server_default='0', nullable=False),
    sa.Column('allocated_qty', sa.Numeric(precision=18, scale=6), server_default='0', nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.Text(), nullable=False),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sync_run_id', sa.BigInteger(), nullable=True),
    sa.Column('loaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('allocated_qty >= 0', name=op.f('ck_inventory_allocated_qty_not_negative')),
    sa.CheckConstraint('on_hand_qty >= 0', name=op.f('ck_inventory_on_hand_qty_not_negative')),
    sa.CheckConstraint('quality_hold_qty <= on_hand_qty', name=op.f('ck_inventory_hold_within_on_hand')),
    sa.CheckConstraint('quality_hold_qty >= 0', name=op.f('ck_inventory_quality_hold_qty_not_negative')),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_inventory_item_id_items')),
    sa.ForeignKeyConstraint(['sync_run_id'], ['sync_runs.id'], name=op.f('fk_inventory_sync_run_id_sync_runs')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_inventory_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inventory')),
    sa.UniqueConstraint('item_id', 'warehouse_id', name=op.f('uq_inventory_item_id_warehouse_id')),
    sa.UniqueConstraint('source', 'source_key', name='uq_inventory_source_key')
    )
    op.create_index('ix_inventory_warehouse_id', 'inventory', ['warehouse_id'], unique=False)
    op.create_table('purchase_order_lines',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('po_number', sa.String(length=64), nullable=False),
    sa.Column('line_number', sa.Integer(), nullable=False),
    sa.Column('supplier_id', sa.BigInteger(), nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('warehouse_id', sa.BigInteger(), nullable=False),
    sa.Column('order_date', sa.Date(), nullable=False),
    sa.Column('promised_date', sa.Date(), nullable=True),
    sa.Column('acknowledged_date', sa.Date(), nullable=True),
    sa.Column('acknowledged_qty', sa.Numeric(precision=18, scale=6), nullable=True),
    sa.Column('ordered_qty', sa.Numeric(precision=18, scale=6), nullable=False),
    sa.Column('received_qty', sa.Numeric(precision=18, scale=6), server_default='0', nullable=False),
    sa.Column('cancelled_qty', sa.Numeric(precision=18, scale=6), server_default='0', nullable=False),
    sa.Column('unit_cost', sa.Numeric(precision=18, scale=4), nullable=True),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('shipment_mode', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=16), server_default='open', nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.Text(), nullable=False),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sync_run_id', sa.BigInteger(), nullable=True),
    sa.Column('loaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status in ('open', 'received', 'cancelled', 'closed')", name=op.f('ck_purchase_order_lines_status_known')),
    sa.CheckConstraint('acknowledged_qty >= 0', name=op.f('ck_purchase_order_lines_acknowledged_qty_not_negative')),
    sa.CheckConstraint('cancelled_qty <= ordered_qty', name=op.f('ck_purchase_order_lines_cancelled_within_ordered')),
    sa.CheckConstraint('cancelled_qty >= 0', name=op.f('ck_purchase_order_lines_cancelled_qty_not_negative')),
    sa.CheckConstraint('ordered_qty >= 0', name=op.f('ck_purchase_order_lines_ordered_qty_not_negative')),
    sa.CheckConstraint('promised_date is null or promised_date >= order_date', name=op.f('ck_purchase_order_lines_promise_not_before_order')),
    sa.CheckConstraint('received_qty >= 0', name=op.f('ck_purchase_order_lines_received_qty_not_negative')),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_purchase_order_lines_item_id_items')),
    sa.ForeignKeyConstraint(['supplier_id'], ['suppliers.id'], name=op.f('fk_purchase_order_lines_supplier_id_suppliers')),
    sa.ForeignKeyConstraint(['sync_run_id'], ['sync_runs.id'], name=op.f('fk_purchase_order_lines_sync_run_id_sync_runs')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_purchase_order_lines_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase_order_lines')),
    sa.UniqueConstraint('po_number', 'line_number', name=op.f('uq_purchase_order_lines_po_number_line_number')),
    sa.UniqueConstraint('source', 'source_key', name='uq_purchase_order_lines_source_key')
    )
    op.create_index('ix_purchase_order_lines_open_item_warehouse', 'purchase_order_lines', ['item_id', 'warehouse_id'], unique=False, postgresql_where=sa.text("status = 'open'"))
    op.create_index('ix_purchase_order_lines_supplier_id', 'purchase_order_lines', ['supplier_id'], unique=False)
    op.create_table('sales_order_lines',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('order_number', sa.String(length=64), nullable=False),
    sa.Column('line_number', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('warehouse_id', sa.BigInteger(), nullable=False),
    sa.Column('order_date', sa.Date(), nullable=False),
    sa.Column('requested_date', sa.Date(), nullable=False),
    sa.Column('first_promised_date', sa.Date(), nullable=True),
    sa.Column('current_promised_date', sa.Date(), nullable=True),
    sa.Column('ordered_qty', sa.Numeric(precision=18, scale=6), nullable=False),
    sa.Column('shipped_qty', sa.Numeric(precision=18, scale=6), server_default='0', nullable=False),
    sa.Column('cancelled_qty', sa.Numeric(precision=18, scale=6), server_default='0', nullable=False),
    sa.Column('allocated_qty', sa.Numeric(precision=18, scale=6), server_default='0', nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('unit_cost', sa.Numeric(precision=18, scale=4), nullable=True),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('status', sa.String(length=16), server_default='open', nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.Text(), nullable=False),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sync_run_id', sa.BigInteger(), nullable=True),
    sa.Column('loaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status in ('open', 'shipped', 'cancelled', 'closed')", name=op.f('ck_sales_order_lines_status_known')),
    sa.CheckConstraint('allocated_qty <= ordered_qty', name=op.f('ck_sales_order_lines_allocated_within_ordered')),
    sa.CheckConstraint('allocated_qty >= 0', name=op.f('ck_sales_order_lines_allocated_qty_not_negative')),
    sa.CheckConstraint('cancelled_qty >= 0', name=op.f('ck_sales_order_lines_cancelled_qty_not_negative')),
    sa.CheckConstraint('first_promised_date is null or first_promised_date >= order_date', name=op.f('ck_sales_order_lines_promise_not_before_order')),
    sa.CheckConstraint('ordered_qty >= 0', name=op.f('ck_sales_order_lines_ordered_qty_not_negative')),
    sa.CheckConstraint('requested_date >= order_date', name=op.f('ck_sales_order_lines_requested_not_before_order')),
    sa.CheckConstraint('shipped_qty + cancelled_qty <= ordered_qty', name=op.f('ck_sales_order_lines_shipped_and_cancelled_within_ordered')),
    sa.CheckConstraint('shipped_qty >= 0', name=op.f('ck_sales_order_lines_shipped_qty_not_negative')),
    sa.CheckConstraint('unit_price >= 0', name=op.f('ck_sales_order_lines_unit_price_not_negative')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_sales_order_lines_customer_id_customers')),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_sales_order_lines_item_id_items')),
    sa.ForeignKeyConstraint(['sync_run_id'], ['sync_runs.id'], name=op.f('fk_sales_order_lines_sync_run_id_sync_runs')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_sales_order_lines_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_order_lines')),
    sa.UniqueConstraint('order_number', 'line_number', name=op.f('uq_sales_order_lines_order_number_line_number')),
    sa.UniqueConstraint('source', 'source_key', name='uq_sales_order_lines_source_key')
    )
    op.create_index('ix_sales_order_lines_customer_id', 'sales_order_lines', ['customer_id'], unique=False)
    op.create_index('ix_sales_order_lines_open_item_warehouse', 'sales_order_lines', ['item_id', 'warehouse_id'], unique=False, postgresql_where=sa.text("status = 'open'"))
    op.create_index('ix_sales_order_lines_requested_date', 'sales_order_lines', ['requested_date'], unique=False)
    op.create_table('substitutes',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('substitute_item_id', sa.BigInteger(), nullable=False),
    sa.Column('ratio', sa.Numeric(precision=18, scale=6), server_default='1', nullable=False),
    sa.Column('needs_approval', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('excluded_customer_codes', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('allowed_tiers', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text('\'["strategic", "key", "standard"]\'::jsonb'), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.Text(), nullable=False),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sync_run_id', sa.BigInteger(), nullable=True),
    sa.Column('loaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('item_id <> substitute_item_id', name=op.f('ck_substitutes_not_itself')),
    sa.CheckConstraint('ratio > 0', name=op.f('ck_substitutes_ratio_positive')),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_substitutes_item_id_items')),
    sa.ForeignKeyConstraint(['substitute_item_id'], ['items.id'], name=op.f('fk_substitutes_substitute_item_id_items')),
    sa.ForeignKeyConstraint(['sync_run_id'], ['sync_runs.id'], name=op.f('fk_substitutes_sync_run_id_sync_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_substitutes')),
    sa.UniqueConstraint('item_id', 'substitute_item_id', name=op.f('uq_substitutes_item_id_substitute_item_id')),
    sa.UniqueConstraint('source', 'source_key', name='uq_substitutes_source_key')
    )
    op.create_table('supplier_items',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('supplier_id', sa.BigInteger(), nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('warehouse_id', sa.BigInteger(), nullable=True),
    sa.Column('lead_days', sa.Integer(), nullable=False),
    sa.Column('min_order_qty', sa.Numeric(precision=18, scale=6), server_default='0', nullable=False),
    sa.Column('order_multiple', sa.Numeric(precision=18, scale=6), server_default='1', nullable=False),
    sa.Column('unit_cost', sa.Numeric(precision=18, scale=4), nullable=True),
    sa.Column('priority', sa.Integer(), server_default='1', nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.Text(), nullable=False),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sync_run_id', sa.BigInteger(), nullable=True),
    sa.Column('loaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('lead_days >= 0', name=op.f('ck_supplier_items_lead_days_not_negative')),
    sa.CheckConstraint('min_order_qty >= 0', name=op.f('ck_supplier_items_min_order_qty_not_negative')),
    sa.CheckConstraint('order_multiple > 0', name=op.f('ck_supplier_items_order_multiple_positive')),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_supplier_items_item_id_items')),
    sa.ForeignKeyConstraint(['supplier_id'], ['suppliers.id'], name=op.f('fk_supplier_items_supplier_id_suppliers')),
    sa.ForeignKeyConstraint(['sync_run_id'], ['sync_runs.id'], name=op.f('fk_supplier_items_sync_run_id_sync_runs')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_supplier_items_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supplier_items')),
    sa.UniqueConstraint('source', 'source_key', name='uq_supplier_items_source_key')
    )
    op.create_index('ix_supplier_items_item_id', 'supplier_items', ['item_id'], unique=False)
    op.create_table('transfer_lanes',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('from_warehouse_id', sa.BigInteger(), nullable=False),
    sa.Column('to_warehouse_id', sa.BigInteger(), nullable=False),
    sa.Column('lead_days', sa.Integer(), nullable=False),
    sa.Column('cost_per_unit', sa.Numeric(precision=18, scale=4), server_default='0', nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.Text(), nullable=False),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sync_run_id', sa.BigInteger(), nullable=True),
    sa.Column('loaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('cost_per_unit >= 0', name=op.f('ck_transfer_lanes_cost_per_unit_not_negative')),
    sa.CheckConstraint('from_warehouse_id <> to_warehouse_id', name=op.f('ck_transfer_lanes_distinct_ends')),
    sa.CheckConstraint('lead_days >= 0', name=op.f('ck_transfer_lanes_lead_days_not_negative')),
    sa.ForeignKeyConstraint(['from_warehouse_id'], ['warehouses.id'], name=op.f('fk_transfer_lanes_from_warehouse_id_warehouses')),
    sa.ForeignKeyConstraint(['sync_run_id'], ['sync_runs.id'], name=op.f('fk_transfer_lanes_sync_run_id_sync_runs')),
    sa.ForeignKeyConstraint(['to_warehouse_id'], ['warehouses.id'], name=op.f('fk_transfer_lanes_to_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_lanes')),
    sa.UniqueConstraint('from_warehouse_id', 'to_warehouse_id', name=op.f('uq_transfer_lanes_from_warehouse_id_to_warehouse_id')),
    sa.UniqueConstraint('source', 'source_key', name='uq_transfer_lanes_source_key')
    )
    op.create_table('units',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('unit_code', sa.String(length=16), nullable=False),
    sa.Column('base_qty_per_unit', sa.Numeric(precision=18, scale=6), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.Text(), nullable=False),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sync_run_id', sa.BigInteger(), nullable=True),
    sa.Column('loaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('base_qty_per_unit > 0', name=op.f('ck_units_base_qty_per_unit_positive')),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_units_item_id_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sync_run_id'], ['sync_runs.id'], name=op.f('fk_units_sync_run_id_sync_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_units')),
    sa.UniqueConstraint('item_id', 'unit_code', name=op.f('uq_units_item_id_unit_code')),
    sa.UniqueConstraint('source', 'source_key', name='uq_units_source_key')
    )
    op.create_table('eta_forecasts',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('po_line_id', sa.BigInteger(), nullable=False),
    sa.Column('job_run_id', sa.BigInteger(), nullable=True),
    sa.Column('computed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('p10_date', sa.Date(), nullable=False),
    sa.Column('p50_date', sa.Date(), nullable=False),
    sa.Column('p90_date', sa.Date(), nullable=False),
    sa.Column('model', sa.String(length=32), nullable=False),
    sa.Column('series_key', sa.Text(), nullable=False),
    sa.Column('backtest_mae_days', sa.Numeric(precision=10, scale=3), nullable=True),
    sa.Column('receipts_used', sa.Integer(), nullable=False),
    sa.Column('confidence', sa.String(length=16), nullable=False),
    sa.CheckConstraint("confidence in ('high', 'medium', 'low', 'low_data')", name=op.f('ck_eta_forecasts_confidence_known')),
    sa.CheckConstraint('p10_date <= p50_date and p50_date <= p90_date', name=op.f('ck_eta_forecasts_quantiles_in_order')),
    sa.CheckConstraint('receipts_used >= 0', name=op.f('ck_eta_forecasts_receipts_used_not_negative')),
    sa.ForeignKeyConstraint(['job_run_id'], ['job_runs.id'], name=op.f('fk_eta_forecasts_job_run_id_job_runs')),
    sa.ForeignKeyConstraint(['po_line_id'], ['purchase_order_lines.id'], name=op.f('fk_eta_forecasts_po_line_id_purchase_order_lines'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eta_forecasts')),
    sa.UniqueConstraint('po_line_id', name=op.f('uq_eta_forecasts_po_line_id'))
    )
    op.create_table('exposure',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('so_line_id', sa.BigInteger(), nullable=False),
    sa.Column('job_run_id', sa.BigInteger(), nullable=True),
    sa.Column('computed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('shortage_qty', sa.Numeric(precision=18, scale=6), nullable=False),
    sa.Column('projected_date_p50', sa.Date(), nullable=True),
    sa.Column('projected_date_p90', sa.Date(), nullable=True),
    sa.Column('days_late_promise', sa.Integer(), nullable=True),
    sa.Column('days_late_request', sa.Integer(), nullable=True),
    sa.Column('root_cause', sa.String(length=32), nullable=False),
    sa.Column('root_cause_detail', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('cause_po_line_id', sa.BigInteger(), nullable=True),
    sa.Column('revenue_at_risk', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('margin_at_risk', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('penalty_exposure', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('backlog_age_days', sa.Integer(), nullable=False),
    sa.Column('priority_score', sa.Numeric(precision=12, scale=4), nullable=False),
    sa.Column('score_tier', sa.Numeric(precision=12, scale=4), server_default='0', nullable=False),
    sa.Column('score_sla', sa.Numeric(precision=12, scale=4), server_default='0', nullable=False),
    sa.Column('score_margin', sa.Numeric(precision=12, scale=4), server_default='0', nullable=False),
    sa.Column('score_fill_gap', sa.Numeric(precision=12, scale=4), server_default='0', nullable=False),
    sa.Column('score_age', sa.Numeric(precision=12, scale=4), server_default='0', nullable=False),
    sa.Column('score_churn', sa.Numeric(precision=12, scale=4), server_default='0', nullable=False),
    sa.CheckConstraint("root_cause in ('none', 'supplier_delay', 'no_supply_ordered', 'quality_hold', 'stock_in_other_warehouse', 'taken_by_higher_priority', 'never_confirmed')", name=op.f('ck_exposure_root_cause_known')),
    sa.CheckConstraint("status in ('on_track', 'at_risk', 'backordered', 'no_supply', 'never_confirmed')", name=op.f('ck_exposure_status_known')),
    sa.CheckConstraint('backlog_age_days >= 0', name=op.f('ck_exposure_backlog_age_days_not_negative')),
    sa.CheckConstraint('projected_date_p90 is null or projected_date_p50 is null or projected_date_p90 >= projected_date_p50', name=op.f('ck_exposure_p90_not_before_p50')),
    sa.CheckConstraint('shortage_qty >= 0', name=op.f('ck_exposure_shortage_qty_not_negative')),
    sa.ForeignKeyConstraint(['cause_po_line_id'], ['purchase_order_lines.id'], name=op.f('fk_exposure_cause_po_line_id_purchase_order_lines')),
    sa.ForeignKeyConstraint(['job_run_id'], ['job_runs.id'], name=op.f('fk_exposure_job_run_id_job_runs')),
    sa.ForeignKeyConstraint(['so_line_id'], ['sales_order_lines.id'], name=op.f('fk_exposure_so_line_id_sales_order_lines'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exposure')),
    sa.UniqueConstraint('so_line_id', name=op.f('uq_exposure_so_line_id'))
    )
    op.create_index('ix_exposure_priority_score', 'exposure', [sa.literal_column('priority_score desc')], unique=False)
    op.create_index('ix_exposure_root_cause', 'exposure', ['root_cause'], unique=False)
    op.create_table('receipts',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('po_line_id', sa.BigInteger(), nullable=False),
    sa.Column('warehouse_id', sa.BigInteger(), nullable=False),
    sa.Column('receipt_date', sa.Date(), nullable=False),
    sa.Column('received_qty', sa.Numeric(precision=18, scale=6), nullable=False),
    sa.Column('asn_number', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.Text(), nullable=False),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sync_run_id', sa.BigInteger(), nullable=True),
    sa.Column('loaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('received_qty > 0', name=op.f('ck_receipts_received_qty_positive')),
    sa.ForeignKeyConstraint(['po_line_id'], ['purchase_order_lines.id'], name=op.f('fk_receipts_po_line_id_purchase_order_lines')),
    sa.ForeignKeyConstraint(['sync_run_id'], ['sync_runs.id'], name=op.f('fk_receipts_sync_run_id_sync_runs')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_receipts_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_receipts')),
    sa.UniqueConstraint('source', 'source_key', name='uq_receipts_source_key')
    )
    op.create_index('ix_receipts_po_line_id', 'receipts', ['po_line_id'], unique=False)
    op.create_index('ix_receipts_receipt_date', 'receipts', ['receipt_date'], unique=False)
    op.create_table('recommendations',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('so_line_id', sa.BigInteger(), nullable=False),
    sa.Column('job_run_id', sa.BigInteger(), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('qty', sa.Numeric(precision=18, scale=6), nullable=False),
    sa.Column('source_warehouse_id', sa.BigInteger(), nullable=True),
    sa.Column('source_po_line_id', sa.BigInteger(), nullable=True),
    sa.Column('substitute_item_id', sa.BigInteger(), nullable=True),
    sa.Column('expected_date', sa.Date(), nullable=True),
    sa.Column('revenue_recovered', sa.Numeric(precision=18, scale=4), server_default='0', nullable=False),
    sa.Column('days_saved', sa.Integer(), server_default='0', nullable=False),
    sa.Column('cost', sa.Numeric(precision=18, scale=4), server_default='0', nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('governance_class', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='proposed', nullable=False),
    sa.Column('data_version', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("action in ('allocate', 'transfer', 'substitute', 'split', 'expedite', 'escalate')", name=op.f('ck_recommendations_action_known')),
    sa.CheckConstraint("governance_class in ('auto', 'planner', 'leader')", name=op.f('ck_recommendations_governance_class_known')),
    sa.CheckConstraint("status in ('proposed', 'approved', 'rejected', 'stale', 'executed')", name=op.f('ck_recommendations_status_known')),
    sa.CheckConstraint('cost >= 0', name=op.f('ck_recommendations_cost_not_negative')),
    sa.CheckConstraint('qty >= 0', name=op.f('ck_recommendations_qty_not_negative')),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_recommendations_item_id_items')),
    sa.ForeignKeyConstraint(['job_run_id'], ['job_runs.id'], name=op.f('fk_recommendations_job_run_id_job_runs')),
    sa.ForeignKeyConstraint(['so_line_id'], ['sales_order_lines.id'], name=op.f('fk_recommendations_so_line_id_sales_order_lines')),
    sa.ForeignKeyConstraint(['source_po_line_id'], ['purchase_order_lines.id'], name=op.f('fk_recommendations_source_po_line_id_purchase_order_lines')),
    sa.ForeignKeyConstraint(['source_warehouse_id'], ['warehouses.id'], name=op.f('fk_recommendations_source_warehouse_id_warehouses')),
    sa.ForeignKeyConstraint(['substitute_item_id'], ['items.id'], name=op.f('fk_recommendations_substitute_item_id_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recommendations'))
    )
    op.create_index('ix_recommendations_so_line_id', 'recommendations', ['so_line_id'], unique=False)
    op.create_index('ix_recommendations_status', 'recommendations', ['status', 'governance_class'], unique=False)
    op.create_table('shipments',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('shipment_number', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('so_line_id', sa.BigInteger(), nullable=True),
    sa.Column('po_line_id', sa.BigInteger(), nullable=True),
    sa.Column('from_warehouse_id', sa.BigInteger(), nullable=True),
    sa.Column('to_warehouse_id', sa.BigInteger(), nullable=True),
    sa.Column('qty', sa.Numeric(precision=18, scale=6), nullable=False),
    sa.Column('ship_date', sa.Date(), nullable=False),
    sa.Column('expected_date', sa.Date(), nullable=True),
    sa.Column('delivered_date', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=16), server_default='in_transit', nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.Text(), nullable=False),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sync_run_id', sa.BigInteger(), nullable=True),
    sa.Column('loaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind in ('customer', 'asn', 'transfer')", name=op.f('ck_shipments_kind_known')),
    sa.CheckConstraint("status in ('in_transit', 'delivered', 'cancelled')", name=op.f('ck_shipments_status_known')),
    sa.CheckConstraint('delivered_date is null or delivered_date >= ship_date', name=op.f('ck_shipments_delivered_after_ship')),
    sa.CheckConstraint('expected_date is null or expected_date >= ship_date', name=op.f('ck_shipments_expected_after_ship')),
    sa.CheckConstraint('qty > 0', name=op.f('ck_shipments_qty_positive')),
    sa.ForeignKeyConstraint(['from_warehouse_id'], ['warehouses.id'], name=op.f('fk_shipments_from_warehouse_id_warehouses')),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_shipments_item_id_items')),
    sa.ForeignKeyConstraint(['po_line_id'], ['purchase_order_lines.id'], name=op.f('fk_shipments_po_line_id_purchase_order_lines')),
    sa.ForeignKeyConstraint(['so_line_id'], ['sales_order_lines.id'], name=op.f('fk_shipments_so_line_id_sales_order_lines')),
    sa.ForeignKeyConstraint(['sync_run_id'], ['sync_runs.id'], name=op.f('fk_shipments_sync_run_id_sync_runs')),
    sa.ForeignKeyConstraint(['to_warehouse_id'], ['warehouses.id'], name=op.f('fk_shipments_to_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipments')),
    sa.UniqueConstraint('source', 'source_key', name='uq_shipments_source_key')
    )
    op.create_index('ix_shipments_in_transit_item', 'shipments', ['item_id'], unique=False, postgresql_where=sa.text("status = 'in_transit'"))
    op.create_table('supplier_events',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('po_line_id', sa.BigInteger(), nullable=False),
    sa.Column('supplier_id', sa.BigInteger(), nullable=False),
    sa.Column('event_type', sa.String(length=32), nullable=False),
    sa.Column('event_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('old_date', sa.Date(), nullable=True),
    sa.Column('new_date', sa.Date(), nullable=True),
    sa.Column('old_qty', sa.Numeric(precision=18, scale=6), nullable=True),
    sa.Column('new_qty', sa.Numeric(precision=18, scale=6), nullable=True),
    sa.Column('message_ref', sa.Text(), nullable=True),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.Text(), nullable=False),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sync_run_id', sa.BigInteger(), nullable=True),
    sa.Column('loaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("event_type in ('acknowledgement', 'date_change', 'quantity_change', 'backorder', 'rejection', 'asn')", name=op.f('ck_supplier_events_event_type_known')),
    sa.CheckConstraint('new_qty >= 0', name=op.f('ck_supplier_events_new_qty_not_negative')),
    sa.CheckConstraint('old_qty >= 0', name=op.f('ck_supplier_events_old_qty_not_negative')),
    sa.ForeignKeyConstraint(['po_line_id'], ['purchase_order_lines.id'], name=op.f('fk_supplier_events_po_line_id_purchase_order_lines')),
    sa.ForeignKeyConstraint(['supplier_id'], ['suppliers.id'], name=op.f('fk_supplier_events_supplier_id_suppliers')),
    sa.ForeignKeyConstraint(['sync_run_id'], ['sync_runs.id'], name=op.f('fk_supplier_events_sync_run_id_sync_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supplier_events')),
    sa.UniqueConstraint('source', 'source_key', name='uq_supplier_events_source_key')
    )
    op.create_index('ix_supplier_events_event_at', 'supplier_events', [sa.literal_column('event_at desc')], unique=False)
    op.create_index('ix_supplier_events_po_line_id', 'supplier_events', ['po_line_id'], unique=False)
    op.create_table('allocations',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('so_line_id', sa.BigInteger(), nullable=False),
    sa.Column('recommendation_id', sa.BigInteger(), nullable=True),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('warehouse_id', sa.BigInteger(), nullable=True),
    sa.Column('po_line_id', sa.BigInteger(), nullable=True),
    sa.Column('qty', sa.Numeric(precision=18, scale=6), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='active', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status in ('active', 'released', 'shipped')", name=op.f('ck_allocations_status_known')),
    sa.CheckConstraint('qty > 0', name=op.f('ck_allocations_qty_positive')),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_allocations_item_id_items')),
    sa.ForeignKeyConstraint(['po_line_id'], ['purchase_order_lines.id'], name=op.f('fk_allocations_po_line_id_purchase_order_lines')),
    sa.ForeignKeyConstraint(['recommendation_id'], ['recommendations.id'], name=op.f('fk_allocations_recommendation_id_recommendations')),
    sa.ForeignKeyConstraint(['so_line_id'], ['sales_order_lines.id'], name=op.f('fk_allocations_so_line_id_sales_order_lines')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_allocations_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_allocations'))
    )
    op.create_index('ix_allocations_supply', 'allocations', ['item_id', 'warehouse_id'], unique=False)
    op.create_table('customer_messages',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('so_line_id', sa.BigInteger(), nullable=False),
    sa.Column('recommendation_id', sa.BigInteger(), nullable=True),
    sa.Column('template_code', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='draft', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('approved_by', sa.String(length=64), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status in ('draft', 'approved', 'sent', 'cancelled')", name=op.f('ck_customer_messages_status_known')),
    sa.CheckConstraint("status not in ('approved', 'sent') or approved_at is not null", name=op.f('ck_customer_messages_approved_has_time')),
    sa.ForeignKeyConstraint(['recommendation_id'], ['recommendations.id'], name=op.f('fk_customer_messages_recommendation_id_recommendations')),
    sa.ForeignKeyConstraint(['so_line_id'], ['sales_order_lines.id'], name=op.f('fk_customer_messages_so_line_id_sales_order_lines')),
    sa.ForeignKeyConstraint(['template_code'], ['message_templates.code'], name=op.f('fk_customer_messages_template_code_message_templates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_messages'))
    )
    op.create_table('decisions',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('recommendation_id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.CheckConstraint("decision in ('approve', 'reject')", name=op.f('ck_decisions_decision_known')),
    sa.ForeignKeyConstraint(['recommendation_id'], ['recommendations.id'], name=op.f('fk_decisions_recommendation_id_recommendations')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_decisions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decisions')),
    sa.UniqueConstraint('recommendation_id', name=op.f('uq_decisions_recommendation_id'))
    )
    op.create_table('tasks',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('recommendation_id', sa.BigInteger(), nullable=True),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='open', nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind in ('procurement', 'warehouse', 'transport', 'finance', 'customer_service')", name=op.f('ck_tasks_kind_known')),
    sa.CheckConstraint("status in ('open', 'done', 'cancelled')", name=op.f('ck_tasks_status_known')),
    sa.ForeignKeyConstraint(['recommendation_id'], ['recommendations.id'], name=op.f('fk_tasks_recommendation_id_recommendations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks'))
    )
    op.create_index('ix_tasks_open_kind', 'tasks', ['kind'], unique=False, postgresql_where=sa.text("status = 'open'"))

    op.execute(AUDIT_LOG_APPEND_ONLY_SQL)

def downgrade() -> None:
    op.execute('drop trigger if exists audit_log_no_truncate on audit_log')
    op.execute('drop trigger if exists audit_log_append_only on audit_log')
    op.execute('drop function if exists audit_log_reject_change()')
    op.drop_index('ix_tasks_open_kind', table_name='tasks', postgresql_where=sa.text("status = 'open'"))
    op.drop_table('tasks')
    op.drop_table('decisions')
    op.drop_table('customer_messages')
    op.drop_index('ix_allocations_supply', table_name='allocations')
    op.drop_table('allocations')
    op.drop_index('ix_supplier_events_po_line_id', table_name='supplier_events')
    op.drop_index('ix_supplier_events_event_at', table_name='supplier_events')
    op.drop_table('supplier_events')
    op.drop_index('ix_shipments_in_transit_item', table_name='shipments', postgresql_where=sa.text("status = 'in_transit'"))
    op.drop_table('shipments')
    op.drop_index('ix_recommendations_status', table_name='recommendations')
    op.drop_index('ix_recommendations_so_line_id', table_name='recommendations')
    op.drop_table('recommendations')
    op.drop_index('ix_receipts_receipt_date', table_name='receipts')
    op.drop_index('ix_receipts_po_line_id', table_name='receipts')
    op.drop_table('receipts')
    op.drop_index('ix_exposure_root_cause', table_name='exposure')
    op.drop_index('ix_exposure_priority_score', table_name='exposure')
    op.drop_table('exposure')
    op.drop_table('eta_forecasts')
    op.drop_table('units')
    op.drop_table('transfer_lanes')
    op.drop_index('ix_supplier_items_item_id', table_name='supplier_items')
    op.drop_table('supplier_items')
    op.drop_table('substitutes')
    op.drop_index('ix_sales_order_lines_requested_date', table_name='sales_order_lines')
    op.drop_index('ix_sales_order_lines_open_item_warehouse', table_name='sales_order_lines', postgresql_where=sa.text("status = 'open'"))
    op.drop_index('ix_sales_order_lines_customer_id', table_name='sales_order_lines')
    op.drop_table('sales_order_lines')
    op.drop_index('ix_purchase_order_lines_supplier_id', table_name='purchase_order_lines')
    op.drop_index('ix_purchase_order_lines_open_item_warehouse', table_name='purchase_order_lines', postgresql_where=sa.text("status = 'open'"))
    op.drop_table('purchase_order_lines')
    op.drop_index('ix_inventory_warehouse_id', table_name='inventory')
    op.drop_table('inventory')
    op.drop_table('warehouses')
    op.drop_table('suppliers')
    op.drop_index('ix_quarantine_sync_run_id', table_name='quarantine')
    op.drop_index('ix_quarantine_open', table_name='quarantine', postgresql_where=sa.text('resolved_at is null'))
    op.drop_table('quarantine')
    op.drop_index('ix_items_family', table_name='items')
    op.drop_table('items')
    op.drop_table('inbox_files')
    op.drop_index('ix_forecast_backtests_series', table_name='forecast_backtests')
    op.drop_table('forecast_backtests')
    op.drop_table('customers')
    op.drop_table('users')
    op.drop_index('ix_sync_runs_source_started', table_name='sync_runs')
    op.drop_table('sync_runs')
    op.drop_index('ix_outbox_pending', table_name='outbox', postgresql_where=sa.text("status = 'pending'"))
    op.drop_table('outbox')
    op.drop_table('message_templates')
    op.drop_table('kpi_snapshots')
    op.drop_index('ix_job_runs_job_started', table_name='job_runs')
    op.drop_table('job_runs')
    op.drop_table('business_settings')
    op.drop_index('ix_audit_log_occurred_at', table_name='audit_log')
    op.drop_index('ix_audit_log_entity', table_name='audit_log')
    op.drop_table('audit_log')
