"""SQL adapters of exposure: load the supply and demand picture, and replace the exposure rows.

Large reads go through COPY ... TO STDOUT into pandas, because a million
open lines read row by row through the driver take several times longer.
Quantities come out as integers of 1/1,000,000 and money as integers of
1/10,000, which is exact for numeric(18,6) and numeric(18,4).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Sequence
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from services.db.copy import copy_query_frame
from services.exposure.netting import (
    CUSTOMER_COLUMNS,
    IN_TRANSIT_COLUMNS,
    LANE_COLUMNS,
    LINE_COLUMNS,
    NO_DAY,
    PURCHASE_COLUMNS,
    STOCK_COLUMNS,
    SupplyPicture,
    customers_to_score,
    date_of_day,
    day_number,
    root_cause_detail_json,
)

logger = logging.getLogger(__name__)

# The window of a customer's recent lines for the fill-rate gap and the late-line share.
RECENT_DAYS = 90
ACKNOWLEDGEMENT_STATUSES_WITH_DATE = ("accepted", "changed", "backordered")

DAY = "- date '1970-01-01'"
OPEN_QTY = "(l.ordered_qty - l.shipped_qty - l.cancelled_qty)"

# A line without its own cost takes its item's cost (ITEM_COSTS), filled in
# Python: joining items in SQL costs more than the whole lines read.
OPEN_LINES = f"""
    select l.id as so_line_id, l.customer_id, l.item_id, l.warehouse_id,
           l.order_date {DAY} as order_day,
           l.requested_date {DAY} as requested_day,
           coalesce(l.current_promised_date {DAY}, {NO_DAY}) as promised_day,
           ({OPEN_QTY} * 1000000)::bigint as open_qty,
           (least(l.allocated_qty, {OPEN_QTY}) * 1000000)::bigint as reserved_qty,
           (l.unit_price * 10000)::bigint as unit_price,
           coalesce((l.unit_cost * 10000)::bigint, -1) as unit_cost,
           l.currency
    from sales_order_lines l
    where l.status = 'open' and {OPEN_QTY} > 0 {{item_filter}}
"""

ITEM_COSTS = "select id as item_id, (unit_cost * 10000)::bigint as unit_cost from items where true {item_filter}"

# A customer's recent lines are those requested in the window and due before
# the reference date. Fill rate is their shipped share of the quantity due.
# A recent line is late when it is still open past due, or when its promise
# was moved later than first promised.
RECENT_HISTORY = """
    select customer_id,
           (sum(shipped_qty) / nullif(sum(ordered_qty - cancelled_qty), 0))::float8 as recent_fill_rate,
           avg(case when (status = 'open' and ordered_qty - shipped_qty - cancelled_qty > 0)
                      or current_promised_date > first_promised_date
                    then 1.0 else 0.0 end)::float8 as late_share
    from sales_order_lines
    where requested_date >= %(window_start)s and requested_date < %(reference)s
      and coalesce(current_promised_date, requested_date) < %(reference)s
      and customer_id = any(%(customer_ids)s::bigint[])
    group by customer_id
"""

CUSTOMER_TERMS = """
    c.id as customer_id, c.tier, (c.late_penalty_per_day * 10000)::bigint as late_penalty,
    c.fill_rate_target::float8 as fill_rate_target
"""

CUSTOMER_FACTS = f"""
    with recent as ({RECENT_HISTORY})
    select {CUSTOMER_TERMS}, recent.recent_fill_rate, recent.late_share
    from customers c
    left join recent on recent.customer_id = c.id
    where c.id = any(%(customer_ids)s::bigint[])
"""

# A full recompute stores the history figures of the customers it scores.
# Only history in sales_order_lines feeds them, and tier, penalty and
# target are read live, so stored figures hold until the reference date
# moves or a sync changes order lines.
STORE_CUSTOMER_FACTS = f"""
    with recent as ({RECENT_HISTORY})
    insert into customer_facts (customer_id, reference_date, recent_fill_rate, late_share)
    select c.id, %(reference)s, recent.recent_fill_rate, recent.late_share
    from customers c
    left join recent on recent.customer_id = c.id
    where c.id = any(%(customer_ids)s::bigint[])
