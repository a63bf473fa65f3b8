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
from scipy.sparse import coo_matrix, csc_matrix
from scipy.sparse.csgraph import connected_components

from services.recommend.reduction import LOAD_TOLERANCE, reduce_allocation
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
    first_seconds: float = 0.0  # HiGHS's first steps, included in seconds
    lp_columns: int = 0  # arcs left for HiGHS after the reduction
    lp_batches: int = 0  # HiGHS models solved


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


# Columns per HiGHS model: whole components are packed into batches of about this many columns (a larger component
# is a batch of its own). On the 100,000-line benchmark one model of every component took 22 s where batches of
# 5,000 columns took 6.7 s and batches of 1,000 about 4.5 s (docs/benchmarks.md).
BATCH_COLUMNS = 1_000


@dataclass(frozen=True)
class _Program:
    """One batch of whole components of the LP over the arcs the reduction kept, solved as one HiGHS model."""

    columns: np.ndarray  # the arc of each column, as a position in the arrays _programs was given
    model: highspy.HighsLp  # without costs
    component: np.ndarray  # per column, numbered from 0 within the batch: columns of different components share no row


def _rows(column: np.ndarray, key: np.ndarray, needed: np.ndarray, value: np.ndarray, first_row: int):
    """Return (column, row, value) entries for the columns whose key needs a row, and the keys with a row (rows from first_row)."""
    keys = np.flatnonzero(needed)
    row_of = np.full(len(needed), -1, dtype=np.int64)
    row_of[keys] = first_row + np.arange(len(keys))
    has = needed[key]
    return column[has], row_of[key[has]], value[has], keys


def _entries(line, source, rate, restricted, demand, capacity, open_to_others):
    """Return the constraint matrix entries (row, column, value) and each row's upper bound.

    Rows, only where they can bind: per line with two or more columns,
    units served <= demand (a line with one column has its demand as the
    column's bound); per source whose arcs could take more than its
    capacity, rate x units <= capacity; per source whose restricted arcs
    could take more than its capacity less protected units, rate x their
    units <= that.
    """
    count = len(line)
    column = np.arange(count)
    need = rate * demand[line]
    load = np.bincount(source, weights=need, minlength=len(capacity))
    restricted_load = np.bincount(source[restricted], weights=need[restricted], minlength=len(capacity))
    arcs_per_line = np.bincount(line, minlength=len(demand))

    line_entries = _rows(column, line, arcs_per_line > 1, np.ones(count), 0)
    first = len(line_entries[3])
    source_entries = _rows(column, source, load > capacity + LOAD_TOLERANCE, rate, first)
    first += len(source_entries[3])
    limited = np.flatnonzero(restricted)
    protection_entries = _rows(limited, source[limited], restricted_load > open_to_others + LOAD_TOLERANCE,
                               rate[limited], first)

    parts = (line_entries, source_entries, protection_entries)
    entry_column, entry_row, value = (np.concatenate([part[field] for part in parts]) for field in range(3))
    row_upper = np.r_[demand[line_entries[3]], capacity[source_entries[3]], open_to_others[protection_entries[3]]]
    return entry_row, entry_column, value, row_upper


def _programs(line, source, rate, restricted, demand, capacity, open_to_others) -> list[_Program]:
    """Build the LP of the given arcs (line and source are positions in the whole input) as batches of whole components."""
    count = len(line)
    entry_row, entry_column, value, row_upper = _entries(line, source, rate, restricted, demand, capacity, open_to_others)
    row_count = len(row_upper)
    graph = coo_matrix((np.ones(len(entry_row)), (entry_column, count + entry_row)),
                       shape=(count + row_count, count + row_count))
    component_count, labels = connected_components(graph, directed=False)
    column_label, row_label = labels[:count], labels[count:]

    # Number columns and rows by component, so each batch is one block of consecutive columns and rows.
    column_order = np.argsort(column_label, kind="stable")
    row_order = np.argsort(row_label, kind="stable")
    column_rank = np.empty(count, dtype=np.int64)
    column_rank[column_order] = np.arange(count)
    row_rank = np.empty(row_count, dtype=np.int64)
    row_rank[row_order] = np.arange(row_count)
    matrix = csc_matrix((value, (row_rank[entry_row], column_rank[entry_column])), shape=(row_count, count))
    column_start = np.searchsorted(column_label[column_order], np.arange(component_count + 1))
    row_start = np.searchsorted(row_label[row_order], np.arange(component_count + 1))
    batch = column_start[:-1] // BATCH_COLUMNS
    batch_start = np.searchsorted(batch, np.arange(batch[-1] + 2))

    upper = demand[line]
    programs = []
    for first, last in zip(batch_start[:-1].tolist(), batch_start[1:].tolist()):
        columns = slice(column_start[first], column_start[last])
        rows = slice(row_start[first], row_start[last])
        entries = slice(matrix.indptr[columns.start], matrix.indptr[columns.stop])
        model = highspy.HighsLp()
        model.num_col_ = columns.stop - columns.start
        model.num_row_ = rows.stop - rows.start
        model.col_cost_ = np.zeros(model.num_col_)
        model.col_lower_ = np.zeros(model.num_col_)
        model.col_upper_ = upper[column_order[columns]]
        model.row_lower_ = np.full(model.num_row_, -highspy.kHighsInf)
        model.row_upper_ = row_upper[row_order[rows]]
        model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        model.a_matrix_.start_ = (matrix.indptr[columns.start:columns.stop + 1] - entries.start).astype(np.int32)
        model.a_matrix_.index_ = (matrix.indices[entries] - rows.start).astype(np.int32)
        model.a_matrix_.value_ = matrix.data[entries]
        programs.append(_Program(columns=column_order[columns], model=model,
                                 component=column_label[column_order[columns]] - first))
    return programs


