"""Headline backlog and supply figures, and the freshness of sources and jobs.

An order line is open when its status is 'open' and its open quantity
(ordered - shipped - cancelled) is above zero. A purchase order line is on
order when its status is 'open' and ordered - received - cancelled is above
zero. Money is summed per currency code and kept as exact Decimal.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Iterator

import pandas as pd
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from services.db.engine import check_connection

OPEN_ORDER_LINES_BY_CURRENCY = text(
    """
    with open_lines as (
        select ordered_qty - shipped_qty - cancelled_qty as open_qty, unit_price, currency
        from sales_order_lines
        where status = 'open'
    )
    select currency,
           count(*) as line_count,
           sum(open_qty) as open_units,
           sum(open_qty * unit_price) as open_value
    from open_lines
    where open_qty > 0
    group by currency
    order by currency
    """
)

OPEN_PO_LINES_BY_CURRENCY = text(
    """
    with open_lines as (
        select ordered_qty - received_qty - cancelled_qty as open_qty, unit_cost, currency
        from purchase_order_lines
        where status = 'open'
    )
    select currency,
           count(*) as line_count,
           count(*) filter (where unit_cost is null) as lines_without_cost,
           sum(open_qty) as open_units,
           coalesce(sum(open_qty * unit_cost), 0) as open_value
    from open_lines
    where open_qty > 0
    group by currency
    order by currency
    """
)

HAS_LOADED_DATA = text(
    """
    select exists (select 1 from sales_order_lines)
        or exists (select 1 from purchase_order_lines)
        or exists (select 1 from sync_runs)
        or exists (select 1 from job_runs) as has_data
    """
)

# The latest run per (source, entity) gives the status and error, and the
# latest successful run gives the finish time and the rows read and rejected.
SOURCE_FRESHNESS = text(
    """
    with latest as (
        select distinct on (source, entity) source, entity, status, error
        from sync_runs
        order by source, entity, started_at desc, id desc
    ),
    last_success as (
        select distinct on (source, entity) source, entity, finished_at, read_count, rejected_count
        from sync_runs
        where status = 'succeeded'
        order by source, entity, finished_at desc nulls last, id desc
    )
    select latest.source,
           latest.entity,
           last_success.finished_at as last_success_at,
           (extract(epoch from cast(:now as timestamptz) - last_success.finished_at) / 3600)::float8
               as age_hours,
           latest.status as last_status,
           case when latest.status = 'failed' then latest.error end as last_error,
           last_success.read_count as rows_read,
           last_success.rejected_count as rows_rejected
    from latest
    left join last_success using (source, entity)
    order by latest.source, latest.entity
    """
)

JOB_FRESHNESS = text(
    """
    with latest as (
        select distinct on (job_name) job_name, status, error
        from job_runs
        order by job_name, started_at desc, id desc
    ),
    last_success as (
        select distinct on (job_name) job_name, finished_at
        from job_runs
        where status = 'succeeded'
        order by job_name, finished_at desc nulls last, id desc
    )
    select latest.job_name,
           last_success.finished_at as last_success_at,
           (extract(epoch from cast(:now as timestamptz) - last_success.finished_at) / 3600)::float8
               as age_hours,
           latest.status as last_status,
           case when latest.status in ('failed', 'partial') then latest.error end as last_error
    from latest
    left join last_success using (job_name)
    order by latest.job_name
    """
)

SOURCE_FRESHNESS_COLUMNS = [
    "source", "entity", "last_success_at", "age_hours", "last_status", "last_error", "rows_read",
    "rows_rejected",
]
JOB_FRESHNESS_COLUMNS = ["job_name", "last_success_at", "age_hours", "last_status", "last_error"]


@dataclass(frozen=True)
class BacklogOverview:
    """Open order lines and open purchase order lines, counted and valued.

    Units add quantities in each item's base unit across items. Values map a
    currency code to the sum of open quantity times unit price (orders) or
    unit cost (purchase orders).
    """

    open_order_lines: int = 0
    open_units: Decimal = Decimal(0)
    open_value: dict[str, Decimal] = field(default_factory=dict)
    open_po_lines: int = 0
    units_on_order: Decimal = Decimal(0)
    value_on_order: dict[str, Decimal] = field(default_factory=dict)
    po_lines_without_cost: int = 0


@contextmanager
def _read_connection(engine: Engine) -> Iterator[Connection]:
    """Open a connection; an unreachable server raises DatabaseUnavailable."""
    try:
        with engine.connect() as connection:
            yield connection
    except OperationalError:
        # check_connection raises DatabaseUnavailable with the URL and the fix
        # when the server is down. Any other operational error is re-raised.
        check_connection(engine)
        raise


def get_backlog_overview(engine: Engine) -> BacklogOverview:
    """Count and value the open order lines and the open purchase order lines."""
    with _read_connection(engine) as connection:
        order_rows = connection.execute(OPEN_ORDER_LINES_BY_CURRENCY).mappings().all()
        po_rows = connection.execute(OPEN_PO_LINES_BY_CURRENCY).mappings().all()

    return BacklogOverview(
        open_order_lines=sum(row["line_count"] for row in order_rows),
        open_units=sum((row["open_units"] for row in order_rows), Decimal(0)),
        open_value={row["currency"]: row["open_value"] for row in order_rows},
        open_po_lines=sum(row["line_count"] for row in po_rows),
        units_on_order=sum((row["open_units"] for row in po_rows), Decimal(0)),
        value_on_order={row["currency"]: row["open_value"] for row in po_rows},
        po_lines_without_cost=sum(row["lines_without_cost"] for row in po_rows),
    )


def has_loaded_data(engine: Engine) -> bool:
    """Tell whether any order line, purchase order line, sync run or job run exists."""
    with _read_connection(engine) as connection:
        return bool(connection.execute(HAS_LOADED_DATA).scalar_one())


def get_source_freshness(engine: Engine, now: datetime) -> pd.DataFrame:
    """List each (source, entity) with its last successful sync and its latest status.

    age_hours is the time from the last successful finish to now, and it is
    empty when no run has succeeded. last_error is set only when the latest
    run failed.
    """
    with _read_connection(engine) as connection:
        rows = connection.execute(SOURCE_FRESHNESS, {"now": now}).mappings().all()

    frame = pd.DataFrame([dict(row) for row in rows], columns=SOURCE_FRESHNESS_COLUMNS)
    frame["last_success_at"] = pd.to_datetime(frame["last_success_at"], utc=True)
    frame["age_hours"] = frame["age_hours"].astype("float64")
    frame["rows_read"] = frame["rows_read"].astype("Int64")
    frame["rows_rejected"] = frame["rows_rejected"].astype("Int64")
    return frame


def get_job_freshness(engine: Engine, now: datetime) -> pd.DataFrame:
    """List each job with its last success and its latest status.

    last_error is set when the latest run failed or finished as partial.
    """
    with _read_connection(engine) as connection:
        rows = connection.execute(JOB_FRESHNESS, {"now": now}).mappings().all()

    frame = pd.DataFrame([dict(row) for row in rows], columns=JOB_FRESHNESS_COLUMNS)
    frame["last_success_at"] = pd.to_datetime(frame["last_success_at"], utc=True)
    frame["age_hours"] = frame["age_hours"].astype("float64")
    return frame
