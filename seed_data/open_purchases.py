"""Open purchase order lines behind today's stock, with their supplier events and ASNs in transit.

Each short location gets an order: on time for most, overdue without
notice or pushed out by the supplier for the late ones. Healthy locations
sometimes have a replenishment order on the way. The seeded supplier delay
is one line of its own whose promise the supplier pushed out three weeks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from seed_data.csvfiles import CanonicalFiles, codes_text, number_text
from seed_data.days import NO_DAY, DayCalendar
from seed_data.master import UNIT_CODES, UNIT_FACTORS, Master
from seed_data.orders import NumberSequence
from seed_data.purchasing import PO_OPEN, PurchaseLines, Receipts, order_quantities, shipment_modes
from seed_data.situations import SituationPlan
from seed_data.stock import HEALTHY, IDLE, SHORT_INBOUND, SHORT_LATE, Stock
from seed_data.suppliers import CHRONICALLY_LATE, ERRATIC

INBOUND, OVERDUE, PUSHED, REPLENISH, DELAYED = range(5)
MAX_LINES_PER_ORDER = 6
DELAY_DAYS = 21  # how far the supplier pushed the seeded delayed line


@dataclass
class DelayedLine:
    po_number: str
    line_number: int
    supplier: int
    item: int
    warehouse: int
    old_date: date
    new_date: date


@dataclass
class OpenPurchases:
    lines: PurchaseLines
    kind: np.ndarray
    original_promised_day: np.ndarray
    receipts: Receipts
    delayed: DelayedLine


def _candidates(rng: np.random.Generator, stock: Stock, plan: SituationPlan):
    """Return (item, warehouse, kind) of every location that gets an open order line."""
    category = stock.category
    draw = rng.random(category.shape)
    late = category == SHORT_LATE
    kinds = np.full(category.shape, -1, dtype=np.int8)
    kinds[category == SHORT_INBOUND] = INBOUND
    kinds[late & (draw < 0.5)] = OVERDUE
    kinds[late & (draw >= 0.5)] = PUSHED
    replenish = ((category == HEALTHY) & (draw < 0.12)) | ((category == IDLE) & (draw < 0.03))
    kinds[replenish] = REPLENISH
    kinds[plan.delayed_item, plan.delayed_warehouse] = DELAYED
    item, warehouse = np.nonzero(kinds >= 0)
    return item.astype(np.int32), warehouse.astype(np.int16), kinds[item, warehouse]


def plan_open_purchases(
    rng: np.random.Generator,
    master: Master,
    stock: Stock,
    plan: SituationPlan,
    calendar: DayCalendar,
    po_numbers: NumberSequence,
) -> OpenPurchases:
    """Draw the open purchase order lines, grouped into orders per supplier, warehouse and kind."""
    item, warehouse, kind = _candidates(rng, stock, plan)
    n = len(item)
    sourcing = master.sourcing
    typical = master.items.typical_qty[item]
    missing = np.maximum(0, stock.demand[item, warehouse] - stock.available()[item, warehouse])
    eaches = np.where(
        kind == REPLENISH, typical * rng.uniform(4, 12, n), missing + typical * rng.uniform(2, 6, n)
    ).round()

    use_second = (sourcing.second_supplier[item] >= 0) & (rng.random(n) < 0.1) & (kind != DELAYED)
    supplier = np.where(use_second, sourcing.second_supplier[item], sourcing.supplier[item]).astype(np.int32)
    lead = np.where(use_second, sourcing.second_lead_days[item], sourcing.lead_days[item])
    cost = np.where(use_second, sourcing.second_cost_cents[item], sourcing.cost_cents[item])
    unit, ordered = order_quantities(rng, master, item, eaches)

    # Group into orders of up to six lines of one supplier, warehouse and kind.
    order = np.lexsort((item, warehouse, supplier, kind))
    item, warehouse, kind, supplier, lead, cost, unit, ordered = (
        a[order] for a in (item, warehouse, kind, supplier, lead, cost, unit, ordered)
    )
    group_key = np.stack([kind, supplier, warehouse], axis=1)
    new_group = np.r_[True, (group_key[1:] != group_key[:-1]).any(axis=1)]
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
    rank_in_group = np.arange(n) - group_start
    new_order = new_group | (rank_in_group % MAX_LINES_PER_ORDER == 0)
    header_of_line = np.cumsum(new_order) - 1
    header_start = np.flatnonzero(new_order)
    line_number = (np.arange(n) - header_start[header_of_line] + 1).astype(np.int32)

    first_lead = lead[header_start]
    header_kind = kind[header_start]
    fraction = rng.uniform(0.2, 0.9, len(header_start))
    fraction = np.where(header_kind == REPLENISH, rng.uniform(0.05, 0.95, len(header_start)), fraction)
    before_promise = np.select(
        [header_kind == OVERDUE, header_kind == DELAYED],
        [first_lead + rng.integers(3, 25, size=len(header_start)), first_lead - 3],
        default=np.round(fraction * first_lead),
    )
    header_day = calendar.previous_weekday(-np.maximum(1, before_promise).astype(np.int32))
    order_day = header_day[header_of_line]
    original = calendar.next_weekday(order_day + lead)
    promised = _current_promises(rng, master, calendar, kind, supplier, order_day, original)

    acknowledged = (kind == DELAYED) | (rng.random(n) < np.where((kind == OVERDUE) | (kind == PUSHED), 0.9, 0.85))
    ack_day = np.minimum(-1, calendar.next_weekday(order_day + rng.integers(0, 4, size=n)))
    short_ack = rng.random(n) < 0.05
    ack_qty = np.where(short_ack, np.maximum(1, np.floor(ordered * rng.uniform(0.5, 0.95, n))), ordered)

    numbers = po_numbers.take(len(header_start))
    lines = PurchaseLines(
        po_number=numbers[header_of_line],
        line_number=line_number,
        supplier=supplier,
        item=item,
        warehouse=warehouse,
        order_day=order_day,
        promised_day=promised,
        acknowledged_day=np.where(acknowledged, ack_day, NO_DAY).astype(np.int32),
        acknowledged_qty=np.where(acknowledged, ack_qty, -1).astype(np.int64),
        unit=unit,
        ordered=ordered,
        received=np.zeros(n, dtype=np.int64),
        cancelled=np.zeros(n, dtype=np.int64),
        cost_cents=cost * UNIT_FACTORS[unit],
        mode=shipment_modes(rng, master, supplier),
        status=np.full(n, PO_OPEN, dtype=np.int8),
    )
    receipts = _partial_receipts(rng, master, lines, kind)
    delayed = int(np.flatnonzero(kind == DELAYED)[0])
    return OpenPurchases(
        lines=lines,
        kind=kind,
        original_promised_day=original,
        receipts=receipts,
        delayed=DelayedLine(
            po_number=codes_text("PO", lines.po_number[delayed : delayed + 1], 7)[0],
            line_number=int(line_number[delayed]),
            supplier=int(supplier[delayed]),
            item=int(item[delayed]),
            warehouse=int(warehouse[delayed]),
            old_date=calendar.date_of(original[delayed]),
            new_date=calendar.date_of(promised[delayed]),
        ),
    )


def _current_promises(rng, master, calendar, kind, supplier, order_day, original) -> np.ndarray:
    """Return each line's current promise after the supplier's date changes.

    Pushed lines move one to four weeks out and the delayed line three
    weeks. One in five lines of chronically late and erratic suppliers
    moves too: most a few days out, some a few days in.
    """
    n = len(kind)
    behaviour = master.suppliers.behaviour[supplier]
    restless = np.isin(behaviour, [CHRONICALLY_LATE, ERRATIC]) & np.isin(kind, [INBOUND, REPLENISH])
    restless &= rng.random(n) < 0.2
    nudge = np.where(rng.random(n) < 0.8, rng.integers(3, 11, size=n), -rng.integers(1, 4, size=n))
    nudged = np.maximum(order_day + 1, original + nudge)
    promised = np.select(
        [kind == PUSHED, kind == DELAYED, restless],
        [original + rng.integers(7, 31, size=n), np.maximum(original, 1) + DELAY_DAYS, nudged],
        default=original,
    )
    return calendar.next_weekday(promised.astype(np.int32))


def _partial_receipts(rng, master, lines: PurchaseLines, kind: np.ndarray) -> Receipts:
    """Receive part of about 30% of the on-time and replenishment lines already due."""
    n = len(lines)
    due = np.isin(kind, [INBOUND, REPLENISH]) & (lines.promised_day <= 0) & (lines.ordered >= 2)
    partial = np.flatnonzero(due & (rng.random(n) < 0.3))
    qty = rng.integers(1, np.maximum(2, lines.ordered[partial]))
    lines.received[partial] = qty
    day = np.minimum(-1, np.maximum(lines.order_day[partial] + 1, lines.promised_day[partial] - rng.integers(0, 4, size=len(partial))))
    return Receipts(
        po_number=lines.po_number[partial],
        line_number=lines.line_number[partial],
        warehouse=lines.warehouse[partial],
        day=day.astype(np.int32),
        unit=lines.unit[partial],
        qty=qty,
        with_asn=master.suppliers.edi[lines.supplier[partial]],
    )


TRANSIT_DAYS = {"Ocean": (24, 36), "Air": (3, 7)}
GROUND_TRANSIT_DAYS = (1, 5)


def _transit_days(rng: np.random.Generator, modes: np.ndarray) -> np.ndarray:
    low = np.array([TRANSIT_DAYS.get(mode, GROUND_TRANSIT_DAYS)[0] for mode in modes.tolist()])
    high = np.array([TRANSIT_DAYS.get(mode, GROUND_TRANSIT_DAYS)[1] for mode in modes.tolist()])
    return rng.integers(low, np.maximum(low + 1, high)) if len(modes) else np.zeros(0, dtype=np.int64)


@dataclass
class AdvanceShipNotices:
    position: np.ndarray  # open line each ASN is for
    ship_day: np.ndarray
    expected_day: np.ndarray
    qty: np.ndarray
    number: np.ndarray


class SupplierEventRows:
    """Supplier events gathered kind by kind, then written in time order with numbered keys."""

    def __init__(self) -> None:
        self._parts: list[dict[str, np.ndarray]] = []

    def add(self, kind: str, position, day, *, old_day=None, new_day=None, old_qty=None, new_qty=None, message_ref=None):
        """Add events of one kind. A missing date is NO_DAY, a missing quantity -1 and a missing reference empty."""
        count = len(position)

        def given(values, missing, dtype):
            return np.full(count, missing, dtype=dtype) if values is None else np.asarray(values).astype(dtype)

        self._parts.append(
            {
                "position": np.asarray(position, dtype=np.int64),
                "kind": np.full(count, kind, dtype=object),
                "day": np.asarray(day, dtype=np.int64),
                "old_day": given(old_day, NO_DAY, np.int64),
                "new_day": given(new_day, NO_DAY, np.int64),
                "old_qty": given(old_qty, -1, np.int64),
                "new_qty": given(new_qty, -1, np.int64),
                "message_ref": given(message_ref, "", object),
            }
        )

    def write(self, rng, files: CanonicalFiles, calendar: DayCalendar, lines: PurchaseLines, po_text: np.ndarray) -> None:
        """Write the events at random minutes between 13:00 and 22:59 UTC of their day, oldest first.

        Events without a reference get an EDI 855 (purchase order
        acknowledgement) control number.
        """
        columns = {name: np.concatenate([part[name] for part in self._parts]) for name in self._parts[0]}
        count = len(columns["position"])
        minute = 780 + rng.integers(0, 600, size=count)
        order = np.lexsort((columns["position"], minute, columns["day"]))
        columns = {name: values[order] for name, values in columns.items()}
        position = columns["position"]
        control = np.array([f"855-{number:09d}" for number in range(1, count + 1)], dtype=object)
        files.write(
            "supplier_events",
            {
                "event_key": codes_text("SE", np.arange(1, count + 1), 8),
                "po_number": po_text[position],
                "po_line_number": number_text(lines.line_number[position]),
                "event_type": columns["kind"],
                "event_at": calendar.utc_timestamps(columns["day"], minute[order]),
                "old_date": calendar.iso(columns["old_day"]),
                "new_date": calendar.iso(columns["new_day"]),
                "unit": np.where(columns["new_qty"] >= 0, UNIT_CODES[lines.unit[position]], ""),
                "old_qty": _optional_numbers(columns["old_qty"]),
                "new_qty": _optional_numbers(columns["new_qty"]),
                "message_ref": np.where(columns["message_ref"] == "", control, columns["message_ref"]),
            },
        )


def _optional_numbers(values: np.ndarray) -> list[str]:
    return [str(value) if value >= 0 else "" for value in values.tolist()]


def write_open_purchase_events(
    rng: np.random.Generator,
    files: CanonicalFiles,
    master: Master,
    calendar: DayCalendar,
    purchases: OpenPurchases,
    asn_numbers: NumberSequence,
) -> None:
    """Write acknowledgements, date changes and ASNs of the open lines, and each ASN as a shipment in transit."""
    lines = purchases.lines
    po_text = np.array(codes_text("PO", lines.po_number, 7), dtype=object)
    acknowledged = lines.acknowledged_day != NO_DAY
    changed = lines.promised_day != purchases.original_promised_day
    events = SupplierEventRows()

    acks = np.flatnonzero(acknowledged)
    events.add(
        "acknowledgement", acks, lines.acknowledged_day[acks],
        new_day=purchases.original_promised_day[acks], old_qty=lines.ordered[acks], new_qty=lines.acknowledged_qty[acks],
    )
    moved = np.flatnonzero(changed)
    events.add(
        "date_change", moved, _date_change_days(rng, purchases, moved),
        old_day=purchases.original_promised_day[moved], new_day=lines.promised_day[moved],
    )
    asns = _draw_asns(rng, purchases, acknowledged & ~changed, asn_numbers)
    events.add("asn", asns.position, asns.ship_day, new_day=asns.expected_day, new_qty=asns.qty, message_ref=asns.number)
    events.write(rng, files, calendar, lines, po_text)

    files.write(
        "shipments",
        {
            "shipment_number": asns.number,
            "kind": ["asn"] * len(asns.position),
            "sku": master.items.skus[lines.item[asns.position]],
            "po_number": po_text[asns.position],
            "po_line_number": number_text(lines.line_number[asns.position]),
            "to_warehouse_code": master.warehouses.codes[lines.warehouse[asns.position]],
            "unit": UNIT_CODES[lines.unit[asns.position]],
            "qty": number_text(asns.qty),
            "ship_date": calendar.iso(asns.ship_day),
            "expected_date": calendar.iso(asns.expected_day),
            "status": ["in_transit"] * len(asns.position),
        },
    )


def _date_change_days(rng: np.random.Generator, purchases: OpenPurchases, moved: np.ndarray) -> np.ndarray:
    """Draw the day each date change arrived: after the acknowledgement (or the order) and before the as-of date.

    The seeded delay arrived at most three days ago.
    """
    lines = purchases.lines
    earliest = np.where(lines.acknowledged_day != NO_DAY, lines.acknowledged_day, lines.order_day)[moved]
    day = earliest + np.floor(rng.random(len(moved)) * (-earliest)).astype(np.int64)
    return np.where(purchases.kind[moved] == DELAYED, np.maximum(earliest, -3), day)


def _draw_asns(
    rng: np.random.Generator, purchases: OpenPurchases, confirmed: np.ndarray, asn_numbers: NumberSequence
) -> AdvanceShipNotices:
    """Draw ASNs for 70% of the confirmed on-time lines whose goods have left the supplier by the as-of date.

    Goods leave their transit time before the promised date, and never
    before the order or its acknowledgement.
    """
    lines, kind = purchases.lines, purchases.kind
    eligible = confirmed & np.isin(kind, [INBOUND, REPLENISH]) & (lines.received < lines.ordered)
    position = np.flatnonzero(eligible & (rng.random(len(lines)) < 0.7))
    transit = _transit_days(rng, lines.mode[position])
    ship_day = np.maximum(
        np.maximum(lines.order_day[position], lines.acknowledged_day[position]), lines.promised_day[position] - transit
    )
    sent = ship_day <= -1
    position, ship_day = position[sent], ship_day[sent]
    return AdvanceShipNotices(
        position=position,
        ship_day=ship_day,
        expected_day=np.maximum(lines.promised_day[position], ship_day),
        qty=lines.ordered[position] - lines.received[position],
        number=np.array(codes_text("ASN", asn_numbers.take(len(position)), 8), dtype=object),
    )
