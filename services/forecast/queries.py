"""Read queries of the Supplier ETA page: open PO lines with their forecast ETA, backtest accuracy, and the supplier scorecard.

Slip is counted in calendar days after the promised date, so a negative
slip is an early arrival.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
from sqlalchemy import Engine, text

from services.auth.roles import Actor, Role, require_role
from services.forecast.models import supplier_key

ETA_READERS = (Role.PLANNER, Role.OPERATIONS_LEADER, Role.ADMINISTRATOR)
MAX_LINES = 5_000
DEFAULT_LINES = 500
SCORECARD_MONTHS = 6

# Suppliers with open PO lines or with received lines: a supplier whose
# history trained the forecasts shows its backtest and scorecard even when
# nothing is on order with it now.
OPEN_LINE = (
    "purchase_order_lines.status = 'open'"
    " and purchase_order_lines.ordered_qty - purchase_order_lines.received_qty - purchase_order_lines.cancelled_qty > 0"
)
ETA_SUPPLIERS = text(
    f"""
    with lines as (
        select purchase_order_lines.supplier_id,
               count(*) filter (where {OPEN_LINE}) as open_lines,
               count(eta_forecasts.id) filter (where {OPEN_LINE}) as forecast_lines,
               count(*) filter (where {OPEN_LINE} and eta_forecasts.p50_date > purchase_order_lines.promised_date)
                   as lines_late_p50,
               count(*) filter (where purchase_order_lines.received_qty > 0) as received_lines
        from purchase_order_lines
        left join eta_forecasts on eta_forecasts.po_line_id = purchase_order_lines.id
        group by purchase_order_lines.supplier_id
    )
    select suppliers.id as supplier_id, suppliers.supplier_code, suppliers.name,
           lines.open_lines, lines.forecast_lines, lines.lines_late_p50, lines.received_lines
    from lines
    join suppliers on suppliers.id = lines.supplier_id
    where lines.open_lines > 0 or lines.received_lines > 0
    order by lines.lines_late_p50 desc, lines.open_lines desc, lines.received_lines desc, suppliers.supplier_code
    """
)

OPEN_LINE_ETAS = text(
    """
    select purchase_order_lines.id as po_line_id, purchase_order_lines.po_number, purchase_order_lines.line_number,
           items.sku, warehouses.warehouse_code,
           purchase_order_lines.ordered_qty - purchase_order_lines.received_qty - purchase_order_lines.cancelled_qty as open_qty,
           purchase_order_lines.promised_date,
           eta_forecasts.p10_date, eta_forecasts.p50_date, eta_forecasts.p90_date,
           eta_forecasts.p50_date - purchase_order_lines.promised_date as p50_slip_days,
           eta_forecasts.model, eta_forecasts.confidence
    from purchase_order_lines
    join items on items.id = purchase_order_lines.item_id
    join warehouses on warehouses.id = purchase_order_lines.warehouse_id
    left join eta_forecasts on eta_forecasts.po_line_id = purchase_order_lines.id
    where purchase_order_lines.supplier_id = :supplier_id
      and purchase_order_lines.status = 'open'
      and purchase_order_lines.ordered_qty - purchase_order_lines.received_qty - purchase_order_lines.cancelled_qty > 0
    order by purchase_order_lines.promised_date nulls last, eta_forecasts.p50_date, purchase_order_lines.id
    limit :limit
    """
)

# The latest backtest of each series and model of the supplier; a series
# key is the supplier's, or the supplier's with a mode or family.
SUPPLIER_BACKTESTS = text(
    """
    select distinct on (series_key, model)
           series_key, model, chosen, mae_p50_days, mae_promise_days, coverage_p10_p90, train_count, test_count, computed_at
    from forecast_backtests
    where series_key = :series_key or series_key like :series_prefix
    order by series_key, model, computed_at desc, id desc
    """
)

# Receipts of the supplier's PO lines that have a promised date, by month
# of receipt, for the months ending with the supplier's latest receipt.
SCORECARD_BY_MONTH = text(
    """
    with receipts_of_supplier as (
        select receipts.receipt_date, receipts.receipt_date - purchase_order_lines.promised_date as slip_days
        from receipts
        join purchase_order_lines on purchase_order_lines.id = receipts.po_line_id
        where purchase_order_lines.supplier_id = :supplier_id and purchase_order_lines.promised_date is not null
    ),
    latest as (select max(receipt_date) as receipt_date from receipts_of_supplier)
    select date_trunc('month', receipts_of_supplier.receipt_date)::date as month,
           count(*) as receipts,
           count(*) filter (where slip_days <= 0) as on_time,
           sum(slip_days) as slip_days_total
    from receipts_of_supplier, latest
    where receipts_of_supplier.receipt_date >= (date_trunc('month', latest.receipt_date) - make_interval(months => :months - 1))::date
    group by 1
    order by 1
    """
)


@dataclass(frozen=True)
class SupplierScorecard:
    """On-time rate and mean slip over the scorecard months, and the same figures per month."""

    receipts: int
    on_time_rate: Decimal | None
    mean_slip_days: Decimal | None
    by_month: pd.DataFrame


def _frame(engine: Engine, statement, params: dict) -> pd.DataFrame:
    with engine.connect() as connection:
        result = connection.execute(statement, params)
        return pd.DataFrame(result.mappings().all(), columns=list(result.keys()))


def list_eta_suppliers(engine: Engine, actor: Actor) -> pd.DataFrame:
    """List suppliers with open or received PO lines: open lines, lines with a forecast, lines whose P50 is
    after the promise, and received lines; the most late lines first."""
    require_role(actor, "read supplier ETAs", *ETA_READERS)
    return _frame(engine, ETA_SUPPLIERS, {})


def open_line_etas(engine: Engine, actor: Actor, supplier_id: int, *, limit: int = DEFAULT_LINES) -> pd.DataFrame:
    """Return the supplier's open PO lines with P10, P50 and P90 against the promise, earliest promise first."""
    require_role(actor, "read supplier ETAs", *ETA_READERS)
    if not 1 <= limit <= MAX_LINES:
        raise ValueError(f"limit {limit} is outside 1 to {MAX_LINES}; ask for fewer lines")
    frame = _frame(engine, OPEN_LINE_ETAS, {"supplier_id": supplier_id, "limit": limit})
    for column in ("promised_date", "p10_date", "p50_date", "p90_date"):
        frame[column] = pd.to_datetime(frame[column])
    frame["p50_slip_days"] = frame["p50_slip_days"].astype("Int64")
    frame["open_qty"] = frame["open_qty"].astype("float64")
    return frame