"""

STORED_CUSTOMER_FACTS = f"""
    select {CUSTOMER_TERMS}, f.recent_fill_rate, f.late_share
    from customer_facts f
    join customers c on c.id = f.customer_id
    where f.customer_id = any(%(customer_ids)s::bigint[])
      and f.reference_date = %(reference)s
"""
STILL_HOLD = """
      and f.computed_at >= coalesce(
          (select max(r.finished_at) from sync_runs r
           where r.entity = 'sales_order_lines' and r.status = 'succeeded' and r.inserted_count + r.updated_count > 0),
          '-infinity')
"""

STOCK = """
    select item_id, warehouse_id, (on_hand_qty * 1000000)::bigint as on_hand,
           (quality_hold_qty * 1000000)::bigint as hold, (allocated_qty * 1000000)::bigint as allocated
    from inventory
    where true {item_filter}
"""

# The expected date is the ETA forecast's P50, else the date of an
# acknowledgement that carries a delivery date, else the supplier's promise,
# else the order date plus the supplier's lead time. The baseline is the
# first promise: the old date of the earliest date change, else the promise.
OPEN_PURCHASES = f"""
    with first_change as (
        select distinct on (e.po_line_id) e.po_line_id, e.old_date
        from supplier_events e
        join purchase_order_lines p on p.id = e.po_line_id
        where e.event_type = 'date_change' and e.old_date is not null and p.status = 'open' {{item_filter}}
        order by e.po_line_id, e.event_at, e.id
    ),
    dated as (
        select p.*, f.p50_date, f.p90_date, f.confidence, fc.old_date,
               case when p.ack_status in {ACKNOWLEDGEMENT_STATUSES_WITH_DATE} then p.acknowledged_date end as ack_delivery_date,
               p.order_date + s.default_lead_days as lead_time_date
        from purchase_order_lines p
        join suppliers s on s.id = p.supplier_id
        left join eta_forecasts f on f.po_line_id = p.id
        left join first_change fc on fc.po_line_id = p.id
        where p.status = 'open' {{item_filter}}
    )
    select id as po_line_id, supplier_id, item_id, warehouse_id,
           (case when ack_status = 'rejected' then 0
                 else greatest(coalesce(acknowledged_qty, ordered_qty) - received_qty - cancelled_qty, 0)
            end * 1000000)::bigint as open_qty,
           coalesce(p50_date, ack_delivery_date, promised_date, lead_time_date) {DAY} as expected_day,
           coalesce(p90_date {DAY}, {NO_DAY}) as p90_day,
           coalesce(old_date, promised_date, ack_delivery_date, lead_time_date) {DAY} as baseline_day,
           case when p50_date is not null then 'forecast'
                when ack_delivery_date is not null then 'acknowledged'
                when promised_date is not null then 'promised'
                else 'lead_time' end as date_source,
           coalesce(confidence, '') as confidence
    from dated
"""

IN_TRANSIT = f"""
    select s.id as shipment_id, s.kind, coalesce(s.po_line_id, 0) as po_line_id, s.item_id,
           coalesce(s.to_warehouse_id, p.warehouse_id) as warehouse_id,
           (s.qty * 1000000)::bigint as qty,
           coalesce(s.expected_date, s.ship_date) {DAY} as expected_day
    from shipments s
    left join purchase_order_lines p on p.id = s.po_line_id
    where s.status = 'in_transit' and s.kind in ('asn', 'transfer')
      and coalesce(s.to_warehouse_id, p.warehouse_id) is not null {{item_filter}}
