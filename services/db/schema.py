"""The canonical schema: master, transaction, derived, workflow and operations tables.

Quantities are numeric in the item's base unit, and money is numeric with a
currency code. Instants are timestamptz (UTC), and business dates are date in
the warehouse's time zone. Every synced table carries its source, source key,
source timestamp and the sync run that last changed the row.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

QTY = Numeric(18, 6)
MONEY = Numeric(18, 4)
RATE = Numeric(7, 6)

TIMESTAMPTZ = DateTime(timezone=True)


def _id() -> Column:
    return Column("id", BigInteger, primary_key=True, autoincrement=True)


def _fk(name: str, target: str, nullable: bool = False, ondelete: str | None = None) -> Column:
    return Column(name, BigInteger, ForeignKey(target, ondelete=ondelete), nullable=nullable)


def _source_columns() -> list[Column]:
    """Lineage of a synced row: where it came from and which sync run last changed it."""
    return [
        Column("source", String(64), nullable=False),
        Column("source_key", Text, nullable=False),
        Column("source_updated_at", TIMESTAMPTZ, nullable=False),
        Column("sync_run_id", BigInteger, ForeignKey("sync_runs.id"), nullable=True),
        Column("loaded_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
        # Hash of the source record as last loaded (services/sync/fingerprints.py);
        # NULL after any other writer changed the row.
        Column("source_fingerprint", BigInteger, nullable=True),
    ]


def _source_key_unique(table_name: str) -> UniqueConstraint:
    return UniqueConstraint("source", "source_key", name=f"uq_{table_name}_source_key")


def _not_negative(*columns: str) -> list[CheckConstraint]:
    return [CheckConstraint(f"{c} >= 0", name=f"{c}_not_negative") for c in columns]


# --- Operations ------------------------------------------------------------

sync_runs = Table(
    "sync_runs",
    metadata,
    _id(),
    Column("source", String(64), nullable=False),
    Column("entity", String(64), nullable=False),
    Column("file_name", Text),
    Column("checksum", String(64)),
    Column("started_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    Column("finished_at", TIMESTAMPTZ),
    Column("status", String(16), nullable=False, server_default="running"),
    Column("read_count", Integer, nullable=False, server_default="0"),
    Column("inserted_count", Integer, nullable=False, server_default="0"),
    Column("updated_count", Integer, nullable=False, server_default="0"),
    Column("unchanged_count", Integer, nullable=False, server_default="0"),
    Column("rejected_count", Integer, nullable=False, server_default="0"),
    Column("watermark", TIMESTAMPTZ),
    Column("error", Text),
    CheckConstraint(
        "status in ('running', 'succeeded', 'failed')", name="status_known"
    ),
    CheckConstraint(
        "status <> 'succeeded' or read_count = inserted_count + updated_count"
        " + unchanged_count + rejected_count",
        name="counts_balance",
    ),
    *_not_negative(
        "read_count", "inserted_count", "updated_count", "unchanged_count", "rejected_count"
    ),
    Index("ix_sync_runs_source_started", "source", "entity", text("started_at desc")),
)

quarantine = Table(
    "quarantine",
    metadata,
    _id(),
    _fk("sync_run_id", "sync_runs.id"),
    Column("source", String(64), nullable=False),
    Column("entity", String(64), nullable=False),
    Column("file_name", Text),
    Column("position", Text, nullable=False),
    Column("record", JSONB, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    Column("resolved_at", TIMESTAMPTZ),
    Index("ix_quarantine_sync_run_id", "sync_run_id"),
    Index("ix_quarantine_open", "created_at", postgresql_where=text("resolved_at is null")),
)

job_runs = Table(
    "job_runs",
    metadata,
    _id(),
    Column("job_name", String(64), nullable=False),
    Column("started_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    Column("finished_at", TIMESTAMPTZ),
    Column("status", String(16), nullable=False, server_default="running"),
    Column("counts", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("error", Text),
    Column("host", Text),
    Column("pid", Integer),
    CheckConstraint(
        "status in ('running', 'succeeded', 'partial', 'failed', 'skipped')",
        name="status_known",
    ),
    CheckConstraint("finished_at is null or finished_at >= started_at", name="finished_after_start"),
    Index("ix_job_runs_job_started", "job_name", text("started_at desc")),
)

inbox_files = Table(
    "inbox_files",
    metadata,
    _id(),
    Column("checksum", String(64), nullable=False, unique=True),
    Column("file_name", Text, nullable=False),
    Column("folder", Text, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("received_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    Column("status", String(16), nullable=False),
    _fk("job_run_id", "job_runs.id", nullable=True),
    Column("error", Text),
    CheckConstraint("status in ('processed', 'failed')", name="status_known"),
)

kpi_snapshots = Table(
    "kpi_snapshots",
    metadata,
    _id(),
    Column("week_start", Date, nullable=False),
    Column("kpi", String(64), nullable=False),
    Column("scope", String(128), nullable=False, server_default="all"),
    Column("value", Numeric(20, 6)),
    Column("numerator", Numeric(20, 6)),
    Column("denominator", Numeric(20, 6)),
    Column("taken_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    UniqueConstraint("week_start", "kpi", "scope"),
    CheckConstraint("extract(isodow from week_start) = 1", name="week_starts_monday"),
)

business_settings = Table(
    "business_settings",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("value", JSONB, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("updated_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    Column("updated_by", String(128), nullable=False, server_default="system"),
)

# --- Master data -----------------------------------------------------------

customers = Table(
    "customers",
    metadata,
    _id(),
    Column("customer_code", String(64), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("tier", String(16), nullable=False, server_default="standard"),
    Column("segment", String(64)),
    Column("sla_days", Integer, nullable=False, server_default="0"),
    Column("fill_rate_target", RATE, nullable=False, server_default="0.95"),
    Column("late_penalty_per_day", MONEY, nullable=False, server_default="0"),
    Column("currency", String(3), nullable=False, server_default="USD"),
    *_source_columns(),
    _source_key_unique("customers"),
    CheckConstraint("tier in ('strategic', 'key', 'standard')", name="tier_known"),
    CheckConstraint("fill_rate_target between 0 and 1", name="fill_rate_target_is_share"),
    *_not_negative("sla_days", "late_penalty_per_day"),
)

items = Table(
    "items",
    metadata,
    _id(),
    Column("sku", String(64), nullable=False, unique=True),
    Column("description", Text, nullable=False),
    Column("family", String(64), nullable=False),
    Column("base_unit", String(16), nullable=False, server_default="EA"),
    Column("unit_cost", MONEY, nullable=False),
    Column("list_price", MONEY, nullable=False),
    Column("currency", String(3), nullable=False, server_default="USD"),
    Column("regulated", Boolean, nullable=False, server_default=text("false")),
    *_source_columns(),
    _source_key_unique("items"),
    *_not_negative("unit_cost", "list_price"),
    Index("ix_items_family", "family"),
)

units = Table(
    "units",
    metadata,
    _id(),
    _fk("item_id", "items.id", ondelete="CASCADE"),
    Column("unit_code", String(16), nullable=False),
    Column("base_qty_per_unit", QTY, nullable=False),
    *_source_columns(),
    _source_key_unique("units"),
    UniqueConstraint("item_id", "unit_code"),
    CheckConstraint("base_qty_per_unit > 0", name="base_qty_per_unit_positive"),
)

warehouses = Table(
    "warehouses",
    metadata,
    _id(),
    Column("warehouse_code", String(32), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("region", String(64)),
    *_source_columns(),
    _source_key_unique("warehouses"),
)

suppliers = Table(
    "suppliers",
    metadata,
    _id(),
    Column("supplier_code", String(64), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("country", String(64)),
    Column("default_lead_days", Integer, nullable=False, server_default="14"),
    Column("currency", String(3), nullable=False, server_default="USD"),
    *_source_columns(),
    _source_key_unique("suppliers"),
    *_not_negative("default_lead_days"),
)

supplier_items = Table(
    "supplier_items",
    metadata,
    _id(),
    _fk("supplier_id", "suppliers.id"),
    _fk("item_id", "items.id"),
    _fk("warehouse_id", "warehouses.id", nullable=True),
    Column("lead_days", Integer, nullable=False),
    Column("min_order_qty", QTY, nullable=False, server_default="0"),
    Column("order_multiple", QTY, nullable=False, server_default="1"),
    Column("unit_cost", MONEY),
    Column("priority", Integer, nullable=False, server_default="1"),
    *_source_columns(),
    _source_key_unique("supplier_items"),
    *_not_negative("lead_days", "min_order_qty"),
    CheckConstraint("order_multiple > 0", name="order_multiple_positive"),
    Index("ix_supplier_items_item_id", "item_id"),
)

substitutes = Table(
    "substitutes",
    metadata,
    _id(),
    _fk("item_id", "items.id"),
    _fk("substitute_item_id", "items.id"),
    Column("ratio", QTY, nullable=False, server_default="1"),
    Column("needs_approval", Boolean, nullable=False, server_default=text("true")),
    Column("excluded_customer_codes", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("allowed_tiers", JSONB, nullable=False, server_default=text("'[\"strategic\", \"key\", \"standard\"]'::jsonb")),
    *_source_columns(),
    _source_key_unique("substitutes"),
    UniqueConstraint("item_id", "substitute_item_id"),
    CheckConstraint("item_id <> substitute_item_id", name="not_itself"),
    CheckConstraint("ratio > 0", name="ratio_positive"),
)

transfer_lanes = Table(
    "transfer_lanes",
    metadata,
    _id(),
    _fk("from_warehouse_id", "warehouses.id"),
    _fk("to_warehouse_id", "warehouses.id"),
    Column("lead_days", Integer, nullable=False),
    Column("cost_per_unit", MONEY, nullable=False, server_default="0"),
    Column("currency", String(3), nullable=False, server_default="USD"),
    *_source_columns(),
    _source_key_unique("transfer_lanes"),
    UniqueConstraint("from_warehouse_id", "to_warehouse_id"),
    CheckConstraint("from_warehouse_id <> to_warehouse_id", name="distinct_ends"),
    *_not_negative("lead_days", "cost_per_unit"),
)

# --- Transactions ----------------------------------------------------------

inventory = Table(
    "inventory",
    metadata,
    _id(),
    _fk("item_id", "items.id"),
    _fk("warehouse_id", "warehouses.id"),
    Column("on_hand_qty", QTY, nullable=False),
    Column("quality_hold_qty", QTY, nullable=False, server_default="0"),
    Column("allocated_qty", QTY, nullable=False, server_default="0"),
    Column("as_of", TIMESTAMPTZ, nullable=False),
    *_source_columns(),
    _source_key_unique("inventory"),
    UniqueConstraint("item_id", "warehouse_id"),
    *_not_negative("on_hand_qty", "quality_hold_qty", "allocated_qty"),
    CheckConstraint("quality_hold_qty <= on_hand_qty", name="hold_within_on_hand"),
    Index("ix_inventory_warehouse_id", "warehouse_id"),
)

sales_order_lines = Table(
    "sales_order_lines",
    metadata,
    _id(),
    Column("order_number", String(64), nullable=False),
    Column("line_number", Integer, nullable=False),
    _fk("customer_id", "customers.id"),
    _fk("item_id", "items.id"),
    _fk("warehouse_id", "warehouses.id"),
    Column("order_date", Date, nullable=False),
    Column("requested_date", Date, nullable=False),
    Column("first_promised_date", Date),
    Column("current_promised_date", Date),
    Column("ordered_qty", QTY, nullable=False),
    Column("shipped_qty", QTY, nullable=False, server_default="0"),
    Column("cancelled_qty", QTY, nullable=False, server_default="0"),
    Column("allocated_qty", QTY, nullable=False, server_default="0"),
    Column("unit_price", MONEY, nullable=False),
    Column("unit_cost", MONEY),
    Column("currency", String(3), nullable=False, server_default="USD"),
    Column("status", String(16), nullable=False, server_default="open"),
    *_source_columns(),
    _source_key_unique("sales_order_lines"),
    UniqueConstraint("order_number", "line_number"),
    *_not_negative("ordered_qty", "shipped_qty", "cancelled_qty", "allocated_qty", "unit_price"),
    CheckConstraint(
        "shipped_qty + cancelled_qty <= ordered_qty", name="shipped_and_cancelled_within_ordered"
    ),
    CheckConstraint("allocated_qty <= ordered_qty", name="allocated_within_ordered"),
    CheckConstraint("requested_date >= order_date", name="requested_not_before_order"),
    CheckConstraint(
        "first_promised_date is null or first_promised_date >= order_date",
        name="promise_not_before_order",
    ),
    CheckConstraint(
        "status in ('open', 'shipped', 'cancelled', 'closed')", name="status_known"
    ),
    Index(
        "ix_sales_order_lines_open_item_warehouse",
        "item_id",
        "warehouse_id",
        postgresql_where=text("status = 'open'"),
    ),
    Index("ix_sales_order_lines_customer_id", "customer_id"),
    Index("ix_sales_order_lines_requested_date", "requested_date"),
)

purchase_order_lines = Table(
    "purchase_order_lines",
    metadata,
    _id(),
    Column("po_number", String(64), nullable=False),
    Column("line_number", Integer, nullable=False),
    _fk("supplier_id", "suppliers.id"),
    _fk("item_id", "items.id"),
    _fk("warehouse_id", "warehouses.id"),
    Column("order_date", Date, nullable=False),
    Column("promised_date", Date),
    Column("acknowledged_date", Date),
    Column("acknowledged_qty", QTY),
    Column("acknowledged_at", TIMESTAMPTZ),
    Column("ack_status", String(16)),
    Column("ordered_qty", QTY, nullable=False),
    Column("received_qty", QTY, nullable=False, server_default="0"),
    Column("cancelled_qty", QTY, nullable=False, server_default="0"),
    Column("unit_cost", MONEY),
    Column("currency", String(3), nullable=False, server_default="USD"),
    Column("shipment_mode", String(32)),
    Column("status", String(16), nullable=False, server_default="open"),
    *_source_columns(),
    _source_key_unique("purchase_order_lines"),
    UniqueConstraint("po_number", "line_number"),
    *_not_negative("ordered_qty", "received_qty", "cancelled_qty", "acknowledged_qty"),
    CheckConstraint("cancelled_qty <= ordered_qty", name="cancelled_within_ordered"),
    CheckConstraint(
        "promised_date is null or promised_date >= order_date", name="promise_not_before_order"
    ),
    CheckConstraint(
        "status in ('open', 'received', 'cancelled', 'closed')", name="status_known"
    ),
    CheckConstraint(
        "ack_status is null or ack_status in ('accepted', 'changed', 'backordered', 'rejected')",
        name="ack_status_known",
    ),
    Index(
        "ix_purchase_order_lines_open_item_warehouse",
        "item_id",
        "warehouse_id",
        postgresql_where=text("status = 'open'"),
    ),
    Index("ix_purchase_order_lines_supplier_id", "supplier_id"),
)

receipts = Table(
    "receipts",
    metadata,
    _id(),
    _fk("po_line_id", "purchase_order_lines.id"),
    _fk("warehouse_id", "warehouses.id"),
    Column("receipt_date", Date, nullable=False),
    Column("received_qty", QTY, nullable=False),
    Column("asn_number", String(64)),
    *_source_columns(),
    _source_key_unique("receipts"),
    CheckConstraint("received_qty > 0", name="received_qty_positive"),
    Index("ix_receipts_po_line_id", "po_line_id"),
    Index("ix_receipts_receipt_date", "receipt_date"),
)

supplier_events = Table(
    "supplier_events",
    metadata,
    _id(),
    _fk("po_line_id", "purchase_order_lines.id"),
    _fk("supplier_id", "suppliers.id"),
    Column("event_type", String(32), nullable=False),
    Column("event_at", TIMESTAMPTZ, nullable=False),
    Column("old_date", Date),
    Column("new_date", Date),
    Column("old_qty", QTY),
    Column("new_qty", QTY),
    Column("message_ref", Text),
    Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    *_source_columns(),
    _source_key_unique("supplier_events"),
    CheckConstraint(
        "event_type in ('acknowledgement', 'date_change', 'quantity_change', 'backorder',"
        " 'rejection', 'asn')",
        name="event_type_known",
    ),
    *_not_negative("old_qty", "new_qty"),
    Index("ix_supplier_events_po_line_id", "po_line_id"),
    Index("ix_supplier_events_event_at", text("event_at desc")),
)

shipments = Table(
    "shipments",
    metadata,
    _id(),
    Column("shipment_number", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    _fk("item_id", "items.id"),
    _fk("so_line_id", "sales_order_lines.id", nullable=True),
    _fk("po_line_id", "purchase_order_lines.id", nullable=True),
    _fk("from_warehouse_id", "warehouses.id", nullable=True),
    _fk("to_warehouse_id", "warehouses.id", nullable=True),
    Column("qty", QTY, nullable=False),
    Column("ship_date", Date, nullable=False),
    Column("expected_date", Date),
    Column("delivered_date", Date),
    Column("status", String(16), nullable=False, server_default="in_transit"),
    *_source_columns(),
    _source_key_unique("shipments"),
    CheckConstraint("kind in ('customer', 'asn', 'transfer')", name="kind_known"),
    CheckConstraint(
        "status in ('in_transit', 'delivered', 'cancelled')", name="status_known"
    ),
    CheckConstraint("qty > 0", name="qty_positive"),
    CheckConstraint(
        "delivered_date is null or delivered_date >= ship_date", name="delivered_after_ship"
    ),
    CheckConstraint(
        "expected_date is null or expected_date >= ship_date", name="expected_after_ship"
    ),
    Index("ix_shipments_in_transit_item", "item_id", postgresql_where=text("status = 'in_transit'")),
)

# --- Derived ---------------------------------------------------------------

exposure = Table(
    "exposure",
    metadata,
    _id(),
    _fk("so_line_id", "sales_order_lines.id", ondelete="CASCADE"),
    _fk("job_run_id", "job_runs.id", nullable=True),
    Column("computed_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    Column("status", String(24), nullable=False),
    Column("shortage_qty", QTY, nullable=False),
    Column("projected_date_p50", Date),
    Column("projected_date_p90", Date),
    Column("days_late_promise", Integer),
    Column("days_late_request", Integer),
    Column("root_cause", String(32), nullable=False),
    Column("root_cause_detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    _fk("cause_po_line_id", "purchase_order_lines.id", nullable=True),
    # The supplier the line waits for: the cause purchase order line's, else the
    # item's preferred supplier at the line's warehouse.
    _fk("supplier_id", "suppliers.id", nullable=True),
    Column("revenue_at_risk", MONEY, nullable=False),
    Column("margin_at_risk", MONEY, nullable=False),
    Column("penalty_exposure", MONEY, nullable=False),
    Column("currency", String(3), nullable=False, server_default="USD"),
    Column("backlog_age_days", Integer, nullable=False),
    Column("priority_score", Numeric(12, 4), nullable=False),
    Column("score_tier", Numeric(12, 4), nullable=False, server_default="0"),
    Column("score_sla", Numeric(12, 4), nullable=False, server_default="0"),
    Column("score_margin", Numeric(12, 4), nullable=False, server_default="0"),
    Column("score_fill_gap", Numeric(12, 4), nullable=False, server_default="0"),
    Column("score_age", Numeric(12, 4), nullable=False, server_default="0"),
    Column("score_churn", Numeric(12, 4), nullable=False, server_default="0"),
    UniqueConstraint("so_line_id"),
    CheckConstraint(
        "status in ('on_track', 'at_risk', 'backordered', 'no_supply', 'never_confirmed')",
        name="status_known",
    ),
    CheckConstraint(
        "root_cause in ('none', 'supplier_delay', 'no_supply_ordered', 'quality_hold',"
        " 'stock_in_other_warehouse', 'taken_by_higher_priority', 'never_confirmed')",
        name="root_cause_known",
    ),
    CheckConstraint(
        "projected_date_p90 is null or projected_date_p50 is null"
        " or projected_date_p90 >= projected_date_p50",
        name="p90_not_before_p50",
    ),
    *_not_negative("shortage_qty", "backlog_age_days"),
    Index("ix_exposure_priority_score", text("priority_score desc")),
    Index("ix_exposure_root_cause", "root_cause"),
    Index("ix_exposure_supplier_id", "supplier_id"),
)

# The recent history figures of a customer's priority score (90-day fill
# rate and late share), written by each full exposure recompute, so that a
# recompute of a few items reads them instead of aggregating the history of
# every customer those items serve.
customer_facts = Table(
    "customer_facts",
    metadata,
    Column("customer_id", BigInteger, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    Column("reference_date", Date, nullable=False),
    Column("recent_fill_rate", Float(53)),
    Column("late_share", Float(53)),
    Column("computed_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
)

eta_forecasts = Table(
    "eta_forecasts",
    metadata,
    _id(),
    _fk("po_line_id", "purchase_order_lines.id", ondelete="CASCADE"),
    _fk("job_run_id", "job_runs.id", nullable=True),
    Column("computed_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    Column("p10_date", Date, nullable=False),
    Column("p50_date", Date, nullable=False),
    Column("p90_date", Date, nullable=False),
    Column("model", String(64), nullable=False),
    Column("series_key", Text, nullable=False),
    Column("backtest_mae_days", Numeric(10, 3)),
    Column("receipts_used", Integer, nullable=False),
    Column("confidence", String(16), nullable=False),
    UniqueConstraint("po_line_id"),
    CheckConstraint("p10_date <= p50_date and p50_date <= p90_date", name="quantiles_in_order"),
    CheckConstraint("confidence in ('high', 'medium', 'low', 'low_data')", name="confidence_known"),
    *_not_negative("receipts_used"),
)

forecast_series = Table(
    "forecast_series",
    metadata,
    Column("series_key", Text, primary_key=True),
    Column("level", String(24), nullable=False),
    Column("model", String(32), nullable=False),
    Column("receipts_count", Integer, nullable=False),
    Column("last_receipt_date", Date),
    Column("fitted_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    Column("backtest_mae_days", Numeric(10, 3)),
    Column("params", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    CheckConstraint(
        "level in ('supplier_mode', 'supplier_family', 'supplier', 'global')", name="level_known"
    ),
    *_not_negative("receipts_count"),
)

forecast_backtests = Table(
    "forecast_backtests",
    metadata,
    _id(),
    _fk("job_run_id", "job_runs.id", nullable=True),
    Column("series_key", Text, nullable=False),
    Column("model", String(32), nullable=False),
    Column("chosen", Boolean, nullable=False, server_default=text("false")),
    Column("mae_p50_days", Numeric(10, 3)),
    Column("mae_promise_days", Numeric(10, 3)),
    Column("coverage_p10_p90", RATE),
    Column("train_count", Integer, nullable=False),
    Column("test_count", Integer, nullable=False),
    Column("computed_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    *_not_negative("train_count", "test_count"),
    Index("ix_forecast_backtests_series", "series_key", text("computed_at desc")),
)

risk_models = Table(
    "risk_models",
    metadata,
    _id(),
    Column("version", Integer, nullable=False, unique=True),
    Column("source", String(16), nullable=False),
    Column("features", JSONB, nullable=False),
    Column("trained_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    Column("training_rows", Integer, nullable=False),
    Column("positive_rows", Integer, nullable=False),
    Column("threshold", RATE, nullable=False),
    Column("validation_scores", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("model_bytes", LargeBinary, nullable=False),
    CheckConstraint("source in ('kaggle', 'history')", name="source_known"),
    CheckConstraint("threshold between 0 and 1", name="threshold_is_probability"),
    *_not_negative("training_rows", "positive_rows"),
)

risk_scores = Table(
    "risk_scores",
    metadata,
    _id(),
    _fk("item_id", "items.id", ondelete="CASCADE"),
    _fk("warehouse_id", "warehouses.id", ondelete="CASCADE"),
    _fk("job_run_id", "job_runs.id", nullable=True),
    Column("model_version", Integer, ForeignKey("risk_models.version"), nullable=True),
    Column("feature_date", Date, nullable=False),
    Column("probability", RATE),
    Column("flagged", Boolean, nullable=False, server_default=text("false")),
    Column("explanation", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("scored_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    UniqueConstraint("item_id", "warehouse_id"),
    CheckConstraint("status in ('scored', 'no_data')", name="status_known"),
    CheckConstraint(
        "(status = 'scored' and probability is not null and model_version is not null)"
        " or (status = 'no_data' and probability is null and not flagged)",
        name="probability_when_scored",
    ),
    CheckConstraint("probability is null or probability between 0 and 1", name="probability_is_share"),
    Index("ix_risk_scores_flagged", text("probability desc"), postgresql_where=text("flagged")),
)

# --- Workflow --------------------------------------------------------------

users = Table(
    "users",
    metadata,
    _id(),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", Text, nullable=False),
    Column("role", String(32), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("approval_limit", MONEY, nullable=False, server_default="0"),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    CheckConstraint(
        "role in ('executive', 'operations_leader', 'planner', 'administrator')",
        name="role_known",
    ),
    *_not_negative("approval_limit"),
)

recommendations = Table(
    "recommendations",
    metadata,
    _id(),
    _fk("so_line_id", "sales_order_lines.id"),
    _fk("job_run_id", "job_runs.id", nullable=True),
    Column("action", String(16), nullable=False),
    _fk("item_id", "items.id"),
    Column("qty", QTY, nullable=False),
    _fk("source_warehouse_id", "warehouses.id", nullable=True),
    _fk("source_po_line_id", "purchase_order_lines.id", nullable=True),
    _fk("substitute_item_id", "items.id", nullable=True),
    Column("expected_date", Date),
    Column("revenue_recovered", MONEY, nullable=False, server_default="0"),
    Column("days_saved", Integer, nullable=False, server_default="0"),
    Column("cost", MONEY, nullable=False, server_default="0"),
    Column("currency", String(3), nullable=False, server_default="USD"),
    Column("explanation", Text, nullable=False),
    Column("governance_class", String(16), nullable=False),
    Column("status", String(16), nullable=False, server_default="proposed"),
    Column("data_version", Text, nullable=False),
    Column("created_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    Column("updated_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    CheckConstraint(
        "action in ('allocate', 'transfer', 'substitute', 'split', 'expedite', 'escalate')",
        name="action_known",
    ),
    CheckConstraint(
        "governance_class in ('auto', 'planner', 'leader')", name="governance_class_known"
    ),
    CheckConstraint(
        "status in ('proposed', 'approved', 'rejected', 'stale', 'executed')",
        name="status_known",
    ),
    *_not_negative("qty", "cost"),
    Index("ix_recommendations_status", "status", "governance_class"),
    Index("ix_recommendations_so_line_id", "so_line_id"),
)

decisions = Table(
    "decisions",
    metadata,
    _id(),
    _fk("recommendation_id", "recommendations.id"),
    _fk("user_id", "users.id", nullable=True),
    Column("decided_by", String(64), nullable=False),
    Column("decided_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    Column("decision", String(16), nullable=False),
    Column("comment", Text),
    UniqueConstraint("recommendation_id"),
    CheckConstraint("decision in ('approve', 'reject')", name="decision_known"),
)

allocations = Table(
    "allocations",
    metadata,
    _id(),
    _fk("so_line_id", "sales_order_lines.id"),
    _fk("recommendation_id", "recommendations.id", nullable=True),
    _fk("item_id", "items.id"),
    _fk("warehouse_id", "warehouses.id", nullable=True),
    _fk("po_line_id", "purchase_order_lines.id", nullable=True),
    Column("qty", QTY, nullable=False),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("created_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    CheckConstraint("qty > 0", name="qty_positive"),
    CheckConstraint("status in ('active', 'released', 'shipped')", name="status_known"),
    Index("ix_allocations_supply", "item_id", "warehouse_id"),
)

tasks = Table(
    "tasks",
    metadata,
    _id(),
    _fk("recommendation_id", "recommendations.id", nullable=True),
    Column("kind", String(24), nullable=False),
    Column("title", Text, nullable=False),
    Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("due_date", Date),
    Column("created_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    CheckConstraint(
        "kind in ('procurement', 'warehouse', 'transport', 'finance', 'customer_service')",
        name="kind_known",
    ),
    CheckConstraint("status in ('open', 'done', 'cancelled')", name="status_known"),
    Index("ix_tasks_open_kind", "kind", postgresql_where=text("status = 'open'")),
)

message_templates = Table(
    "message_templates",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("approved", Boolean, nullable=False, server_default=text("false")),
    Column("updated_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
)

customer_messages = Table(
    "customer_messages",
    metadata,
    _id(),
    _fk("so_line_id", "sales_order_lines.id"),
    _fk("recommendation_id", "recommendations.id", nullable=True),
    Column("template_code", String(64), ForeignKey("message_templates.code"), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    # The values the template's placeholders were filled with; an edit must keep them.
    Column("placeholder_values", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("status", String(16), nullable=False, server_default="draft"),
    Column("created_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    Column("approved_by", String(64)),
    Column("approved_at", TIMESTAMPTZ),
    CheckConstraint(
        "status in ('draft', 'approved', 'sent', 'cancelled')", name="status_known"
    ),
    CheckConstraint(
        "status not in ('approved', 'sent') or approved_at is not null",
        name="approved_has_time",
    ),
)

audit_log = Table(
    "audit_log",
    metadata,
    _id(),
    Column("occurred_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity", String(64), nullable=False),
    Column("entity_id", Text),
    Column("before", JSONB),
    Column("after", JSONB),
    Column("rule", Text),
    Column("reason", Text),
    Column("source", String(64), nullable=False, server_default="app"),
    Index("ix_audit_log_entity", "entity", "entity_id"),
    Index("ix_audit_log_occurred_at", text("occurred_at desc")),
)

outbox = Table(
    "outbox",
    metadata,
    _id(),
    Column("message_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("target", String(64), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    Column("last_error", Text),
    Column("created_at", TIMESTAMPTZ, nullable=False, server_default=func.now()),
    Column("delivered_at", TIMESTAMPTZ),
    CheckConstraint("status in ('pending', 'delivered', 'failed')", name="status_known"),
    *_not_negative("attempts"),
    Index("ix_outbox_pending", "next_attempt_at", postgresql_where=text("status = 'pending'")),
)
