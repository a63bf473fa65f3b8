"""SQL adapters of recommendations: load the backordered lines and their supply, and merge the recommendations table.

The lines of a run are the exposure rows with a shortage whose order line is
still open; a line's demand is its shortage, at most its open quantity, less
the quantity of its approved recommendations not yet executed. An approved
escalation counts as handled, so it is not proposed again.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from typing import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from services.exposure.netting import NO_DAY
from services.exposure.repository import business_dates
from services.recommend.allocation import AllocationInput
from services.recommend.settings import RecommendationSettings
from services.recommend.supply import promised_elsewhere, purchases_left
from services.recommend.versions import EXPECTED_DATE_SQL

DAY = "- date '1970-01-01'"
OPEN_QTY = "(l.ordered_qty - l.shipped_qty - l.cancelled_qty)"

LINES = f"""
    with approved as (
        select so_line_id, sum(qty) as qty from recommendations
        where status = 'approved' group by so_line_id
    )
    select e.so_line_id, l.order_number, l.line_number, c.customer_code, c.tier, l.item_id, l.warehouse_id,
           greatest(least(e.shortage_qty, {OPEN_QTY}) - coalesce(a.qty, 0), 0)::float8 as demand,
           coalesce(l.current_promised_date, l.requested_date) {DAY} as due_day,
           coalesce(e.projected_date_p50 {DAY}, {NO_DAY}) as projected_day,
           e.priority_score::float8 as priority, e.priority_score::text as priority_text,
           e.score_tier::text as score_tier, e.score_sla::text as score_sla, e.score_margin::text as score_margin,
           e.score_fill_gap::text as score_fill_gap, e.score_age::text as score_age, e.score_churn::text as score_churn,
           e.root_cause, e.status as exposure_status, l.unit_price::text as unit_price, l.currency,
           l.ordered_qty::text as ordered_qty, l.shipped_qty::text as shipped_qty,
           l.cancelled_qty::text as cancelled_qty, l.status
    from exposure e
    join sales_order_lines l on l.id = e.so_line_id
    join customers c on c.id = l.customer_id
    left join approved a on a.so_line_id = e.so_line_id
    where e.shortage_qty > 0 and l.status = 'open' and {OPEN_QTY} > 0
"""

STOCK = """
    select item_id, warehouse_id, (on_hand_qty - quality_hold_qty)::float8 as usable, allocated_qty::float8 as allocated,
           on_hand_qty::text as on_hand_qty, quality_hold_qty::text as quality_hold_qty
    from inventory where item_id = any(%(item_ids)s::bigint[])
"""

OPEN_DEMAND = f"""
    select l.item_id, l.warehouse_id, sum({OPEN_QTY})::float8 as open_total,
           sum(least(l.allocated_qty, {OPEN_QTY}))::float8 as reserved_total,
           coalesce(sum({OPEN_QTY}) filter (where c.tier = 'strategic'), 0)::float8 as strategic_open
    from sales_order_lines l join customers c on c.id = l.customer_id
    where l.status = 'open' and {OPEN_QTY} > 0 and l.item_id = any(%(item_ids)s::bigint[])
    group by l.item_id, l.warehouse_id
"""

PURCHASES = f"""
    select p.id as po_line_id, p.po_number, p.line_number, p.item_id, p.warehouse_id,
           (case when p.ack_status = 'rejected' then 0
                 else greatest(coalesce(p.acknowledged_qty, p.ordered_qty) - p.received_qty - p.cancelled_qty, 0)
            end)::float8 as open_qty,
           ({EXPECTED_DATE_SQL}) {DAY} as expected_day,
           case when f.p50_date is not null then 'forecast P50'
                when p.ack_status in ('accepted', 'changed', 'backordered') and p.acknowledged_date is not null then 'acknowledged date'
                when p.promised_date is not null then 'supplier promise'
                else 'supplier lead time' end as date_source,
           coalesce(f.confidence, '') as confidence,
           p.ordered_qty::text as ordered_qty, p.received_qty::text as received_qty,
           p.cancelled_qty::text as cancelled_qty, p.status, ({EXPECTED_DATE_SQL})::text as expected_date
    from purchase_order_lines p
    join suppliers s on s.id = p.supplier_id
    left join eta_forecasts f on f.po_line_id = p.id
    where p.status = 'open' and p.item_id = any(%(item_ids)s::bigint[])