"""

LANES = "select from_warehouse_id, to_warehouse_id from transfer_lanes"
WAREHOUSES = "select id as warehouse_id, warehouse_code, time_zone from warehouses order by id"

TEXT_COLUMNS = {"currency", "tier", "kind", "date_source", "confidence", "warehouse_code", "time_zone"}
FLOAT_COLUMNS = {"fill_rate_target", "recent_fill_rate", "late_share"}


def _dtype(column: str):
    if column in TEXT_COLUMNS:
        return object
    if column in FLOAT_COLUMNS:
        return "float64"
    return "int64"


def _copy_frame(connection: Connection, query: str, params: dict, columns: Sequence[str]) -> pd.DataFrame:
    return copy_query_frame(
        connection, query, params, columns, {name: _dtype(name) for name in columns}, blank_is_missing=FLOAT_COLUMNS
    )


def _item_filter(item_ids, column: str) -> tuple[str, dict]:
    if item_ids is None:
        return "", {}
    return f"and {column} = any(%(item_ids)s::bigint[])", {"item_ids": [int(item) for item in item_ids]}


def business_dates(warehouses: pd.DataFrame, as_of: date | None, now: datetime | None = None) -> np.ndarray:
    """Return each warehouse's business date as a day number: as_of for all, or today in its time zone."""
    if as_of is not None:
        return np.full(len(warehouses), day_number(as_of), dtype=np.int64)
    now = now or datetime.now(timezone.utc)
    return np.array([day_number(now.astimezone(ZoneInfo(zone)).date()) for zone in warehouses["time_zone"]], dtype=np.int64)


def load_picture(
    connection: Connection,
    *,
    as_of: date | None = None,
    item_ids: Sequence[int] | None = None,
    store_customer_facts: bool = False,
) -> SupplyPicture:
    """Load the open lines and the supply of the given items (every item when None) as one picture.

    Customer facts are read only for customers with lines that stock does
    not settle, because the netting scores no other line. A picture of
    some items reads the facts the last full recompute stored where they
    still hold; store_customer_facts replaces the stored facts with the
    ones this picture computes (a full recompute, in its transaction).
    """
    warehouses = _copy_frame(connection, WAREHOUSES, {}, ("warehouse_id", "warehouse_code", "time_zone"))
    warehouses["today"] = business_dates(warehouses, as_of)
    lines_filter, params = _item_filter(item_ids, "l.item_id")
    lines = _copy_frame(connection, OPEN_LINES.format(item_filter=lines_filter), params, LINE_COLUMNS)
    _fill_item_costs(connection, lines, item_ids, params)
    stock = _copy_frame(connection, STOCK.format(item_filter=_item_filter(item_ids, "item_id")[0]), params, STOCK_COLUMNS)
    reference = date_of_day(int(warehouses["today"].max())) if len(warehouses) else as_of or date.today()
    customer_ids = customers_to_score(lines, stock).tolist()
    if store_customer_facts:
        customers = _store_customer_facts(connection, reference, customer_ids)
    else:
        customers = load_customer_facts(connection, reference, customer_ids, reuse_stored=item_ids is not None)
    return SupplyPicture(
        lines=lines,
        customers=customers,
        stock=stock,
        purchases=_copy_frame(
            connection, OPEN_PURCHASES.format(item_filter=_item_filter(item_ids, "p.item_id")[0]), params, PURCHASE_COLUMNS
        ),
        in_transit=_copy_frame(
            connection, IN_TRANSIT.format(item_filter=_item_filter(item_ids, "s.item_id")[0]), params, IN_TRANSIT_COLUMNS
        ),
        lanes=_copy_frame(connection, LANES, {}, LANE_COLUMNS),
        warehouses=warehouses[["warehouse_id", "warehouse_code", "today"]],
    )


