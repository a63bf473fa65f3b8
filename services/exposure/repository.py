"""SQL adapters of exposure: load the supply and demand picture, and replace the exposure rows.

Large reads go through COPY ... TO STDOUT into pandas, because a million
open lines read row by row through the driver take several times longer.
Quantities come out as integers of 1/1,000,000 and money as integers of
1/10,000, which is exact for numeric(18,6) and numeric(18,4).
"""

from __future__ import annotations

import io
import json
import logging
from datetime import date, datetime, timedelta, timezone
from typing import Sequence
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from services.exposure.netting import (
    CUSTOMER_COLUMNS,
    IN_TRANSIT_COLUMNS,
    LANE_COLUMNS,
    LINE_COLUMNS,
    NO_DAY,
    PURCHASE_COLUMNS,
    STOCK_COLUMNS,
    SupplyPicture,
    date_of_day,
    day_number,
    root_cause_details,
)

logger = logging.getLogger(__name__)

# The window of a customer's recent lines for the fill-rate gap and the late-line share.
RECENT_DAYS = 90
ACKNOWLEDGEMENT_STATUSES_WITH_DATE = ("accepted", "changed", "backordered")

DAY = "- date '1970-01-01'"
OPEN_QTY = "(l.ordered_qty - l.shipped_qty - l.cancelled_qty)"

OPEN_LINES = f"""
    select l.id as so_line_id, l.customer_id, l.item_id, l.warehouse_id,
           l.order_date {DAY} as order_day,
           l.requested_date {DAY} as requested_day,
           coalesce(l.current_promised_date {DAY}, {NO_DAY}) as promised_day,
           ({OPEN_QTY} * 1000000)::bigint as open_qty,
           (least(l.allocated_qty, {OPEN_QTY}) * 1000000)::bigint as reserved_qty,
           (l.unit_price * 10000)::bigint as unit_price,
           (coalesce(l.unit_cost, i.unit_cost) * 10000)::bigint as unit_cost,
           l.currency
    from sales_order_lines l
    join items i on i.id = l.item_id
    where l.status = 'open' and {OPEN_QTY} > 0 {{item_filter}}
"""

# A customer's recent lines are those requested in the window and due before
# the reference date. Fill rate is their shipped share of the quantity due.
# A recent line is late when it is still open past due, or when its promise
# was moved later than first promised.
CUSTOMER_FACTS = """
    with recent as (
        select customer_id,
               sum(shipped_qty) / nullif(sum(ordered_qty - cancelled_qty), 0) as recent_fill_rate,
               avg(case when (status = 'open' and ordered_qty - shipped_qty - cancelled_qty > 0)
                          or current_promised_date > first_promised_date
                        then 1.0 else 0.0 end) as late_share
        from sales_order_lines
        where requested_date >= %(window_start)s and requested_date < %(reference)s
          and coalesce(current_promised_date, requested_date) < %(reference)s
          {customer_filter}
        group by customer_id
    )
    select c.id as customer_id, c.tier, (c.late_penalty_per_day * 10000)::bigint as late_penalty,
           c.fill_rate_target::float8 as fill_rate_target,
           recent.recent_fill_rate::float8 as recent_fill_rate, recent.late_share::float8 as late_share
    from customers c
    left join recent on recent.customer_id = c.id
    where true {customer_filter_c}
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


def _copy_frame(connection: Connection, query: str, params: dict, columns: Sequence[str]) -> pd.DataFrame:
    """Run a query through COPY ... TO STDOUT and parse its CSV into a frame with the given columns."""
    buffer = io.BytesIO()
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"copy ({query}) to stdout with (format csv, header true)", params) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    dtypes = {
        name: (object if name in TEXT_COLUMNS else "float64" if name in FLOAT_COLUMNS else "int64")
        for name in columns
    }
    frame = pd.read_csv(buffer, dtype=dtypes, keep_default_na=False, na_values={name: [""] for name in FLOAT_COLUMNS})
    return frame[list(columns)]


def _item_filter(item_ids, column: str) -> tuple[str, dict]:
    if item_ids is None:
        return "", {}
    return f"and {column} = any(%(item_ids)s)", {"item_ids": [int(item) for item in item_ids]}


def business_dates(warehouses: pd.DataFrame, as_of: date | None, now: datetime | None = None) -> np.ndarray:
    """Return each warehouse's business date as a day number: as_of for all, or today in its time zone."""
    if as_of is not None:
        return np.full(len(warehouses), day_number(as_of), dtype=np.int64)
    now = now or datetime.now(timezone.utc)
    return np.array([day_number(now.astimezone(ZoneInfo(zone)).date()) for zone in warehouses["time_zone"]], dtype=np.int64)


def load_picture(connection: Connection, *, as_of: date | None = None, item_ids: Sequence[int] | None = None) -> SupplyPicture:
    """Load the open lines and the supply of the given items (every item when None) as one picture."""
    warehouses = _copy_frame(connection, WAREHOUSES, {}, ("warehouse_id", "warehouse_code", "time_zone"))
    warehouses["today"] = business_dates(warehouses, as_of)
    lines_filter, params = _item_filter(item_ids, "l.item_id")
    lines = _copy_frame(connection, OPEN_LINES.format(item_filter=lines_filter), params, LINE_COLUMNS)
    reference = date_of_day(int(warehouses["today"].max())) if len(warehouses) else as_of or date.today()
    customer_ids = None if item_ids is None else np.unique(lines["customer_id"].to_numpy()).tolist()
    return SupplyPicture(
        lines=lines,
        customers=load_customer_facts(connection, reference, customer_ids),
        stock=_copy_frame(connection, STOCK.format(item_filter=_item_filter(item_ids, "item_id")[0]), params, STOCK_COLUMNS),
        purchases=_copy_frame(
            connection, OPEN_PURCHASES.format(item_filter=_item_filter(item_ids, "p.item_id")[0]), params, PURCHASE_COLUMNS
        ),
        in_transit=_copy_frame(
            connection, IN_TRANSIT.format(item_filter=_item_filter(item_ids, "s.item_id")[0]), params, IN_TRANSIT_COLUMNS
        ),
        lanes=_copy_frame(connection, LANES, {}, LANE_COLUMNS),
        warehouses=warehouses[["warehouse_id", "warehouse_code", "today"]],
    )