def supplier_backtests(engine: Engine, actor: Actor, supplier_code: str) -> pd.DataFrame:
    """Return the latest backtest of each of the supplier's series and models: MAE of P50 and of the promise, coverage."""
    require_role(actor, "read supplier ETAs", *ETA_READERS)
    key = supplier_key(supplier_code)
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    frame = _frame(engine, SUPPLIER_BACKTESTS, {"series_key": key, "series_prefix": f"{escaped}|%"})
    for column in ("mae_p50_days", "mae_promise_days", "coverage_p10_p90"):
        frame[column] = frame[column].astype("float64")
    frame["computed_at"] = pd.to_datetime(frame["computed_at"], utc=True)
    return frame


def supplier_scorecard(engine: Engine, actor: Actor, supplier_id: int, *, months: int = SCORECARD_MONTHS) -> SupplierScorecard:
    """Score the supplier's receipts against their promised dates over the months ending with its latest receipt.

    A receipt is on time when it arrived on or before the PO line's
    promised date. A PO line received in two receipts counts twice.
    """
    require_role(actor, "read supplier ETAs", *ETA_READERS)
    if months < 1:
        raise ValueError(f"months {months} is below 1; ask for at least one month")
    by_month = _frame(engine, SCORECARD_BY_MONTH, {"supplier_id": supplier_id, "months": months})
    receipts = int(by_month["receipts"].sum()) if not by_month.empty else 0
    on_time = int(by_month["on_time"].sum()) if receipts else 0
    slip = Decimal(int(by_month["slip_days_total"].sum())) if receipts else Decimal(0)

    by_month["month"] = pd.to_datetime(by_month["month"])
    by_month["on_time_rate"] = (by_month["on_time"] / by_month["receipts"]).astype("float64")
    by_month["mean_slip_days"] = (by_month["slip_days_total"].astype("float64") / by_month["receipts"]).astype("float64")
    return SupplierScorecard(
        receipts=receipts,
        on_time_rate=Decimal(on_time) / Decimal(receipts) if receipts else None,
        mean_slip_days=slip / Decimal(receipts) if receipts else None,
        by_month=by_month,
    )


def series_accuracy(backtests: pd.DataFrame) -> tuple[float | None, float | None, float | None]:
    """Return MAE of P50, MAE of the promise and P10-P90 coverage of the chosen delay model of the supplier's own series.

    Each value is None when the series has no chosen delay model or the backtest left it empty.
    """
    chosen = backtests[
        backtests["chosen"].astype(bool)
        & ~backtests["series_key"].str.contains("|", regex=False)
        & ~backtests["model"].str.endswith("_lead_time")
    ]
    if chosen.empty:
        return None, None, None
    row = chosen.iloc[0]
    return tuple(None if pd.isna(row[name]) else float(row[name]) for name in ("mae_p50_days", "mae_promise_days", "coverage_p10_p90"))

