"""Supply left for recommendations after what the exposure netting promised to lines that are not short.

The exposure netting gives each location's free stock, then its inbound
purchase order lines, to open lines in priority order; the lines it leaves
short are the recommendation run's lines. Their shortage is what they wait
for, so every other unit of the location's open demand is already promised.
That promised demand is taken from the free stock first and then from the
earliest purchase order lines, and the rest is free for recommendations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LOCATION_COLUMNS = ("item_id", "warehouse_id", "usable", "allocated", "open_total", "reserved_total", "short_total")


def promised_elsewhere(locations: pd.DataFrame) -> pd.DataFrame:
    """Return per location its free stock, the stock left for recommendations, and the inbound quantity already promised.

    usable is on hand minus quality hold; allocated the stock reserved for
    lines; open_total and reserved_total the open quantity of the
    location's open lines and the part of it they reserved; short_total the
    demand of the run's lines there. Lines take their reservations from
    min(allocated, usable) first, as in the netting.
    """
    usable = np.maximum(locations["usable"].to_numpy(np.float64), 0.0)
    allocated = locations["allocated"].to_numpy(np.float64)
    pool = np.minimum(allocated, usable)
    free = np.maximum(usable - allocated, 0.0)
    demand_on_free = locations["open_total"].to_numpy(np.float64) - np.minimum(locations["reserved_total"].to_numpy(np.float64), pool)
    promised = np.maximum(demand_on_free - locations["short_total"].to_numpy(np.float64), 0.0)
    return pd.DataFrame({
        "item_id": locations["item_id"].to_numpy(np.int64),
        "warehouse_id": locations["warehouse_id"].to_numpy(np.int64),
        "free": free,
        "available": np.maximum(free - promised, 0.0),
        "inbound_promised": np.maximum(promised - free, 0.0),
    })


def purchases_left(purchases: pd.DataFrame, locations: pd.DataFrame) -> np.ndarray:
    """Return the open quantity of each purchase order line left after the location's inbound promises, earliest first.

    purchases needs item_id, warehouse_id, open_qty, expected_day and
    po_line_id; locations is the frame promised_elsewhere returns. The
    result follows the row order of purchases.
    """
    if purchases.empty:
        return np.zeros(0)
    frame = purchases[["item_id", "warehouse_id", "open_qty", "expected_day", "po_line_id"]].reset_index(drop=True)
    frame = frame.merge(locations[["item_id", "warehouse_id", "inbound_promised"]], on=["item_id", "warehouse_id"], how="left")
    frame["inbound_promised"] = frame["inbound_promised"].fillna(0.0)
    frame["row"] = np.arange(len(frame))
    frame = frame.sort_values(["item_id", "warehouse_id", "expected_day", "po_line_id"], kind="stable")
    running = frame.groupby(["item_id", "warehouse_id"], sort=False)["open_qty"].cumsum().to_numpy(np.float64)
    open_qty = frame["open_qty"].to_numpy(np.float64)
    left = np.clip(running - frame["inbound_promised"].to_numpy(np.float64), 0.0, open_qty)
    result = np.empty(len(frame))
    result[frame["row"].to_numpy(np.int64)] = left
    return result
