"""Named read queries of the exposure pages, each returning a DataFrame.

Money columns hold exact Decimal values and are summed per currency code,
never across currencies. Dates are business dates (SQL date), so a viewer's
time zone changes none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import pandas as pd
from sqlalchemy import Connection, Engine, text

TOTALS = """
    count(*) as lines,
    sum(e.shortage_qty) as shortage_qty,
    sum(e.revenue_at_risk) as revenue_at_risk,
    sum(e.margin_at_risk) as margin_at_risk,
    sum(e.penalty_exposure) as penalty_exposure
"""
TOTAL_COLUMNS = ["currency", "lines", "shortage_qty", "revenue_at_risk", "margin_at_risk", "penalty_exposure"]

# The supplier of an exposed line is the supplier of the purchase order line
# it waits for when the root cause names one, else the item's preferred
# supplier: the supplier_items row of the lowest priority number, a row for
# the line's own warehouse before a row for every warehouse.
PREFERRED_SUPPLIER = """
    select distinct on (l.id) l.id as so_line_id, si.supplier_id
    from exposure e
    join sales_order_lines l on l.id = e.so_line_id
    join supplier_items si on si.item_id = l.item_id and (si.warehouse_id = l.warehouse_id or si.warehouse_id is null)
    order by l.id, si.priority, si.warehouse_id nulls last, si.supplier_id
"""

DIMENSIONS = {
    "warehouse": ("w.warehouse_code, w.name", ["warehouse_code", "warehouse_name"]),
    "item_family": ("i.family", ["family"]),
    "supplier": ("s.supplier_code, s.name", ["supplier_code", "supplier_name"]),
    "customer": ("c.customer_code, c.name, c.tier", ["customer_code", "customer_name", "tier"]),
    "root_cause": ("e.root_cause", ["root_cause"]),
}
Dimension = Literal["warehouse", "item_family", "supplier", "customer", "root_cause"]

EXPOSURE_BY = """
    with preferred as ({preferred})
    select {group_columns}, e.currency, {totals}
    from exposure e
    join sales_order_lines l on l.id = e.so_line_id
    join items i on i.id = l.item_id
    join warehouses w on w.id = l.warehouse_id
    join customers c on c.id = l.customer_id
    left join purchase_order_lines cause_po on cause_po.id = e.cause_po_line_id
    left join preferred on preferred.so_line_id = l.id
    left join suppliers s on s.id = coalesce(cause_po.supplier_id, preferred.supplier_id)
    group by {group_columns}, e.currency
    order by e.currency, revenue_at_risk desc, {group_columns}
"""

AGING_BUCKETS = (("0-7", 0, 7), ("8-14", 8, 14), ("15-30", 15, 30), ("31-60", 31, 60), ("60+", 61, None))

AGING = """
    with buckets(bucket, position, low, high) as (values {bucket_rows})
    select b.bucket, e.currency, {totals}
    from exposure e
    join buckets b on e.backlog_age_days >= b.low and (b.high is null or e.backlog_age_days <= b.high)
    group by b.bucket, b.position, e.currency
    order by e.currency, b.position
"""

ROOT_CAUSE_PARETO = f"""
    with causes as (
        select e.root_cause, e.currency, {TOTALS}
        from exposure e
        group by e.root_cause, e.currency
    )
    select root_cause, currency, lines, revenue_at_risk,
           revenue_at_risk / nullif(sum(revenue_at_risk) over (partition by currency), 0) as share,
           sum(revenue_at_risk) over (partition by currency order by revenue_at_risk desc, root_cause
                                      rows between unbounded preceding and current row)
               / nullif(sum(revenue_at_risk) over (partition by currency), 0) as cumulative_share
    from causes
    order by currency, revenue_at_risk desc, root_cause
"""

# Weeks start on Monday. Lines with no covering supply have no projected
# date and form their own row with week_start empty.
REVENUE_BY_SHIP_WEEK = f"""
    select e.projected_date_p50 - (extract(isodow from e.projected_date_p50)::int - 1) as week_start,
           e.currency, {TOTALS}
    from exposure e
    group by 1, e.currency
    order by e.currency, week_start nulls last