"""

LANES = """
    select from_warehouse_id, to_warehouse_id, lead_days, cost_per_unit::float8 as cost_per_unit
    from transfer_lanes
"""

SUBSTITUTES = """
    select s.item_id, s.substitute_item_id, s.ratio::float8 as ratio, s.ratio::text as ratio_text, s.needs_approval,
           s.excluded_customer_codes, s.allowed_tiers
    from substitutes s where s.item_id = any(:item_ids)
"""

ITEMS = """
    select id as item_id, sku, unit_cost::float8 as unit_cost, regulated
    from items where id = any(:item_ids)
"""

WAREHOUSES = "select id as warehouse_id, warehouse_code, time_zone from warehouses order by id"

TEXT_COLUMNS = {
    "order_number", "customer_code", "tier", "priority_text", "score_tier", "score_sla", "score_margin",
    "score_fill_gap", "score_age", "score_churn", "root_cause", "exposure_status", "unit_price", "currency",
    "ordered_qty", "shipped_qty", "cancelled_qty", "status", "on_hand_qty", "quality_hold_qty", "po_number",
    "date_source", "confidence", "received_qty", "expected_date", "warehouse_code", "time_zone",
}
FLOAT_COLUMNS = {"demand", "priority", "usable", "allocated", "open_total", "reserved_total", "strategic_open", "open_qty",
                 "cost_per_unit"}


def _dtype(column: str):
    if column in TEXT_COLUMNS:
        return object
    if column in FLOAT_COLUMNS:
        return "float64"
    return "int64"


def _copy_frame(connection: Connection, query: str, params: dict) -> pd.DataFrame:
    """Run a query through COPY ... TO STDOUT and read its CSV, numbers typed and text kept as written."""
    buffer = io.BytesIO()
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"copy ({query}) to stdout with (format csv, header true)", params) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    header = buffer.readline().decode().strip().split(",")
    buffer.seek(0)
    dtypes = {name: _dtype(name) for name in header if name not in ("needs_approval", "regulated")}
    return pd.read_csv(buffer, dtype=dtypes, keep_default_na=False)


@dataclass(frozen=True)
class RunInput:
    """What one recommendation run reads: the LP input and the facts its explanations and versions need.

    lines, purchases and stock are aligned with the frames of allocation
    and carry extra columns: the lines' order numbers, score components,
    prices and version text; the purchase order lines' numbers, date source,
    confidence and version text; the stock rows' version text.
    """

    allocation: AllocationInput
    items: pd.DataFrame
    warehouse_codes: dict[int, str]


def load_run_input(connection: Connection, settings: RecommendationSettings, *, as_of: date | None) -> RunInput:
    """Load the backordered lines and every source they may draw on, as one snapshot of the connection's transaction."""
    warehouses = _copy_frame(connection, WAREHOUSES, {})
    warehouses["today"] = business_dates(warehouses, as_of)
    lines = _copy_frame(connection, LINES, {})
    lines = lines[lines["demand"] > 0].reset_index(drop=True)
    lines["today"] = lines["warehouse_id"].map(dict(zip(warehouses["warehouse_id"], warehouses["today"]))).astype(np.int64)

    line_items = sorted(set(lines["item_id"].tolist()))
    substitutes = _substitutes(connection, line_items)
    item_ids = sorted(set(line_items) | set(substitutes["substitute_item_id"].tolist()))
    items = pd.DataFrame(connection.execute(text(ITEMS), {"item_ids": item_ids}).mappings().all(),
                         columns=["item_id", "sku", "unit_cost", "regulated"])
    substitutes = _with_extra_cost(substitutes, items)

    params = {"item_ids": item_ids}
    stock = _copy_frame(connection, STOCK, params)
    locations = _locations(stock, _copy_frame(connection, OPEN_DEMAND, params), lines)
    stock = stock.merge(locations[["item_id", "warehouse_id", "available"]], on=["item_id", "warehouse_id"], how="left")
    strategic = locations.groupby("item_id")["strategic_open"].sum()
    stock["strategic_open_qty"] = stock["item_id"].map(strategic).fillna(0.0)
    purchases = _copy_frame(connection, PURCHASES, {"item_ids": line_items})
    purchases["available"] = purchases_left(purchases, locations)
    lanes = _copy_frame(connection, LANES, {})
    return RunInput(
        allocation=AllocationInput(lines=lines, stock=stock, purchases=purchases, lanes=lanes, substitutes=substitutes),
        items=items,
        warehouse_codes=dict(zip(warehouses["warehouse_id"].tolist(), warehouses["warehouse_code"].tolist())),
    )


