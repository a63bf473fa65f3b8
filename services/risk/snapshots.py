"""Weekly feature snapshots of every SKU and warehouse, rebuilt from the product's dated history.

A snapshot at week s (0 is the reference date, -1 a week before) describes a
pair as it stood at its feature date, reference + 7 s days, from the events
dated before that day. Events are summed into a pairs x weeks grid; window
sums and running levels then come from cumulative sums, so every snapshot of
every pair costs a few array operations.

On hand at a past feature date is today's on hand rolled back: receipts and
transfers in after that date are taken off, customer shipments and
transfers out after it are added back. Quality holds, the regulated flag and
the preferred supplier's lead time are today's values for every snapshot,
because the tables keep no history of them.

The label of a snapshot is whether a line of the pair due (first promise,
else requested date) in the N weeks from the feature date shipped more than
BACKORDER_GRACE_DAYS after it, or is still open past it.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from services.risk.features import LABEL_COLUMN, WEEKS_PER_MONTH
from services.risk.repository import BACKORDER_GRACE_DAYS, RiskEvents

WINDOW_WEEKS = {1: 4, 3: 13, 6: 26, 9: 39}
PERFORMANCE_WEEKS = {"perf_6_month_avg": 26, "perf_12_month_avg": 52}
ISSUE_WEEKS = 4
LOOKBACK_WEEKS = 52
NO_DAY = 100000


class WeekGrid:
    """Cumulative weekly sums per row (pair or supplier) over the weeks first_week .. -1."""

    def __init__(self, rows: int, first_week: int):
        self.first_week = first_week
        self.width = -first_week
        self.sums = np.zeros((rows, self.width), dtype=np.float64)
        self._cumulative = None

    def add(self, row: np.ndarray, day: np.ndarray, qty: np.ndarray, *, level: bool) -> None:
        """Add quantities at their days; a level's events before the grid count in its first week."""
        week = np.floor_divide(np.asarray(day, dtype=np.int64), 7)
        keep = (row >= 0) & (week < 0)
        if not level:
            keep &= week >= self.first_week
        column = np.maximum(week[keep], self.first_week) - self.first_week
        np.add.at(self.sums, (row[keep], column), np.asarray(qty, dtype=np.float64)[keep])
        self._cumulative = None

    @property
    def cumulative(self) -> np.ndarray:
        if self._cumulative is None:
            self._cumulative = np.concatenate(
                [np.zeros((self.sums.shape[0], 1)), np.cumsum(self.sums, axis=1)], axis=1
            )
        return self._cumulative

    def before(self, week: int) -> np.ndarray:
        """Sum of every week before the given week (the level at that week's feature date)."""
        return self.cumulative[:, week - self.first_week]

    def window(self, week: int, weeks: int) -> np.ndarray:
        """Sum of the given number of weeks before the given week."""
        return self.before(week) - self.cumulative[:, max(week - weeks - self.first_week, 0)]

    def total(self) -> np.ndarray:
        return self.cumulative[:, -1]


def _rows(pairs: pd.DataFrame, frame: pd.DataFrame) -> np.ndarray:
    """Row number of each event's pair, -1 for a pair not in pairs."""
    index = pd.MultiIndex.from_arrays([pairs["item_id"], pairs["warehouse_id"]])
    return index.get_indexer(pd.MultiIndex.from_arrays([frame["item_id"], frame["warehouse_id"]]))


