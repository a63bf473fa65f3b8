"""Purchase order lines of the demo: two years of received history, and the parts open lines share.

History lines are received late or on time according to their supplier's
behaviour, so receipts.csv shows each supplier's pattern against its
promised dates. open_purchases.py draws the open lines.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from seed_data.csvfiles import CanonicalFiles, codes_text, money_text, number_text
from seed_data.days import NO_DAY, DayCalendar
from seed_data.master import CASE, EA, UNIT_CODES, UNIT_FACTORS, Master
from seed_data.suppliers import CHRONICALLY_LATE, ERRATIC, RELIABLE, SLIPS_BEFORE_HOLIDAYS
from seed_data.orders import WRITE_BLOCK, NumberSequence, draw_order_sizes

PO_OPEN, PO_RECEIVED, PO_CANCELLED, PO_CLOSED = 0, 1, 2, 3
PO_STATUS_TEXT = np.array(["open", "received", "cancelled", "closed"], dtype=object)
HISTORY_HEADERS_PER_BLOCK = 20_000
HISTORY_DAYS = 730
SETTLED_DAYS = 31  # a history line's promised date lies at least this many days before the as-of date


@dataclass
class PurchaseLines:
    """A block of purchase order lines. Quantities are in the line's unit and cost in cents per that unit."""

    po_number: np.ndarray
    line_number: np.ndarray
    supplier: np.ndarray
    item: np.ndarray
    warehouse: np.ndarray
    order_day: np.ndarray
    promised_day: np.ndarray  # the supplier's current promise
    acknowledged_day: np.ndarray
    acknowledged_qty: np.ndarray  # -1 when not acknowledged
    unit: np.ndarray
    ordered: np.ndarray
    received: np.ndarray
    cancelled: np.ndarray
    cost_cents: np.ndarray
    mode: np.ndarray
    status: np.ndarray

    def __len__(self) -> int:
        return len(self.po_number)

    def slice(self, start: int, stop: int) -> "PurchaseLines":
        return PurchaseLines(**{f.name: getattr(self, f.name)[start:stop] for f in fields(self)})


class SupplierCatalog:
    """Draws items a supplier is the primary source of, the popular ones more often."""

    def __init__(self, master: Master):
        primary = master.sourcing.supplier
        n_suppliers = len(master.suppliers)
        self._items = np.argsort(primary, kind="stable")
        owner = primary[self._items]
        self._start = np.searchsorted(owner, np.arange(n_suppliers), side="left")
        self._stop = np.searchsorted(owner, np.arange(n_suppliers), side="right")
        weights = master.items.popularity[self._items] + 1e-9
        running = np.cumsum(weights)
        before = np.where(self._start > 0, running[np.maximum(self._start - 1, 0)], 0.0)
        total = running[np.maximum(self._stop - 1, 0)] - before
        self._cdf = owner + (running - before[owner]) / total[owner]

    def sample(self, rng: np.random.Generator, suppliers: np.ndarray) -> np.ndarray:
        position = np.searchsorted(self._cdf, suppliers + rng.random(len(suppliers)), side="right")
        position = np.clip(position, self._start[suppliers], self._stop[suppliers] - 1)
        return self._items[position].astype(np.int32)


def draw_delays(rng: np.random.Generator, behaviour: np.ndarray, promised: np.ndarray, calendar: DayCalendar) -> np.ndarray:
    """Draw days between promised and actual receipt for each line from its supplier's behaviour.

    Reliable suppliers deliver within a day of the promise and now and then
    a few days late. Chronically late ones are usually 5 to 13 days late.
    Suppliers that slip before holidays are reliable except in the two
    weeks before Thanksgiving, Christmas and July 4, when they are one to
    three weeks late. Erratic ones range from a week early to weeks late.
    """
    n = len(behaviour)
    on_time = np.round(rng.normal(0, 0.8, n))
    reliable = np.where(rng.random(n) < 0.92, on_time, rng.integers(2, 6, size=n))
    chronic = np.where(rng.random(n) < 0.15, rng.integers(-1, 2, size=n), np.maximum(1, np.round(rng.normal(9, 4, n))))
    holiday = np.where(calendar.in_holiday_window(promised), rng.integers(7, 22, size=n), reliable)
    erratic = np.maximum(-7, np.round(rng.normal(3, 8, n)))
    delay = np.select(
        [behaviour == RELIABLE, behaviour == CHRONICALLY_LATE, behaviour == SLIPS_BEFORE_HOLIDAYS, behaviour == ERRATIC],
        [reliable, chronic, holiday, erratic],
    )
    return delay.astype(np.int32)


