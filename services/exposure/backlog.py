"""Filtered, paged and role-checked reads of the exposed backlog for the Exposure and Revenue at risk pages.

Every function checks the actor's role before it reads, so a page hidden
from a role is not the only guard. Tables are aggregated or paged in
PostgreSQL: no function returns more than MAX_ROWS rows.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal

import pandas as pd
from sqlalchemy import Connection, Engine, text

from services.auth.navigation import EXPOSURE, require_page
from services.auth.roles import Actor
from services.exposure.queries import AGING_BUCKETS, LineSupplyPicture, line_supply_picture

MAX_ROWS = 5_000
DEFAULT_PAGE_SIZE = 500
ROOT_CAUSES = (
    "supplier_delay", "no_supply_ordered", "quality_hold", "stock_in_other_warehouse",
    "taken_by_higher_priority", "never_confirmed",
)
# Column help on the pages: the meaning of each status and root cause code (docs/exposure.md has the rules).
STATUS_HELP = (
    "no_supply: stock and all inbound supply do not cover the line. "
    "never_confirmed: the line has no promise date for the customer. "
    "backordered: the promise date is today or past. "
    "at_risk: the forecast arrival is after the promise, or uncertain."
)
ROOT_CAUSE_HELP = (
    "supplier_delay: the covering PO slipped or is uncertain. "
    "quality_hold: stock on hold would cover it. "
    "stock_in_other_warehouse: another warehouse with a lane has spare stock. "
    "taken_by_higher_priority: due-date order would have covered it. "
    "never_confirmed: the line has no promise date for the customer. "
    "no_supply_ordered: not enough supply was ordered in time."
)


class InvalidBacklogRequest(ValueError):
    """A page number, page size, aging bucket or purchase order line the backlog reads cannot serve."""


@dataclass(frozen=True)
class BacklogFilters:
    """Codes to keep; an empty tuple keeps every value of that dimension."""

    warehouses: tuple[str, ...] = ()
    suppliers: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    root_causes: tuple[str, ...] = ()
    aging_buckets: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not any(getattr(self, field.name) for field in fields(self))


# The supplier of an exposed line is stored on its exposure row: the supplier
# of the purchase order line it waits for, else the item's preferred supplier.
LINE_SUPPLIER_JOIN = """
    left join purchase_order_lines cause_po on cause_po.id = e.cause_po_line_id
    left join suppliers s on s.id = e.supplier_id
"""

FILTERED_FROM = """
    from exposure e
    join sales_order_lines l on l.id = e.so_line_id
    join customers c on c.id = l.customer_id
    join items i on i.id = l.item_id
    join warehouses w on w.id = l.warehouse_id
"""

MONEY_TOTALS = """
    count(*) as lines,
    sum(e.shortage_qty) as shortage_qty,
    sum(e.revenue_at_risk) as revenue_at_risk,
    sum(e.margin_at_risk) as margin_at_risk
"""

PAGE_COLUMNS = """
    e.so_line_id, l.order_number, l.line_number, c.customer_code, c.name as customer_name, c.tier,
    i.sku, i.family, w.warehouse_code, s.supplier_code, l.requested_date, l.current_promised_date,
    e.status, e.root_cause, cause_po.po_number as cause_po_number, e.shortage_qty,
    e.projected_date_p50, e.projected_date_p90, e.days_late_promise, e.revenue_at_risk, e.margin_at_risk,
    e.currency, e.backlog_age_days, e.priority_score, e.score_tier, e.score_sla, e.score_margin,
    e.score_fill_gap, e.score_age, e.score_churn,
    (l.ordered_qty - l.shipped_qty - l.cancelled_qty - e.shortage_qty)
        / nullif(l.ordered_qty - l.shipped_qty - l.cancelled_qty, 0) as covered_share