def _fill_item_costs(connection: Connection, lines: pd.DataFrame, item_ids, params: dict) -> None:
    """Give lines without a cost of their own (-1) their item's cost, in place."""
    missing = lines["unit_cost"].to_numpy(np.int64) < 0
    if not missing.any():
        return
    costs = _copy_frame(connection, ITEM_COSTS.format(item_filter=_item_filter(item_ids, "id")[0]), params, ("item_id", "unit_cost"))
    by_item = costs.set_index("item_id")["unit_cost"]
    lines.loc[missing, "unit_cost"] = by_item.reindex(lines.loc[missing, "item_id"]).to_numpy(np.int64)


def _customer_params(reference: date, customer_ids: Sequence[int]) -> dict:
    return {
        "window_start": reference - timedelta(days=RECENT_DAYS),
        "reference": reference,
        "customer_ids": [int(customer) for customer in customer_ids],
    }


def _no_customers() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=_dtype(name)) for name in CUSTOMER_COLUMNS})


def load_customer_facts(
    connection: Connection, reference: date, customer_ids: Sequence[int], *, reuse_stored: bool = False
) -> pd.DataFrame:
    """Return tier, penalty, fill-rate target, recent fill rate and late share of the customers.

    With reuse_stored, a customer takes the facts the last full recompute
    stored when they are for this reference date and no sync changed order
    lines since. The other customers' facts are computed from their history.
    """
    if not len(customer_ids):
        return _no_customers()
    params = _customer_params(reference, customer_ids)
    if not reuse_stored:
        return _copy_frame(connection, CUSTOMER_FACTS, params, CUSTOMER_COLUMNS)
    stored = _copy_frame(connection, STORED_CUSTOMER_FACTS + STILL_HOLD, params, CUSTOMER_COLUMNS)
    missing = np.setdiff1d(np.asarray(params["customer_ids"], dtype=np.int64), stored["customer_id"].to_numpy(np.int64))
    if not len(missing):
        return stored
    computed = _copy_frame(connection, CUSTOMER_FACTS, _customer_params(reference, missing.tolist()), CUSTOMER_COLUMNS)
    return pd.concat([stored, computed], ignore_index=True)


def _store_customer_facts(connection: Connection, reference: date, customer_ids: Sequence[int]) -> pd.DataFrame:
    """Replace the stored customer facts with those of these customers, and return them."""
    connection.exec_driver_sql("delete from customer_facts")
    if not len(customer_ids):
        return _no_customers()
    params = _customer_params(reference, customer_ids)
    connection.connection.driver_connection.cursor().execute(STORE_CUSTOMER_FACTS, params)
    return _copy_frame(connection, STORED_CUSTOMER_FACTS, params, CUSTOMER_COLUMNS)


def lock_exposure(connection: Connection) -> bool:
    """Take the transaction's lock on the exposure table; False when another run holds it."""
    return bool(connection.execute(text("select pg_try_advisory_xact_lock(hashtext('exposure'))")).scalar_one())


# The staging table contains quantities, money and scores as integers of
# their scale, and dates as day numbers. The merge turns them into numeric
# and date.
STAGE = "exposure_stage"
STAGE_COLUMNS = {
    "so_line_id": "bigint primary key", "job_run_id": "bigint", "status": "text", "shortage_qty": "bigint",
    "projected_day_p50": "bigint", "projected_day_p90": "bigint", "days_late_promise": "integer",
    "days_late_request": "integer", "root_cause": "text", "root_cause_detail": "jsonb", "cause_po_line_id": "bigint",
    "supplier_id": "bigint",
    "revenue_at_risk": "bigint", "margin_at_risk": "bigint", "penalty_exposure": "bigint", "currency": "text",
    "backlog_age_days": "integer", "priority_score": "bigint", "score_tier": "bigint", "score_sla": "bigint",
    "score_margin": "bigint", "score_fill_gap": "bigint", "score_age": "bigint", "score_churn": "bigint",
}
SCALED = {"shortage_qty": 6, "revenue_at_risk": 4, "margin_at_risk": 4, "penalty_exposure": 4, "priority_score": 4,
          "score_tier": 4, "score_sla": 4, "score_margin": 4, "score_fill_gap": 4, "score_age": 4, "score_churn": 4}


