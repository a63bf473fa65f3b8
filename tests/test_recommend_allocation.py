"""The allocation LP against the greedy rule, on hand-solved and randomized inputs (no database)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from services.recommend.allocation import (
    SUBSTITUTE_COLUMNS,
    AllocationInput,
    build_arcs,
    build_sources,
    greedy_allocation,
    secondary_costs,
    solve_allocation,
)
from services.recommend.reduction import reduce_allocation
from services.recommend.settings import RecommendationSettings

TODAY = 20_500
SETTINGS = RecommendationSettings()


def _lines(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (so_line_id, tier, item_id, warehouse_id, demand, priority), due today."""
    frame = pd.DataFrame(rows, columns=["so_line_id", "tier", "item_id", "warehouse_id", "demand", "priority"])
    frame["customer_code"] = "C-" + frame["so_line_id"].astype(str)
    frame["due_day"] = TODAY
    frame["today"] = TODAY
    return frame


def _no_substitutes() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=object) for name in SUBSTITUTE_COLUMNS})


def _solve_both(problem: AllocationInput, settings: RecommendationSettings = SETTINGS):
    sources = build_sources(problem, settings)
    arcs = build_arcs(problem, sources)
    return arcs, solve_allocation(problem, sources, arcs, settings), greedy_allocation(problem, sources, arcs)


def test_lp_serves_more_than_greedy_when_greedy_takes_the_contested_stock():
    # Line 1 may take stock at warehouse 1 (today) or 2 (by transfer); line 2 only warehouse 1.
    lines = _lines([(1, "key", 5, 1, 10.0, 60.0), (2, "standard", 5, 3, 10.0, 30.0)])
    stock = pd.DataFrame({"item_id": [5, 5], "warehouse_id": [1, 2], "available": [10.0, 10.0], "strategic_open_qty": [0.0, 0.0]})
    lanes = pd.DataFrame({"from_warehouse_id": [2, 1], "to_warehouse_id": [1, 3], "lead_days": [4, 1], "cost_per_unit": [1.0, 1.0]})
    purchases = pd.DataFrame({name: pd.Series(dtype="int64") for name in ("po_line_id", "item_id", "warehouse_id", "expected_day")})
    purchases["available"] = pd.Series(dtype="float64")
    problem = AllocationInput(lines, stock, purchases, lanes, _no_substitutes())

    arcs, lp, greedy = _solve_both(problem)

    served = {(int(arcs.line[arc]), int(arcs.source[arc])): float(qty) for arc, qty in enumerate(lp.qty) if qty > 0}
    assert served == {(0, 1): 10.0, (1, 0): 10.0}
    assert lp.weighted_served == 900.0
    assert greedy.weighted_served == 600.0


def _random_problem(seed: int) -> AllocationInput:
    rng = np.random.default_rng(seed)
    items, warehouses, line_count = 6, 4, 40
    tiers = np.array(["strategic", "key", "standard"])
    lines = pd.DataFrame({
        "so_line_id": np.arange(1, line_count + 1),
        "customer_code": [f"C-{value}" for value in rng.integers(1, 12, line_count)],
        "tier": tiers[rng.integers(0, 3, line_count)],
        "item_id": rng.integers(1, items + 1, line_count),
        "warehouse_id": rng.integers(1, warehouses + 1, line_count),
        "demand": rng.integers(1, 30, line_count).astype(float),
        "due_day": TODAY + rng.integers(-5, 15, line_count),
        "today": TODAY,
        "priority": np.round(rng.uniform(5, 95, line_count), 4),
    })
    grid = [(item, warehouse) for item in range(1, items + 1) for warehouse in range(1, warehouses + 1)]
    chosen = rng.choice(len(grid), size=12, replace=False)
    stock = pd.DataFrame({
        "item_id": [grid[i][0] for i in chosen], "warehouse_id": [grid[i][1] for i in chosen],
        "available": rng.integers(0, 40, 12).astype(float), "strategic_open_qty": rng.integers(0, 30, 12).astype(float),
    })
    purchases = pd.DataFrame({
        "po_line_id": np.arange(100, 110), "item_id": rng.integers(1, items + 1, 10),
        "warehouse_id": rng.integers(1, warehouses + 1, 10), "available": rng.integers(0, 50, 10).astype(float),
        "expected_day": TODAY + rng.integers(0, 30, 10),
    })
    pairs = [(a, b) for a in range(1, warehouses + 1) for b in range(1, warehouses + 1) if a != b]
    lanes = pd.DataFrame({
        "from_warehouse_id": [a for a, _ in pairs], "to_warehouse_id": [b for _, b in pairs],
        "lead_days": rng.integers(1, 8, len(pairs)), "cost_per_unit": np.round(rng.uniform(0.2, 3.0, len(pairs)), 2),
    })
    substitutes = pd.DataFrame({
        "item_id": [1, 2, 3], "substitute_item_id": [2, 1, 4], "ratio": [1.0, 2.0, 0.5], "extra_cost": [0.0, 1.5, 0.0],
        "needs_approval": [False, True, False],
        "excluded_customer_codes": [["C-1", "C-2"], [], ["C-3"]],
        "allowed_tiers": [["strategic", "key", "standard"], ["strategic", "key"], ["standard"]],
    })
    return AllocationInput(lines, stock, purchases, lanes, substitutes)


