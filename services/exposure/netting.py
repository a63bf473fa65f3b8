"""Time-phased netting of open order lines against supply, per item and warehouse.

Supply at a location is its free stock now: on hand minus quality hold
minus stock reserved for lines. Inbound supply adds the open quantity of
purchase order lines at their expected date, ASNs in transit at their
expected date, and transfers in transit to the warehouse. An ASN is part
of its purchase order line's open quantity, not on top of it. Lines consume supply in priority order. A line first takes
its own reservation, then the earliest supply no line ahead of it took, so
one unit is promised once. The line's projected date is the date of the
supply that covers its last unit.

Days are integers counted from 1970-01-01 in the warehouse's business
calendar (NO_DAY when absent). Quantities are integers of 1/1,000,000 base
unit and money integers of 1/10,000 currency unit, so every sum is exact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from enum import IntEnum

import numpy as np
import pandas as pd

from services.exposure.priority import PriorityFacts, score_components, tier_values
from services.exposure.settings import PriorityWeights

NO_DAY = -(2**31)
EPOCH = date(1970, 1, 1)
QTY_SCALE = 1_000_000
LOW_CONFIDENCE = ("low", "low_data")

ON_TRACK, AT_RISK, BACKORDERED, NO_SUPPLY, NEVER_CONFIRMED = (
    "on_track", "at_risk", "backordered", "no_supply", "never_confirmed",
)
STATUSES = (AT_RISK, BACKORDERED, NO_SUPPLY, NEVER_CONFIRMED)

NONE = "none"
SUPPLIER_DELAY = "supplier_delay"
QUALITY_HOLD = "quality_hold"
STOCK_IN_OTHER_WAREHOUSE = "stock_in_other_warehouse"
TAKEN_BY_HIGHER_PRIORITY = "taken_by_higher_priority"
NEVER_CONFIRMED_CAUSE = "never_confirmed"
NO_SUPPLY_ORDERED = "no_supply_ordered"
# Root causes in the order they are tested: a line gets the first that applies.
ROOT_CAUSES = (
    SUPPLIER_DELAY, QUALITY_HOLD, STOCK_IN_OTHER_WAREHOUSE, TAKEN_BY_HIGHER_PRIORITY,
    NEVER_CONFIRMED_CAUSE, NO_SUPPLY_ORDERED,
)

LINE_COLUMNS = (
    "so_line_id", "customer_id", "item_id", "warehouse_id", "order_day", "requested_day", "promised_day",
    "open_qty", "reserved_qty", "unit_price", "unit_cost", "currency",
)
CUSTOMER_COLUMNS = ("customer_id", "tier", "late_penalty", "fill_rate_target", "recent_fill_rate", "late_share")
STOCK_COLUMNS = ("item_id", "warehouse_id", "on_hand", "hold", "allocated")
PURCHASE_COLUMNS = (
    "po_line_id", "supplier_id", "item_id", "warehouse_id", "open_qty", "expected_day", "p90_day",
    "baseline_day", "date_source", "confidence",
)
IN_TRANSIT_COLUMNS = ("shipment_id", "kind", "po_line_id", "item_id", "warehouse_id", "qty", "expected_day")
LANE_COLUMNS = ("from_warehouse_id", "to_warehouse_id")
WAREHOUSE_COLUMNS = ("warehouse_id", "warehouse_code", "today")
DATE_SOURCES = ("stock", "asn", "transfer", "forecast", "acknowledged", "promised", "lead_time")


class SupplyKind(IntEnum):
    """Kinds of supply, in the order supply of one day is consumed."""

    STOCK = 0
    ASN = 1
    TRANSFER = 2
    PURCHASE = 3


def day_number(value: date | None) -> int:
    return NO_DAY if value is None else (value - EPOCH).days


def date_of_day(day: int) -> date | None:
    return None if day == NO_DAY else EPOCH + timedelta(days=int(day))


def empty_frame(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype="int64") for name in columns})


@dataclass(frozen=True)
class SupplyPicture:
    """Demand and supply of a set of items, as loaded for one netting run.

    Each frame has the columns of its *_COLUMNS constant. The picture must
    contain every open line and every location of each of its items,
    because a line's root cause looks at the item's stock in other
    warehouses. customers needs the customers customers_to_score returns.
    """

    lines: pd.DataFrame
    customers: pd.DataFrame
    stock: pd.DataFrame
    purchases: pd.DataFrame
    in_transit: pd.DataFrame
    lanes: pd.DataFrame
    warehouses: pd.DataFrame


def sort_order(*columns: np.ndarray) -> np.ndarray:
    """Return the stable permutation that sorts rows by integer columns, the first column most significant.

    Each column is offset to start at 0 and packed into as few 64-bit words
    as the columns' ranges allow. The words are then sorted one by one, least
    significant first, with a stable sort. This gives the order of
    np.lexsort in a fraction of its time when the columns are narrow.
    """
    count = len(columns[0])
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    words = []
    word = np.zeros(count, dtype=np.uint64)
    used = 0
    for column in reversed(columns):
        column = np.asarray(column, dtype=np.int64)
        low = int(column.min())
        bits = max((int(column.max()) - low).bit_length(), 1)
        if used + bits > 64:
            words.append(word)
            word = np.zeros(count, dtype=np.uint64)
            used = 0
        word |= (column - low).astype(np.uint64) << np.uint64(used)
        used += bits
    words.append(word)
    order = np.argsort(words[0], kind="stable")
    for word in words[1:]:
        order = order[np.argsort(word[order], kind="stable")]
    return order


def _group_cumsum(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Running sum of values within each run of equal keys; keys must be sorted."""
    running = np.cumsum(values)
    if len(keys) == 0:
        return running
    starts = np.r_[True, keys[1:] != keys[:-1]]
    group = np.cumsum(starts) - 1
    before_group = (running - values)[np.flatnonzero(starts)]
    return running - before_group[group]


