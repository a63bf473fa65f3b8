"""Receipt history and open purchase order lines, read from the database into plain frames.

A purchase order line is history once it is received or closed, or once its
receipts add up to its ordered quantity less the cancelled quantity. It
counts once, at the date of its last receipt, because that is when the
line's goods were all in. A line still open with quantity left to receive
is an open line to forecast.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from services.forecast.models import day_number, day_numbers, to_business_dates

logger = logging.getLogger(__name__)

HISTORY_SQL = text(
    """
    select l.id as po_line_id, s.supplier_code, l.shipment_mode, i.family,
           l.order_date, l.promised_date, max(r.receipt_date) as receipt_date
    from purchase_order_lines l
    join receipts r on r.po_line_id = l.id
    join suppliers s on s.id = l.supplier_id
    join items i on i.id = l.item_id
    group by l.id, s.supplier_code, i.family
    having l.status in ('received', 'closed') or sum(r.received_qty) >= l.ordered_qty - l.cancelled_qty
    order by l.id
    """
)

# Lines whose warehouse has no time zone row cannot occur: warehouses.time_zone is not null.
OPEN_LINES_SQL = text(
    """
    select l.id as po_line_id, s.supplier_code, l.shipment_mode, i.family,
           l.order_date, l.promised_date, s.default_lead_days,
           (now() at time zone w.time_zone)::date as today
    from purchase_order_lines l
    join suppliers s on s.id = l.supplier_id
    join items i on i.id = l.item_id
    join warehouses w on w.id = l.warehouse_id
    where l.status = 'open'
      and l.ordered_qty - l.cancelled_qty
          > coalesce((select sum(r.received_qty) from receipts r where r.po_line_id = l.id), 0)
    order by l.id
    """
)

SERIES_STATES_SQL = text(
    "select series_key, level, model, receipts_count, last_receipt_date, params from forecast_series"
)

HISTORY_COLUMNS = ["po_line_id", "supplier_code", "shipment_mode", "family", "order_date", "promised_date", "receipt_date"]


@dataclass(frozen=True)
class History:
    """Received lines fit to learn from, and the lines left out with their reasons.

    lines has the HISTORY_COLUMNS with dates as naive business dates, plus
    order_day, promised_day (NaN without a promise) and receipt_day in epoch
    days. excluded has po_line_id (or the record's position), kind and reason.
    read = len(lines) + len(excluded).
    """

    lines: pd.DataFrame
    excluded: pd.DataFrame

    @property
    def read(self) -> int:
        return len(self.lines) + len(self.excluded)

    def reason_counts(self) -> dict[str, int]:
        """Return how many lines were left out per kind of problem, such as received_before_order."""
        return self.excluded["kind"].value_counts().to_dict()


def load_receipt_history(connection: Connection, time_zone: str = "UTC") -> History:
    """Read every received purchase order line and check its dates."""
    frame = pd.DataFrame(connection.execute(HISTORY_SQL).mappings().all(), columns=HISTORY_COLUMNS)
    return build_history(frame, time_zone)


def load_open_lines(connection: Connection, as_of: date | None = None) -> pd.DataFrame:
    """Read the open purchase order lines with their supplier, mode, family and earliest possible ETA day.

    The earliest day is the later of the day after the order and today: as_of
    when given, otherwise the current date in the line's warehouse time zone.
    """
    columns = ["po_line_id", "supplier_code", "shipment_mode", "family", "order_date", "promised_date",
               "default_lead_days", "today"]
    lines = pd.DataFrame(connection.execute(OPEN_LINES_SQL).mappings().all(), columns=columns)
    lines["order_day"] = day_numbers(lines["order_date"]).astype(np.int64)
    lines["promised_day"] = day_numbers(lines["promised_date"])
    today = day_numbers(lines["today"]) if as_of is None else np.full(len(lines), float(day_number(as_of)))
    lines["earliest_day"] = np.maximum(today, lines["order_day"] + 1).astype(np.int64)
    return lines


def load_series_states(connection: Connection) -> dict[str, dict]:
    """Read the stored series by key: level, model, receipts count, last receipt date and params."""
    return {row["series_key"]: dict(row) for row in connection.execute(SERIES_STATES_SQL).mappings()}


def build_history(frame: pd.DataFrame, time_zone: str = "UTC") -> History:
    """Convert a frame of received lines to business dates and leave out the lines no forecast can learn from.

    A line is left out, with its reason, when its order or receipt date is
    missing, when it was received before it was ordered, or when it was
    promised before it was ordered.
    """
    frame = frame.reset_index(drop=True).copy()
    for column in ("order_date", "promised_date", "receipt_date"):
        frame[column] = to_business_dates(frame[column], time_zone)
    kinds, reasons = _date_problems(frame)

    bad = kinds.notna().to_numpy()
    excluded = pd.DataFrame(
        {"po_line_id": frame.loc[bad, "po_line_id"].to_numpy(), "kind": kinds[bad].to_numpy(), "reason": reasons[bad].to_numpy()}
    )
    lines = frame.loc[~bad].reset_index(drop=True)
    lines["order_day"] = day_numbers(lines["order_date"]).astype(np.int64)
    lines["promised_day"] = day_numbers(lines["promised_date"])
    lines["receipt_day"] = day_numbers(lines["receipt_date"]).astype(np.int64)
    lines["shipment_mode"] = lines["shipment_mode"].fillna("")
    lines["family"] = lines["family"].fillna("")
    if len(excluded):
        logger.warning(
            "%d of %d received lines left out of the forecast history, for example line %s: %s",
            len(excluded), len(frame), excluded["po_line_id"].iloc[0], excluded["reason"].iloc[0],
        )
    return History(lines, excluded)


def _date_problems(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Return the kind and reason of each line's first date problem, NaN for a line without one."""
    order, promised, receipt = frame["order_date"], frame["promised_date"], frame["receipt_date"]
    checks = [
        (receipt.isna(), "missing_receipt_date",
         lambda rows: "receipt_date is missing; the line counts as received only once its receipt has a date"),
        (order.isna(), "missing_order_date",
         lambda rows: "order_date is missing; a lead time needs the date the line was ordered"),
        (receipt < order, "received_before_order",
         lambda rows: f"receipt_date {rows.receipt_date.date()} is before order_date {rows.order_date.date()}; "
                      "correct whichever date is wrong in the source"),
        (promised < order, "promised_before_order",
         lambda rows: f"promised_date {rows.promised_date.date()} is before order_date {rows.order_date.date()}; "
                      "correct whichever date is wrong in the source"),
    ]
    kinds = pd.Series(np.nan, index=frame.index, dtype=object)
    reasons = pd.Series(np.nan, index=frame.index, dtype=object)
    for failed, kind, reason in checks:
        new = failed.fillna(False).to_numpy(dtype=bool) & kinds.isna().to_numpy()
        for index in np.flatnonzero(new):
            kinds.iat[index] = kind
            reasons.iat[index] = reason(frame.iloc[index])
    return kinds, reasons
