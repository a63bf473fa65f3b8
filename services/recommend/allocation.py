"""Allocation of scarce supply to backordered lines: the candidate sources of each line, the linear program and the greedy rule.

No SQL here. A line's demand is its shortage in units of the ordered item.
A *source* is a supply with a capacity in units of its own item: free stock
at a location (item and warehouse) or the open quantity of a purchase order
line. An *arc* joins a line to a source it may take from:

| kind | source | arrives |
|---|---|---|
| stock | free stock of the ordered item in the line's warehouse | today |
| transfer | free stock of the ordered item in another warehouse with a transfer lane to the line's | today + lane lead days |
| purchase | an open purchase order line of the ordered item for the line's warehouse | its expected date, today at the earliest |
| substitute | free stock of a substitute item in the line's warehouse, when the customer may receive it | today |

One unit of the ordered item served through an arc takes `rate` units of
the source: the substitute's ratio, else 1. Days are integers from
1970-01-01 as in services.exposure.netting.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import IntEnum

import highspy
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from services.recommend.settings import RecommendationSettings

LINE_COLUMNS = ("so_line_id", "customer_code", "tier", "item_id", "warehouse_id", "demand", "due_day", "today", "priority")
STOCK_COLUMNS = ("item_id", "warehouse_id", "available", "strategic_open_qty")
PURCHASE_COLUMNS = ("po_line_id", "item_id", "warehouse_id", "available", "expected_day")
LANE_COLUMNS = ("from_warehouse_id", "to_warehouse_id", "lead_days", "cost_per_unit")
SUBSTITUTE_COLUMNS = (
    "item_id", "substitute_item_id", "ratio", "extra_cost", "needs_approval", "excluded_customer_codes", "allowed_tiers",
)
# Priority is at least this, so every served unit counts in the first objective.
MIN_PRIORITY = 0.01
# The second solve may give up this share of the best priority-weighted quantity to solver tolerances.
FIRST_OBJECTIVE_TOLERANCE = 1e-9
QTY_DECIMALS = 6


class SourceKind(IntEnum):
    STOCK = 0
    TRANSFER = 1
    PURCHASE = 2
    SUBSTITUTE = 3


@dataclass(frozen=True)
class AllocationInput:
    """Lines, sources, lanes and substitutes of one recommendation run; each frame has its *_COLUMNS.

    stock.available and purchases.available are what remains after the
    supply the exposure netting already promised to lines that are not
    short. strategic_open_qty is the open quantity strategic customers
    order of the stock's item. substitutes.extra_cost is the substitute's
    cost per ordered unit (ratio x its unit cost) above the ordered item's
    unit cost, at least 0. excluded_customer_codes and allowed_tiers are
    lists.
    """

    lines: pd.DataFrame
    stock: pd.DataFrame
    purchases: pd.DataFrame
    lanes: pd.DataFrame
    substitutes: pd.DataFrame


@dataclass(frozen=True)
class Sources:
    """Every source: stock rows first (in the order of input.stock), then purchase order lines."""

    capacity: np.ndarray
    protected: np.ndarray  # units only strategic lines may take
    stock_count: int


@dataclass(frozen=True)
class Arcs:
    """Candidate line-to-source pairs, one element per arc."""

    line: np.ndarray  # position in input.lines
    source: np.ndarray  # position in Sources
    kind: np.ndarray  # SourceKind
    rate: np.ndarray  # source units per ordered unit
    arrival_day: np.ndarray
    unit_cost: np.ndarray  # transfer or extra substitution cost per ordered unit
    source_warehouse_id: np.ndarray  # 0 for a purchase order line
    po_line_id: np.ndarray  # 0 unless kind is PURCHASE
    substitute_item_id: np.ndarray  # 0 unless kind is SUBSTITUTE
    substitute_row: np.ndarray  # position in input.substitutes, -1 unless kind is SUBSTITUTE

    def __len__(self) -> int:
        return len(self.line)


def protected_quantities(stock: pd.DataFrame, share: float) -> np.ndarray:
    """Return the units of each stock row held back for strategic lines: min(share x available, strategic open qty)."""
    available = stock["available"].to_numpy(np.float64)
    return np.minimum(share * available, np.maximum(stock["strategic_open_qty"].to_numpy(np.float64), 0.0))


def build_sources(problem: AllocationInput, settings: RecommendationSettings) -> Sources:
    stock_capacity = np.maximum(problem.stock["available"].to_numpy(np.float64), 0.0)
    purchase_capacity = np.maximum(problem.purchases["available"].to_numpy(np.float64), 0.0)
    return Sources(
        capacity=np.r_[stock_capacity, purchase_capacity],
        protected=np.r_[protected_quantities(problem.stock, settings.strategic_protected_share), np.zeros(len(purchase_capacity))],
        stock_count=len(stock_capacity),
    )


def _indexed(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    return frame.reset_index(drop=True).rename_axis(name).reset_index()


def _stock_arcs(lines: pd.DataFrame, stock: pd.DataFrame) -> pd.DataFrame:
    pairs = lines.merge(stock, on=["item_id", "warehouse_id"])
    return pd.DataFrame({
        "line": pairs["line"], "source": pairs["stock_row"], "kind": int(SourceKind.STOCK), "rate": 1.0,
        "arrival_day": pairs["today"], "unit_cost": 0.0, "source_warehouse_id": pairs["warehouse_id"],
        "po_line_id": 0, "substitute_item_id": 0, "substitute_row": -1,
    })


def _transfer_arcs(lines: pd.DataFrame, stock: pd.DataFrame, lanes: pd.DataFrame) -> pd.DataFrame:
    laned = lines.merge(lanes, left_on="warehouse_id", right_on="to_warehouse_id")
    pairs = laned.merge(stock, left_on=["item_id", "from_warehouse_id"], right_on=["item_id", "warehouse_id"],
                        suffixes=("", "_stock"))
    return pd.DataFrame({
        "line": pairs["line"], "source": pairs["stock_row"], "kind": int(SourceKind.TRANSFER), "rate": 1.0,
        "arrival_day": pairs["today"] + pairs["lead_days"], "unit_cost": pairs["cost_per_unit"].astype(np.float64),
        "source_warehouse_id": pairs["from_warehouse_id"], "po_line_id": 0, "substitute_item_id": 0, "substitute_row": -1,
    })


def _purchase_arcs(lines: pd.DataFrame, purchases: pd.DataFrame, stock_count: int) -> pd.DataFrame:
    pairs = lines.merge(purchases, on=["item_id", "warehouse_id"])
    return pd.DataFrame({
        "line": pairs["line"], "source": stock_count + pairs["purchase_row"], "kind": int(SourceKind.PURCHASE), "rate": 1.0,
        "arrival_day": np.maximum(pairs["expected_day"], pairs["today"]), "unit_cost": 0.0, "source_warehouse_id": 0,
        "po_line_id": pairs["po_line_id"], "substitute_item_id": 0, "substitute_row": -1,
    })


def allowed_substitutes(lines: pd.DataFrame, substitutes: pd.DataFrame) -> pd.DataFrame:
    """Pair each line with the substitutes of its item that its customer may receive.

    A substitute is allowed when the customer's tier is in allowed_tiers and
    its code is not in excluded_customer_codes. Returns the line frame's
    columns with substitute_row, substitute_item_id and ratio.
    """
    pairs = lines.merge(substitutes[["substitute_row", "item_id", "substitute_item_id", "ratio"]], on="item_id")
    if pairs.empty:
        return pairs
    tiers = substitutes[["substitute_row", "allowed_tiers"]].explode("allowed_tiers").dropna()
    allowed = pairs.merge(tiers, left_on=["substitute_row", "tier"], right_on=["substitute_row", "allowed_tiers"])
    excluded = substitutes[["substitute_row", "excluded_customer_codes"]].explode("excluded_customer_codes").dropna()
    marked = allowed.merge(excluded, how="left", left_on=["substitute_row", "customer_code"],
                           right_on=["substitute_row", "excluded_customer_codes"], indicator=True)
    return marked[marked["_merge"] == "left_only"].drop(columns=["_merge", "allowed_tiers", "excluded_customer_codes"])


def _substitute_arcs(lines: pd.DataFrame, stock: pd.DataFrame, substitutes: pd.DataFrame) -> pd.DataFrame:
    allowed = allowed_substitutes(lines, substitutes)
    if allowed.empty:
        return pd.DataFrame()
    pairs = allowed.merge(stock, left_on=["substitute_item_id", "warehouse_id"], right_on=["item_id", "warehouse_id"],
                          suffixes=("", "_stock"))
    extra = substitutes["extra_cost"].to_numpy(np.float64)[pairs["substitute_row"].to_numpy(np.int64)] if len(pairs) else 0.0
    return pd.DataFrame({
        "line": pairs["line"], "source": pairs["stock_row"], "kind": int(SourceKind.SUBSTITUTE),
        "rate": pairs["ratio"].astype(np.float64), "arrival_day": pairs["today"], "unit_cost": extra,
        "source_warehouse_id": pairs["warehouse_id"], "po_line_id": 0,
        "substitute_item_id": pairs["substitute_item_id"], "substitute_row": pairs["substitute_row"],
    })


def build_arcs(problem: AllocationInput, sources: Sources) -> Arcs:
    """Join every line to every source it may take from that has capacity left, sorted by line and arrival."""
    lines = _indexed(problem.lines[["item_id", "warehouse_id", "today", "customer_code", "tier"]], "line")
    stock = _indexed(problem.stock[["item_id", "warehouse_id"]], "stock_row")
    stock = stock[sources.capacity[: sources.stock_count] > 0]
    purchases = _indexed(problem.purchases[["po_line_id", "item_id", "warehouse_id", "expected_day"]], "purchase_row")
    purchases = purchases[sources.capacity[sources.stock_count:] > 0]
    substitutes = _indexed(problem.substitutes, "substitute_row")
    parts = [
        _stock_arcs(lines, stock),
        _transfer_arcs(lines, stock, problem.lanes),
        _purchase_arcs(lines, purchases, sources.stock_count),
        _substitute_arcs(lines, stock, substitutes),
    ]
    parts = [part for part in parts if len(part)]
    if parts:
        frame = pd.concat(parts, ignore_index=True)
    else:
        frame = pd.DataFrame({name: pd.Series(dtype="int64") for name in Arcs.__dataclass_fields__})
    frame = frame.sort_values(["line", "arrival_day", "unit_cost", "kind", "source"], kind="stable")
    return Arcs(
        line=frame["line"].to_numpy(np.int64), source=frame["source"].to_numpy(np.int64),
        kind=frame["kind"].to_numpy(np.int64), rate=frame["rate"].to_numpy(np.float64),
        arrival_day=frame["arrival_day"].to_numpy(np.int64), unit_cost=frame["unit_cost"].to_numpy(np.float64),
        source_warehouse_id=frame["source_warehouse_id"].to_numpy(np.int64),
        po_line_id=frame["po_line_id"].to_numpy(np.int64), substitute_item_id=frame["substitute_item_id"].to_numpy(np.int64),
        substitute_row=frame["substitute_row"].to_numpy(np.int64),
    )


@dataclass(frozen=True)
class Allocation:
    """Units of the ordered item served through each arc, and the totals the two objectives weigh."""

    qty: np.ndarray  # per arc, rounded to QTY_DECIMALS
    weighted_served: float  # sum of priority x units served
    served: float
    seconds: float
    first_seconds: float = 0.0  # the LP's first step, included in seconds


def priorities(lines: pd.DataFrame) -> np.ndarray:
    return np.maximum(lines["priority"].to_numpy(np.float64), MIN_PRIORITY)


def secondary_costs(problem: AllocationInput, arcs: Arcs, settings: RecommendationSettings) -> np.ndarray:
    """Return the second objective's cost per unit of each arc (see services.recommend.settings)."""
    lines = problem.lines
    priority = priorities(lines)[arcs.line]
    wait = np.maximum(arcs.arrival_day - lines["today"].to_numpy(np.int64)[arcs.line], 0)
    late = np.maximum(arcs.arrival_day - lines["due_day"].to_numpy(np.int64)[arcs.line], 0)
    return priority * (settings.wait_day_weight * wait + settings.late_day_weight * late) + settings.cost_weight * arcs.unit_cost