def _lookup(sorted_keys: np.ndarray, values: np.ndarray, keys: np.ndarray, missing) -> np.ndarray:
    """Return the value of each key from (sorted_keys, values), or missing when the key is absent."""
    if not len(sorted_keys):
        return np.full(len(keys), missing, dtype=np.asarray(values).dtype if len(values) else np.int64)
    position = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return np.where(sorted_keys[position] == keys, values[position], missing)


@dataclass(frozen=True)
class _Events:
    """Every unit of supply: one element per stock row, ASN, transfer and purchase order remainder."""

    key: np.ndarray
    kind: np.ndarray
    ref: np.ndarray
    qty: np.ndarray
    day: np.ndarray
    p90_day: np.ndarray
    po_line: np.ndarray
    baseline: np.ndarray
    source: np.ndarray  # index into DATE_SOURCES
    low_confidence: np.ndarray
    has_interval: np.ndarray

    def take(self, name: str, event: np.ndarray, missing) -> np.ndarray:
        """Return the named attribute of each event index, or missing where the index is -1."""
        values = getattr(self, name)
        if not len(values):
            return np.full(len(event), missing)
        return np.where(event >= 0, values[np.maximum(event, 0)], missing)


class _Calendar:
    """Location keys and business dates of the picture's warehouses."""

    def __init__(self, warehouses: pd.DataFrame, *frames: pd.DataFrame):
        frames = (warehouses, *frames)
        self.width = 1 + max((int(frame["warehouse_id"].max()) for frame in frames if len(frame)), default=0)
        order = np.argsort(warehouses["warehouse_id"].to_numpy(np.int64))
        self.warehouse_ids = warehouses["warehouse_id"].to_numpy(np.int64)[order]
        self.todays = warehouses["today"].to_numpy(np.int64)[order]

    def key(self, item_ids, warehouse_ids) -> np.ndarray:
        return np.asarray(item_ids, dtype=np.int64) * self.width + np.asarray(warehouse_ids, dtype=np.int64)

    def today(self, warehouse_ids) -> np.ndarray:
        warehouse_ids = np.asarray(warehouse_ids, dtype=np.int64)
        today = _lookup(self.warehouse_ids, self.todays, warehouse_ids, NO_DAY)
        if (today == NO_DAY).any():
            missing = sorted(set(warehouse_ids[today == NO_DAY].tolist()))[:5]
            raise ValueError(f"warehouse ids {missing} have no business date; load them in warehouses first")
        return today


def _purchase_events(purchases: pd.DataFrame, remainder: np.ndarray) -> dict[str, np.ndarray]:
    expected = purchases["expected_day"].to_numpy(np.int64)
    p90 = purchases["p90_day"].to_numpy(np.int64)
    has_interval = p90 != NO_DAY
    sources = pd.Categorical(purchases["date_source"], categories=DATE_SOURCES).codes.astype(np.int64)
    return {
        "item": purchases["item_id"].to_numpy(np.int64), "warehouse": purchases["warehouse_id"].to_numpy(np.int64),
        "kind": np.full(len(purchases), int(SupplyKind.PURCHASE)), "ref": purchases["po_line_id"].to_numpy(np.int64),
        "qty": remainder, "day": expected, "p90_day": np.where(has_interval, p90, expected),
        "po_line": purchases["po_line_id"].to_numpy(np.int64), "baseline": purchases["baseline_day"].to_numpy(np.int64),
        "source": sources, "low_confidence": purchases["confidence"].isin(LOW_CONFIDENCE).to_numpy(bool),
        "has_interval": has_interval,
    }


def _plain_events(item, warehouse, kind: SupplyKind, ref, qty, day, po_line=None, baseline=None) -> dict[str, np.ndarray]:
    count = len(item)
    return {
        "item": np.asarray(item, dtype=np.int64), "warehouse": np.asarray(warehouse, dtype=np.int64),
        "kind": np.full(count, int(kind)), "ref": np.asarray(ref, dtype=np.int64), "qty": np.asarray(qty, dtype=np.int64),
        "day": np.asarray(day, dtype=np.int64), "p90_day": np.asarray(day, dtype=np.int64),
        "po_line": np.zeros(count, dtype=np.int64) if po_line is None else np.asarray(po_line, dtype=np.int64),
        "baseline": np.full(count, NO_DAY, dtype=np.int64) if baseline is None else np.asarray(baseline, dtype=np.int64),
        "source": np.full(count, DATE_SOURCES.index(kind.name.lower())),
        "low_confidence": np.zeros(count, dtype=bool), "has_interval": np.zeros(count, dtype=bool),
    }


