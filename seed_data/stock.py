"""Inventory of the demo per item and warehouse, its allocation to open lines, and transfers in transit.

Stock is set against the open demand of each item at each warehouse. Most
locations cover their demand. Some are short with supply on order, some
are short with a late purchase order, and a few are short with nothing on
order. All quantities here are in eaches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seed_data.csvfiles import CanonicalFiles, codes_text, number_text
from seed_data.days import NO_DAY, DayCalendar
from seed_data.master import UNIT_FACTORS, Master
from seed_data.orders import OPEN, WRITE_BLOCK, NumberSequence, OrderLines
from seed_data.situations import SituationPlan

HEALTHY, SHORT_INBOUND, SHORT_LATE, SHORT_UNSUPPLIED, IDLE, SEEDED = range(6)
# Shares of locations with open demand: healthy, short with supply on order, short with a late order.
# The rest are short with nothing on order.
CATEGORY_SHARES = (0.80, 0.06, 0.10)
ALLOCATION_HORIZON_DAYS = 14  # open lines due within this many days get stock allocated


@dataclass
class Stock:
    """Per [item, warehouse]: open demand, on hand, quality hold and allocated quantity, and its category."""

    demand: np.ndarray
    on_hand: np.ndarray
    hold: np.ndarray
    allocated: np.ndarray
    category: np.ndarray

    def available(self) -> np.ndarray:
        return self.on_hand - self.hold


def _healthy_on_hand(rng, demand, typical):
    cover = demand * rng.uniform(1.0, 1.5, demand.shape) + typical * rng.uniform(0, 1, demand.shape)
    return np.ceil(cover).astype(np.int64)


def plan_stock(rng: np.random.Generator, master: Master, lines: OrderLines, plan: SituationPlan) -> Stock:
    """Set on-hand stock and quality holds per location from the open demand of the open lines."""
    n_items, n_warehouses = len(master.items), len(master.warehouses)
    location = lines.item.astype(np.int64) * n_warehouses + lines.warehouse
    demand = np.bincount(location, weights=lines.open_qty_each(), minlength=n_items * n_warehouses)
    demand = demand.round().astype(np.int64).reshape(n_items, n_warehouses)
    typical = np.broadcast_to(master.items.typical_qty[:, None], demand.shape)

    draw = rng.random(demand.shape)
    healthy_share, inbound_share, late_share = CATEGORY_SHARES
    category = np.select(
        [draw < healthy_share, draw < healthy_share + inbound_share, draw < healthy_share + inbound_share + late_share],
        [HEALTHY, SHORT_INBOUND, SHORT_LATE],
        default=SHORT_UNSUPPLIED,
    )
    category = np.where(demand > 0, category, IDLE).astype(np.int8)
    short = np.floor(demand * rng.uniform(0.1, 0.85, demand.shape)).astype(np.int64)
    idle = np.where(rng.random(demand.shape) < 0.2, 0, np.round(typical * rng.uniform(1, 8, demand.shape)))
    on_hand = np.select(
        [category == HEALTHY, category == IDLE], [_healthy_on_hand(rng, demand, typical), idle], default=short
    ).astype(np.int64)
    held = (rng.random(demand.shape) < 0.015) & (on_hand >= 4)
    hold = np.where(held, rng.integers(1, np.maximum(2, on_hand // 3 + 1)), 0).astype(np.int64)

    stock = Stock(demand, on_hand, hold, np.zeros_like(on_hand), category)
    _seed_stock_situations(rng, master, stock, plan)
    return stock


def _seed_stock_situations(rng: np.random.Generator, master: Master, stock: Stock, plan: SituationPlan) -> None:
    """Set the stock of the seeded items so each situation shows, and keep other supply away from them."""
    demand, on_hand, hold = stock.demand, stock.on_hand, stock.hold
    typical = master.items.typical_qty

    # Supplier delay: other warehouses have exactly their own demand on hand, the delayed warehouse a quarter of its.
    item = plan.delayed_item
    on_hand[item] = demand[item]
    on_hand[item, plan.delayed_warehouse] = demand[item, plan.delayed_warehouse] // 4
    hold[item] = 0
    stock.category[item] = SEEDED

    # Stock in another warehouse: a tenth of the demand at the short warehouse, plenty at the stocked one.
    item = plan.misplaced_item
    on_hand[item] = _healthy_on_hand(rng, demand[item], typical[item])
    on_hand[item, plan.short_warehouse] = demand[item, plan.short_warehouse] // 10
    on_hand[item, plan.stocked_warehouse] = (
        demand[item, plan.stocked_warehouse] + 3 * demand[item, plan.short_warehouse] + round(2 * typical[item])
    )
    hold[item] = 0
    stock.category[item] = SEEDED

    # Quality hold: enough on hand for the demand, but only a quarter of the demand is free of the hold.
    item, warehouse = plan.held_item, plan.held_warehouse
    on_hand[item, warehouse] = int(np.ceil(1.3 * demand[item, warehouse]))
    hold[item, warehouse] = on_hand[item, warehouse] - demand[item, warehouse] // 4
    stock.category[item, warehouse] = SEEDED


def allocate_stock(master: Master, lines: OrderLines, stock: Stock) -> None:
    """Allocate free stock to open lines due within the horizon, oldest due date first, in place.

    A line gets whole units of its own unit. What a location allocates never
    exceeds its on-hand stock minus its quality hold.
    """
    n_warehouses = len(master.warehouses)
    due = np.where(lines.current_promised_day != NO_DAY, lines.current_promised_day, lines.requested_day)
    open_each = lines.open_qty_each()
    eligible = np.flatnonzero((lines.status == OPEN) & (due <= ALLOCATION_HORIZON_DAYS) & (open_each > 0))
    location = lines.item[eligible].astype(np.int64) * n_warehouses + lines.warehouse[eligible]
    order = np.lexsort((lines.line_number[eligible], lines.order_number[eligible], due[eligible], location))
    positions = eligible[order]
    location = location[order]
    wanted = open_each[positions]

    running = np.cumsum(wanted)
    starts = np.r_[True, location[1:] != location[:-1]]
    before_location = np.maximum.accumulate(np.where(starts, running - wanted, 0))
    earlier_in_location = running - wanted - before_location
    free = stock.available().ravel()[location]
    granted = np.clip(free - earlier_in_location, 0, wanted)
    factor = UNIT_FACTORS[lines.unit[positions]]
    granted_units = granted // factor

    lines.allocated[positions] = granted_units
    allocated = np.bincount(location, weights=granted_units * factor, minlength=stock.on_hand.size)
    stock.allocated = allocated.round().astype(np.int64).reshape(stock.on_hand.shape)


@dataclass
class Transfers:
    item: np.ndarray
    source: np.ndarray
    destination: np.ndarray
    qty: np.ndarray
    ship_day: np.ndarray
    expected_day: np.ndarray


def plan_transfers(rng: np.random.Generator, master: Master, stock: Stock, calendar: DayCalendar) -> Transfers:
    """Draw transfers already on their way to a quarter of the short locations, from the warehouse with most spare stock."""
    spare = np.maximum(0, stock.available() - stock.demand)
    seeded_items = (stock.category == SEEDED).any(axis=1)
    spare[seeded_items] = 0
    short = (stock.category == SHORT_INBOUND) | (stock.category == SHORT_UNSUPPLIED)
    chosen = np.argwhere(short & (rng.random(short.shape) < 0.25))
    missing = stock.demand - stock.available()
    rows = []
    for item, destination in chosen.tolist():
        source = int(np.argmax(spare[item]))
        lane_days = int(master.warehouses.lane_days[source, destination])
        qty = int(min(missing[item, destination], spare[item, source] // 2))
        if source == destination or lane_days == 0 or qty < 1:
            continue
        spare[item, source] -= qty
        rows.append((item, source, destination, qty, lane_days))
    table = np.array(rows, dtype=np.int64).reshape(-1, 5)
    lane_days = table[:, 4]
    ship_day = calendar.previous_weekday(-rng.integers(0, lane_days)) if len(table) else np.zeros(0, dtype=np.int32)
    return Transfers(table[:, 0], table[:, 1], table[:, 2], table[:, 3], ship_day, ship_day + lane_days)


def write_inventory(files: CanonicalFiles, master: Master, stock: Stock, calendar: DayCalendar) -> None:
    """Write one inventory row per item and warehouse, counted at 05:00 local time on the as-of date."""
    n_items, n_warehouses = stock.on_hand.shape
    counted_at = np.array(
        [calendar.local_timestamp(0, 5, zone) for zone in master.warehouses.time_zones], dtype=object
    )
    items_per_block = max(1, WRITE_BLOCK // n_warehouses)
    for start in range(0, n_items, items_per_block):
        stop = min(start + items_per_block, n_items)
        count = (stop - start) * n_warehouses
        warehouse = np.tile(np.arange(n_warehouses), stop - start)
        files.write(
            "inventory",
            {
                "sku": np.repeat(master.items.skus[start:stop], n_warehouses),
                "warehouse_code": master.warehouses.codes[warehouse],
                "unit": ["EA"] * count,
                "on_hand_qty": number_text(stock.on_hand[start:stop].ravel()),
                "quality_hold_qty": number_text(stock.hold[start:stop].ravel()),
                "allocated_qty": number_text(stock.allocated[start:stop].ravel()),
                "as_of": counted_at[warehouse],
            },
        )


def write_transfers(
    files: CanonicalFiles, master: Master, transfers: Transfers, calendar: DayCalendar, numbers: NumberSequence
) -> None:
    count = len(transfers.item)
    files.write(
        "shipments",
        {
            "shipment_number": codes_text("TR", numbers.take(count), 7),
            "kind": ["transfer"] * count,
            "sku": master.items.skus[transfers.item],
            "from_warehouse_code": master.warehouses.codes[transfers.source],
            "to_warehouse_code": master.warehouses.codes[transfers.destination],
            "unit": ["EA"] * count,
            "qty": number_text(transfers.qty),
            "ship_date": calendar.iso(transfers.ship_day),
            "expected_date": calendar.iso(transfers.expected_day),
            "status": ["in_transit"] * count,
        },
    )