def solve_allocation(problem: AllocationInput, sources: Sources, arcs: Arcs, settings: RecommendationSettings) -> Allocation:
    """Solve the allocation in two steps and return the units per arc.

    First: maximise the priority-weighted units served. Second: keep that
    maximum in every connected component (less FIRST_OBJECTIVE_TOLERANCE
    of it) and minimise the secondary costs, so among the best allocations
    the earliest and cheapest wins. The constraints: per line, units served
    <= demand; per source, rate x units taken <= capacity; per protected
    source, rate x units taken by lines of customers that are not strategic
    <= capacity - protected. services.recommend.reduction first drops the
    arcs and settles the lines whose part of an optimum is known; HiGHS
    solves the rest.
    """
    started = time.perf_counter()
    lines = problem.lines
    if not len(arcs):
        return Allocation(qty=np.zeros(0), weighted_served=0.0, served=0.0, seconds=time.perf_counter() - started)
    demand = lines["demand"].to_numpy(np.float64)
    priority = priorities(lines)[arcs.line]
    cost = secondary_costs(problem, arcs, settings)
    restricted = _restricted(arcs, lines, sources)
    reduction = reduce_allocation(line=arcs.line, source=arcs.source, rate=arcs.rate, restricted=restricted, cost=cost,
                                  demand=demand, capacity=sources.capacity,
                                  open_to_others=sources.capacity - sources.protected)

    qty = reduction.qty.copy()
    kept = np.flatnonzero(reduction.kept)
    first_seconds = 0.0
    programs = _programs(arcs.line[kept], arcs.source[kept], arcs.rate[kept], restricted[kept], demand,
                         reduction.capacity, reduction.open_to_others) if len(kept) else []
    for program in programs:
        columns = kept[program.columns]
        qty[columns], seconds = _solve_two_steps(program, priority[columns], cost[columns])
        first_seconds += seconds

    qty = np.round(np.clip(qty, 0.0, None), QTY_DECIMALS)
    return Allocation(
        qty=qty, weighted_served=float(priority @ qty), served=float(qty.sum()), seconds=time.perf_counter() - started,
        first_seconds=first_seconds, lp_columns=len(kept), lp_batches=len(programs),
    )


def _solve_two_steps(program: _Program, priority: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, float]:
    """Return the units per column and the seconds the first step took."""
    if program.model.num_row_ == 0:
        # No row can bind (for example a strategic line's one arc to a source only lower tiers can exhaust), and every
        # column's first-step cost is -priority < 0: both steps serve each column in full.
        return np.asarray(program.model.col_upper_), 0.0
    started = time.perf_counter()
    program.model.col_cost_ = -priority
    solver = highspy.Highs()
    solver.setOptionValue("output_flag", False)
    solver.passModel(program.model)
    _run(solver, "maximise the priority-weighted units served")
    first_seconds = time.perf_counter() - started

    _keep_first_objective(solver, program.component, priority)
    solver.changeColsCost(len(cost), np.arange(len(cost), dtype=np.int32), cost)
    _run(solver, "minimise the wait, lateness and cost of the best allocation")
    return np.asarray(solver.getSolution().col_value), first_seconds


def _keep_first_objective(solver: highspy.Highs, component: np.ndarray, priority: np.ndarray) -> None:
    """Add one row per component that keeps its priority-weighted units at the first step's optimum.

    One row per component instead of one row over every column keeps the
    components apart, which the second solve needs to stay fast. Since
    components share no row, each is at its own maximum in any optimum of
    the whole.
    """
    solution = np.asarray(solver.getSolution().col_value)
    best = np.bincount(component, weights=priority * solution)
    floor = best - FIRST_OBJECTIVE_TOLERANCE * np.maximum(best, 1.0)
    order = np.argsort(component, kind="stable")
    starts = np.searchsorted(component[order], np.arange(len(best))).astype(np.int32)
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