def load_customer_facts(connection: Connection, reference: date, customer_ids: Sequence[int] | None) -> pd.DataFrame:
    """Return tier, penalty, fill-rate target, recent fill rate and late share of the customers (all when None)."""
    params = {"window_start": reference - timedelta(days=RECENT_DAYS), "reference": reference}
    if customer_ids is None:
        query = CUSTOMER_FACTS.format(customer_filter="", customer_filter_c="")
    else:
        params["customer_ids"] = [int(customer) for customer in customer_ids]
        query = CUSTOMER_FACTS.format(
            customer_filter="and customer_id = any(%(customer_ids)s)", customer_filter_c="and c.id = any(%(customer_ids)s)"
        )
    return _copy_frame(connection, query, params, CUSTOMER_COLUMNS)


def lock_exposure(connection: Connection) -> bool:
    """Take the transaction's lock on the exposure table; False when another run holds it."""
    return bool(connection.execute(text("select pg_try_advisory_xact_lock(hashtext('exposure'))")).scalar_one())


EXPOSURE_COPY_COLUMNS = (
    "so_line_id", "job_run_id", "status", "shortage_qty", "projected_date_p50", "projected_date_p90",
    "days_late_promise", "days_late_request", "root_cause", "root_cause_detail", "cause_po_line_id",
    "revenue_at_risk", "margin_at_risk", "penalty_exposure", "currency", "backlog_age_days", "priority_score",
    "score_tier", "score_sla", "score_margin", "score_fill_gap", "score_age", "score_churn",
)


def _scaled_column(values: np.ndarray, digits: int) -> pd.Series:
    """Format integers of 1/10**digits as exact decimal text, vectorised."""
    values = np.asarray(values, dtype=np.int64)
    whole, fraction = np.divmod(np.abs(values), 10**digits)
    sign = np.where(values < 0, "-", "")
    return pd.Series(sign) + pd.Series(whole).astype(str) + "." + pd.Series(fraction).astype(str).str.zfill(digits)


def _date_column(days: np.ndarray) -> pd.Series:
    days = np.asarray(days, dtype=np.int64)
    text_dates = pd.Series(np.where(days == NO_DAY, 0, days).astype("datetime64[D]").astype(str))
    return text_dates.where(days != NO_DAY, "")


def exposure_rows_csv(exposure: pd.DataFrame, warehouse_codes: dict[int, str], job_run_id: int | None) -> bytes:
    """Render exposure rows as CSV in the column order of EXPOSURE_COPY_COLUMNS."""
    details = [json.dumps(detail) for detail in root_cause_details(exposure, warehouse_codes)]
    rows = pd.DataFrame({
        "so_line_id": exposure["so_line_id"].to_numpy(np.int64),
        "job_run_id": "" if job_run_id is None else str(int(job_run_id)),
        "status": exposure["status"].to_numpy(object),
        "shortage_qty": _scaled_column(exposure["shortage_qty"], 6),
        "projected_date_p50": _date_column(exposure["projected_day_p50"]),
        "projected_date_p90": _date_column(exposure["projected_day_p90"]),
        "days_late_promise": exposure["days_late_promise"].astype("string").fillna(""),
        "days_late_request": exposure["days_late_request"].to_numpy(np.int64),
        "root_cause": exposure["root_cause"].to_numpy(object),
        "root_cause_detail": details,
        "cause_po_line_id": exposure["cause_po_line_id"].astype("string").replace("0", ""),
        "revenue_at_risk": _scaled_column(exposure["revenue_at_risk"], 4),
        "margin_at_risk": _scaled_column(exposure["margin_at_risk"], 4),
        "penalty_exposure": _scaled_column(exposure["penalty_exposure"], 4),
        "currency": exposure["currency"].to_numpy(object),
        "backlog_age_days": exposure["backlog_age_days"].to_numpy(np.int64),
        **{name: _scaled_column(exposure[name], 4) for name in EXPOSURE_COPY_COLUMNS if name.startswith("score") or name == "priority_score"},
    })
    return rows[list(EXPOSURE_COPY_COLUMNS)].to_csv(index=False, header=False).encode()


def replace_exposure(connection: Connection, exposure: pd.DataFrame, warehouse_codes: dict[int, str], *,
                     item_ids: Sequence[int] | None, job_run_id: int | None) -> tuple[int, int]:
    """Delete the exposure rows of the items' lines (every row when item_ids is None) and write the new ones.

    Returns (rows deleted, rows written).
    """
    if item_ids is None:
        deleted = connection.execute(text("delete from exposure")).rowcount
    else:
        deleted = connection.execute(
            text("delete from exposure e using sales_order_lines l where l.id = e.so_line_id and l.item_id = any(:item_ids)"),
            {"item_ids": [int(item) for item in item_ids]},
        ).rowcount
    if exposure.empty:
        return deleted, 0
    payload = exposure_rows_csv(exposure, warehouse_codes, job_run_id)
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"copy exposure ({', '.join(EXPOSURE_COPY_COLUMNS)}) from stdin with (format csv)") as copy:
        copy.write(payload)
    return deleted, len(exposure)


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