def _restricted(arcs: Arcs, lines: pd.DataFrame, sources: Sources) -> np.ndarray:
    """Return which arcs draw on protected stock for a line of a customer that is not strategic."""
    strategic = (lines["tier"].to_numpy(object) == "strategic")[arcs.line]
    return (sources.protected[arcs.source] > 0) & ~strategic


def _constraint_matrix(arcs: Arcs, lines: pd.DataFrame, sources: Sources):
    """Return (column starts, row indices, values, protection row of each source or -1, row count).

    Rows are the lines' demand, then the sources' capacity, then one row per
    protected source that lines of other tiers draw on.
    """
    line_count = len(lines)
    restricted = _restricted(arcs, lines, sources)
    protection_row = np.full(len(sources.capacity), -1, dtype=np.int64)
    protected_sources = np.unique(arcs.source[restricted])
    protection_row[protected_sources] = line_count + len(sources.capacity) + np.arange(len(protected_sources))
    count = len(arcs)
    entries = 2 + restricted.astype(np.int64)
    starts = np.r_[0, np.cumsum(entries)]
    index = np.empty(starts[-1], dtype=np.int32)
    value = np.empty(starts[-1], dtype=np.float64)
    index[starts[:-1]] = arcs.line
    value[starts[:-1]] = 1.0
    index[starts[:-1] + 1] = line_count + arcs.source
    value[starts[:-1] + 1] = arcs.rate
    third = starts[:-1][restricted] + 2
    index[third] = protection_row[arcs.source[restricted]]
    value[third] = arcs.rate[restricted]
    row_count = line_count + len(sources.capacity) + len(protected_sources)
    return starts[:count + 1].astype(np.int32), index, value, protection_row, protected_sources, row_count