"""

TOP_LINES = """
    select e.so_line_id, l.order_number, l.line_number, c.customer_code, c.name as customer_name, c.tier,
           i.sku, i.family, w.warehouse_code, l.requested_date, l.current_promised_date,
           e.status, e.root_cause, e.root_cause_detail, cause_po.po_number as cause_po_number,
           cause_po.line_number as cause_po_line_number, e.shortage_qty, e.projected_date_p50, e.projected_date_p90,
           e.days_late_promise, e.days_late_request, e.revenue_at_risk, e.margin_at_risk, e.penalty_exposure,
           e.currency, e.backlog_age_days, e.priority_score, e.score_tier, e.score_sla, e.score_margin,
           e.score_fill_gap, e.score_age, e.score_churn
    from exposure e
    join sales_order_lines l on l.id = e.so_line_id
    join customers c on c.id = l.customer_id
    join items i on i.id = l.item_id
    join warehouses w on w.id = l.warehouse_id
    left join purchase_order_lines cause_po on cause_po.id = e.cause_po_line_id
    order by e.priority_score desc, e.so_line_id
    limit :limit
"""


class UnknownDimension(ValueError):
    """A grouping the exposure queries do not offer."""


class OrderLineNotFound(LookupError):
    """No sales order line has the requested id."""


def _frame(connection: Connection, query: str, params: dict | None = None) -> pd.DataFrame:
    result = connection.execute(text(query), params or {})
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def exposure_by(engine: Engine, dimension: Dimension) -> pd.DataFrame:
    """Sum exposed lines, shortage and money per warehouse, item family, supplier, customer or root cause."""
    if dimension not in DIMENSIONS:
        raise UnknownDimension(f"dimension {dimension!r} is unknown; use one of {', '.join(DIMENSIONS)}")
    group_columns, names = DIMENSIONS[dimension]
    query = EXPOSURE_BY.format(preferred=PREFERRED_SUPPLIER, group_columns=group_columns, totals=TOTALS)
    with engine.connect() as connection:
        frame = _frame(connection, query)
    return frame.set_axis(names + TOTAL_COLUMNS, axis=1)


def aging_buckets(engine: Engine) -> pd.DataFrame:
    """Sum exposed lines by backlog age: 0-7, 8-14, 15-30, 31-60 and over 60 days, every bucket listed per currency."""
    rows = ", ".join(
        f"('{name}', {position}, {low}, {'null::int' if high is None else high})"
        for position, (name, low, high) in enumerate(AGING_BUCKETS)
    )
    with engine.connect() as connection:
        found = _frame(connection, AGING.format(bucket_rows=rows, totals=TOTALS))
    currencies = sorted(found["currency"].unique().tolist()) or ["USD"]
    every = pd.DataFrame(
        [(name, currency) for currency in currencies for name, _, _ in AGING_BUCKETS], columns=["bucket", "currency"]
    )
    frame = every.merge(found, on=["bucket", "currency"], how="left")
    frame["lines"] = frame["lines"].fillna(0).astype("int64")
    for name in ("shortage_qty", "revenue_at_risk", "margin_at_risk", "penalty_exposure"):
        frame[name] = frame[name].map(lambda value: Decimal(0) if pd.isna(value) else value)
    return frame


def root_cause_pareto(engine: Engine) -> pd.DataFrame:
    """List root causes by revenue at risk, largest first, with their share and cumulative share per currency."""
    with engine.connect() as connection:
        return _frame(connection, ROOT_CAUSE_PARETO)


def revenue_at_risk_by_ship_week(engine: Engine) -> pd.DataFrame:
    """Sum revenue at risk by the Monday of the projected ship week (P50), per currency."""
    with engine.connect() as connection:
        return _frame(connection, REVENUE_BY_SHIP_WEEK)


def top_lines_by_priority(engine: Engine, limit: int = 50) -> pd.DataFrame:
    """Return the exposed lines of highest priority with their score components and root cause."""
    if limit < 1:
        raise ValueError(f"limit {limit} is below 1; ask for at least one line")
    with engine.connect() as connection:
        return _frame(connection, TOP_LINES, {"limit": limit})


LINE = """
    select l.id as so_line_id, l.order_number, l.line_number, c.customer_code, c.tier, i.sku, l.item_id,
           w.warehouse_code, l.warehouse_id, l.requested_date, l.current_promised_date,
           l.ordered_qty - l.shipped_qty - l.cancelled_qty as open_qty, l.allocated_qty, l.status
    from sales_order_lines l
    join customers c on c.id = l.customer_id
    join items i on i.id = l.item_id
    join warehouses w on w.id = l.warehouse_id
    where l.id = :so_line_id
