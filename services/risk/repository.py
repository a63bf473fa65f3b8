"""SQL adapters of the risk model: read the dated events behind the features, and store models and scores.

Every event comes out as (item_id, warehouse_id, day, qty) with day counted
from a reference date (0 is the reference date, -7 a week before), already
summed per pair and day, through COPY ... TO STDOUT into pandas as the
exposure capability reads its picture.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Connection, insert, select, text

from services.db import schema
from services.db.copy import copy_query_frame

logger = logging.getLogger(__name__)

# A line shipped more than this many days after its first promise (or its
# requested date when never promised) went on backorder.
BACKORDER_GRACE_DAYS = 2

EVENT_COLUMNS = ("item_id", "warehouse_id", "day", "qty")

# Customer demand by order date, net of cancelled quantities.
DEMAND = """
    select item_id, warehouse_id, order_date - %(reference)s as day, sum(ordered_qty - cancelled_qty)::float8 as qty
    from sales_order_lines
    where order_date >= %(since)s and order_date < %(reference)s
    group by 1, 2, 3
"""

# Stock movements after a day, to roll today's on hand back to that day.
STOCK_OUT = """
    select s.item_id, s.from_warehouse_id as warehouse_id, s.ship_date - %(reference)s as day, sum(s.qty)::float8 as qty
    from shipments s
    where s.kind in ('customer', 'transfer') and s.status <> 'cancelled' and s.from_warehouse_id is not null
      and s.ship_date >= %(since)s and s.ship_date < %(reference)s
    group by 1, 2, 3
"""
STOCK_IN = """
    select p.item_id, r.warehouse_id, r.receipt_date - %(reference)s as day, sum(r.received_qty)::float8 as qty
    from receipts r
    join purchase_order_lines p on p.id = r.po_line_id
    where r.receipt_date >= %(since)s and r.receipt_date < %(reference)s
    group by 1, 2, 3
    union all
    select s.item_id, s.to_warehouse_id, s.delivered_date - %(reference)s, sum(s.qty)::float8
    from shipments s
    where s.kind = 'transfer' and s.delivered_date is not null and s.to_warehouse_id is not null
      and s.delivered_date >= %(since)s and s.delivered_date < %(reference)s
    group by 1, 2, 3
"""

# Inbound shipments (ASN and transfers) that left before a day and had not
# arrived by it: +qty on the ship day and -qty on the delivery day.
IN_TRANSIT = """
    select s.item_id, coalesce(s.to_warehouse_id, p.warehouse_id) as warehouse_id, s.ship_date - %(reference)s as day,
           sum(s.qty)::float8 as qty
    from shipments s
    left join purchase_order_lines p on p.id = s.po_line_id
    where s.kind in ('asn', 'transfer') and s.status <> 'cancelled' and s.ship_date < %(reference)s
      and coalesce(s.to_warehouse_id, p.warehouse_id) is not null
    group by 1, 2, 3
    union all
    select s.item_id, coalesce(s.to_warehouse_id, p.warehouse_id), s.delivered_date - %(reference)s, -sum(s.qty)::float8
    from shipments s
    left join purchase_order_lines p on p.id = s.po_line_id
    where s.kind in ('asn', 'transfer') and s.status <> 'cancelled' and s.delivered_date < %(reference)s
      and coalesce(s.to_warehouse_id, p.warehouse_id) is not null
    group by 1, 2, 3
"""

# Purchase order lines with their receipts: the open quantity is ordered
# minus cancelled from the order date, less each receipt; the quantity past
# due is what is still unreceived after the promised date. A line no longer
# open stops counting after its last receipt (or its promise).
PURCHASES = """
    select p.id as po_line_id, p.item_id, p.warehouse_id, p.supplier_id,
           p.order_date - %(reference)s as order_day,
           coalesce(p.promised_date, p.order_date + s.default_lead_days) - %(reference)s as promised_day,
           (p.ordered_qty - p.cancelled_qty)::float8 as qty,
           (p.status = 'open')::int as is_open,
           coalesce(max(r.receipt_date) - %(reference)s, -100000) as last_receipt_day
    from purchase_order_lines p
    join suppliers s on s.id = p.supplier_id
    left join receipts r on r.po_line_id = p.id
    where p.order_date < %(reference)s
    group by p.id, s.default_lead_days
"""
PURCHASE_RECEIPTS = """
    select r.po_line_id, r.receipt_date - %(reference)s as day, sum(r.received_qty)::float8 as qty
    from receipts r
    where r.receipt_date < %(reference)s
    group by 1, 2