def _locations(stock: pd.DataFrame, demand: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """Return per location of the items the free stock, the stock left for the run and the inbound already promised."""
    stock = stock[["item_id", "warehouse_id", "usable", "allocated"]]
    short = lines.groupby(["item_id", "warehouse_id"], as_index=False)["demand"].sum().rename(columns={"demand": "short_total"})
    frame = stock.merge(demand, on=["item_id", "warehouse_id"], how="outer").merge(short, on=["item_id", "warehouse_id"], how="left")
    frame = frame.fillna({"usable": 0.0, "allocated": 0.0, "open_total": 0.0, "reserved_total": 0.0, "strategic_open": 0.0,
                          "short_total": 0.0})
    located = promised_elsewhere(frame)
    located["strategic_open"] = frame["strategic_open"].to_numpy(np.float64)
    return located


def _substitutes(connection: Connection, item_ids: Sequence[int]) -> pd.DataFrame:
    rows = connection.execute(text(SUBSTITUTES), {"item_ids": list(item_ids)}).mappings().all()
    columns = ["item_id", "substitute_item_id", "ratio", "ratio_text", "needs_approval", "excluded_customer_codes", "allowed_tiers"]
    return pd.DataFrame(rows, columns=columns)


def _with_extra_cost(substitutes: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Add each substitute's cost per ordered unit above the ordered item's cost, at least 0."""
    cost = dict(zip(items["item_id"].tolist(), items["unit_cost"].tolist()))
    frame = substitutes.copy()
    substitute_cost = frame["substitute_item_id"].map(cost).astype(np.float64) * frame["ratio"].astype(np.float64)
    frame["extra_cost"] = np.maximum(substitute_cost - frame["item_id"].map(cost).astype(np.float64), 0.0)
    frame["ratio"] = frame["ratio"].astype(np.float64)
    return frame


def lock_recommendations(connection: Connection) -> bool:
    """Take the transaction's lock on the recommendation run; False when another run holds it."""
    return bool(connection.execute(text("select pg_try_advisory_xact_lock(hashtext('recommendations'))")).scalar_one())


# --- Writing ---------------------------------------------------------------

STAGE = "recommendation_stage"
STAGE_COLUMNS = {
    "so_line_id": "bigint", "action": "text", "item_id": "bigint", "qty": "numeric", "source_warehouse_id": "bigint",
    "source_po_line_id": "bigint", "substitute_item_id": "bigint", "expected_date": "date", "revenue_recovered": "numeric",
    "days_saved": "integer", "cost": "numeric", "currency": "text", "explanation": "text", "governance_class": "text",
    "data_version": "text",
}
# A proposed recommendation is the same as a staged one when it names the same line, action, source and quantity.
SAME = """
    r.so_line_id = s.so_line_id and r.action = s.action and r.qty = s.qty
    and r.source_warehouse_id is not distinct from s.source_warehouse_id
    and r.source_po_line_id is not distinct from s.source_po_line_id
    and r.substitute_item_id is not distinct from s.substitute_item_id
"""
DETAILS = ("expected_date", "revenue_recovered", "days_saved", "cost", "currency", "explanation", "governance_class", "data_version")

MARK_STALE = f"""
    update recommendations r
    set status = 'stale', updated_at = now(),
        explanation = r.explanation || ' Stale since ' || to_char(now() at time zone 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC: '
                      || :reason
    where r.status = 'proposed' and not exists (select 1 from {STAGE} s where {SAME})
"""
UPDATE_KEPT = f"""
    update recommendations r
    set ({', '.join(DETAILS)}, job_run_id, updated_at) = ({', '.join(f's.{name}' for name in DETAILS)}, :job_run_id, now())
    from {STAGE} s
    where r.status = 'proposed' and {SAME}
      and ({', '.join(f'r.{name}' for name in DETAILS)}) is distinct from ({', '.join(f's.{name}' for name in DETAILS)})
"""
COUNT_KEPT = f"select count(*) from recommendations r join {STAGE} s on {SAME} where r.status = 'proposed'"
INSERT_NEW = f"""
    insert into recommendations (job_run_id, {', '.join(STAGE_COLUMNS)})
    select :job_run_id, {', '.join(f's.{name}' for name in STAGE_COLUMNS)}
    from {STAGE} s
    where not exists (select 1 from recommendations r where r.status = 'proposed' and {SAME})
"""


@dataclass(frozen=True)
class WriteCounts:
    kept: int
    updated: int
    inserted: int
    staled: int


def merge_recommendations(connection: Connection, rows: pd.DataFrame, *, job_run_id: int | None, reason: str) -> WriteCounts:
    """Make the proposed recommendations equal the given rows, keeping the ids of unchanged ones.

    A proposed row that the new rows no longer contain becomes stale, and
    its explanation ends with the reason. Approved, rejected, executed and
    stale rows are never touched.
    """
    columns = ", ".join(f"{name} {kind}" for name, kind in STAGE_COLUMNS.items())
    connection.exec_driver_sql(f"drop table if exists {STAGE}")
    connection.exec_driver_sql(f"create temp table {STAGE} ({columns}) on commit drop")
    if len(rows):
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(f"copy {STAGE} ({', '.join(STAGE_COLUMNS)}) from stdin with (format csv)") as copy:
            copy.write(rows[list(STAGE_COLUMNS)].to_csv(index=False, header=False).encode())
    connection.exec_driver_sql(f"analyze {STAGE}")

    staled = connection.execute(text(MARK_STALE), {"reason": reason}).rowcount
    kept = connection.execute(text(COUNT_KEPT)).scalar_one()
    updated = connection.execute(text(UPDATE_KEPT), {"job_run_id": job_run_id}).rowcount
    inserted = connection.execute(text(INSERT_NEW), {"job_run_id": job_run_id}).rowcount
    return WriteCounts(kept=kept, updated=updated, inserted=inserted, staled=staled)


LAST_SUCCEEDED_RUN = """
    select started_at from job_runs
    where job_name = :job_name and status = 'succeeded'
    order by started_at desc, id desc
    limit 1
"""

# Anything a run reads: synced rows, exposure rows, ETA forecasts, the
# settings it uses, and decisions on recommendations. The default policy row
# a run stores (updated_by 'default') is not a change.
CHANGED_SINCE = """
    select exists (select 1 from sync_runs where status = 'succeeded' and finished_at > :since
                   and inserted_count + updated_count > 0)
        or exists (select 1 from exposure where computed_at > :since)
        or exists (select 1 from eta_forecasts where computed_at > :since)
        or exists (select 1 from business_settings where updated_at > :since and updated_by <> 'default')
        or exists (select 1 from decisions where decided_at > :since)
        or exists (select 1 from job_runs where job_name = 'exposure' and status = 'succeeded' and started_at > :since
                   and coalesce((counts ->> 'rows_deleted')::int, 0) > 0)
"""


def last_succeeded_run(connection: Connection, job_name: str):
    """Return when the job's latest succeeded run started, or None."""
    return connection.execute(text(LAST_SUCCEEDED_RUN), {"job_name": job_name}).scalar_one_or_none()


def changed_since(connection: Connection, since) -> bool:
    return bool(connection.execute(text(CHANGED_SINCE), {"since": since}).scalar_one())