def supply_events(picture: SupplyPicture, calendar: _Calendar) -> _Events:
    """Collect every unit of supply with its day: free stock now, ASNs, transfers and open purchase order remainders.

    Dates before the warehouse's business date move to that date, because
    nothing arrives in the past. Each ASN takes its part of its purchase
    order line's open quantity, earliest expected first, and the line keeps
    the rest at its own expected date.
    """
    stock = picture.stock
    on_hand = stock["on_hand"].to_numpy(np.int64)
    free = np.maximum(on_hand - stock["hold"].to_numpy(np.int64) - stock["allocated"].to_numpy(np.int64), 0)
    stock_items = stock["item_id"].to_numpy(np.int64)
    stock_warehouses = stock["warehouse_id"].to_numpy(np.int64)
    parts = [_plain_events(stock_items, stock_warehouses, SupplyKind.STOCK, np.zeros(len(stock)), free, np.full(len(stock), NO_DAY))]

    purchases = picture.purchases
    transit = picture.in_transit
    asn = transit[(transit["kind"] == "asn") & transit["po_line_id"].isin(purchases["po_line_id"])]
    unlinked = transit[(transit["kind"] == "asn") & (transit["po_line_id"] == 0)]
    transfers = transit[transit["kind"] == "transfer"]
    asn_used, remainder = _split_asns(purchases, asn)
    baseline = _lookup_frame(purchases, "po_line_id", "baseline_day", asn["po_line_id"].to_numpy(np.int64), NO_DAY)
    parts.append(_plain_events(asn["item_id"], asn["warehouse_id"], SupplyKind.ASN, asn["shipment_id"], asn_used,
                               asn["expected_day"], asn["po_line_id"], baseline))
    for frame, kind in ((unlinked, SupplyKind.ASN), (transfers, SupplyKind.TRANSFER)):
        parts.append(_plain_events(frame["item_id"], frame["warehouse_id"], kind, frame["shipment_id"], frame["qty"],
                                   frame["expected_day"], frame["po_line_id"]))
    parts.append(_purchase_events(purchases, remainder))

    columns = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    today = calendar.today(columns["warehouse"])
    day = np.maximum(columns["day"], today)
    return _Events(
        key=calendar.key(columns["item"], columns["warehouse"]), kind=columns["kind"], ref=columns["ref"],
        qty=columns["qty"], day=day, p90_day=np.maximum(columns["p90_day"], day), po_line=columns["po_line"],
        baseline=columns["baseline"], source=columns["source"], low_confidence=columns["low_confidence"],
        has_interval=columns["has_interval"],
    )


def _lookup_frame(frame: pd.DataFrame, key: str, value: str, keys: np.ndarray, missing) -> np.ndarray:
    order = np.argsort(frame[key].to_numpy(np.int64))
    return _lookup(frame[key].to_numpy(np.int64)[order], frame[value].to_numpy(np.int64)[order], keys, missing)


