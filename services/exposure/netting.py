"""Time-phased netting of open order lines against supply, per item and warehouse.

Supply at a location is its free stock now (on hand minus quality hold
minus stock reserved for lines), the open quantity of purchase order lines
at their expected date, ASNs in transit at their expected date (as part of
their purchase order line, not on top of it) and transfers in transit to
the warehouse. Lines consume supply in priority order. A line first takes
its own reservation, then the earliest supply no line ahead of it took, so
one unit is promised once. The line's projected date is the date of the
supply that covers its last unit.

Days are integers counted from 1970-01-01 in the warehouse's business
calendar (NO_DAY when absent). Quantities are integers of 1/1,000,000 base
unit and money integers of 1/10,000 currency unit, so every sum is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import IntEnum

import numpy as np
import pandas as pd

from services.exposure.priority import SCALE, PriorityFacts, ScoreComponents, score_components
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
    hold every location of each of its items, because a line's root cause
    looks at the item's stock in other warehouses.
    """

    lines: pd.DataFrame
    customers: pd.DataFrame
    stock: pd.DataFrame
    purchases: pd.DataFrame
    in_transit: pd.DataFrame
    lanes: pd.DataFrame
    warehouses: pd.DataFrame

    def item_ids(self) -> np.ndarray:
        return np.unique(self.lines["item_id"].to_numpy(np.int64))


class _Locations:
    """Maps (item, warehouse) pairs to one int64 key, and looks up per-location values by key."""

    def __init__(self, picture: SupplyPicture):
        frames = (picture.lines, picture.stock, picture.purchases, picture.in_transit, picture.warehouses)
        self.width = 1 + max((int(frame["warehouse_id"].max()) for frame in frames if len(frame)), default=0)
        self.today_by_warehouse = dict(zip(picture.warehouses["warehouse_id"].tolist(), picture.warehouses["today"].tolist()))

    def key(self, frame: pd.DataFrame) -> np.ndarray:
        return frame["item_id"].to_numpy(np.int64) * self.width + frame["warehouse_id"].to_numpy(np.int64)

    def today(self, warehouse_ids: np.ndarray) -> np.ndarray:
        today = pd.Series(self.today_by_warehouse, dtype="int64")
        found = today.reindex(warehouse_ids)
        if found.isna().any():
            missing = sorted(set(np.asarray(warehouse_ids)[found.isna().to_numpy()].tolist()))
            raise ValueError(f"warehouse ids {missing[:5]} have no business date; load them in warehouses first")
        return found.to_numpy(np.int64)


