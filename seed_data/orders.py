"""Sales order lines of the demo: the open order book and two years of shipped and cancelled history.

Lines are drawn as numpy arrays, one position per line, and written in
blocks so that a million lines never sit in memory as text. Quantities are
in the line's unit (EA, BOX or CASE); prices and costs are per that unit.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from seed_data.csvfiles import CanonicalFiles, codes_text, money_text, number_text
from seed_data.days import NO_DAY, DayCalendar
from seed_data.master import BOX, CASE, EA, UNIT_CODES, UNIT_FACTORS, Master

OPEN, SHIPPED, CANCELLED, CLOSED = 0, 1, 2, 3
STATUS_TEXT = np.array(["open", "shipped", "cancelled", "closed"], dtype=object)

# Discount off list price per customer tier (strategic, key, standard), as (low, high).
TIER_DISCOUNTS = np.array([[0.10, 0.18], [0.05, 0.12], [0.0, 0.06]])
# A discounted price never falls below cost plus this share.
MIN_MARKUP = 1.08

WRITE_BLOCK = 50_000  # lines turned into text at a time
HISTORY_BLOCK = 20_000  # history orders drawn at a time


@dataclass
class Orders:
    """Order headers: number, order day and line count, in the order they are drawn."""

    numbers: np.ndarray
    days: np.ndarray
    sizes: np.ndarray


@dataclass
class OrderLines:
    """A block of sales order lines. Quantities are in the line's unit and money in cents per that unit."""

    order_number: np.ndarray
    line_number: np.ndarray
    customer: np.ndarray
    item: np.ndarray
    warehouse: np.ndarray
    order_day: np.ndarray
    requested_day: np.ndarray
    first_promised_day: np.ndarray
    current_promised_day: np.ndarray
    unit: np.ndarray
    ordered: np.ndarray
    shipped: np.ndarray
    cancelled: np.ndarray
    allocated: np.ndarray
    price_cents: np.ndarray
    cost_cents: np.ndarray
    status: np.ndarray

    def __len__(self) -> int:
        return len(self.order_number)

    def open_qty_each(self) -> np.ndarray:
        """Quantity still to ship, in eaches."""
        return (self.ordered - self.shipped - self.cancelled) * UNIT_FACTORS[self.unit]

    def keys(self, positions: np.ndarray) -> list[tuple[str, int]]:
        """Return (order_number, line_number) of the lines at the given positions."""
        numbers = codes_text("SO", self.order_number[positions], 8)
        return list(zip(numbers, self.line_number[positions].tolist()))

    def slice(self, start: int, stop: int) -> "OrderLines":
        return OrderLines(**{f.name: getattr(self, f.name)[start:stop] for f in fields(self)})