"""

# Order lines against their first promise: due is the first promise (else
# the requested date), first_ship_day the first customer shipment (or the
# no-day mark), open_qty what the line still owes.
ORDER_LINES = """
    select l.item_id, l.warehouse_id, coalesce(l.first_promised_date, l.requested_date) - %(reference)s as due_day,
           coalesce(min(s.ship_date) - %(reference)s, 100000) as first_ship_day,
           (l.ordered_qty - l.cancelled_qty)::float8 as qty,
           (l.status = 'open' and l.ordered_qty - l.shipped_qty - l.cancelled_qty > 0)::int as is_open
    from sales_order_lines l
    left join shipments s on s.so_line_id = l.id and s.kind = 'customer'
    where coalesce(l.first_promised_date, l.requested_date) >= %(since)s
    group by l.id
"""

# Supplier news that threatens a pair's supply: a backorder or rejection
# from the supplier, or a date pushed out.
SUPPLIER_ISSUES = """
    select p.item_id, p.warehouse_id, (e.event_at at time zone 'UTC')::date - %(reference)s as day, count(*)::float8 as qty
    from supplier_events e
    join purchase_order_lines p on p.id = e.po_line_id
    where (e.event_type in ('backorder', 'rejection') or (e.event_type = 'date_change' and e.new_date > e.old_date))
      and e.event_at < %(reference)s
    group by 1, 2, 3
"""

# Every pair the product knows, with today's stock and the static facts:
# the preferred supplier (lowest priority number, a row for the pair's own
# warehouse first, else the supplier of the pair's latest PO line) and its
# lead time. has_history is false for a pair with no order line and no PO line.
PAIRS = """
    with pairs as (
        select item_id, warehouse_id from inventory
        union select item_id, warehouse_id from sales_order_lines
        union select item_id, warehouse_id from purchase_order_lines
    ),
    preferred as (
        select distinct on (pr.item_id, pr.warehouse_id) pr.item_id, pr.warehouse_id, si.supplier_id, si.lead_days
        from pairs pr
        join supplier_items si on si.item_id = pr.item_id and (si.warehouse_id = pr.warehouse_id or si.warehouse_id is null)
        order by pr.item_id, pr.warehouse_id, si.priority, si.warehouse_id nulls last, si.supplier_id
    ),
    latest_po as (
        select distinct on (item_id, warehouse_id) item_id, warehouse_id, supplier_id
        from purchase_order_lines
        order by item_id, warehouse_id, order_date desc, id desc
    )
    select pr.item_id, pr.warehouse_id, i.sku, i.family, w.warehouse_code,
           coalesce(v.on_hand_qty, 0)::float8 as on_hand, coalesce(v.quality_hold_qty, 0)::float8 as quality_hold,
           i.regulated::int as regulated,
           coalesce(pf.supplier_id, lp.supplier_id, 0) as supplier_id,
           coalesce(pf.lead_days, s.default_lead_days, -1) as lead_days,
           (exists (select 1 from sales_order_lines l where l.item_id = pr.item_id and l.warehouse_id = pr.warehouse_id)
            or lp.item_id is not null)::int as has_history
    from pairs pr
    join items i on i.id = pr.item_id
    join warehouses w on w.id = pr.warehouse_id
    left join inventory v on v.item_id = pr.item_id and v.warehouse_id = pr.warehouse_id
    left join preferred pf on pf.item_id = pr.item_id and pf.warehouse_id = pr.warehouse_id
    left join latest_po lp on lp.item_id = pr.item_id and lp.warehouse_id = pr.warehouse_id
    left join suppliers s on s.id = coalesce(pf.supplier_id, lp.supplier_id)
    order by pr.item_id, pr.warehouse_id