# TODO: 100,000 lines take about 54 s (docs/benchmarks.md) against a 10 s target; solving the many small
# components in batches, or dropping arcs that cannot beat a line's earliest source, are the next steps to try.
def solve_allocation(problem: AllocationInput, sources: Sources, arcs: Arcs, settings: RecommendationSettings) -> Allocation:
    """Solve the allocation with HiGHS in two steps and return the units per arc.

    First: maximise the priority-weighted units served. Second: keep that
    maximum in every connected component (less FIRST_OBJECTIVE_TOLERANCE
    of it) and minimise the secondary costs, so among the best allocations the earliest and
    cheapest wins. Every constraint is a row of the one LP:
    per line, units served <= demand; per source, rate x units taken <=
    capacity; per protected source, rate x units taken by lines of
    customers that are not strategic <= capacity - protected.
    """
    started = time.perf_counter()
    lines = problem.lines
    demand = lines["demand"].to_numpy(np.float64)
    if not len(arcs):
        return Allocation(qty=np.zeros(0), weighted_served=0.0, served=0.0, seconds=time.perf_counter() - started)
    starts, index, value, _, protected_sources, row_count = _constraint_matrix(arcs, lines, sources)
    priority = priorities(lines)[arcs.line]

    model = highspy.HighsLp()
    model.num_col_ = len(arcs)
    model.num_row_ = row_count
    model.col_cost_ = -priority
    model.col_lower_ = np.zeros(len(arcs))
    model.col_upper_ = demand[arcs.line]
    model.row_lower_ = np.full(row_count, -highspy.kHighsInf)
    model.row_upper_ = np.r_[demand, sources.capacity, sources.capacity[protected_sources] - sources.protected[protected_sources]]
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.start_ = starts
    model.a_matrix_.index_ = index
    model.a_matrix_.value_ = value

    solver = highspy.Highs()
    solver.setOptionValue("output_flag", False)
    solver.passModel(model)
    _run(solver, "maximise the priority-weighted units served")
    first_seconds = time.perf_counter() - started

    _keep_first_objective(solver, arcs, sources, priority)
    columns = np.arange(len(arcs), dtype=np.int32)
    solver.changeColsCost(len(arcs), columns, secondary_costs(problem, arcs, settings))
    _run(solver, "minimise the wait, lateness and cost of the best allocation")

    qty = np.round(np.clip(np.asarray(solver.getSolution().col_value), 0.0, None), QTY_DECIMALS)
    return Allocation(
        qty=qty, weighted_served=float(priority @ qty), served=float(qty.sum()), seconds=time.perf_counter() - started,
        first_seconds=first_seconds,
    )