@pytest.mark.parametrize("seed", range(8))
def test_lp_serves_at_least_greedy_on_random_scenarios(seed):
    problem = _random_problem(seed)
    settings = RecommendationSettings(strategic_protected_share=0.3)

    arcs, lp, greedy = _solve_both(problem, settings)

    assert greedy.weighted_served > 0
    # Quantities are rounded to 6 decimals, so allow that rounding on the total.
    assert lp.weighted_served >= greedy.weighted_served - 1e-4


@pytest.mark.parametrize("seed", range(4))
def test_lp_respects_demand_capacity_and_protection(seed):
    problem = _random_problem(seed)
    settings = RecommendationSettings(strategic_protected_share=0.5)
    sources = build_sources(problem, settings)
    arcs = build_arcs(problem, sources)

    lp = solve_allocation(problem, sources, arcs, settings)

    served = np.bincount(arcs.line, weights=lp.qty, minlength=len(problem.lines))
    taken = np.bincount(arcs.source, weights=lp.qty * arcs.rate, minlength=len(sources.capacity))
    lower_tiers = (problem.lines["tier"].to_numpy(object) != "strategic")[arcs.line]
    taken_by_lower = np.bincount(arcs.source[lower_tiers], weights=(lp.qty * arcs.rate)[lower_tiers],
                                 minlength=len(sources.capacity))
    assert (served <= problem.lines["demand"].to_numpy() + 1e-6).all()
    assert (taken <= sources.capacity + 1e-6).all()
    assert (taken_by_lower <= sources.capacity - sources.protected + 1e-6).all()


def test_substitute_arcs_skip_excluded_customers_and_tiers():
    problem = _random_problem(3)
    sources = build_sources(problem, SETTINGS)

    arcs = build_arcs(problem, sources)

    lines = problem.lines
    substitutes = problem.substitutes
    substitute_arcs = np.flatnonzero(arcs.substitute_row >= 0)
    assert len(substitute_arcs) == 6
    for arc in substitute_arcs:
        line = lines.iloc[arcs.line[arc]]
        rule = substitutes.iloc[arcs.substitute_row[arc]]
        assert line["customer_code"] not in rule["excluded_customer_codes"]
        assert line["tier"] in rule["allowed_tiers"]


def _reduce(line, source, cost, demand, capacity, *, restricted=None, open_to_others=None):
    line, source = np.array(line), np.array(source)
    capacity = np.array(capacity, dtype=float)
    return reduce_allocation(
        line=line, source=source, rate=np.ones(len(line)), cost=np.array(cost, dtype=float),
        restricted=np.zeros(len(line), dtype=bool) if restricted is None else np.array(restricted),
        demand=np.array(demand, dtype=float), capacity=capacity,
        open_to_others=capacity if open_to_others is None else np.array(open_to_others, dtype=float),
    )


def test_reduction_settles_uncontested_lines():
    # Line 0: source 0 at cost 1 or source 1 at cost 3; line 1: source 1 only. Both sources have 100.
    reduction = _reduce(line=[0, 0, 1], source=[0, 1, 1], cost=[1.0, 3.0, 2.0], demand=[5.0, 7.0], capacity=[100.0, 100.0])

    assert reduction.line_settled.tolist() == [True, True]
    assert reduction.qty.tolist() == [5.0, 0.0, 7.0]
    assert reduction.kept.tolist() == [False, False, False]
    assert reduction.capacity.tolist() == [95.0, 93.0]