"""
PAIR_COLUMNS = ("item_id", "warehouse_id", "sku", "family", "warehouse_code", "on_hand", "quality_hold",
                "regulated", "supplier_id", "lead_days", "has_history")
TEXT_COLUMNS = {"sku", "family", "warehouse_code"}
FLOAT_COLUMNS = {"qty", "on_hand", "quality_hold"}


def _dtype(column: str):
    if column in TEXT_COLUMNS:
        return object
    if column in FLOAT_COLUMNS:
        return "float64"
    return "int64"


def copy_frame(connection: Connection, query: str, params: dict, columns: Sequence[str]) -> pd.DataFrame:
    """Run a query through COPY ... TO STDOUT and read its CSV into a frame with the given columns."""
    return copy_query_frame(
        connection, query, params, columns, {name: _dtype(name) for name in columns}, blank_is_missing=FLOAT_COLUMNS
    )


@dataclass(frozen=True)
class RiskEvents:
    """The pairs and the dated events of the features, with days counted from the reference date."""

    reference: date
    since: date
    pairs: pd.DataFrame
    demand: pd.DataFrame
    stock_out: pd.DataFrame
    stock_in: pd.DataFrame
    in_transit: pd.DataFrame
    purchases: pd.DataFrame
    purchase_receipts: pd.DataFrame
    order_lines: pd.DataFrame
    supplier_issues: pd.DataFrame


def load_events(connection: Connection, reference: date, since: date) -> RiskEvents:
    """Read every pair and the events from since up to the day before reference."""
    params = {"reference": reference, "since": since}
    return RiskEvents(
        reference=reference,
        since=since,
        pairs=copy_frame(connection, PAIRS, {}, PAIR_COLUMNS),
        demand=copy_frame(connection, DEMAND, params, EVENT_COLUMNS),
        stock_out=copy_frame(connection, STOCK_OUT, params, EVENT_COLUMNS),
        stock_in=copy_frame(connection, STOCK_IN, params, EVENT_COLUMNS),
        in_transit=copy_frame(connection, IN_TRANSIT, params, EVENT_COLUMNS),
        purchases=copy_frame(connection, PURCHASES, params, (
            "po_line_id", "item_id", "warehouse_id", "supplier_id", "order_day", "promised_day", "qty", "is_open",
            "last_receipt_day")),
        purchase_receipts=copy_frame(connection, PURCHASE_RECEIPTS, params, ("po_line_id", "day", "qty")),
        order_lines=copy_frame(connection, ORDER_LINES, params, (
            "item_id", "warehouse_id", "due_day", "first_ship_day", "qty", "is_open")),
        supplier_issues=copy_frame(connection, SUPPLIER_ISSUES, params, EVENT_COLUMNS),
    )


# --- Models and scores -----------------------------------------------------

def next_model_version(connection: Connection) -> int:
    connection.execute(text("select pg_advisory_xact_lock(hashtext('risk_models'))"))
    return int(connection.execute(text("select coalesce(max(version), 0) + 1 from risk_models")).scalar_one())


def insert_model(connection: Connection, *, source: str, features: list[str], training_rows: int, positive_rows: int,
                 threshold: float, scores: dict, model_bytes: bytes) -> int:
    """Store a trained model as the next version and return that version."""
    version = next_model_version(connection)
    connection.execute(insert(schema.risk_models).values(
        version=version, source=source, features=features, training_rows=training_rows, positive_rows=positive_rows,
        threshold=round(threshold, 6), validation_scores=json.loads(json.dumps(scores)), model_bytes=model_bytes,
    ))
    return version


@dataclass(frozen=True)
class StoredModel:
    version: int
    source: str
    trained_at: datetime
    training_rows: int
    validation_scores: dict
    model_bytes: bytes


def latest_model(connection: Connection, source: str | None = None) -> StoredModel | None:
    """Return the newest stored model, of the given source when one is named."""
    table = schema.risk_models
    query = select(table.c.version, table.c.source, table.c.trained_at, table.c.training_rows,
                   table.c.validation_scores, table.c.model_bytes).order_by(table.c.version.desc()).limit(1)
    if source is not None:
        query = query.where(table.c.source == source)
    row = connection.execute(query).first()
    return None if row is None else StoredModel(row.version, row.source, row.trained_at, row.training_rows,
                                                row.validation_scores, bytes(row.model_bytes))


SCORE_STAGE_COLUMNS = {
    "item_id": "bigint", "warehouse_id": "bigint", "model_version": "integer", "feature_date": "date",
    "probability": "float8", "flagged": "boolean", "explanation": "text", "status": "text",
}


def replace_scores(connection: Connection, scores: pd.DataFrame, job_run_id: int | None) -> int:
    """Replace every risk score with the given rows through one COPY into a staging table; return rows written."""
    connection.execute(text(
        "create temporary table risk_score_stage ("
        + ", ".join(f"{name} {kind}" for name, kind in SCORE_STAGE_COLUMNS.items()) + ") on commit drop"
    ))
    frame = scores[list(SCORE_STAGE_COLUMNS)].copy()
    frame["model_version"] = frame["model_version"].astype("Int64")
    payload = frame.to_csv(index=False, header=False).encode()
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"copy risk_score_stage ({', '.join(SCORE_STAGE_COLUMNS)}) from stdin with (format csv)") as copy:
        copy.write(payload)
    connection.execute(text("delete from risk_scores"))
    return connection.execute(text(
        f"insert into risk_scores ({', '.join(SCORE_STAGE_COLUMNS)}, job_run_id) "
        f"select item_id, warehouse_id, model_version, feature_date, round(probability::numeric, 6), flagged, "
        f"explanation, status, :job_run_id from risk_score_stage"
    ), {"job_run_id": job_run_id}).rowcount