def components(arcs: Arcs, line_count: int, source_count: int) -> np.ndarray:
    """Return the connected component of each arc in the graph of lines and sources joined by arcs.

    Components share no line and no source, so each is an allocation of its own.
    """
    graph = coo_matrix((np.ones(len(arcs)), (arcs.line, line_count + arcs.source)),
                       shape=(line_count + source_count, line_count + source_count))
    _, labels = connected_components(graph, directed=False)
    return labels[arcs.line]


def _keep_first_objective(solver: highspy.Highs, arcs: Arcs, sources: Sources, priority: np.ndarray) -> None:
    """Add one row per component that keeps its priority-weighted units at the first step's optimum.

    One row per component instead of one row over every arc keeps the
    components apart, which the second solve needs to stay fast. Since
    components share nothing, each is at its own maximum in any optimum of
    the whole.
    """
    line_count = int(arcs.line.max()) + 1
    label = components(arcs, line_count, len(sources.capacity))
    solution = np.asarray(solver.getSolution().col_value)
    best = np.bincount(label, weights=priority * solution)
    floor = best - FIRST_OBJECTIVE_TOLERANCE * np.maximum(best, 1.0)
    order = np.argsort(label, kind="stable")
    starts = np.searchsorted(label[order], np.arange(len(best))).astype(np.int32)
    solver.addRows(len(best), floor, np.full(len(best), highspy.kHighsInf), len(order), starts,
                   order.astype(np.int32), priority[order])


