"""The demo distributor: a national industrial distributor written as one canonical CSV file per entity.

generate_demo() writes the files of services.sync.layout into a folder and
returns a DemoSummary with the row count of each file and the ids of the
situations seeded on purpose. The same seed, line count and as-of date give
byte-identical files: every random draw comes from generators seeded with
the seed, and dates are counted from the as-of date, never from the clock.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple

import numpy as np

from seed_data.csvfiles import CanonicalFiles
from seed_data.days import DayCalendar
from seed_data.master import build_master, segment_item_cdfs
from seed_data.master_files import write_master_files
from seed_data.names import SITES
from seed_data.open_purchases import OpenPurchases, plan_open_purchases, write_open_purchase_events
from seed_data.orders import (
    NumberSequence,
    OpenStatuses,
    OrderLines,
    Orders,
    draw_history_orders,
    draw_lines,
    draw_open_orders,
    number_orders,
    price_lines,
    set_open_statuses,
    write_customer_shipments,
    write_history,
    write_order_lines,
)
from seed_data.purchasing import write_purchase_history, write_purchase_lines, write_receipts
from seed_data.situations import ForcedLines, force_situation_lines, plan_situations
from seed_data.stock import Stock, Transfers, allocate_stock, plan_stock, plan_transfers, write_inventory, write_transfers
from seed_data.suppliers import BEHAVIOURS

MIN_LINES, MAX_LINES = 1_000, 1_000_000
MIN_SKUS, MAX_SKUS = 50, 200_000
MIN_WAREHOUSES = 2
DEFAULT_LINES = 20_000
HISTORY_LINES_PER_OPEN_LINE = 1.5
# Purchase order lines of history per sales order line, counting open and history sales lines.
PURCHASE_LINES_PER_SALES_LINE = 0.25
# SKUs and customers grow with lines ** SCALE_EXPONENT: 2,000 SKUs at 20,000 lines, about 50,000 at a million.
SCALE_EXPONENT = math.log(25) / math.log(50)


class LineKey(NamedTuple):
    order_number: str
    line_number: int


@dataclass(frozen=True)
class DemoSize:
    open_lines: int
    history_lines: int
    purchase_lines: int
    skus: int
    customers: int
    suppliers: int
    warehouses: int


@dataclass(frozen=True)
class SupplierDelay:
    """An open purchase order line whose supplier pushed the promise out, on an item short everywhere."""

    po_number: str
    po_line_number: int
    supplier_code: str
    sku: str
    warehouse_code: str
    old_date: date
    new_date: date
    # Open lines of strategic healthcare and manufacturing customers on the item.
    strategic_lines: tuple[LineKey, ...] = field(repr=False)


@dataclass(frozen=True)
class StockInOtherWarehouse:
    """An item short at one warehouse while another warehouse with a transfer lane to it has plenty."""

    sku: str
    short_warehouse_code: str
    stocked_warehouse_code: str


@dataclass(frozen=True)
class QualityHold:
    """An item whose stock at a warehouse covers its open lines only if the quality hold is released."""

    sku: str
    warehouse_code: str


@dataclass(frozen=True)
class DemoSummary:
    out_dir: Path
    seed: int
    as_of: date
    size: DemoSize
    row_counts: dict[str, int]  # by file name
    supplier_delay: SupplierDelay
    stock_in_other_warehouse: StockInOtherWarehouse
    quality_hold: QualityHold
    # These lists reach tens of thousands of lines at a million open lines, so repr() leaves them out.
    # describe() prints their counts.
    never_confirmed_lines: tuple[LineKey, ...] = field(repr=False)
    cancelled_lines: tuple[LineKey, ...] = field(repr=False)
    partially_cancelled_lines: tuple[LineKey, ...] = field(repr=False)
    partially_shipped_lines: tuple[LineKey, ...] = field(repr=False)
    # By supplier code: reliable, chronically_late, slips_before_holidays or erratic.
    supplier_behaviours: dict[str, str] = field(repr=False)

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        """Return a few lines of text: files with row counts and the seeded situations."""
        delay = self.supplier_delay
        other = self.stock_in_other_warehouse
        lines = [f"Demo distributor in {self.out_dir} (seed {self.seed}, as of {self.as_of.isoformat()})"]
        lines += [f"  {name}: {count:,} rows" for name, count in self.row_counts.items()]
        lines += [
            f"  supplier delay: {delay.po_number} line {delay.po_line_number} ({delay.sku} at {delay.warehouse_code})"
            f" moved from {delay.old_date} to {delay.new_date};"
            f" {len(delay.strategic_lines):,} strategic healthcare and manufacturing lines wait for it",
            f"  stock in another warehouse: {other.sku} short at {other.short_warehouse_code},"
            f" stocked at {other.stocked_warehouse_code}",
            f"  quality hold: {self.quality_hold.sku} at {self.quality_hold.warehouse_code}",
            f"  never confirmed: {len(self.never_confirmed_lines):,} open lines;"
            f" partially shipped: {len(self.partially_shipped_lines):,};"
            f" cancelled: {len(self.cancelled_lines):,};"
            f" partially cancelled: {len(self.partially_cancelled_lines):,}",
        ]
        return "\n".join(lines)


def demo_size(lines: int = DEFAULT_LINES, *, skus: int | None = None, warehouses: int | None = None) -> DemoSize:
    """Return the size of a demo with the given number of open sales order lines.

    Without skus or warehouses, both grow with lines: 2,000 SKUs and 5
    warehouses at 20,000 lines, about 50,000 SKUs and 10 warehouses at a
    million. Raises ValueError for a value outside its range.
    """
    lines = operator.index(lines)
    if not MIN_LINES <= lines <= MAX_LINES:
        raise ValueError(
            f"lines={lines} is outside {MIN_LINES:,} to {MAX_LINES:,}; "
            "pass the number of open sales order lines the demo should have"
        )
    scale = (lines / DEFAULT_LINES) ** SCALE_EXPONENT
    if skus is None:
        skus = max(100, round(2_000 * scale))
    elif not MIN_SKUS <= operator.index(skus) <= MAX_SKUS:
        raise ValueError(f"skus={skus} is outside {MIN_SKUS:,} to {MAX_SKUS:,}; pass a catalog size in that range")
    if warehouses is None:
        growth = max(0.0, math.log(lines / DEFAULT_LINES) / math.log(MAX_LINES / DEFAULT_LINES))
        warehouses = min(10, 5 + round(5 * growth))
    elif not MIN_WAREHOUSES <= operator.index(warehouses) <= len(SITES):
        raise ValueError(
            f"warehouses={warehouses} is outside {MIN_WAREHOUSES} to {len(SITES)}; "
            "the demo has that many warehouse sites"
        )
    history_lines = round(HISTORY_LINES_PER_OPEN_LINE * lines)
    return DemoSize(
        open_lines=lines,
        history_lines=history_lines,
        purchase_lines=round(PURCHASE_LINES_PER_SALES_LINE * (lines + history_lines)),
        skus=skus,
        customers=max(40, round(400 * scale)),
        suppliers=min(max(12, round(40 * math.sqrt(scale))), skus // 4),
        warehouses=warehouses,
    )


def _check_arguments(seed: int, as_of: date) -> None:
    if isinstance(as_of, datetime) or not isinstance(as_of, date):
        raise TypeError(f"as_of={as_of!r} is not a date; pass a datetime.date such as date(2025, 6, 2)")
    if operator.index(seed) < 0:
        raise ValueError(f"seed={seed} is negative; pass a seed of 0 or more")


def _generator(seed: int, *part: int) -> np.random.Generator:
    """Return the random generator of one part of the demo.

    Each part draws from its own generator, seeded with the seed and the
    part's numbers, so a change to how one part draws leaves the others alone.
    """
    return np.random.default_rng([seed, *part])


@dataclass
class _OpenBook:
    """The open order lines with the seeded situations, and the stock set against them."""

    lines: OrderLines
    forced: ForcedLines
    statuses: OpenStatuses
    stock: Stock
    transfers: Transfers


def generate_demo(
    out_dir: Path,
    *,
    seed: int = 7,
    lines: int = DEFAULT_LINES,
    as_of: date,
    skus: int | None = None,
    warehouses: int | None = None,
) -> DemoSummary:
    """Write the demo distributor's canonical CSV files into out_dir and return what was written.

    lines is the number of open sales order lines, from 1,000 to 1,000,000.
    Shipped and cancelled history comes on top. Existing files of the same
    names are overwritten. Raises ValueError for a size outside its range and
    TypeError when as_of is not a date.
    """
    size = demo_size(lines, skus=skus, warehouses=warehouses)
    _check_arguments(seed, as_of)
    out_dir = Path(out_dir)
    calendar = DayCalendar(as_of)

    master = build_master(seed, size.skus, size.customers, size.suppliers, size.warehouses)
    plan = plan_situations(_generator(seed, 2), master)
    item_cdfs = segment_item_cdfs(master)
    history_orders, open_orders = _draw_orders(seed, calendar, size)
    book = _draw_open_book(seed, master, plan, item_cdfs, calendar, open_orders)

    shipment_numbers = NumberSequence(1)
    with CanonicalFiles(out_dir) as files:
        write_master_files(_generator(seed, 9), files, master)
        history = write_history(files, seed, master, item_cdfs, calendar, history_orders, shipment_numbers)
        write_order_lines(files, master, calendar, book.lines)
        _write_partial_shipments(_generator(seed, 11), files, master, calendar, book, shipment_numbers)
        write_inventory(files, master, book.stock, calendar)
        write_transfers(files, master, book.transfers, calendar, NumberSequence(1))
        purchases = _write_purchasing(files, seed, master, plan, calendar, size, book.stock)

    return _summarize(out_dir, seed, as_of, size, files.row_counts, master, plan, book, history, purchases)


def _draw_orders(seed: int, calendar: DayCalendar, size: DemoSize) -> tuple[Orders, Orders]:
    """Draw the order headers of history and of the open order book, numbered in order-day order across both."""
    history_sizes, history_days = draw_history_orders(_generator(seed, 10), calendar, size.history_lines)
    open_sizes, open_days = draw_open_orders(_generator(seed, 4), calendar, size.open_lines)
    history_numbers, open_numbers = number_orders(history_days, open_days)
    return Orders(history_numbers, history_days, history_sizes), Orders(open_numbers, open_days, open_sizes)


def _draw_open_book(seed, master, plan, item_cdfs, calendar, orders: Orders) -> _OpenBook:
    """Draw the open lines, seed the situations on them, and set stock, allocations and transfers against them."""
    rng = _generator(seed, 4, 1)
    lines = draw_lines(rng, master, item_cdfs, calendar, orders)
    forced = force_situation_lines(rng, master, lines, plan)
    price_lines(rng, master, lines)
    statuses = set_open_statuses(rng, lines)

    stock = plan_stock(_generator(seed, 7), master, lines, plan)
    allocate_stock(master, lines, stock)
    transfers = plan_transfers(_generator(seed, 7, 1), master, stock, calendar)
    return _OpenBook(lines, forced, statuses, stock, transfers)


def _write_partial_shipments(rng, files, master, calendar, book: _OpenBook, shipment_numbers) -> None:
    """Write the customer shipment of each partly shipped open line, sent between its order day and the as-of date."""
    positions = book.statuses.partially_shipped
    order_day = book.lines.order_day[positions]
    ship_days = order_day + np.floor(rng.random(len(positions)) * (1 - order_day)).astype(np.int32)
    write_customer_shipments(rng, files, master, calendar, book.lines, positions, ship_days, shipment_numbers)


def _write_purchasing(files, seed, master, plan, calendar, size: DemoSize, stock: Stock) -> OpenPurchases:
    """Write purchase order history with its receipts, then the open lines with their receipts, events and ASNs."""
    po_numbers = NumberSequence(4_500_001)
    receipt_numbers = NumberSequence(1)
    asn_numbers = NumberSequence(1)
    write_purchase_history(files, seed, master, calendar, size.purchase_lines, po_numbers, receipt_numbers, asn_numbers)

    purchases = plan_open_purchases(_generator(seed, 8), master, stock, plan, calendar, po_numbers)
    write_purchase_lines(files, master, calendar, purchases.lines)
    write_receipts(files, master, calendar, purchases.receipts, receipt_numbers, asn_numbers)
    write_open_purchase_events(_generator(seed, 8, 1), files, master, calendar, purchases, asn_numbers)
    return purchases


def _summarize(out_dir, seed, as_of, size, row_counts, master, plan, book: _OpenBook, history, purchases) -> DemoSummary:
    def keys(positions) -> tuple[LineKey, ...]:
        return tuple(LineKey(*key) for key in book.lines.keys(positions))

    delayed = purchases.delayed
    skus = master.items.skus
    codes = master.warehouses.codes
    return DemoSummary(
        out_dir=out_dir,
        seed=seed,
        as_of=as_of,
        size=size,
        row_counts=dict(row_counts),
        supplier_delay=SupplierDelay(
            po_number=delayed.po_number,
            po_line_number=delayed.line_number,
            supplier_code=str(master.suppliers.codes[delayed.supplier]),
            sku=str(skus[delayed.item]),
            warehouse_code=str(codes[delayed.warehouse]),
            old_date=delayed.old_date,
            new_date=delayed.new_date,
            strategic_lines=keys(book.forced.delayed),
        ),
        stock_in_other_warehouse=StockInOtherWarehouse(
            sku=str(skus[plan.misplaced_item]),
            short_warehouse_code=str(codes[plan.short_warehouse]),
            stocked_warehouse_code=str(codes[plan.stocked_warehouse]),
        ),
        quality_hold=QualityHold(sku=str(skus[plan.held_item]), warehouse_code=str(codes[plan.held_warehouse])),
        never_confirmed_lines=keys(book.statuses.never_confirmed),
        cancelled_lines=tuple(LineKey(*key) for key in history.cancelled),
        partially_cancelled_lines=keys(book.statuses.partially_cancelled)
        + tuple(LineKey(*key) for key in history.partially_cancelled),
        partially_shipped_lines=keys(book.statuses.partially_shipped),
        supplier_behaviours={
            str(code): BEHAVIOURS[behaviour]
            for code, behaviour in zip(master.suppliers.codes.tolist(), master.suppliers.behaviour.tolist())
        },
    )
