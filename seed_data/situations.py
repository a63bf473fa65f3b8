"""The situations every demo contains on purpose, so pages and tests can find a known case of each.

- A supplier delay: a popular PPE item short everywhere, whose one open
  purchase order line the supplier pushed out, ordered by strategic
  healthcare and manufacturing customers.
- Stock in another warehouse: an electrical item nearly out at one
  warehouse while another warehouse with a transfer lane to it has plenty.
- A quality hold: a regulated medical item whose stock at one warehouse is
  enough only if its quality hold is released.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seed_data.master import HEALTHCARE, MANUFACTURING, STRATEGIC, Master, top_item
from seed_data.orders import OrderLines


@dataclass(frozen=True)
class SituationPlan:
    delayed_item: int
    delayed_warehouse: int
    misplaced_item: int
    short_warehouse: int
    stocked_warehouse: int
    held_item: int
    held_warehouse: int


@dataclass(frozen=True)
class ForcedLines:
    """Positions of open lines moved onto the seeded items."""

    delayed: np.ndarray  # strategic healthcare and manufacturing lines on the delayed item
    misplaced: np.ndarray
    held: np.ndarray


def plan_situations(rng: np.random.Generator, master: Master) -> SituationPlan:
    """Choose the items and warehouses of the seeded situations."""
    items = master.items
    try:
        delayed = top_item(items, "PPE", regulated=False)
    except LookupError:
        # A small catalog may have only regulated PPE items, such as respirators.
        delayed = top_item(items, "PPE")
    misplaced = top_item(items, "Electrical", exclude=[delayed])
    held = top_item(items, "Medical Consumables", regulated=True, exclude=[delayed, misplaced])

    count = len(master.warehouses)
    delayed_warehouse, short_warehouse = rng.choice(count, size=2, replace=False).tolist()
    lanes_in = [w for w in range(count) if w != short_warehouse and master.warehouses.lane_days[w, short_warehouse] > 0]
    stocked_warehouse = min(lanes_in, key=lambda w: master.warehouses.lane_days[w, short_warehouse])
    held_warehouse = int(rng.integers(0, count))
    return SituationPlan(
        delayed_item=delayed,
        delayed_warehouse=delayed_warehouse,
        misplaced_item=misplaced,
        short_warehouse=short_warehouse,
        stocked_warehouse=stocked_warehouse,
        held_item=held,
        held_warehouse=held_warehouse,
    )


def _one_line_per_order(lines: OrderLines, candidates: np.ndarray) -> np.ndarray:
    _, first = np.unique(lines.order_number[candidates], return_index=True)
    return candidates[np.sort(first)]


def force_situation_lines(rng: np.random.Generator, master: Master, lines: OrderLines, plan: SituationPlan) -> ForcedLines:
    """Move chosen open lines onto the seeded items, in place, before quantities and prices are drawn.

    Lines of strategic healthcare and manufacturing customers move to the
    delayed item at its warehouse, about one in 400 of all open lines and at
    least 12. About one in a thousand lines, at least 5, move to the
    misplaced item at its short warehouse and as many to the held item at
    its warehouse. No order gets more than one line of each situation.
    """
    n = len(lines)
    customers = master.customers
    tier = customers.tier[lines.customer]
    segment = customers.segment[lines.customer]
    taken = np.zeros(n, dtype=bool)

    strategic = np.flatnonzero((tier == STRATEGIC) & np.isin(segment, [HEALTHCARE, MANUFACTURING]))
    delayed = _pick(rng, _one_line_per_order(lines, strategic), max(12, n // 400))
    lines.item[delayed] = plan.delayed_item
    lines.warehouse[delayed] = plan.delayed_warehouse
    taken[delayed] = True

    misplaced = _pick_at_warehouse(rng, lines, taken, plan.short_warehouse, max(5, n // 1000))
    lines.item[misplaced] = plan.misplaced_item
    taken[misplaced] = True

    held = _pick_at_warehouse(rng, lines, taken, plan.held_warehouse, max(5, n // 1000))
    lines.item[held] = plan.held_item
    return ForcedLines(delayed, misplaced, held)


def _pick(rng: np.random.Generator, candidates: np.ndarray, count: int) -> np.ndarray:
    if len(candidates) < count:
        raise RuntimeError(f"only {len(candidates)} open lines can carry a seeded situation, {count} are needed")
    return np.sort(rng.choice(candidates, size=count, replace=False))


def _pick_at_warehouse(
    rng: np.random.Generator, lines: OrderLines, taken: np.ndarray, warehouse: int, count: int
) -> np.ndarray:
    """Pick untaken lines, at most one per order, that ship from the warehouse.

    When the warehouse ships too few orders, lines of other orders are
    picked as well and moved to ship from it.
    """
    free = _one_line_per_order(lines, np.flatnonzero(~taken))
    here = free[lines.warehouse[free] == warehouse]
    if len(here) >= count:
        return _pick(rng, here, count)
    elsewhere = _pick(rng, free[lines.warehouse[free] != warehouse], count - len(here))
    lines.warehouse[elsewhere] = warehouse
    return np.sort(np.concatenate([here, elsewhere]))