class AllocationFailed(RuntimeError):
    """HiGHS did not reach an optimal solution of the allocation LP."""


def _run(solver: highspy.Highs, step: str) -> None:
    solver.run()
    status = solver.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise AllocationFailed(f"HiGHS stopped with status {solver.modelStatusToString(status)} when asked to {step}")


def greedy_allocation(problem: AllocationInput, sources: Sources, arcs: Arcs) -> Allocation:
    """Allocate line by line as rule-based backorder processing does, for comparison with the LP.

    Lines go in priority order (highest first, then earlier due date, then
    lower line id); each takes what it can from its arcs in arc order
    (earliest arrival, then lower cost), within the same capacities and
    protected stock as the LP.
    """
    started = time.perf_counter()
    lines = problem.lines
    priority = priorities(lines)
    order = np.lexsort((lines["so_line_id"].to_numpy(np.int64), lines["due_day"].to_numpy(np.int64), -priority))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    arc_order = np.lexsort((np.arange(len(arcs)), rank[arcs.line])) if len(arcs) else np.zeros(0, dtype=np.int64)

    capacity = sources.capacity.copy()
    open_to_others = capacity - sources.protected
    remaining = lines["demand"].to_numpy(np.float64).copy()
    restricted = _restricted(arcs, lines, sources)
    qty = np.zeros(len(arcs))
    for arc, line, source, rate, limited in zip(
        arc_order.tolist(), arcs.line[arc_order].tolist(), arcs.source[arc_order].tolist(),
        arcs.rate[arc_order].tolist(), restricted[arc_order].tolist(),
    ):
        if remaining[line] <= 0:
            continue
        room = open_to_others[source] if limited else capacity[source]
        take = min(remaining[line], max(room, 0.0) / rate)
        if take <= 0:
            continue
        qty[arc] = take
        remaining[line] -= take
        capacity[source] -= take * rate
        open_to_others[source] = min(open_to_others[source] - (take * rate if limited else 0.0), capacity[source])
    qty = np.round(qty, QTY_DECIMALS)
    weights = priority[arcs.line] if len(arcs) else np.zeros(0)
    return Allocation(qty=qty, weighted_served=float(weights @ qty), served=float(qty.sum()), seconds=time.perf_counter() - started)