def test_reduction_keeps_arcs_to_contested_source():
    # Both lines prefer source 0, which has 6 of their 10 units; source 1 has 100 at a higher cost.
    reduction = _reduce(line=[0, 0, 1, 1], source=[0, 1, 0, 1], cost=[1.0, 4.0, 1.0, 4.0], demand=[5.0, 5.0],
                        capacity=[6.0, 100.0])

    assert reduction.kept.tolist() == [True, True, True, True]
    assert reduction.line_settled.tolist() == [False, False]
    assert reduction.qty.tolist() == [0.0, 0.0, 0.0, 0.0]


def test_reduction_drops_costlier_arcs():
    # Line 0: contested source 0 (cost 1), uncontested source 1 (cost 2), source 2 (cost 4); line 1 takes source 0 only.
    reduction = _reduce(line=[0, 0, 0, 1], source=[0, 1, 2, 0], cost=[1.0, 2.0, 4.0, 1.0], demand=[5.0, 5.0],
                        capacity=[6.0, 100.0, 100.0])

    assert reduction.kept.tolist() == [True, True, False, True]
    assert reduction.line_settled.tolist() == [False, False]


def test_reduction_counts_protected_units():
    # Source 0 has 10 with 6 protected: the restricted line 0 (demand 5) may take only 4 there; source 1 has 100.
    reduction = _reduce(line=[0, 0], source=[0, 1], cost=[1.0, 2.0], demand=[5.0], capacity=[10.0, 100.0],
                        restricted=[True, False], open_to_others=[4.0, 100.0])

    assert reduction.kept.tolist() == [True, True]
    assert reduction.line_settled.tolist() == [False]


def _reference_two_steps(problem: AllocationInput, settings: RecommendationSettings):
    """Solve the whole LP in two steps with scipy's linprog, without reduction or batches: (weighted served, secondary cost)."""
    sources = build_sources(problem, settings)
    arcs = build_arcs(problem, sources)
    lines = problem.lines
    count = len(arcs)
    priority = np.maximum(lines["priority"].to_numpy(float), 0.01)[arcs.line]
    cost = secondary_costs(problem, arcs, settings)
    strategic = (lines["tier"].to_numpy(object) == "strategic")[arcs.line]
    restricted = (sources.protected[arcs.source] > 0) & ~strategic
    rows = [np.eye(len(lines))[:, arcs.line], np.zeros((len(sources.capacity), count)),
            np.zeros((len(sources.capacity), count))]
    rows[1][arcs.source, np.arange(count)] = arcs.rate
    rows[2][arcs.source[restricted], np.flatnonzero(restricted)] = arcs.rate[restricted]
    matrix = np.vstack(rows)
    bound = np.r_[lines["demand"].to_numpy(float), sources.capacity, sources.capacity - sources.protected]
    first = linprog(-priority, A_ub=matrix, b_ub=bound, bounds=(0, None), method="highs")
    best = -first.fun
    second = linprog(cost, A_ub=np.vstack([matrix, -priority]), b_ub=np.r_[bound, -(best - 1e-9 * best)],
                     bounds=(0, None), method="highs")
    return best, float(cost @ second.x)


@pytest.mark.parametrize("seed", range(6))
def test_lp_matches_whole_two_step_lp(seed):
    problem = _random_problem(seed)
    problem = AllocationInput(problem.lines, problem.stock.assign(available=problem.stock["available"] * (2 + seed % 3)),
                              problem.purchases, problem.lanes, problem.substitutes)
    settings = RecommendationSettings(strategic_protected_share=0.3)
    weighted_served, secondary_cost = _reference_two_steps(problem, settings)

    arcs, lp, _ = _solve_both(problem, settings)

    assert lp.lp_columns < len(arcs)
    assert lp.weighted_served == pytest.approx(weighted_served, abs=1e-3)
    assert float(secondary_costs(problem, arcs, settings) @ lp.qty) == pytest.approx(secondary_cost, rel=1e-6, abs=1e-3)
