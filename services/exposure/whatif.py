"""What-if: delay a supplier or one purchase order line by some days, or cancel a line, and show the change in exposure.

The picture of the affected items is loaded once in a read-only
transaction and netted twice in memory, as it is and with the change.
Nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Literal

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, text

from services.exposure.netting import NO_DAY, STATUSES, SupplyPicture, date_of_day, net_exposure
from services.exposure.repository import load_picture
from services.exposure.settings import PriorityWeights, read_priority_weights


class InvalidWhatIf(ValueError):
    """A what-if names a supplier or purchase order line that cannot be changed; the message names the reason."""


@dataclass(frozen=True)
class SupplyChange:
    """A change to open purchase order lines: delay them by days, or cancel them.

    Exactly one of supplier_id and po_line_id is set. A supplier change
    applies to every open line of the supplier.
    """

    action: Literal["delay", "cancel"]
    supplier_id: int | None = None
    po_line_id: int | None = None
    days: int = 0


@dataclass(frozen=True)
class WhatIfResult:
    """The exposure before and after a change.

    summary has one row per status and currency plus a row with status
    'all'; lines lists each line whose status, shortage or projected date
    changed.
    """

    change: SupplyChange
    summary: pd.DataFrame
    lines: pd.DataFrame


def apply_change(picture: SupplyPicture, change: SupplyChange) -> SupplyPicture:
    """Return the picture with the change applied to the purchase order lines it names and their ASNs.

    A delay moves each line's expected date, P90 and ASN dates by the days,
    counted from the warehouse's business date when the date has passed.
    The first promise stays, so the slip grows.
    """
    purchases = picture.purchases
    chosen = purchases["po_line_id"] == change.po_line_id if change.po_line_id else purchases["supplier_id"] == change.supplier_id
    chosen_ids = purchases.loc[chosen, "po_line_id"]
    transit = picture.in_transit
    linked = (transit["kind"] == "asn") & transit["po_line_id"].isin(chosen_ids)
    if change.action == "cancel":
        return replace(picture, purchases=purchases[~chosen].reset_index(drop=True), in_transit=transit[~linked].reset_index(drop=True))

    today = picture.warehouses.set_index("warehouse_id")["today"]
    purchases = purchases.copy()
    purchase_today = today.reindex(purchases["warehouse_id"]).to_numpy(np.int64)
    expected = np.maximum(purchases["expected_day"].to_numpy(np.int64), purchase_today) + change.days
    p90 = purchases["p90_day"].to_numpy(np.int64)
    purchases["expected_day"] = np.where(chosen, expected, purchases["expected_day"])
    purchases["p90_day"] = np.where(chosen & (p90 != NO_DAY), np.maximum(p90, purchase_today) + change.days, p90)

    transit = transit.copy()
    transit_today = today.reindex(transit["warehouse_id"]).to_numpy(np.int64)
    moved = np.maximum(transit["expected_day"].to_numpy(np.int64), transit_today) + change.days
    transit["expected_day"] = np.where(linked, moved, transit["expected_day"])
    return replace(picture, purchases=purchases, in_transit=transit)


def compare_exposure(before: pd.DataFrame, after: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (summary by status and currency with before, after and change, changed lines)."""
    summary = _totals(before).join(_totals(after), how="outer", suffixes=("_before", "_after"))
    for name in ("lines", "shortage_qty", "revenue_at_risk"):
        summary[f"{name}_before"] = summary[f"{name}_before"].fillna(0).astype("int64")
        summary[f"{name}_after"] = summary[f"{name}_after"].fillna(0).astype("int64")
        summary[f"{name}_change"] = summary[f"{name}_after"] - summary[f"{name}_before"]
    summary = summary.reset_index()
    summary["status"] = pd.Categorical(summary["status"], categories=list(STATUSES) + ["all"], ordered=True)
    summary = summary.sort_values(["currency", "status"]).reset_index(drop=True)
    summary["status"] = summary["status"].astype(object)
    for name in ("shortage_qty", "revenue_at_risk"):
        digits = 6 if name == "shortage_qty" else 4
        for suffix in ("before", "after", "change"):
            column = f"{name}_{suffix}"
            summary[column] = [Decimal(int(value)).scaleb(-digits) for value in summary[column]]
    return summary, _changed_lines(before, after)


def _totals(exposure: pd.DataFrame) -> pd.DataFrame:
    every = pd.concat([exposure, exposure.assign(status="all")])
    grouped = every.groupby(["status", "currency"]).agg(
        lines=("so_line_id", "size"), shortage_qty=("shortage_qty", "sum"), revenue_at_risk=("revenue_at_risk", "sum")
    )
    currencies = sorted(set(exposure["currency"].tolist())) or ["USD"]
    index = pd.MultiIndex.from_product([list(STATUSES) + ["all"], currencies], names=["status", "currency"])
    return grouped.reindex(index, fill_value=0)