"""


def read_frame(connection: Connection, query: str, params: dict | None = None) -> pd.DataFrame:
    result = connection.execute(text(query), params or {})
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _where(filters: BacklogFilters) -> tuple[str, dict]:
    """Return the SQL conditions and bound parameters of the filters."""
    conditions: list[str] = []
    params: dict = {}
    simple = (
        ("warehouses", "w.warehouse_code"), ("tiers", "c.tier"), ("families", "i.family"),
        ("root_causes", "e.root_cause"), ("suppliers", "s.supplier_code"),
    )
    for name, column in simple:
        values = getattr(filters, name)
        if values:
            conditions.append(f"{column} = any(:{name})")
            params[name] = list(values)
    if filters.aging_buckets:
        ranges = {name: (low, high) for name, low, high in AGING_BUCKETS}
        unknown = [bucket for bucket in filters.aging_buckets if bucket not in ranges]
        if unknown:
            raise InvalidBacklogRequest(
                f"aging bucket {unknown[0]!r} is unknown; use one of {', '.join(ranges)}"
            )
        parts = []
        for position, bucket in enumerate(filters.aging_buckets):
            low, high = ranges[bucket]
            params[f"age_low_{position}"] = low
            if high is None:
                parts.append(f"e.backlog_age_days >= :age_low_{position}")
            else:
                params[f"age_high_{position}"] = high
                parts.append(f"e.backlog_age_days between :age_low_{position} and :age_high_{position}")
        conditions.append("(" + " or ".join(parts) + ")")
    return ("where " + " and ".join(conditions)) if conditions else "", params


def _filtered_from(filters: BacklogFilters) -> str:
    """Return the FROM clause of the aggregates: exposure, with only the joins the filters need.

    Every exposure row has its order line, and every order line its customer,
    item and warehouse, so a join the filters do not need changes no count.
    """
    parts = ["from exposure e"]
    if filters.warehouses or filters.tiers or filters.families:
        parts.append("join sales_order_lines l on l.id = e.so_line_id")
    if filters.tiers:
        parts.append("join customers c on c.id = l.customer_id")
    if filters.families:
        parts.append("join items i on i.id = l.item_id")
    if filters.warehouses:
        parts.append("join warehouses w on w.id = l.warehouse_id")
    if filters.suppliers:
        parts.append("left join suppliers s on s.id = e.supplier_id")
    return "\n".join(parts)


def backlog_totals(engine: Engine, actor: Actor, filters: BacklogFilters) -> pd.DataFrame:
    """Count the exposed lines the filters keep and sum shortage, revenue and margin at risk per currency."""
    require_page(actor, EXPOSURE)
    where, params = _where(filters)
    query = f"select e.currency, {MONEY_TOTALS} {_filtered_from(filters)} {where} group by e.currency order by e.currency"
    with engine.connect() as connection:
        return read_frame(connection, query, params)


def backlog_page(
    engine: Engine, actor: Actor, filters: BacklogFilters, *, page: int = 1, page_size: int = DEFAULT_PAGE_SIZE
) -> pd.DataFrame:
    """Return one page of the exposed lines the filters keep, highest priority first, with the score's components.

    covered_share is the part of the open quantity that stock covers now,
    from 0 to 1. Raises InvalidBacklogRequest for a page below 1 or a page
    size outside 1 to MAX_ROWS.
    """
    require_page(actor, EXPOSURE)
    if page < 1:
        raise InvalidBacklogRequest(f"page {page} is below 1; pages are numbered from 1")
    if not 1 <= page_size <= MAX_ROWS:
        raise InvalidBacklogRequest(f"page size {page_size} is outside 1 to {MAX_ROWS:,}; pick a size in that range")
    where, params = _where(filters)
    # The page is chosen first on the priority index, then its rows are joined for display.
    query = f"""
        with chosen as (
            select e.id, e.priority_score {_filtered_from(filters)} {where}
            order by e.priority_score desc, e.so_line_id
            limit :limit offset :offset
        )
        select {PAGE_COLUMNS}
        from chosen
        join exposure e on e.id = chosen.id
        {FILTERED_FROM.replace("from exposure e", "").strip()}
        {LINE_SUPPLIER_JOIN}
        order by e.priority_score desc, e.so_line_id
    """
    params.update(limit=page_size, offset=(page - 1) * page_size)
    with engine.connect() as connection:
        return read_frame(connection, query, params)


def backlog_aging(engine: Engine, actor: Actor, filters: BacklogFilters) -> pd.DataFrame:
    """Count exposed lines and sum revenue at risk per aging bucket and currency; every bucket is listed."""
    require_page(actor, EXPOSURE)
    where, params = _where(filters)
    bucket_case = " ".join(
        f"when e.backlog_age_days >= {low}" + (f" and e.backlog_age_days <= {high}" if high is not None else "")
        + f" then {position}"
        for position, (_, low, high) in enumerate(AGING_BUCKETS)
    )
    query = f"""
        select case {bucket_case} end as position, e.currency, count(*) as lines,
               sum(e.revenue_at_risk) as revenue_at_risk
        {_filtered_from(filters)} {where}
        group by 1, e.currency
    """
    with engine.connect() as connection:
        found = read_frame(connection, query, params)
    currencies = sorted(found["currency"].unique().tolist()) or ["USD"]
    every = pd.DataFrame(
        [(position, name, currency) for currency in currencies for position, (name, _, _) in enumerate(AGING_BUCKETS)],
        columns=["position", "bucket", "currency"],
    )
    frame = every.merge(found, on=["position", "currency"], how="left").drop(columns="position")
    frame["lines"] = frame["lines"].fillna(0).astype("int64")
    frame["revenue_at_risk"] = frame["revenue_at_risk"].map(lambda value: Decimal(0) if pd.isna(value) else value)
    return frame


def backlog_root_causes(engine: Engine, actor: Actor, filters: BacklogFilters) -> pd.DataFrame:
    """List root causes by revenue at risk, largest first, with their cumulative share per currency (a Pareto)."""
    require_page(actor, EXPOSURE)
    where, params = _where(filters)
    query = f"""
        with causes as (
            select e.root_cause, e.currency, count(*) as lines, sum(e.revenue_at_risk) as revenue_at_risk
            {_filtered_from(filters)} {where}
            group by e.root_cause, e.currency
        )
        select root_cause, currency, lines, revenue_at_risk,
               sum(revenue_at_risk) over (partition by currency order by revenue_at_risk desc, root_cause
                                          rows between unbounded preceding and current row)
                   / nullif(sum(revenue_at_risk) over (partition by currency), 0) as cumulative_share
        from causes
        order by currency, revenue_at_risk desc, root_cause
    """
    with engine.connect() as connection:
        return read_frame(connection, query, params)


FILTER_OPTIONS = {
    "warehouses": "select warehouse_code from warehouses order by warehouse_code",
    "suppliers": "select supplier_code from suppliers order by supplier_code",
    "tiers": "select distinct tier from customers order by tier",
    "families": "select distinct family from items where family is not null order by family",
}


def backlog_filter_options(engine: Engine, actor: Actor) -> dict[str, list[str]]:
    """Return the values each backlog filter offers, sorted."""
    require_page(actor, EXPOSURE)
    with engine.connect() as connection:
        options = {name: connection.execute(text(query)).scalars().all() for name, query in FILTER_OPTIONS.items()}
    options["root_causes"] = list(ROOT_CAUSES)
    options["aging_buckets"] = [name for name, _, _ in AGING_BUCKETS]
    return options


def risk_watchlist(engine: Engine, actor: Actor, limit: int = 50) -> pd.DataFrame:
    """Return the SKU and warehouse pairs the backorder-risk model flags that have no short line yet."""
    require_page(actor, EXPOSURE)
    from services.risk.service import at_risk_not_yet_short

    return at_risk_not_yet_short(engine, limit=limit)


def line_supply(engine: Engine, actor: Actor, so_line_id: int) -> LineSupplyPicture:
    """Return one order line's supply picture; raises OrderLineNotFound for an unknown id."""
    require_page(actor, EXPOSURE)
    return line_supply_picture(engine, so_line_id)