def order_quantities(rng: np.random.Generator, master: Master, item: np.ndarray, eaches: np.ndarray):
    """Round eaches up to the supplier's minimum and multiple, and return (unit, quantity in that unit)."""
    sourcing = master.sourcing
    multiple = sourcing.order_multiple[item]
    eaches = np.maximum(np.maximum(eaches, sourcing.min_order_qty[item]), 1)
    eaches = (np.ceil(eaches / multiple) * multiple).astype(np.int64)
    in_cases = master.items.has_case[item] & (eaches % 24 == 0) & (rng.random(len(item)) < 0.6)
    unit = np.where(in_cases, CASE, EA).astype(np.int8)
    return unit, eaches // UNIT_FACTORS[unit]


def shipment_modes(rng: np.random.Generator, master: Master, supplier: np.ndarray) -> np.ndarray:
    usual = rng.random(len(supplier)) < 0.8
    choice = rng.integers(0, 8, size=len(supplier))
    modes = master.suppliers.modes
    return np.array(
        [modes[s][0] if u else modes[s][c % len(modes[s])] for s, u, c in zip(supplier.tolist(), usual.tolist(), choice.tolist())],
        dtype=object,
    )


@dataclass
class Receipts:
    po_number: np.ndarray
    line_number: np.ndarray
    warehouse: np.ndarray
    day: np.ndarray
    unit: np.ndarray
    qty: np.ndarray
    with_asn: np.ndarray


def write_purchase_lines(files: CanonicalFiles, master: Master, calendar: DayCalendar, lines: PurchaseLines) -> None:
    for start in range(0, len(lines), WRITE_BLOCK):
        block = lines.slice(start, start + WRITE_BLOCK)
        acknowledged_qty = number_text(block.acknowledged_qty)
        files.write(
            "purchase_order_lines",
            {
                "po_number": codes_text("PO", block.po_number, 7),
                "line_number": number_text(block.line_number),
                "supplier_code": master.suppliers.codes[block.supplier],
                "sku": master.items.skus[block.item],
                "warehouse_code": master.warehouses.codes[block.warehouse],
                "order_date": calendar.iso(block.order_day),
                "promised_date": calendar.iso(block.promised_day),
                "acknowledged_date": calendar.iso(block.acknowledged_day),
                "unit": UNIT_CODES[block.unit],
                "acknowledged_qty": [qty if qty != "-1" else "" for qty in acknowledged_qty],
                "ordered_qty": number_text(block.ordered),
                "received_qty": number_text(block.received),
                "cancelled_qty": number_text(block.cancelled),
                "unit_cost": money_text(block.cost_cents),
                "currency": ["USD"] * len(block),
                "shipment_mode": block.mode,
                "status": PO_STATUS_TEXT[block.status],
            },
        )


def write_receipts(
    files: CanonicalFiles,
    master: Master,
    calendar: DayCalendar,
    receipts: Receipts,
    receipt_numbers: NumberSequence,
    asn_numbers: NumberSequence,
) -> None:
    count = len(receipts.po_number)
    asn = np.full(count, "", dtype=object)
    asn[receipts.with_asn] = codes_text("ASN", asn_numbers.take(int(receipts.with_asn.sum())), 8)
    files.write(
        "receipts",
        {
            "receipt_number": codes_text("GR", receipt_numbers.take(count), 8),
            "po_number": codes_text("PO", receipts.po_number, 7),
            "po_line_number": number_text(receipts.line_number),
            "warehouse_code": master.warehouses.codes[receipts.warehouse],
            "receipt_date": calendar.iso(receipts.day),
            "unit": UNIT_CODES[receipts.unit],
            "received_qty": number_text(receipts.qty),
            "asn_number": asn,
        },
    )


def draw_history_headers(rng: np.random.Generator, master: Master, calendar: DayCalendar, total_lines: int):
    """Draw purchase order headers of the last two years, oldest first: (sizes, suppliers, warehouses, days)."""
    sizes = draw_order_sizes(rng, total_lines, success=0.4, cap=10)
    n = len(sizes)
    volume = np.bincount(master.sourcing.supplier, weights=master.items.popularity, minlength=len(master.suppliers))
    volume = volume + volume.mean() * 0.05
    supplier = rng.choice(len(master.suppliers), size=n, p=volume / volume.sum()).astype(np.int32)
    warehouse = rng.choice(len(master.warehouses), size=n, p=master.warehouses.shares).astype(np.int16)
    days = np.sort(calendar.previous_weekday(-8 - np.floor(rng.random(n) * (HISTORY_DAYS - 8)).astype(np.int32)))
    return sizes, supplier, warehouse, days