def _stage_value(name: str) -> str:
    """Return the SQL that turns a staged column into its exposure column's type."""
    if name in SCALED:
        return f"(s.{name}::numeric / 1{'0' * SCALED[name]})"
    if name.startswith("projected_day"):
        return f"date '1970-01-01' + nullif(s.{name}, {NO_DAY})::integer"
    return f"s.{name}"


VALUE_COLUMNS = [name for name in STAGE_COLUMNS if name not in ("so_line_id", "job_run_id")]
EXPOSURE_NAMES = {"projected_day_p50": "projected_date_p50", "projected_day_p90": "projected_date_p90"}
TARGETS = [EXPOSURE_NAMES.get(name, name) for name in VALUE_COLUMNS]
SOURCES = [_stage_value(name) for name in VALUE_COLUMNS]

# The supplier a staged line waits for: the supplier of its cause purchase
# order line, else the item's preferred supplier (lowest priority number, a
# row for the line's own warehouse before a row for every warehouse). Set in
# two set-based statements, so pages filter and group by a stored column.
STAGE_SUPPLIERS = (
    f"""
    update {STAGE} s set supplier_id = p.supplier_id
    from purchase_order_lines p
    where p.id = s.cause_po_line_id
    """,
    f"""
    update {STAGE} s set supplier_id = preferred.supplier_id
    from (
        select distinct on (l.id) l.id as so_line_id, si.supplier_id
        from {STAGE} staged
        join sales_order_lines l on l.id = staged.so_line_id
        join supplier_items si on si.item_id = l.item_id and (si.warehouse_id = l.warehouse_id or si.warehouse_id is null)
        where staged.supplier_id is null
        order by l.id, si.priority, si.warehouse_id nulls last, si.supplier_id
    ) preferred
    where preferred.so_line_id = s.so_line_id
    """,
)

# Rows are compared on their values, so a recompute that finds the same
# exposure changes no row, and computed_at and job_run_id name the run that
# last changed a row. Rewriting every row was the slowest step, because each
# foreign key check of an inserted row locks the referenced row.
MERGE_DELETE = f"""
    delete from exposure e
    where {{scope}} and not exists (select 1 from {STAGE} s where s.so_line_id = e.so_line_id)
"""
MERGE_UPDATE = f"""
    update exposure e
    set ({', '.join(TARGETS)}, computed_at, job_run_id) = ({', '.join(SOURCES)}, now(), s.job_run_id)
    from {STAGE} s
    where s.so_line_id = e.so_line_id
      and ({', '.join(f'e.{name}' for name in TARGETS)}) is distinct from ({', '.join(SOURCES)})
"""
MERGE_INSERT = f"""
    insert into exposure (so_line_id, job_run_id, {', '.join(TARGETS)})
    select s.so_line_id, s.job_run_id, {', '.join(SOURCES)}
    from {STAGE} s
    where not exists (select 1 from exposure e where e.so_line_id = s.so_line_id)
"""


def exposure_stage_csv(exposure: pd.DataFrame, warehouse_codes: dict[int, str], job_run_id: int | None) -> bytes:
    """Render exposure rows as CSV in the column order of STAGE_COLUMNS."""
    rows = pd.DataFrame({
        name: exposure[name] for name in STAGE_COLUMNS
        if name not in ("job_run_id", "root_cause_detail", "cause_po_line_id", "supplier_id")
    })
    rows["job_run_id"] = pd.array([job_run_id] * len(rows), dtype="Int64")
    rows["root_cause_detail"] = root_cause_detail_json(exposure, warehouse_codes)
    cause_po_line = pd.Series(exposure["cause_po_line_id"].to_numpy(np.int64), dtype="Int64")
    rows["cause_po_line_id"] = cause_po_line.where(cause_po_line > 0)
    rows["supplier_id"] = pd.array([None] * len(rows), dtype="Int64")  # set by STAGE_SUPPLIERS after the copy
    return rows[list(STAGE_COLUMNS)].to_csv(index=False, header=False).encode()