class Snapshotter:
    """Builds canonical feature rows for any week from first_week + LOOKBACK_WEEKS to 0."""

    def __init__(self, events: RiskEvents, first_week: int, label_weeks: int):
        self.events = events
        self.label_weeks = label_weeks
        pairs = events.pairs
        self.pairs = pairs
        size = len(pairs)
        grid = lambda rows=size: WeekGrid(rows, first_week)  # noqa: E731
        self.demand, self.stock_in, self.stock_out = grid(), grid(), grid()
        self.in_transit, self.open_po, self.past_due = grid(), grid(), grid()
        self.overdue, self.backorders, self.issues, self.history = grid(), grid(), grid(), grid()
        self._add_flows(events)
        self._add_purchases(events)
        self._add_order_lines(events)
        self._add_supplier_performance(events, first_week)

    def _add_flows(self, events: RiskEvents) -> None:
        for grid, frame, level in ((self.demand, events.demand, False), (self.stock_in, events.stock_in, False),
                                   (self.stock_out, events.stock_out, False), (self.in_transit, events.in_transit, True),
                                   (self.issues, events.supplier_issues, False)):
            grid.add(_rows(self.pairs, frame), frame["day"].to_numpy(), frame["qty"].to_numpy(), level=level)
        self.history.add(_rows(self.pairs, events.demand), events.demand["day"].to_numpy(),
                         np.ones(len(events.demand)), level=True)

    def _add_purchases(self, events: RiskEvents) -> None:
        lines = events.purchases
        receipts = events.purchase_receipts.merge(lines[["po_line_id", "item_id", "warehouse_id", "promised_day"]],
                                                  on="po_line_id")
        line_rows, receipt_rows = _rows(self.pairs, lines), _rows(self.pairs, receipts)
        received = receipts.groupby("po_line_id")["qty"].sum().reindex(lines["po_line_id"]).fillna(0.0).to_numpy()
        qty = lines["qty"].to_numpy()
        closed = lines["is_open"].to_numpy() == 0
        remainder = np.where(closed, np.maximum(qty - received, 0.0), 0.0)
        promised = lines["promised_day"].to_numpy()
        settled = np.maximum(lines["last_receipt_day"].to_numpy(), lines["order_day"].to_numpy())

        self.open_po.add(line_rows, lines["order_day"].to_numpy(), qty, level=True)
        self.open_po.add(receipt_rows, receipts["day"].to_numpy(), -receipts["qty"].to_numpy(), level=True)
        self.open_po.add(line_rows, settled, -remainder, level=True)
        self.past_due.add(line_rows, promised, qty, level=True)
        self.past_due.add(receipt_rows, np.maximum(receipts["day"].to_numpy(), receipts["promised_day"].to_numpy()),
                          -receipts["qty"].to_numpy(), level=True)
        self.past_due.add(line_rows, np.maximum(settled, promised), -remainder, level=True)
        self.history.add(line_rows, lines["order_day"].to_numpy(), np.ones(len(lines)), level=True)

    def _add_order_lines(self, events: RiskEvents) -> None:
        lines = events.order_lines
        rows = _rows(self.pairs, lines)
        due, shipped = lines["due_day"].to_numpy(), lines["first_ship_day"].to_numpy()
        is_open = lines["is_open"].to_numpy() == 1
        never_shipped = shipped >= NO_DAY
        owed = ~never_shipped | is_open
        qty = lines["qty"].to_numpy()
        self.overdue.add(rows[owed], due[owed], qty[owed], level=True)
        self.overdue.add(rows[~never_shipped], shipped[~never_shipped], -qty[~never_shipped], level=True)
        late = (~never_shipped & (shipped > due + BACKORDER_GRACE_DAYS)) | (never_shipped & is_open & (due + BACKORDER_GRACE_DAYS < 0))
        self.backorders.add(rows[late], due[late], np.ones(int(late.sum())), level=False)

    def _add_supplier_performance(self, events: RiskEvents, first_week: int) -> None:
        lines = events.purchases
        done = (lines["is_open"].to_numpy() == 0) & (lines["last_receipt_day"].to_numpy() > -NO_DAY)
        suppliers = np.unique(np.concatenate([lines["supplier_id"].to_numpy(), self.pairs["supplier_id"].to_numpy()]))
        self.supplier_index = pd.Index(suppliers)
        supplier_rows = self.supplier_index.get_indexer(lines["supplier_id"].to_numpy()[done])
        last = lines["last_receipt_day"].to_numpy()[done]
        on_time = (last <= lines["promised_day"].to_numpy()[done]).astype(np.float64)
        self.receipts_done = WeekGrid(len(suppliers), first_week)
        self.receipts_on_time = WeekGrid(len(suppliers), first_week)
        self.receipts_done.add(supplier_rows, last, np.ones(len(last)), level=False)
        self.receipts_on_time.add(supplier_rows, last, on_time, level=False)
        self.pair_supplier_rows = self.supplier_index.get_indexer(self.pairs["supplier_id"].to_numpy())

    def snapshot(self, week: int) -> pd.DataFrame:
        """Canonical feature rows of every pair at the feature date of week (0 = the reference date)."""
        pairs = self.pairs
        sales = {months: self.demand.window(week, weeks) for months, weeks in WINDOW_WEEKS.items()}
        rate = 0.5 * sales[1] / 4 + 0.3 * sales[3] / 13 + 0.2 * sales[9] / 39
        on_hand = (pairs["on_hand"].to_numpy()
                   - (self.stock_in.total() - self.stock_in.before(week))
                   + (self.stock_out.total() - self.stock_out.before(week)))
        lead_days = pairs["lead_days"].to_numpy().astype(np.float64)
        frame = pd.DataFrame({
            "item_id": pairs["item_id"].to_numpy(),
            "warehouse_id": pairs["warehouse_id"].to_numpy(),
            "feature_date": self.events.reference + timedelta(days=7 * week),
            "national_inv": on_hand,
            "lead_time": np.where(lead_days < 0, np.nan, lead_days / 7),
            "in_transit_qty": np.maximum(self.in_transit.before(week), 0.0),
            "open_po_qty": np.maximum(self.open_po.before(week) - np.maximum(self.in_transit.before(week), 0.0), 0.0),
            "forecast_3_month": rate * 3 * WEEKS_PER_MONTH,
            "forecast_6_month": rate * 6 * WEEKS_PER_MONTH,
            "forecast_9_month": rate * 9 * WEEKS_PER_MONTH,
            "sales_1_month": sales[1],
            "sales_3_month": sales[3],
            "sales_6_month": sales[6],
            "sales_9_month": sales[9],
            # NOTE: the schema holds no minimum stock; min_bank is 0 and min_bank_known 0 says so.
            "min_bank": 0.0,
            "min_bank_known": 0.0,
            "pieces_past_due": np.maximum(self.past_due.before(week), 0.0),
            "local_bo_qty": np.maximum(self.overdue.before(week), 0.0),
            "potential_issue": (self.issues.window(week, ISSUE_WEEKS) > 0).astype(np.float64),
            "deck_risk": (pairs["quality_hold"].to_numpy() > 0).astype(np.float64),
            "oe_constraint": np.nan,
            "ppap_risk": pairs["regulated"].to_numpy().astype(np.float64),
            "stop_auto_buy": np.nan,
            "rev_stop": np.nan,
            "has_history": self.history.before(week) > 0,
        })
        for name, weeks in PERFORMANCE_WEEKS.items():
            frame[name] = self._performance(week, weeks)
        if week + self.label_weeks <= 0:
            future = self.backorders.before(week + self.label_weeks) - self.backorders.before(week)
            frame[LABEL_COLUMN] = (future > 0).astype(np.int8)
        return frame

    def _performance(self, week: int, weeks: int) -> np.ndarray:
        done = self.receipts_done.window(week, weeks)
        on_time = self.receipts_on_time.window(week, weeks)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(done > 0, on_time / done, np.nan)
        rows = self.pair_supplier_rows
        return np.where(rows >= 0, share[np.maximum(rows, 0)], np.nan)


def snapshots(events: RiskEvents, weeks: list[int], label_weeks: int) -> pd.DataFrame:
    """Feature rows of every pair at each of the given weeks (0 = reference date, negative = weeks before)."""
    first_week = min(weeks) - LOOKBACK_WEEKS
    builder = Snapshotter(events, first_week, label_weeks)
    return pd.concat([builder.snapshot(week) for week in weeks], ignore_index=True)