def write_purchase_history(
    files: CanonicalFiles,
    seed: int,
    master: Master,
    calendar: DayCalendar,
    total_lines: int,
    po_numbers: NumberSequence,
    receipt_numbers: NumberSequence,
    asn_numbers: NumberSequence,
) -> None:
    """Write two years of received, short-closed and cancelled purchase order lines and their receipts."""
    sizes, supplier, warehouse, days = draw_history_headers(np.random.default_rng([seed, 5]), master, calendar, total_lines)
    numbers = po_numbers.take(len(sizes))
    catalog = SupplierCatalog(master)
    for block_index, start in enumerate(range(0, len(sizes), HISTORY_HEADERS_PER_BLOCK)):
        stop = min(start + HISTORY_HEADERS_PER_BLOCK, len(sizes))
        rng = np.random.default_rng([seed, 6, block_index])
        lines, receipts = _draw_history_block(
            rng, master, calendar, catalog, numbers[start:stop], sizes[start:stop],
            supplier[start:stop], warehouse[start:stop], days[start:stop],
        )
        write_purchase_lines(files, master, calendar, lines)
        write_receipts(files, master, calendar, receipts, receipt_numbers, asn_numbers)


def _draw_history_block(rng, master, calendar, catalog, numbers, sizes, header_supplier, header_warehouse, header_days):
    n_headers = len(sizes)
    n = int(sizes.sum())
    header_of_line = np.repeat(np.arange(n_headers), sizes)
    header_start = np.cumsum(sizes) - sizes
    supplier = header_supplier[header_of_line]
    item = catalog.sample(rng, supplier)
    lead = master.sourcing.lead_days[item]

    # Move whole orders back by whole weeks until every line's promise has settled before the as-of date.
    order_day = header_days[header_of_line]
    latest_promise = np.maximum.reduceat(order_day + lead, header_start)
    weeks_back = np.ceil(np.maximum(0, latest_promise + SETTLED_DAYS) / 7).astype(np.int32)
    order_day = (order_day - 7 * weeks_back[header_of_line]).astype(np.int32)
    promised = calendar.next_weekday(order_day + lead)

    eaches = np.round(master.items.typical_qty[item] * rng.uniform(6, 30, n))
    unit, ordered = order_quantities(rng, master, item, eaches)

    draw = rng.random(n)
    cancelled = draw < 0.025
    short_closed = (draw >= 0.025) & (draw < 0.075) & (ordered >= 2)
    acknowledged = (~cancelled & (rng.random(n) < 0.93)) | short_closed
    received = np.where(cancelled, 0, ordered)
    shortfall = rng.integers(1, np.maximum(2, ordered // 5 + 1))
    received = np.where(short_closed, np.maximum(1, ordered - shortfall), received)
    status = np.select([cancelled, short_closed], [PO_CANCELLED, PO_CLOSED], default=PO_RECEIVED)

    delay = draw_delays(rng, master.suppliers.behaviour[supplier], promised, calendar)
    receipt_day = np.minimum(-1, np.maximum(order_day + 1, calendar.next_weekday(promised + delay)))
    lines = PurchaseLines(
        po_number=numbers[header_of_line],
        line_number=(np.arange(n) - header_start[header_of_line] + 1).astype(np.int32),
        supplier=supplier,
        item=item,
        warehouse=header_warehouse[header_of_line],
        order_day=order_day,
        promised_day=promised,
        acknowledged_day=np.where(acknowledged, np.minimum(promised, order_day + rng.integers(0, 4, size=n)), NO_DAY),
        acknowledged_qty=np.where(acknowledged, np.where(short_closed, received, ordered), -1),
        unit=unit,
        ordered=ordered,
        received=received,
        cancelled=np.where(cancelled, ordered, 0),
        cost_cents=master.sourcing.cost_cents[item] * UNIT_FACTORS[unit],
        mode=shipment_modes(rng, master, supplier),
        status=status.astype(np.int8),
    )
    return lines, _history_receipts(rng, master, lines, receipt_day)


def _history_receipts(rng, master, lines: PurchaseLines, receipt_day: np.ndarray) -> Receipts:
    """Draw one receipt per received line, or two for about one line in eight: a part first and the rest days later."""
    received = np.flatnonzero(lines.received > 0)
    split = received[(lines.received[received] >= 2) & (rng.random(len(received)) < 0.12)]
    first_part = rng.integers(1, np.maximum(2, lines.received[split]))
    later_day = np.minimum(-1, receipt_day[split] + rng.integers(2, 11, size=len(split)))

    qty = lines.received.copy()
    qty[split] = first_part
    positions = np.concatenate([received, split])
    days = np.concatenate([receipt_day[received], later_day])
    quantities = np.concatenate([qty[received], lines.received[split] - first_part])
    order = np.lexsort((positions, days))
    positions, days, quantities = positions[order], days[order], quantities[order]
    return Receipts(
        po_number=lines.po_number[positions],
        line_number=lines.line_number[positions],
        warehouse=lines.warehouse[positions],
        day=days.astype(np.int32),
        unit=lines.unit[positions],
        qty=quantities,
        with_asn=master.suppliers.edi[lines.supplier[positions]],
    )