@dataclass(frozen=True)
class WriteCounts:
    deleted: int
    updated: int
    inserted: int


def replace_exposure(connection: Connection, exposure: pd.DataFrame, warehouse_codes: dict[int, str], *,
                     item_ids: Sequence[int] | None, job_run_id: int | None) -> WriteCounts:
    """Make the exposure rows of the items' lines (every row when item_ids is None) equal the given rows.

    Rows of lines no longer exposed are deleted, changed rows updated and
    new rows inserted; unchanged rows are left as they are.
    """
    columns = ", ".join(f"{name} {kind}" for name, kind in STAGE_COLUMNS.items())
    connection.exec_driver_sql(f"drop table if exists {STAGE}")
    connection.exec_driver_sql(f"create temp table {STAGE} ({columns}) on commit drop")
    if not exposure.empty:
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(f"copy {STAGE} ({', '.join(STAGE_COLUMNS)}) from stdin with (format csv)") as copy:
            copy.write(exposure_stage_csv(exposure, warehouse_codes, job_run_id))
        for statement in STAGE_SUPPLIERS:
            connection.exec_driver_sql(statement)

    params = {}
    scope = "true"
    if item_ids is not None:
        # NOTE: only rows of the items' open lines are in scope, so the partial index on open lines serves
        # the delete. A row of a line closed since the last full recompute stays until the next one, which
        # exposure_job runs whenever order lines were synced.
        scope = "e.so_line_id in (select l.id from sales_order_lines l where l.item_id = any(cast(:item_ids as bigint[])) and l.status = 'open')"
        params["item_ids"] = [int(item) for item in item_ids]
    deleted = connection.execute(text(MERGE_DELETE.format(scope=scope)), params).rowcount
    updated = connection.execute(text(MERGE_UPDATE)).rowcount
    inserted = connection.execute(text(MERGE_INSERT)).rowcount
    return WriteCounts(deleted=deleted, updated=updated, inserted=inserted)


SUPPLIER_EVENT_ITEMS = """
    select distinct p.item_id
    from supplier_events e
    join purchase_order_lines p on p.id = e.po_line_id
    where e.loaded_at > :since
    order by p.item_id
"""


def items_touched_by_supplier_events(connection: Connection, since: datetime) -> list[int]:
    """Return the items of purchase order lines named by supplier events loaded after since."""
    return [row.item_id for row in connection.execute(text(SUPPLIER_EVENT_ITEMS), {"since": since})]


LAST_EXPOSURE_RUN = """
    select started_at from job_runs
    where job_name = :job_name and status = 'succeeded'
    order by started_at desc, id desc
    limit 1
"""

# Changes since a moment that a supplier-event recompute cannot follow:
# any other synced entity, new ETA forecasts or changed priority weights.
CHANGES_BEYOND_SUPPLIER_EVENTS = """
    select exists (
               select 1 from sync_runs
               where status = 'succeeded' and finished_at > :since and entity <> 'supplier_events'
                 and inserted_count + updated_count > 0
           )
        or exists (select 1 from eta_forecasts where computed_at > :since)
        or exists (select 1 from business_settings where key = :weights_key and updated_at > :since)
"""


def last_exposure_run(connection: Connection, job_name: str) -> datetime | None:
    """Return when the job's latest succeeded run started, or None when it never succeeded."""
    return connection.execute(text(LAST_EXPOSURE_RUN), {"job_name": job_name}).scalar_one_or_none()


def changed_beyond_supplier_events(connection: Connection, since: datetime, weights_key: str) -> bool:
    return bool(connection.execute(text(CHANGES_BEYOND_SUPPLIER_EVENTS), {"since": since, "weights_key": weights_key}).scalar_one())