def _group_cumsum(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Running sum of values within each run of equal keys; keys must be sorted."""
    running = np.cumsum(values)
    if len(keys) == 0:
        return running
    starts = np.r_[True, keys[1:] != keys[:-1]]
    group = np.cumsum(starts) - 1
    before_group = (running - values)[np.flatnonzero(starts)]
    return running - before_group[group]


def supply_events(picture: SupplyPicture, locations: _Locations) -> pd.DataFrame:
    """Every unit of supply with its day: free stock now, ASNs, transfers and open purchase order remainders.

    Dates before the warehouse's business date move to that date, because
    nothing arrives in the past. Each ASN takes its part of its purchase
    order line's open quantity, earliest expected first; the line keeps the
    rest at its own expected date.
    """
    stock = picture.stock
    free = np.maximum(stock["on_hand"].to_numpy(np.int64) - stock["hold"].to_numpy(np.int64) - stock["allocated"].to_numpy(np.int64), 0)
    parts = [
        pd.DataFrame({
            "item_id": stock["item_id"].to_numpy(np.int64), "warehouse_id": stock["warehouse_id"].to_numpy(np.int64),
            "kind": int(SupplyKind.STOCK), "ref_id": 0, "qty": free, "day": NO_DAY, "p90_day": NO_DAY,
            "po_line_id": 0, "baseline_day": NO_DAY, "date_source": "stock", "low_confidence": False, "has_interval": False,
        })
    ]
    purchases = picture.purchases
    transit = picture.in_transit
    asn = transit[transit["kind"] == "asn"]
    linked = asn[asn["po_line_id"].isin(purchases["po_line_id"])]
    unlinked = asn[asn["po_line_id"] == 0]
    asn_parts, remainder = _split_asns(purchases, linked)
    parts += [asn_parts, _transit_events(unlinked, SupplyKind.ASN), _transit_events(transit[transit["kind"] == "transfer"], SupplyKind.TRANSFER)]

    has_forecast = purchases["p90_day"].to_numpy(np.int64) != NO_DAY
    parts.append(pd.DataFrame({
        "item_id": purchases["item_id"].to_numpy(np.int64), "warehouse_id": purchases["warehouse_id"].to_numpy(np.int64),
        "kind": int(SupplyKind.PURCHASE), "ref_id": purchases["po_line_id"].to_numpy(np.int64), "qty": remainder,
        "day": purchases["expected_day"].to_numpy(np.int64),
        "p90_day": np.where(has_forecast, purchases["p90_day"].to_numpy(np.int64), purchases["expected_day"].to_numpy(np.int64)),
        "po_line_id": purchases["po_line_id"].to_numpy(np.int64), "baseline_day": purchases["baseline_day"].to_numpy(np.int64),
        "date_source": purchases["date_source"].to_numpy(object),
        "low_confidence": purchases["confidence"].isin(LOW_CONFIDENCE).to_numpy(bool), "has_interval": has_forecast,
    }))
    events = pd.concat([part for part in parts if len(part)] or parts[:1], ignore_index=True)
    today = locations.today(events["warehouse_id"].to_numpy(np.int64))
    events["day"] = np.maximum(events["day"].to_numpy(np.int64), today)
    events["p90_day"] = np.maximum(events["p90_day"].to_numpy(np.int64), events["day"].to_numpy(np.int64))
    events["key"] = locations.key(events)
    return events


def _split_asns(purchases: pd.DataFrame, asn: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the ASN events capped by their line's open quantity, and each purchase line's remaining quantity."""
    open_by_line = purchases.set_index("po_line_id")["open_qty"]
    asn = asn.sort_values(["po_line_id", "expected_day", "shipment_id"], kind="stable")
    line_ids = asn["po_line_id"].to_numpy(np.int64)
    qty = asn["qty"].to_numpy(np.int64)
    before = _group_cumsum(line_ids, qty) - qty
    line_open = open_by_line.reindex(line_ids).to_numpy(np.int64)
    used = np.clip(line_open - before, 0, qty)
    used_by_line = pd.Series(used, index=line_ids).groupby(level=0).sum()
    remainder = purchases["open_qty"].to_numpy(np.int64) - used_by_line.reindex(purchases["po_line_id"]).fillna(0).to_numpy(np.int64)
    baseline = purchases.set_index("po_line_id")["baseline_day"].reindex(line_ids).to_numpy(np.int64)
    events = pd.DataFrame({
        "item_id": asn["item_id"].to_numpy(np.int64), "warehouse_id": asn["warehouse_id"].to_numpy(np.int64),
        "kind": int(SupplyKind.ASN), "ref_id": asn["shipment_id"].to_numpy(np.int64), "qty": used,
        "day": asn["expected_day"].to_numpy(np.int64), "p90_day": asn["expected_day"].to_numpy(np.int64),
        "po_line_id": line_ids, "baseline_day": baseline, "date_source": "asn", "low_confidence": False, "has_interval": False,
    })
    return events, remainder


def _transit_events(transit: pd.DataFrame, kind: SupplyKind) -> pd.DataFrame:
    return pd.DataFrame({
        "item_id": transit["item_id"].to_numpy(np.int64), "warehouse_id": transit["warehouse_id"].to_numpy(np.int64),
        "kind": int(kind), "ref_id": transit["shipment_id"].to_numpy(np.int64), "qty": transit["qty"].to_numpy(np.int64),
        "day": transit["expected_day"].to_numpy(np.int64), "p90_day": transit["expected_day"].to_numpy(np.int64),
        "po_line_id": transit["po_line_id"].to_numpy(np.int64), "baseline_day": NO_DAY,
        "date_source": kind.name.lower(), "low_confidence": False, "has_interval": False,
    })


class _Ledger:
    """Supply events of every location sorted by day, with running totals, to find the event covering a demand."""

    def __init__(self, keys: np.ndarray, qty: np.ndarray, days: np.ndarray, kinds: np.ndarray, refs: np.ndarray):
        self.order = np.lexsort((refs, kinds, days, keys))
        self.keys = keys[self.order]
        self.running = np.cumsum(qty[self.order])

    def cover(self, line_keys: np.ndarray, cumulative_demand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (event index or -1, total supply of the location) for each line.

        The event index is the first event whose running total within the
        line's location reaches the line's cumulative demand; -1 when the
        location's supply never does.
        """
        if not len(self.order):
            return np.full(len(line_keys), -1, dtype=np.int64), np.zeros(len(line_keys), dtype=np.int64)
        start = np.searchsorted(self.keys, line_keys, side="left")
        end = np.searchsorted(self.keys, line_keys, side="right")
        padded = np.r_[0, self.running]
        base = padded[start]
        total = padded[end] - base
        position = np.searchsorted(self.running, base + cumulative_demand, side="left")
        covered = position < end
        event = np.where(covered, self.order[np.minimum(position, len(self.order) - 1)], -1)
        return event, total


@dataclass(frozen=True)
class _Pass:
    """What one netting order gives each line, in the lines' own order."""

    order: np.ndarray
    reserved_cover: np.ndarray
    demand: np.ndarray  # open quantity left after the line's own reservation
    cumulative: np.ndarray  # demand of the line and every line ahead of it at its location
    event: np.ndarray  # index of the covering supply event, -1 when none covers it
    location_supply: np.ndarray


def _net_in_order(order: np.ndarray, keys: np.ndarray, open_qty: np.ndarray, reserved: np.ndarray,
                  pool: np.ndarray, ledger: _Ledger) -> _Pass:
    """Net the lines in the given order: reservations first from the reserved pool, then supply by date."""
    sorted_keys = keys[order]
    wanted = reserved[order]
    reserved_before = _group_cumsum(sorted_keys, wanted) - wanted
    reserved_cover = np.clip(pool[order] - reserved_before, 0, wanted)
    demand = open_qty[order] - reserved_cover
    cumulative = _group_cumsum(sorted_keys, demand)
    event, total = ledger.cover(sorted_keys, cumulative)
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    return _Pass(order, reserved_cover[back], demand[back], cumulative[back], event[back], total[back])


@dataclass(frozen=True)
class _LineFacts:
    """Per-line arrays the netting and the score read, in the order of picture.lines."""

    frame: pd.DataFrame
    keys: np.ndarray
    today: np.ndarray
    due: np.ndarray
    pool: np.ndarray
    free: np.ndarray
    hold: np.ndarray


def _line_facts(picture: SupplyPicture, locations: _Locations) -> _LineFacts:
    lines = picture.lines.merge(picture.customers, on="customer_id", how="left", validate="many_to_one")
    if lines["tier"].isna().any():
        missing = lines.loc[lines["tier"].isna(), "customer_id"].unique()[:5].tolist()
        raise ValueError(f"customer ids {missing} of open lines are missing from the picture's customers")
    keys = locations.key(lines)
    stock = picture.stock
    stock_keys = locations.key(stock)
    position = pd.Index(stock_keys).get_indexer(keys)
    found = position >= 0

    def at_location(values: np.ndarray) -> np.ndarray:
        return np.where(found, values[np.maximum(position, 0)], 0) if len(values) else np.zeros(len(keys), dtype=np.int64)

    on_hand = stock["on_hand"].to_numpy(np.int64)
    hold = stock["hold"].to_numpy(np.int64)
    allocated = stock["allocated"].to_numpy(np.int64)
    usable = np.maximum(on_hand - hold, 0)
    promised = lines["promised_day"].to_numpy(np.int64)
    return _LineFacts(
        frame=lines,
        keys=keys,
        today=locations.today(lines["warehouse_id"].to_numpy(np.int64)),
        due=np.where(promised != NO_DAY, promised, lines["requested_day"].to_numpy(np.int64)),
        pool=at_location(np.minimum(allocated, usable)),
        free=at_location(np.maximum(usable - allocated, 0)),
        hold=at_location(hold),
    )


def _priority_facts(facts: _LineFacts, sla_penalty: np.ndarray) -> PriorityFacts:
    lines = facts.frame
    open_qty = lines["open_qty"].to_numpy(np.int64)
    unit_margin = lines["unit_price"].to_numpy(np.int64) - lines["unit_cost"].to_numpy(np.int64)
    fill = lines["recent_fill_rate"].to_numpy(np.float64)
    target = lines["fill_rate_target"].to_numpy(np.float64)
    return PriorityFacts(
        tier=lines["tier"].to_numpy(object),
        sla_penalty=sla_penalty,
        margin=np.maximum(unit_margin, 0) * (open_qty / QTY_SCALE),
        fill_gap=np.where(np.isnan(fill), 0.0, np.maximum(target - fill, 0.0)),
        age_days=np.maximum(facts.today - lines["order_day"].to_numpy(np.int64), 0),
        late_share=np.nan_to_num(lines["late_share"].to_numpy(np.float64), nan=0.0),
    )


def _days_late(projected: np.ndarray, today: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Days from reference to the projected date, or to today when no supply covers the line; 0 when not late."""
    end = np.where(projected != NO_DAY, projected, today)
    return np.where(reference != NO_DAY, np.maximum(end - reference, 0), 0)


def net_exposure(picture: SupplyPicture, weights: PriorityWeights) -> pd.DataFrame:
    """Net the picture's open lines and return one row per line that is not on track, highest priority first.

    The netting order comes from each line's static score: the score with
    its SLA component taken from the days the line is already late against
    its requested date. The stored score then uses the projected lateness.
    """
    if picture.lines.empty:
        return _empty_result()
    picture = _with_stock_rows_for_every_line(picture)
    locations = _Locations(picture)
    facts = _line_facts(picture, locations)
    lines = facts.frame
    requested = lines["requested_day"].to_numpy(np.int64)
    penalty = lines["late_penalty"].to_numpy(np.int64)
    static = score_components(_priority_facts(facts, np.maximum(facts.today - requested, 0) * penalty), weights).total

    events = supply_events(picture, locations)
    event_keys = events["key"].to_numpy(np.int64)
    qty = events["qty"].to_numpy(np.int64)
    kinds = events["kind"].to_numpy(np.int64)
    refs = events["ref_id"].to_numpy(np.int64)
    ledger = _Ledger(event_keys, qty, events["day"].to_numpy(np.int64), kinds, refs)
    ledger_p90 = _Ledger(event_keys, qty, events["p90_day"].to_numpy(np.int64), kinds, refs)

    ids = lines["so_line_id"].to_numpy(np.int64)
    order_day = lines["order_day"].to_numpy(np.int64)
    open_qty = lines["open_qty"].to_numpy(np.int64)
    reserved = np.minimum(lines["reserved_qty"].to_numpy(np.int64), open_qty)
    priority_order = np.lexsort((ids, order_day, requested, -static, facts.keys))
    due_date_order = np.lexsort((ids, order_day, facts.due, facts.keys))
    netted = _net_in_order(priority_order, facts.keys, open_qty, reserved, facts.pool, ledger)
    by_due_date = _net_in_order(due_date_order, facts.keys, open_qty, reserved, facts.pool, ledger)
    p90_event, _ = ledger_p90.cover(facts.keys, netted.cumulative)

    return _classify(picture, locations, facts, events, netted, by_due_date, p90_event, weights)


def _with_stock_rows_for_every_line(picture: SupplyPicture) -> SupplyPicture:
    """Add an empty stock row for each line location without one, so every location has a stock event."""
    line_locations = picture.lines[["item_id", "warehouse_id"]].drop_duplicates()
    known = picture.stock[["item_id", "warehouse_id"]]
    missing = line_locations.merge(known, how="left", indicator=True)
    missing = missing.loc[missing["_merge"] == "left_only", ["item_id", "warehouse_id"]]
    if missing.empty:
        return picture
    empty = missing.assign(on_hand=0, hold=0, allocated=0).astype("int64")
    return replace(picture, stock=pd.concat([picture.stock, empty], ignore_index=True))


def _projected(event: np.ndarray, demand: np.ndarray, days: np.ndarray, today: np.ndarray) -> np.ndarray:
    covered_day = np.where(event >= 0, days[np.maximum(event, 0)], NO_DAY) if len(days) else np.full(len(event), NO_DAY)
    return np.where(demand == 0, today, covered_day)


def _classify(picture, locations, facts: _LineFacts, events: pd.DataFrame, netted: _Pass, by_due_date: _Pass,
              p90_event: np.ndarray, weights: PriorityWeights) -> pd.DataFrame:
    """Name each line's status and root cause, price its risk and score it; keep the lines not on track."""
    lines = facts.frame
    today, due = facts.today, facts.due
    open_qty = lines["open_qty"].to_numpy(np.int64)
    promised = lines["promised_day"].to_numpy(np.int64)
    requested = lines["requested_day"].to_numpy(np.int64)
    event_days = events["day"].to_numpy(np.int64)

    before = netted.cumulative - netted.demand
    covered_now = netted.reserved_cover + np.clip(facts.free - before, 0, netted.demand)
    shortage = open_qty - covered_now
    unsupplied = np.clip(netted.cumulative - netted.location_supply, 0, netted.demand)
    p50 = _projected(netted.event, netted.demand, event_days, today)
    p90 = _projected(p90_event, netted.demand, events["p90_day"].to_numpy(np.int64), today)
    interval_keys = np.unique(events.loc[events["has_interval"], "key"].to_numpy(np.int64))
    p90 = np.where(np.isin(facts.keys, interval_keys) & (p50 != NO_DAY), p90, NO_DAY)

    covering = np.maximum(netted.event, 0)
    has_event = netted.event >= 0
    low_confidence = has_event & events["low_confidence"].to_numpy(bool)[covering]
    late = (p50 == NO_DAY) | (p50 > due)
    uncertain = low_confidence | ((p90 != NO_DAY) & (p90 > due))
    status = np.select(
        [shortage == 0, unsupplied > 0, promised == NO_DAY, due <= today, late | uncertain],
        [ON_TRACK, NO_SUPPLY, NEVER_CONFIRMED, BACKORDERED, AT_RISK],
        default=ON_TRACK,
    ).astype(object)

    causes = _root_causes(picture, locations, facts, events, netted, by_due_date, shortage, p50, late, uncertain)
    days_late_request = _days_late(p50, today, requested)
    penalty = days_late_request * lines["late_penalty"].to_numpy(np.int64)
    final = score_components(_priority_facts(facts, penalty), weights)

    frame = pd.DataFrame({
        "so_line_id": lines["so_line_id"].to_numpy(np.int64),
        "customer_id": lines["customer_id"].to_numpy(np.int64),
        "item_id": lines["item_id"].to_numpy(np.int64),
        "warehouse_id": lines["warehouse_id"].to_numpy(np.int64),
        "status": status,
        "open_qty": open_qty,
        "shortage_qty": shortage,
        "unsupplied_qty": unsupplied,
        "projected_day_p50": p50,
        "projected_day_p90": p90,
        "days_late_promise": pd.array(np.where(promised != NO_DAY, _days_late(p50, today, promised), 0), dtype="Int64"),
        "days_late_request": days_late_request,
        "revenue_at_risk": _money(shortage, lines["unit_price"].to_numpy(np.int64)),
        "margin_at_risk": _money(shortage, lines["unit_price"].to_numpy(np.int64) - lines["unit_cost"].to_numpy(np.int64)),
        "penalty_exposure": penalty,
        "currency": lines["currency"].to_numpy(object),
        "backlog_age_days": np.maximum(today - lines["order_day"].to_numpy(np.int64), 0),
        "priority_score": final.total,
        **{f"score_{name}": values for name, values in final.as_dict().items()},
        **causes,
    })
    frame.loc[promised == NO_DAY, "days_late_promise"] = pd.NA
    exposed = frame[frame["status"] != ON_TRACK]
    return exposed.sort_values(["priority_score", "so_line_id"], ascending=[False, True], kind="stable").reset_index(drop=True)


def _root_causes(picture, locations, facts: _LineFacts, events: pd.DataFrame, netted: _Pass, by_due_date: _Pass,
                 shortage: np.ndarray, p50: np.ndarray, late: np.ndarray, uncertain: np.ndarray) -> dict[str, np.ndarray]:
    """Name the first root cause in ROOT_CAUSES that applies to each line, with the facts that show it."""
    lines = facts.frame
    today, due = facts.today, facts.due
    covering = np.maximum(netted.event, 0)
    has_event = netted.event >= 0
    event_kind = np.where(has_event, events["kind"].to_numpy(np.int64)[covering], -1)
    event_day = np.where(has_event, events["day"].to_numpy(np.int64)[covering], NO_DAY)
    baseline = np.where(has_event, events["baseline_day"].to_numpy(np.int64)[covering], NO_DAY)
    po_line = np.where(has_event, events["po_line_id"].to_numpy(np.int64)[covering], 0)
    from_supplier = np.isin(event_kind, [SupplyKind.ASN, SupplyKind.PURCHASE]) & (po_line > 0)
    slip = np.where(from_supplier & (baseline != NO_DAY), event_day - baseline, 0)
    supplier_delay = from_supplier & ((slip > 0) | uncertain) & (late | uncertain)

    quality_hold = (facts.hold > 0) & (netted.cumulative <= facts.free + facts.hold)
    spare_warehouse, spare_qty = _best_spare(picture, locations, facts, netted)
    cumulative_shortage = _cumulative_in_netting_order(facts, netted, shortage)
    other_warehouse = (spare_qty > 0) & (cumulative_shortage <= spare_qty)
    due_date_day = _projected(by_due_date.event, by_due_date.demand, events["day"].to_numpy(np.int64), today)
    # In due-date order the line would have shipped on time, or now when already past due.
    on_time_by_due_date = (due_date_day != NO_DAY) & (due_date_day <= np.maximum(due, today))
    earlier_by_due_date = (p50 == NO_DAY) | (due_date_day < p50)
    taken = late & on_time_by_due_date & earlier_by_due_date
    unconfirmed = lines["promised_day"].to_numpy(np.int64) == NO_DAY

    cause = np.select(
        [supplier_delay, quality_hold, other_warehouse, taken, unconfirmed],
        list(ROOT_CAUSES[:5]),
        default=NO_SUPPLY_ORDERED,
    ).astype(object)
    cause[shortage == 0] = NONE
    return {
        "root_cause": cause,
        "cause_po_line_id": np.where(cause == SUPPLIER_DELAY, po_line, 0),
        "cause_slip_days": np.where(cause == SUPPLIER_DELAY, np.maximum(slip, 0), 0),
        "cause_original_day": np.where(cause == SUPPLIER_DELAY, baseline, NO_DAY),
        "cause_expected_day": np.where(cause == SUPPLIER_DELAY, event_day, NO_DAY),
        "cause_date_source": np.where(has_event, events["date_source"].to_numpy(object)[covering], ""),
        "cause_hold_qty": facts.hold,
        "cause_spare_warehouse": spare_warehouse,
        "cause_spare_qty": spare_qty,
        "cause_due_date_order_day": due_date_day,
        "location_supply": netted.location_supply,
    }


def _cumulative_in_netting_order(facts: _LineFacts, netted: _Pass, values: np.ndarray) -> np.ndarray:
    """Running sum of values over the lines at each location, in netting order, back in the lines' order."""
    order = netted.order
    running = _group_cumsum(facts.keys[order], values[order])
    back = np.empty_like(running)
    back[order] = running
    return back


def _best_spare(picture: SupplyPicture, locations: _Locations, facts: _LineFacts, netted: _Pass):
    """Return, per line, the warehouse with the most spare stock of the item and a transfer lane to the line's warehouse.

    Spare stock is free stock beyond the open demand of the warehouse's own
    lines. Returns (warehouse id or 0, spare quantity or 0).
    """
    stock = picture.stock
    free = np.maximum(
        np.maximum(stock["on_hand"].to_numpy(np.int64) - stock["hold"].to_numpy(np.int64), 0) - stock["allocated"].to_numpy(np.int64), 0
    )
    demand = pd.Series(netted.demand).groupby(facts.keys).sum()
    own_demand = demand.reindex(locations.key(stock)).fillna(0).to_numpy(np.int64)
    spare = pd.DataFrame({
        "item_id": stock["item_id"].to_numpy(np.int64),
        "from_warehouse_id": stock["warehouse_id"].to_numpy(np.int64),
        "spare": free - own_demand,
    })
    spare = spare[spare["spare"] > 0].merge(picture.lanes, on="from_warehouse_id")
    spare = spare.sort_values(["item_id", "to_warehouse_id", "spare", "from_warehouse_id"], ascending=[True, True, False, True])
    best = spare.drop_duplicates(["item_id", "to_warehouse_id"])
    best_keys = best["item_id"].to_numpy(np.int64) * locations.width + best["to_warehouse_id"].to_numpy(np.int64)
    position = pd.Index(best_keys).get_indexer(facts.keys)
    found = position >= 0
    if not len(best):
        return np.zeros(len(facts.keys), dtype=np.int64), np.zeros(len(facts.keys), dtype=np.int64)
    warehouse = np.where(found, best["from_warehouse_id"].to_numpy(np.int64)[np.maximum(position, 0)], 0)
    qty = np.where(found, best["spare"].to_numpy(np.int64)[np.maximum(position, 0)], 0)
    return warehouse, qty


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
    if bound < 2**62:
        product = qty * price
    else:
        product = qty.astype(object) * price.astype(object)
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


def root_cause_details(exposure: pd.DataFrame, warehouse_codes: dict[int, str]) -> list[dict]:
    """Return, per exposure row, the facts that show its root cause, for root_cause_detail.

    Quantities are exact decimal strings in the item's base unit.
    """
    details = []
    columns = (
        "root_cause", "cause_po_line_id", "cause_slip_days", "cause_original_day", "cause_expected_day",
        "cause_date_source", "cause_hold_qty", "cause_spare_warehouse", "cause_spare_qty",
        "cause_due_date_order_day", "location_supply", "unsupplied_qty",
    )
    for (cause, po_line, slip, original, expected, source, hold, spare_warehouse, spare,
         due_date_order_day, supply, unsupplied) in zip(*(exposure[name].tolist() for name in columns)):
        if cause == SUPPLIER_DELAY:
            detail = {"po_line_id": po_line, "slip_days": slip, "original_date": _iso(original),
                      "expected_date": _iso(expected), "date_source": source}
        elif cause == QUALITY_HOLD:
            detail = {"hold_qty": scaled_text(hold, 6)}
        elif cause == STOCK_IN_OTHER_WAREHOUSE:
            detail = {"warehouse_code": warehouse_codes.get(spare_warehouse), "spare_qty": scaled_text(spare, 6)}
        elif cause == TAKEN_BY_HIGHER_PRIORITY:
            detail = {"projected_date_in_due_date_order": _iso(due_date_order_day)}
        else:
            detail = {"location_supply_qty": scaled_text(supply, 6), "unsupplied_qty": scaled_text(unsupplied, 6)}
        details.append(detail)
    return details