"""

STOCK_HERE = """
    select on_hand_qty, quality_hold_qty, allocated_qty,
           greatest(on_hand_qty - quality_hold_qty - allocated_qty, 0) as free_qty, as_of
    from inventory
    where item_id = :item_id and warehouse_id = :warehouse_id
"""

# Inbound supply to the line's warehouse, with the dates and quantities the
# netting uses: a purchase order line's open quantity is net of its ASNs.
INBOUND = """
    with asn as (
        select s.po_line_id, sum(s.qty) as qty
        from shipments s
        where s.kind = 'asn' and s.status = 'in_transit' and s.po_line_id is not null
        group by s.po_line_id
    )
    select 'purchase' as kind, p.po_number as reference, p.line_number, sup.supplier_code,
           greatest(case when p.ack_status = 'rejected' then 0
                         else coalesce(p.acknowledged_qty, p.ordered_qty) - p.received_qty - p.cancelled_qty end
                    - coalesce(asn.qty, 0), 0) as qty,
           p.promised_date, f.p50_date, f.p90_date, f.confidence, p.ack_status
    from purchase_order_lines p
    join suppliers sup on sup.id = p.supplier_id
    left join eta_forecasts f on f.po_line_id = p.id
    left join asn on asn.po_line_id = p.id
    where p.item_id = :item_id and p.warehouse_id = :warehouse_id and p.status = 'open'
    union all
    select s.kind, s.shipment_number, null, sup.supplier_code, s.qty, s.expected_date, null, null, null, null
    from shipments s
    left join purchase_order_lines p on p.id = s.po_line_id
    left join suppliers sup on sup.id = p.supplier_id
    where s.item_id = :item_id and s.status = 'in_transit' and s.kind in ('asn', 'transfer')
      and coalesce(s.to_warehouse_id, p.warehouse_id) = :warehouse_id
    order by 6 nulls last, 1, 2
"""

OTHER_WAREHOUSES = """
    select w.warehouse_code, v.on_hand_qty, v.quality_hold_qty, v.allocated_qty,
           greatest(v.on_hand_qty - v.quality_hold_qty - v.allocated_qty, 0) as free_qty,
           lane.lead_days as lane_lead_days, lane.cost_per_unit as lane_cost_per_unit
    from inventory v
    join warehouses w on w.id = v.warehouse_id
    left join transfer_lanes lane on lane.from_warehouse_id = v.warehouse_id and lane.to_warehouse_id = :warehouse_id
    where v.item_id = :item_id and v.warehouse_id <> :warehouse_id
    order by free_qty desc, w.warehouse_code
"""


@dataclass(frozen=True)
class LineSupplyPicture:
    """The supply one order line can draw on: its warehouse's stock, inbound supply, and other warehouses' stock."""

    line: pd.Series
    stock: pd.DataFrame
    inbound: pd.DataFrame
    other_warehouses: pd.DataFrame
    exposure: pd.DataFrame


def line_supply_picture(engine: Engine, so_line_id: int) -> LineSupplyPicture:
    """Return the supply picture of one order line; raise OrderLineNotFound for an unknown id."""
    with engine.connect() as connection:
        line = _frame(connection, LINE, {"so_line_id": so_line_id})
        if line.empty:
            raise OrderLineNotFound(f"sales order line id {so_line_id} does not exist; pick a line from the exposure list")
        keys = {"item_id": int(line.at[0, "item_id"]), "warehouse_id": int(line.at[0, "warehouse_id"])}
        return LineSupplyPicture(
            line=line.iloc[0],
            stock=_frame(connection, STOCK_HERE, keys),
            inbound=_frame(connection, INBOUND, keys),
            other_warehouses=_frame(connection, OTHER_WAREHOUSES, keys),
            exposure=_frame(connection, "select * from exposure where so_line_id = :so_line_id", {"so_line_id": so_line_id}),
        )