def draw_order_sizes(rng: np.random.Generator, total_lines: int, *, success: float = 0.38, cap: int = 15) -> np.ndarray:
    """Draw lines per order, geometric with the given success rate and capped, adding up to exactly total_lines.

    The default gives 1 to 15 lines per order, about 2.6 on average.
    """
    def draw() -> np.ndarray:
        return np.minimum(rng.geometric(success, size=total_lines // 2 + 16), cap)

    sizes = draw()
    while sizes.sum() < total_lines:
        sizes = np.concatenate([sizes, draw()])
    ends = np.cumsum(sizes)
    count = int(np.searchsorted(ends, total_lines)) + 1
    sizes = sizes[:count].copy()
    sizes[-1] -= int(ends[count - 1]) - total_lines
    return sizes.astype(np.int32)


def number_orders(*day_arrays: np.ndarray, first: int = 1_000_001) -> list[np.ndarray]:
    """Number the orders of several sets in order-day order, so numbers rise with dates across sets."""
    days = np.concatenate(day_arrays)
    rank = np.empty(len(days), dtype=np.int64)
    rank[np.argsort(days, kind="stable")] = np.arange(len(days))
    bounds = np.cumsum([0] + [len(d) for d in day_arrays])
    return [first + rank[bounds[i] : bounds[i + 1]] for i in range(len(day_arrays))]


def draw_lines(
    rng: np.random.Generator, master: Master, item_cdfs: np.ndarray, calendar: DayCalendar, orders: Orders
) -> OrderLines:
    """Draw customers, warehouses, items and dates for the lines of the given orders.

    Quantities, prices and statuses are left at zero for price_lines and the
    status functions to fill in, so callers can change items first.
    """
    customers = master.customers
    n_orders = len(orders.numbers)
    customer = rng.choice(len(customers), size=n_orders, p=customers.order_weight / customers.order_weight.sum())
    away = rng.random(n_orders) < 0.15
    warehouse = np.where(away, rng.integers(0, len(master.warehouses), size=n_orders), customers.home[customer])
    # Three orders in ten ask for delivery within the customer's SLA. The rest name a later date.
    lead = customers.sla_days[customer] + np.where(rng.random(n_orders) < 0.3, 0, rng.integers(2, 46, size=n_orders))
    requested = calendar.next_weekday(orders.days + lead)

    sizes = orders.sizes
    n = int(sizes.sum())
    order_of_line = np.repeat(np.arange(n_orders), sizes)
    line_number = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes) + 1
    line_customer = customer[order_of_line]
    segment = customers.segment[line_customer]
    item = np.empty(n, dtype=np.int32)
    draws = rng.random(n)
    for s in np.unique(segment).tolist():
        members = segment == s
        item[members] = np.searchsorted(item_cdfs[s], draws[members], side="right")
    item = np.minimum(item, len(master.items) - 1)

    line_requested = requested[order_of_line]
    first = np.where(
        rng.random(n) < 0.65, line_requested, calendar.next_weekday(line_requested + rng.integers(1, 12, size=n))
    )
    current = np.where(rng.random(n) < 0.78, first, calendar.next_weekday(first + rng.integers(2, 25, size=n)))
    zeros = np.zeros(n, dtype=np.int64)
    return OrderLines(
        order_number=orders.numbers[order_of_line],
        line_number=line_number.astype(np.int32),
        customer=line_customer.astype(np.int32),
        item=item,
        warehouse=warehouse[order_of_line].astype(np.int16),
        order_day=orders.days[order_of_line].astype(np.int32),
        requested_day=line_requested.astype(np.int32),
        first_promised_day=first.astype(np.int32),
        current_promised_day=current.astype(np.int32),
        unit=np.zeros(n, dtype=np.int8),
        ordered=zeros.copy(),
        shipped=zeros.copy(),
        cancelled=zeros.copy(),
        allocated=zeros.copy(),
        price_cents=zeros.copy(),
        cost_cents=zeros.copy(),
        status=np.zeros(n, dtype=np.int8),
    )


def price_lines(rng: np.random.Generator, master: Master, lines: OrderLines) -> None:
    """Fill in each line's unit, ordered quantity, price after the tier's discount and cost, in place."""
    items = master.items
    n = len(lines)
    item = lines.item
    eaches = np.maximum(1, np.round(items.typical_qty[item] * rng.lognormal(0, 0.7, n))).astype(np.int64)
    draw = rng.random(n)
    unit = np.full(n, EA, dtype=np.int8)
    unit[items.has_box[item] & (eaches >= 12) & (draw < 0.5)] = BOX
    unit[items.has_case[item] & (eaches >= 24) & (draw < 0.25)] = CASE
    factor = UNIT_FACTORS[unit]

    tier = master.customers.tier[lines.customer]
    discount = rng.uniform(TIER_DISCOUNTS[tier, 0], TIER_DISCOUNTS[tier, 1])
    floor = np.ceil(items.cost_cents[item] * MIN_MARKUP)
    each_price = np.maximum(np.round(items.price_cents[item] * (1 - discount)), floor).astype(np.int64)

    lines.unit[:] = unit
    lines.ordered[:] = np.maximum(1, np.round(eaches / factor)).astype(np.int64)
    lines.price_cents[:] = each_price * factor
    lines.cost_cents[:] = items.cost_cents[item] * factor


@dataclass
class OpenStatuses:
    """Positions of open lines that were seeded as never confirmed, partly shipped or partly cancelled."""

    never_confirmed: np.ndarray
    partially_shipped: np.ndarray
    partially_cancelled: np.ndarray


def set_open_statuses(rng: np.random.Generator, lines: OrderLines) -> OpenStatuses:
    """Make about 3% of open lines never confirmed, 6% partly shipped and 2% partly cancelled."""
    n = len(lines)
    draw = rng.random(n)
    splittable = lines.ordered >= 2
    never = np.flatnonzero(draw < 0.03)
    partial_ship = np.flatnonzero((draw >= 0.03) & (draw < 0.09) & splittable)
    partial_cancel = np.flatnonzero((draw >= 0.09) & (draw < 0.11) & splittable)

    lines.first_promised_day[never] = NO_DAY
    lines.current_promised_day[never] = NO_DAY
    lines.shipped[partial_ship] = rng.integers(1, lines.ordered[partial_ship])
    lines.cancelled[partial_cancel] = rng.integers(1, lines.ordered[partial_cancel])
    lines.status[:] = OPEN
    return OpenStatuses(never, partial_ship, partial_cancel)


def set_history_statuses(rng: np.random.Generator, lines: OrderLines) -> None:
    """Make history lines shipped (90%), cancelled (6%) or closed with the rest cancelled (4%)."""
    n = len(lines)
    draw = rng.random(n)
    cancelled = draw < 0.06
    closed = (draw >= 0.06) & (draw < 0.10) & (lines.ordered >= 2)
    shipped = ~cancelled & ~closed

    # Lines cancelled soon after entry were often never confirmed.
    unconfirmed = cancelled & (rng.random(n) < 0.4)
    lines.first_promised_day[unconfirmed] = NO_DAY
    lines.current_promised_day[unconfirmed] = NO_DAY
    lines.cancelled[cancelled] = lines.ordered[cancelled]
    lines.status[cancelled] = CANCELLED
    partly = rng.integers(1, np.maximum(2, lines.ordered))
    lines.shipped[closed] = partly[closed]
    lines.cancelled[closed] = lines.ordered[closed] - partly[closed]
    lines.status[closed] = CLOSED
    lines.shipped[shipped] = lines.ordered[shipped]
    lines.status[shipped] = SHIPPED


def write_order_lines(files: CanonicalFiles, master: Master, calendar: DayCalendar, lines: OrderLines) -> None:
    for start in range(0, len(lines), WRITE_BLOCK):
        block = lines.slice(start, start + WRITE_BLOCK)
        files.write(
            "sales_order_lines",
            {
                "order_number": codes_text("SO", block.order_number, 8),
                "line_number": number_text(block.line_number),
                "customer_code": master.customers.codes[block.customer],
                "sku": master.items.skus[block.item],
                "warehouse_code": master.warehouses.codes[block.warehouse],
                "order_date": calendar.iso(block.order_day),
                "requested_date": calendar.iso(block.requested_day),
                "first_promised_date": calendar.iso(block.first_promised_day),
                "current_promised_date": calendar.iso(block.current_promised_day),
                "unit": UNIT_CODES[block.unit],
                "ordered_qty": number_text(block.ordered),
                "shipped_qty": number_text(block.shipped),
                "cancelled_qty": number_text(block.cancelled),
                "allocated_qty": number_text(block.allocated),
                "unit_price": money_text(block.price_cents),
                "unit_cost": money_text(block.cost_cents),
                "currency": ["USD"] * len(block),
                "status": STATUS_TEXT[block.status],
            },
        )


class NumberSequence:
    """Consecutive document numbers handed out in blocks, such as shipment numbers."""

    def __init__(self, first: int):
        self._next = first

    def take(self, count: int) -> np.ndarray:
        numbers = np.arange(self._next, self._next + count, dtype=np.int64)
        self._next += count
        return numbers


def write_customer_shipments(
    rng: np.random.Generator,
    files: CanonicalFiles,
    master: Master,
    calendar: DayCalendar,
    lines: OrderLines,
    positions: np.ndarray,
    ship_days: np.ndarray,
    shipment_numbers: NumberSequence,
) -> None:
    """Write one customer shipment per line for its shipped quantity, delivered unless still on the way."""
    count = len(positions)
    if count == 0:
        return
    transit = rng.integers(1, 5, size=count)
    expected = ship_days + transit
    delivered_day = expected + (rng.random(count) < 0.2)
    delivered = delivered_day <= 0
    files.write(
        "shipments",
        {
            "shipment_number": codes_text("SH", shipment_numbers.take(count), 8),
            "kind": ["customer"] * count,
            "sku": master.items.skus[lines.item[positions]],
            "order_number": codes_text("SO", lines.order_number[positions], 8),
            "order_line_number": number_text(lines.line_number[positions]),
            "from_warehouse_code": master.warehouses.codes[lines.warehouse[positions]],
            "unit": UNIT_CODES[lines.unit[positions]],
            "qty": number_text(lines.shipped[positions]),
            "ship_date": calendar.iso(ship_days),
            "expected_date": calendar.iso(expected),
            "delivered_date": calendar.iso(np.where(delivered, delivered_day, NO_DAY)),
            "status": np.where(delivered, "delivered", "in_transit").astype(object),
        },
    )


def draw_history_orders(rng: np.random.Generator, calendar: DayCalendar, total_lines: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw sizes and order days of two years of past orders, oldest first, busier in recent months."""
    sizes = draw_order_sizes(rng, total_lines)
    ages = np.floor(730 * rng.random(len(sizes)) ** 1.25).astype(np.int32)
    days = np.sort(calendar.previous_weekday(-1 - ages))
    return sizes, days


def draw_open_orders(rng: np.random.Generator, calendar: DayCalendar, total_lines: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw sizes and order days of the open order book, oldest first.

    Most orders are from the last week or two, and about 8% are older
    backorders of 15 to 120 days.
    """
    sizes = draw_order_sizes(rng, total_lines)
    n = len(sizes)
    recent = np.minimum(np.round(rng.exponential(5, size=n)), 60)
    ages = np.where(rng.random(n) < 0.08, rng.integers(15, 121, size=n), recent).astype(np.int32)
    days = np.sort(calendar.previous_weekday(-ages))
    return sizes, days


@dataclass
class HistoryKeys:
    cancelled: list[tuple[str, int]]
    partially_cancelled: list[tuple[str, int]]


def write_history(
    files: CanonicalFiles,
    seed: int,
    master: Master,
    item_cdfs: np.ndarray,
    calendar: DayCalendar,
    orders: Orders,
    shipment_numbers: NumberSequence,
) -> HistoryKeys:
    """Write the shipped, cancelled and closed lines of past orders and a customer shipment for each shipped line.

    Orders are drawn in blocks, each from its own random generator, so memory
    stays flat however many lines are asked for.
    """
    keys = HistoryKeys([], [])
    for block_index, start in enumerate(range(0, len(orders.numbers), HISTORY_BLOCK)):
        stop = min(start + HISTORY_BLOCK, len(orders.numbers))
        rng = np.random.default_rng([seed, 3, block_index])
        block = Orders(orders.numbers[start:stop], orders.days[start:stop], orders.sizes[start:stop])
        lines = draw_lines(rng, master, item_cdfs, calendar, block)
        price_lines(rng, master, lines)
        set_history_statuses(rng, lines)
        write_order_lines(files, master, calendar, lines)

        shipped = np.flatnonzero(lines.shipped > 0)
        promised = np.where(lines.current_promised_day != NO_DAY, lines.current_promised_day, lines.requested_day)
        late = np.where(rng.random(len(lines)) < 0.8, rng.integers(-2, 2, size=len(lines)), rng.integers(2, 20, size=len(lines)))
        ship_days = np.clip(promised + late, lines.order_day, -1)[shipped]
        write_customer_shipments(rng, files, master, calendar, lines, shipped, ship_days, shipment_numbers)

        keys.cancelled += lines.keys(np.flatnonzero(lines.status == CANCELLED))
        keys.partially_cancelled += lines.keys(np.flatnonzero(lines.status == CLOSED))
    return keys