def _changed_lines(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    columns = ["so_line_id", "status", "shortage_qty", "projected_day_p50", "revenue_at_risk"]
    merged = before[columns].merge(after[columns], on="so_line_id", how="outer", suffixes=("_before", "_after"))
    merged[["status_before", "status_after"]] = merged[["status_before", "status_after"]].fillna("on_track")
    for suffix in ("before", "after"):
        merged[f"shortage_qty_{suffix}"] = merged[f"shortage_qty_{suffix}"].fillna(0).astype("int64")
        merged[f"revenue_at_risk_{suffix}"] = merged[f"revenue_at_risk_{suffix}"].fillna(0).astype("int64")
        merged[f"projected_day_p50_{suffix}"] = merged[f"projected_day_p50_{suffix}"].fillna(NO_DAY).astype("int64")
    changed = (
        (merged["status_before"] != merged["status_after"])
        | (merged["shortage_qty_before"] != merged["shortage_qty_after"])
        | (merged["projected_day_p50_before"] != merged["projected_day_p50_after"])
    )
    merged = merged[changed].sort_values("so_line_id").reset_index(drop=True)
    result = pd.DataFrame({"so_line_id": merged["so_line_id"].astype("int64")})
    for suffix in ("before", "after"):
        result[f"status_{suffix}"] = merged[f"status_{suffix}"]
        result[f"projected_date_{suffix}"] = [date_of_day(day) for day in merged[f"projected_day_p50_{suffix}"]]
        result[f"shortage_qty_{suffix}"] = [Decimal(int(value)).scaleb(-6) for value in merged[f"shortage_qty_{suffix}"]]
        result[f"revenue_at_risk_{suffix}"] = [Decimal(int(value)).scaleb(-4) for value in merged[f"revenue_at_risk_{suffix}"]]
    return result


def simulate(picture: SupplyPicture, change: SupplyChange, weights: PriorityWeights) -> WhatIfResult:
    """Net the picture as it is and with the change, and compare."""
    before = net_exposure(picture, weights)
    after = net_exposure(apply_change(picture, change), weights)
    summary, lines = compare_exposure(before, after)
    return WhatIfResult(change=change, summary=summary, lines=lines)


TARGET_LINES = """
    select id, item_id, status from purchase_order_lines
    where {column} = :target
"""


def _affected_items(connection: Connection, change: SupplyChange) -> list[int]:
    column, target, name = (
        ("id", change.po_line_id, "purchase order line id") if change.po_line_id else ("supplier_id", change.supplier_id, "supplier id")
    )
    rows = connection.execute(text(TARGET_LINES.format(column=column)), {"target": target}).all()
    if not rows and column == "supplier_id":
        exists = connection.execute(text("select 1 from suppliers where id = :id"), {"id": target}).first()
        if exists is None:
            raise InvalidWhatIf(f"{name} {target} does not exist; pick a supplier from the supplier list")
    if not rows:
        raise InvalidWhatIf(f"{name} {target} does not exist; pick a line from the purchase order list")
    open_rows = [row for row in rows if row.status == "open"]
    if not open_rows:
        statuses = " or ".join(sorted({row.status for row in rows}))
        subject = f"{name} {target} is {statuses}" if change.po_line_id else f"every purchase order line of {name} {target} is {statuses}"
        raise InvalidWhatIf(f"{subject}, not open; only open lines can be delayed or cancelled")
    return sorted({row.item_id for row in open_rows})


def _check(change: SupplyChange) -> None:
    if (change.supplier_id is None) == (change.po_line_id is None):
        raise InvalidWhatIf("name either a supplier or one purchase order line, not both and not neither")
    if change.action == "delay" and change.days < 1:
        raise InvalidWhatIf(f"delay of {change.days} days is not a delay; give 1 day or more")
    if change.action not in ("delay", "cancel"):
        raise InvalidWhatIf(f"action {change.action!r} is unknown; use 'delay' or 'cancel'")


def simulate_supply_change(engine: Engine, change: SupplyChange, *, as_of: date | None = None) -> WhatIfResult:
    """Show how exposure changes if the purchase order lines the change names are delayed or cancelled.

    Raises InvalidWhatIf when the change names no open purchase order line.
    """
    _check(change)
    with engine.connect().execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True) as connection:
        with connection.begin():
            item_ids = _affected_items(connection, change)
            weights = read_priority_weights(connection)
            picture = load_picture(connection, as_of=as_of, item_ids=item_ids)
    return simulate(picture, change, weights)


def delay_supplier(engine: Engine, supplier_id: int, days: int, *, as_of: date | None = None) -> WhatIfResult:
    return simulate_supply_change(engine, SupplyChange("delay", supplier_id=supplier_id, days=days), as_of=as_of)


def delay_po_line(engine: Engine, po_line_id: int, days: int, *, as_of: date | None = None) -> WhatIfResult:
    return simulate_supply_change(engine, SupplyChange("delay", po_line_id=po_line_id, days=days), as_of=as_of)


def cancel_po_line(engine: Engine, po_line_id: int, *, as_of: date | None = None) -> WhatIfResult:
    return simulate_supply_change(engine, SupplyChange("cancel", po_line_id=po_line_id), as_of=as_of)