def _split_asns(purchases: pd.DataFrame, asn: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return the quantity of each ASN within its line's open quantity, and each purchase line's remaining quantity.

    The ASNs come back in the order of the asn frame.
    """
    line_ids = asn["po_line_id"].to_numpy(np.int64)
    qty = asn["qty"].to_numpy(np.int64)
    order = sort_order(line_ids, asn["expected_day"].to_numpy(np.int64), asn["shipment_id"].to_numpy(np.int64))
    before = _group_cumsum(line_ids[order], qty[order]) - qty[order]
    line_open = _lookup_frame(purchases, "po_line_id", "open_qty", line_ids[order], 0)
    used = np.empty_like(qty)
    used[order] = np.clip(line_open - before, 0, qty[order])
    purchase_ids = purchases["po_line_id"].to_numpy(np.int64)
    used_by_line = pd.Series(used).groupby(line_ids).sum()
    taken = used_by_line.reindex(purchase_ids).fillna(0).to_numpy(np.int64)
    return used, purchases["open_qty"].to_numpy(np.int64) - taken


class _Ledger:
    """Supply events of every location sorted by day, with running totals, to find the event covering a demand."""

    def __init__(self, events: _Events, days: np.ndarray):
        self.order = sort_order(events.key, days, events.kind, events.ref)
        self.keys = events.key[self.order]
        self.running = np.cumsum(events.qty[self.order])

    def cover(self, line_keys: np.ndarray, cumulative_demand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (event index or -1, total supply of the location) for each line.

        The event index is the first event whose running total within the
        line's location reaches the line's cumulative demand; -1 when the
        location's supply never does. Lines sorted by key search fastest.
        """
        if not len(self.order):
            return np.full(len(line_keys), -1, dtype=np.int64), np.zeros(len(line_keys), dtype=np.int64)
        start = np.searchsorted(self.keys, line_keys, side="left")
        end = np.searchsorted(self.keys, line_keys, side="right")
        padded = np.r_[0, self.running]
        base = padded[start]
        total = padded[end] - base
        position = np.searchsorted(self.running, base + cumulative_demand, side="left")
        event = np.where(position < end, self.order[np.minimum(position, len(self.order) - 1)], -1)
        return event, total


@dataclass(frozen=True)
class _Lines:
    """The open lines as arrays, sorted in netting order: location, then priority.

    row is each line's row in picture.lines. pool, free and hold are the
    line's location's reserved stock, free stock and quality hold.
    """

    row: np.ndarray
    so_line_id: np.ndarray
    item_id: np.ndarray
    warehouse_id: np.ndarray
    key: np.ndarray
    today: np.ndarray
    order_day: np.ndarray
    requested: np.ndarray
    promised: np.ndarray
    due: np.ndarray
    open_qty: np.ndarray
    reserved: np.ndarray
    price: np.ndarray
    cost: np.ndarray
    tier_value: np.ndarray
    penalty: np.ndarray
    fill_gap: np.ndarray
    late_share: np.ndarray
    pool: np.ndarray
    free: np.ndarray
    hold: np.ndarray

    def take(self, positions: np.ndarray) -> "_Lines":
        return _Lines(**{name: getattr(self, name)[positions] for name in self.__dataclass_fields__})


def _customer_facts(picture: SupplyPicture, customer_ids: np.ndarray) -> dict[str, np.ndarray]:
    customers = picture.customers
    order = np.argsort(customers["customer_id"].to_numpy(np.int64))
    ids = customers["customer_id"].to_numpy(np.int64)[order]
    position = np.minimum(np.searchsorted(ids, customer_ids), max(len(ids) - 1, 0))
    if len(customer_ids) and (not len(ids) or (ids[position] != customer_ids).any()):
        known = set(ids.tolist())
        missing = sorted({int(value) for value in customer_ids if value not in known})[:5]
        raise ValueError(f"customer ids {missing} of open lines are missing from the picture's customers")
    if not len(customer_ids):
        return {name: np.zeros(0, dtype=np.int64 if name == "penalty" else np.float64) for name in ("tier_value", "penalty", "fill_gap", "late_share")}
    fill = customers["recent_fill_rate"].to_numpy(np.float64)[order]
    target = customers["fill_rate_target"].to_numpy(np.float64)[order]
    gap = np.where(np.isnan(fill), 0.0, np.maximum(target - fill, 0.0))
    return {
        "tier_value": tier_values(customers["tier"].to_numpy(object)[order])[position],
        "penalty": customers["late_penalty"].to_numpy(np.int64)[order][position],
        "fill_gap": gap[position],
        "late_share": np.nan_to_num(customers["late_share"].to_numpy(np.float64)[order], nan=0.0)[position],
    }


def _priority_facts(lines: _Lines, sla_penalty: np.ndarray) -> PriorityFacts:
    unit_margin = np.maximum(lines.price - lines.cost, 0)
    return PriorityFacts(
        tier_value=lines.tier_value,
        sla_penalty=sla_penalty,
        margin=unit_margin * (lines.open_qty / QTY_SCALE),
        fill_gap=lines.fill_gap,
        age_days=np.maximum(lines.today - lines.order_day, 0),
        late_share=lines.late_share,
    )


class _Stock:
    """Stock per location, sorted by location key: reserved pool, free stock and quality hold."""

    def __init__(self, stock: pd.DataFrame, calendar: _Calendar):
        keys = calendar.key(stock["item_id"], stock["warehouse_id"])
        order = np.argsort(keys)
        usable = np.maximum(stock["on_hand"].to_numpy(np.int64) - stock["hold"].to_numpy(np.int64), 0)[order]
        allocated = stock["allocated"].to_numpy(np.int64)[order]
        self.keys = keys[order]
        self.item_ids = stock["item_id"].to_numpy(np.int64)[order]
        self.warehouse_ids = stock["warehouse_id"].to_numpy(np.int64)[order]
        self.pool = np.minimum(allocated, usable)
        self.free = np.maximum(usable - allocated, 0)
        self.hold = stock["hold"].to_numpy(np.int64)[order]

    def at(self, name: str, keys: np.ndarray) -> np.ndarray:
        return _lookup(self.keys, getattr(self, name), keys, 0)


@dataclass(frozen=True)
class _Settled:
    """Locations whose free stock and reservations cover every open line now, with their demand on free stock.

    Their lines cannot be short, so they are left out of the netting. Their
    demand still counts against the spare stock other warehouses may draw on.
    """

    keys: np.ndarray
    demand: np.ndarray


def _location_totals(keys: np.ndarray, open_qty: np.ndarray, reserved: np.ndarray, stock: _Stock):
    """Return (line order by location, location keys, first line of each location, demand on free stock, settled flag)."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    location_keys = sorted_keys[starts]
    open_total = np.add.reduceat(open_qty[order], starts)
    reserved_total = np.add.reduceat(reserved[order], starts)
    # Reservations take min(reserved, pool) in any order, so the rest of the demand falls on free stock.
    demand = open_total - np.minimum(reserved_total, stock.at("pool", location_keys))
    settled = demand <= stock.at("free", location_keys)
    return order, location_keys, starts, demand, settled


def customers_to_score(lines: pd.DataFrame, stock: pd.DataFrame) -> np.ndarray:
    """Return the ids of customers with lines at locations their stock does not settle.

    Only those lines are scored and netted, so a picture needs customer
    facts for these customers alone.
    """
    if lines.empty:
        return np.zeros(0, dtype=np.int64)
    no_dates = pd.DataFrame({"warehouse_id": pd.Series(dtype="int64"), "today": pd.Series(dtype="int64")})
    calendar = _Calendar(no_dates, lines, stock)
    keys = calendar.key(lines["item_id"], lines["warehouse_id"])
    open_qty = lines["open_qty"].to_numpy(np.int64)
    reserved = np.minimum(lines["reserved_qty"].to_numpy(np.int64), open_qty)
    order, _, starts, _, settled = _location_totals(keys, open_qty, reserved, _Stock(stock, calendar))
    rows = order[~np.repeat(settled, np.diff(np.r_[starts, len(keys)]))]
    return np.unique(lines["customer_id"].to_numpy(np.int64)[rows])


def _sorted_lines(picture: SupplyPicture, calendar: _Calendar, stock: _Stock, weights: PriorityWeights) -> tuple[_Lines, _Settled]:
    """Read the lines of unsettled locations into arrays, sorted by location and then by static priority score.

    The static score takes its SLA component from the days a line is
    already late against its requested date. Ties go to the earlier
    requested date, then the earlier order date, then the lower line id.
    """
    frame = picture.lines
    item_ids = frame["item_id"].to_numpy(np.int64)
    warehouse_ids = frame["warehouse_id"].to_numpy(np.int64)
    keys = calendar.key(item_ids, warehouse_ids)
    open_qty = frame["open_qty"].to_numpy(np.int64)
    reserved = np.minimum(frame["reserved_qty"].to_numpy(np.int64), open_qty)
    order, location_keys, starts, demand, settled = _location_totals(keys, open_qty, reserved, stock)
    counts = np.diff(np.r_[starts, len(keys)])
    rows = order[~np.repeat(settled, counts)]

    promised = frame["promised_day"].to_numpy(np.int64)[rows]
    requested = frame["requested_day"].to_numpy(np.int64)[rows]
    lines = _Lines(
        row=rows, so_line_id=frame["so_line_id"].to_numpy(np.int64)[rows], item_id=item_ids[rows],
        warehouse_id=warehouse_ids[rows], key=keys[rows], today=calendar.today(warehouse_ids[rows]),
        order_day=frame["order_day"].to_numpy(np.int64)[rows], requested=requested, promised=promised,
        due=np.where(promised != NO_DAY, promised, requested), open_qty=open_qty[rows], reserved=reserved[rows],
        price=frame["unit_price"].to_numpy(np.int64)[rows], cost=frame["unit_cost"].to_numpy(np.int64)[rows],
        **_customer_facts(picture, frame["customer_id"].to_numpy(np.int64)[rows]),
        pool=stock.at("pool", keys[rows]), free=stock.at("free", keys[rows]), hold=stock.at("hold", keys[rows]),
    )
    late_today = np.maximum(lines.today - lines.requested, 0)
    static = score_components(_priority_facts(lines, late_today * lines.penalty), weights).total
    netting_order = sort_order(lines.key, -static, lines.requested, lines.order_day, lines.so_line_id)
    return lines.take(netting_order), _Settled(location_keys[settled], demand[settled])


@dataclass(frozen=True)
class _Netted:
    """The result of netting lines in one order, one element per line in that order."""

    reserved_cover: np.ndarray
    demand: np.ndarray  # open quantity left after the line's own reservation
    cumulative: np.ndarray  # demand of the line and every line ahead of it at its location
    event: np.ndarray  # index of the covering supply event, -1 when none covers the line
    location_supply: np.ndarray


def _net(lines: _Lines, ledger: _Ledger) -> _Netted:
    """Net lines sorted by location and rank: reservations first from the reserved pool, then supply by date."""
    reserved_before = _group_cumsum(lines.key, lines.reserved) - lines.reserved
    reserved_cover = np.clip(lines.pool - reserved_before, 0, lines.reserved)
    demand = lines.open_qty - reserved_cover
    cumulative = _group_cumsum(lines.key, demand)
    event, total = ledger.cover(lines.key, cumulative)
    return _Netted(reserved_cover, demand, cumulative, event, total)


def _projected(event: np.ndarray, demand: np.ndarray, days: np.ndarray, today: np.ndarray) -> np.ndarray:
    covered_day = np.where(event >= 0, days[np.maximum(event, 0)], NO_DAY) if len(days) else np.full(len(event), NO_DAY)
    return np.where(demand == 0, today, covered_day)


def _days_late(projected: np.ndarray, today: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Days from reference to the projected date, or to today when no supply covers the line; 0 when not late."""
    end = np.where(projected != NO_DAY, projected, today)
    return np.where(reference != NO_DAY, np.maximum(end - reference, 0), 0)


def net_exposure(picture: SupplyPicture, weights: PriorityWeights) -> pd.DataFrame:
    """Net the picture's open lines and return one row per line that is not on track, highest priority first.

    Lines net in the order of their static score (see _sorted_lines); the
    stored score then takes its SLA component from the projected lateness.
    """
    if picture.lines.empty:
        return _empty_result()
    calendar = _Calendar(picture.warehouses, picture.lines, picture.stock, picture.purchases, picture.in_transit)
    stock = _Stock(picture.stock, calendar)
    lines, settled = _sorted_lines(picture, calendar, stock, weights)
    if not len(lines.key):
        return _empty_result()
    events = supply_events(picture, calendar)
    ledger = _Ledger(events, events.day)
    netted = _net(lines, ledger)

    before = netted.cumulative - netted.demand
    covered_now = netted.reserved_cover + np.clip(lines.free - before, 0, netted.demand)
    shortage = lines.open_qty - covered_now
    short = np.flatnonzero(shortage > 0)
    timing = _timing(lines.take(short), _take_netted(netted, short), events)
    status = _status(lines.take(short), timing)
    keep = status != ON_TRACK
    exposed = short[keep]
    if not len(exposed):
        return _empty_result()
    exposure = _Exposure(exposed, status[keep], _take_timing(timing, keep), shortage[exposed])
    context = _Context(picture, calendar, stock, settled, events, ledger)
    return _exposure_frame(context, lines, netted, shortage, exposure, weights)


def _take_netted(netted: _Netted, positions: np.ndarray) -> _Netted:
    return _Netted(*(getattr(netted, name)[positions] for name in netted.__dataclass_fields__))


@dataclass(frozen=True)
class _Timing:
    """Projected dates and lateness of a set of lines."""

    p50: np.ndarray
    p90: np.ndarray
    late: np.ndarray
    uncertain: np.ndarray
    unsupplied: np.ndarray


def _take_timing(timing: _Timing, positions: np.ndarray) -> _Timing:
    return _Timing(*(getattr(timing, name)[positions] for name in timing.__dataclass_fields__))


def _timing(lines: _Lines, netted: _Netted, events: _Events) -> _Timing:
    """Project each line's P50 and, where a forecast gives intervals at its location, its P90."""
    p50 = _projected(netted.event, netted.demand, events.day, lines.today)
    p90 = np.full(len(p50), NO_DAY, dtype=np.int64)
    if events.has_interval.any():
        p90_event, _ = _Ledger(events, events.p90_day).cover(lines.key, netted.cumulative)
        with_interval = np.isin(lines.key, np.unique(events.key[events.has_interval])) & (p50 != NO_DAY)
        p90 = np.where(with_interval, _projected(p90_event, netted.demand, events.p90_day, lines.today), NO_DAY)
    low_confidence = events.take("low_confidence", netted.event, False)
    return _Timing(
        p50=p50,
        p90=p90,
        late=(p50 == NO_DAY) | (p50 > lines.due),
        uncertain=low_confidence | ((p90 != NO_DAY) & (p90 > lines.due)),
        unsupplied=np.clip(netted.cumulative - netted.location_supply, 0, netted.demand),
    )


def _status(lines: _Lines, timing: _Timing) -> np.ndarray:
    """Name the status of lines that stock on hand does not cover; the first condition that is true wins."""
    return np.select(
        [timing.unsupplied > 0, lines.promised == NO_DAY, lines.due <= lines.today, timing.late | timing.uncertain],
        [NO_SUPPLY, NEVER_CONFIRMED, BACKORDERED, AT_RISK],
        default=ON_TRACK,
    ).astype(object)


@dataclass(frozen=True)
class _Context:
    """The inputs one netting run shares among its steps."""

    picture: SupplyPicture
    calendar: _Calendar
    stock: _Stock
    settled: _Settled
    events: _Events
    ledger: _Ledger


@dataclass(frozen=True)
class _Exposure:
    """The exposed lines: positions in netting order, status, timing and shortage."""

    positions: np.ndarray
    status: np.ndarray
    timing: _Timing
    shortage: np.ndarray


def _exposure_frame(context: _Context, lines: _Lines, netted: _Netted, shortage: np.ndarray, exposure: _Exposure,
                    weights: PriorityWeights) -> pd.DataFrame:
    """Build the rows of the exposed lines: status, dates, root cause, money and score."""
    picture = context.picture
    own = lines.take(exposure.positions)
    timing = exposure.timing
    causes = _root_causes(context, lines, netted, shortage, exposure)
    days_late_request = _days_late(timing.p50, own.today, own.requested)
    penalty = days_late_request * own.penalty
    final = score_components(_priority_facts(own, penalty), weights)
    days_late_promise = pd.array(_days_late(timing.p50, own.today, own.promised), dtype="Int64")
    days_late_promise[own.promised == NO_DAY] = pd.NA

    frame = pd.DataFrame({
        "so_line_id": own.so_line_id,
        "customer_id": picture.lines["customer_id"].to_numpy(np.int64)[own.row],
        "item_id": own.item_id,
        "warehouse_id": own.warehouse_id,
        "status": exposure.status,
        "open_qty": own.open_qty,
        "shortage_qty": exposure.shortage,
        "unsupplied_qty": timing.unsupplied,
        "projected_day_p50": timing.p50,
        "projected_day_p90": timing.p90,
        "days_late_promise": days_late_promise,
        "days_late_request": days_late_request,
        "revenue_at_risk": _money(exposure.shortage, own.price),
        "margin_at_risk": _money(exposure.shortage, own.price - own.cost),
        "penalty_exposure": penalty,
        "currency": picture.lines["currency"].take(own.row).to_numpy(object),
        "backlog_age_days": np.maximum(own.today - own.order_day, 0),
        "priority_score": final.total,
        **{f"score_{name}": values for name, values in final.as_dict().items()},
        **causes,
    })
    return frame.sort_values(["priority_score", "so_line_id"], ascending=[False, True], kind="stable").reset_index(drop=True)


def _root_causes(context: _Context, lines: _Lines, netted: _Netted, shortage: np.ndarray,
                 exposure: _Exposure) -> dict[str, np.ndarray]:
    """Name the first root cause in ROOT_CAUSES that applies to each exposed line, with the facts that show it."""
    events = context.events
    exposed = exposure.positions
    timing = exposure.timing
    own = lines.take(exposed)
    event = netted.event[exposed]
    kind = events.take("kind", event, -1)
    event_day = events.take("day", event, NO_DAY)
    baseline = events.take("baseline", event, NO_DAY)
    po_line = events.take("po_line", event, 0)
    from_supplier = np.isin(kind, [SupplyKind.ASN, SupplyKind.PURCHASE]) & (po_line > 0)
    slip = np.where(from_supplier & (baseline != NO_DAY), event_day - baseline, 0)
    supplier_delay = from_supplier & ((slip > 0) | timing.uncertain) & (timing.late | timing.uncertain)

    quality_hold = (own.hold > 0) & (netted.cumulative[exposed] <= own.free + own.hold)
    spare_warehouse, spare_qty = _best_spare(context, lines, netted, own)
    cumulative_shortage = _group_cumsum(lines.key, shortage)[exposed]
    other_warehouse = (spare_qty > 0) & (cumulative_shortage <= spare_qty)
    due_date_day = _projected_in_due_date_order(lines, events, context.ledger, exposed)
    # In due-date order the line would have shipped on time, or now when already past due.
    on_time_by_due_date = (due_date_day != NO_DAY) & (due_date_day <= np.maximum(own.due, own.today))
    earlier_by_due_date = (timing.p50 == NO_DAY) | (due_date_day < timing.p50)
    taken = timing.late & on_time_by_due_date & earlier_by_due_date

    cause = np.select(
        [supplier_delay, quality_hold, other_warehouse, taken, own.promised == NO_DAY],
        list(ROOT_CAUSES[:5]),
        default=NO_SUPPLY_ORDERED,
    ).astype(object)
    delayed = cause == SUPPLIER_DELAY
    return {
        "root_cause": cause,
        "cause_po_line_id": np.where(delayed, po_line, 0),
        "cause_slip_days": np.where(delayed, np.maximum(slip, 0), 0),
        "cause_original_day": np.where(delayed, baseline, NO_DAY),
        "cause_expected_day": np.where(delayed, event_day, NO_DAY),
        "cause_date_source": np.array(DATE_SOURCES + ("",), dtype=object)[events.take("source", event, len(DATE_SOURCES))],
        "cause_hold_qty": own.hold,
        "cause_spare_warehouse": spare_warehouse,
        "cause_spare_qty": spare_qty,
        "cause_due_date_order_day": due_date_day,
        "location_supply": netted.location_supply[exposed],
    }


def _projected_in_due_date_order(lines: _Lines, events: _Events, ledger: _Ledger, exposed: np.ndarray) -> np.ndarray:
    """Net the locations of the exposed lines again in due-date order; return each exposed line's projected day."""
    locations = np.unique(lines.key[exposed])
    subset = np.flatnonzero(np.isin(lines.key, locations))
    order = subset[sort_order(lines.key[subset], lines.due[subset], lines.order_day[subset], lines.so_line_id[subset])]
    reordered = lines.take(order)
    netted = _net(reordered, ledger)
    projected = np.full(len(lines.key), NO_DAY, dtype=np.int64)
    projected[order] = _projected(netted.event, netted.demand, events.day, reordered.today)
    return projected[exposed]


def _best_spare(context: _Context, lines: _Lines, netted: _Netted, own: _Lines) -> tuple[np.ndarray, np.ndarray]:
    """Return, per exposed line, the warehouse with the most spare stock of the item and a transfer lane to the line's warehouse.

    Spare stock is free stock beyond the demand of the warehouse's own open
    lines on it. Ties go to the lower warehouse id. Returns (warehouse id or
    0, spare quantity or 0).
    """
    # NOTE: each short location counts another warehouse's whole spare stock, so two short warehouses of one
    # item may both name the same spare units as their root cause.
    none = np.zeros(len(own.key), dtype=np.int64)
    stock, lanes = context.stock, context.picture.lanes
    items = np.unique(own.item_id)
    rows = np.flatnonzero(np.isin(stock.item_ids, items))
    if not len(rows) or lanes.empty:
        return none, none
    starts = np.flatnonzero(np.r_[True, lines.key[1:] != lines.key[:-1]])
    netted_demand = _lookup(lines.key[starts], np.add.reduceat(netted.demand, starts), stock.keys[rows], 0)
    settled_demand = _lookup(context.settled.keys, context.settled.demand, stock.keys[rows], 0)
    spare = stock.free[rows] - netted_demand - settled_demand

    warehouses = np.unique(np.r_[stock.warehouse_ids[rows], lanes["from_warehouse_id"], lanes["to_warehouse_id"], own.warehouse_id])
    grid = np.zeros((len(items), len(warehouses)), dtype=np.int64)
    grid[np.searchsorted(items, stock.item_ids[rows]), np.searchsorted(warehouses, stock.warehouse_ids[rows])] = np.maximum(spare, 0)
    from_index = np.searchsorted(warehouses, lanes["from_warehouse_id"].to_numpy(np.int64))
    to_index = np.searchsorted(warehouses, lanes["to_warehouse_id"].to_numpy(np.int64))
    item_index = np.searchsorted(items, own.item_id)
    warehouse_index = np.searchsorted(warehouses, own.warehouse_id)
    best_warehouse, best_qty = none.copy(), none.copy()
    for destination in np.unique(warehouse_index):
        sources = np.unique(from_index[to_index == destination])
        chosen = warehouse_index == destination
        if not len(sources):
            continue
        candidates = grid[item_index[chosen]][:, sources]
        pick = np.argmax(candidates, axis=1)
        best_qty[chosen] = candidates[np.arange(len(pick)), pick]
        best_warehouse[chosen] = np.where(best_qty[chosen] > 0, warehouses[sources[pick]], 0)
    return best_warehouse, best_qty


def _money(qty: np.ndarray, price: np.ndarray) -> np.ndarray:
    """Return qty x price in integers of 1/10,000 currency unit, rounded half to even.

    qty is in millionths and price in ten-thousandths; products that could
    overflow 64 bits are computed with Python integers.
    """
    qty = np.asarray(qty, dtype=np.int64)
    price = np.asarray(price, dtype=np.int64)
    if not len(qty):
        return np.zeros(0, dtype=np.int64)
    bound = int(np.abs(qty).max()) * int(np.abs(price).max())
    product = qty * price if bound < 2**62 else qty.astype(object) * price.astype(object)
    quotient, remainder = np.divmod(product, QTY_SCALE)
    half = QTY_SCALE // 2
    round_up = (remainder > half) | ((remainder == half) & (quotient % 2 == 1))
    return np.asarray(quotient + round_up, dtype=np.int64)


RESULT_COLUMNS = (
    "so_line_id", "customer_id", "item_id", "warehouse_id", "status", "open_qty", "shortage_qty", "unsupplied_qty",
    "projected_day_p50", "projected_day_p90", "days_late_promise", "days_late_request", "revenue_at_risk",
    "margin_at_risk", "penalty_exposure", "currency", "backlog_age_days", "priority_score",
    "score_tier", "score_sla", "score_margin", "score_fill_gap", "score_age", "score_churn",
    "root_cause", "cause_po_line_id", "cause_slip_days", "cause_original_day", "cause_expected_day",
    "cause_date_source", "cause_hold_qty", "cause_spare_warehouse", "cause_spare_qty", "cause_due_date_order_day",
    "location_supply",
)


def _empty_result() -> pd.DataFrame:
    frame = empty_frame(RESULT_COLUMNS)
    for name in ("status", "currency", "root_cause", "cause_date_source"):
        frame[name] = frame[name].astype(object)
    frame["days_late_promise"] = frame["days_late_promise"].astype("Int64")
    return frame


def scaled_text(value: int, digits: int) -> str:
    """Format an integer of 1/10**digits units as an exact decimal string, such as 12.5 for 125 with 1 digit."""
    sign = "-" if value < 0 else ""
    whole, fraction = divmod(abs(int(value)), 10**digits)
    text = f"{whole}.{fraction:0{digits}d}".rstrip("0").rstrip(".")
    return sign + text


def _iso(day: int) -> str | None:
    found = date_of_day(day)
    return found.isoformat() if found else None


def _json_text(value) -> str:
    return json.dumps(value)


def root_cause_detail_json(exposure: pd.DataFrame, warehouse_codes: dict[int, str]) -> list[str]:
    """Return, per exposure row, the facts that show its root cause as JSON text, for root_cause_detail.

    Quantities are exact decimal strings in the item's base unit. The text
    is built per root cause, because one json.dumps per row takes most of
    a million-line recompute's write step.
    """
    details = np.empty(len(exposure), dtype=object)
    cause = exposure["root_cause"].to_numpy(object)

    def rows(name: str) -> np.ndarray:
        return np.flatnonzero(cause == name)

    def values(column: str, chosen: np.ndarray) -> list:
        return exposure[column].to_numpy()[chosen].tolist()

    chosen = rows(SUPPLIER_DELAY)
    details[chosen] = [
        f'{{"po_line_id": {po_line}, "slip_days": {slip}, "original_date": {_json_text(_iso(original))}, '
        f'"expected_date": {_json_text(_iso(expected))}, "date_source": {_json_text(source)}}}'
        for po_line, slip, original, expected, source in zip(
            values("cause_po_line_id", chosen), values("cause_slip_days", chosen), values("cause_original_day", chosen),
            values("cause_expected_day", chosen), values("cause_date_source", chosen),
        )
    ]
    chosen = rows(QUALITY_HOLD)
    details[chosen] = [f'{{"hold_qty": "{scaled_text(hold, 6)}"}}' for hold in values("cause_hold_qty", chosen)]
    chosen = rows(STOCK_IN_OTHER_WAREHOUSE)
    details[chosen] = [
        f'{{"warehouse_code": {_json_text(warehouse_codes.get(warehouse))}, "spare_qty": "{scaled_text(spare, 6)}"}}'
        for warehouse, spare in zip(values("cause_spare_warehouse", chosen), values("cause_spare_qty", chosen))
    ]
    chosen = rows(TAKEN_BY_HIGHER_PRIORITY)
    details[chosen] = [
        f'{{"projected_date_in_due_date_order": {_json_text(_iso(day))}}}' for day in values("cause_due_date_order_day", chosen)
    ]
    chosen = np.flatnonzero(np.isin(cause, [NEVER_CONFIRMED_CAUSE, NO_SUPPLY_ORDERED, NONE]))
    details[chosen] = [
        f'{{"location_supply_qty": "{scaled_text(supply, 6)}", "unsupplied_qty": "{scaled_text(unsupplied, 6)}"}}'
        for supply, unsupplied in zip(values("location_supply", chosen), values("unsupplied_qty", chosen))
    ]
    return details.tolist()


def root_cause_details(exposure: pd.DataFrame, warehouse_codes: dict[int, str]) -> list[dict]:
    """Return, per exposure row, the facts that show its root cause as a dict."""
    return [json.loads(text) for text in root_cause_detail_json(exposure, warehouse_codes)]
