"""Benchmark case: the allocation LP against the greedy rule on the demo distributor's backorders.

    python -m bench.recommend --lines 100000

Generates the demo distributor (seed_data) with enough open order lines to
have at least --lines backordered lines, 10 warehouses, its transfer lanes and
substitutes. It builds the LP input straight from the generated files, not
through the database: the files become the exposure netting's picture in
memory, services.exposure.netting.net_exposure finds the short lines and
their priority, and services.recommend.supply removes the supply promised to
lines that are not short, as a recommendation run does after reading the
same rows from PostgreSQL. Loading a demo of this size through the database
takes several minutes (docs/benchmarks.md) and is not what is measured here.
The --lines highest-priority short lines are kept. The demo has at most a
million open lines, about 65,000 of them short, so more lines come from
further demos with the next seeds, whose items and order lines get ids of
their own and share the 10 warehouses and their lanes. ASNs and transfers
in transit are left out of the picture.

Times, in one process on the same input:

- arcs_seconds: building the sources and the arcs (pandas joins);
- lp_seconds: the LP: dropping arcs and settling lines
  (services.recommend.reduction), then both HiGHS steps (priority-weighted
  units first, then wait, lateness and cost) of every batch;
  lp_first_step_seconds is the first steps' part, lp_columns the arcs left
  for HiGHS and lp_batches the HiGHS models;
- greedy_seconds: the greedy rule (lines by priority, each from its earliest
  source), the baseline.

Prints one JSON object: sizes, times, the priority-weighted units served by
each, and their ratios.

--cache FILE pickles the prepared input (the demos, netted and cut to
--lines) to FILE on the first run and reads it back on later runs with the
same FILE, so only the arcs and the solves are timed again. The file is not
checked against --lines, --open-lines or --seed: use one file per case.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from seed_data.generator import generate_demo
from services.exposure.netting import NO_DAY, SupplyPicture, day_number, empty_frame, IN_TRANSIT_COLUMNS, net_exposure
from services.exposure.settings import PriorityWeights
from services.recommend.allocation import AllocationInput, build_arcs, build_sources, greedy_allocation, solve_allocation
from services.recommend.settings import RecommendationSettings
from services.recommend.supply import promised_elsewhere, purchases_left

AS_OF = date(2026, 3, 2)
# Open order lines of the demo per backordered line wanted: at seed 7 about one open line in 15 is short.
OPEN_LINES_PER_BACKORDER = 16


def _days(column: pd.Series) -> np.ndarray:
    parsed = pd.to_datetime(column, errors="coerce")
    days = (parsed - pd.Timestamp("1970-01-01")).dt.days
    return days.fillna(NO_DAY).astype(np.int64).to_numpy()


def _ids(frame: pd.DataFrame, column: str) -> dict:
    return {code: position + 1 for position, code in enumerate(frame[column].tolist())}


class DemoFrames:
    """The generated CSV files, with codes turned into ids and quantities into the base unit."""

    def __init__(self, folder: Path):
        def read(name: str) -> pd.DataFrame:
            return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)

        self.warehouses, self.customers, self.items = read("warehouses"), read("customers"), read("items")
        self.warehouse_ids = _ids(self.warehouses, "warehouse_code")
        self.customer_ids = _ids(self.customers, "customer_code")
        self.item_ids = _ids(self.items, "sku")
        units = read("units")
        self.factor = {(sku, unit): float(qty) for sku, unit, qty in zip(units["sku"], units["unit_code"], units["base_qty_per_unit"])}
        self.lines, self.stock, self.purchases = read("sales_order_lines"), read("inventory"), read("purchase_order_lines")
        self.suppliers, self.lanes, self.substitutes = read("suppliers"), read("transfer_lanes"), read("substitutes")

    def base(self, frame: pd.DataFrame, column: str) -> np.ndarray:
        factor = np.array([self.factor.get((sku, unit), 1.0) for sku, unit in zip(frame["sku"], frame["unit"])])
        return pd.to_numeric(frame[column].replace("", "0")).to_numpy(np.float64) * factor


def _scaled(values: np.ndarray, scale: int) -> np.ndarray:
    return np.rint(values * scale).astype(np.int64)


def build_picture(demo: DemoFrames) -> SupplyPicture:
    lines = demo.lines[demo.lines["status"] == "open"].reset_index(drop=True)
    open_qty = demo.base(lines, "ordered_qty") - demo.base(lines, "shipped_qty") - demo.base(lines, "cancelled_qty")
    keep = open_qty > 0
    lines, open_qty = lines[keep].reset_index(drop=True), open_qty[keep]
    item_cost = dict(zip(demo.items["sku"], pd.to_numeric(demo.items["unit_cost"])))
    unit_cost = pd.to_numeric(lines["unit_cost"].replace("", np.nan)).fillna(lines["sku"].map(item_cost))
    picture_lines = pd.DataFrame({
        "so_line_id": np.arange(1, len(lines) + 1),
        "customer_id": lines["customer_code"].map(demo.customer_ids).to_numpy(np.int64),
        "item_id": lines["sku"].map(demo.item_ids).to_numpy(np.int64),
        "warehouse_id": lines["warehouse_code"].map(demo.warehouse_ids).to_numpy(np.int64),
        "order_day": _days(lines["order_date"]), "requested_day": _days(lines["requested_date"]),
        "promised_day": _days(lines["current_promised_date"]),
        "open_qty": _scaled(open_qty, 1_000_000),
        "reserved_qty": _scaled(np.minimum(demo.base(lines, "allocated_qty"), open_qty), 1_000_000),
        "unit_price": _scaled(pd.to_numeric(lines["unit_price"]).to_numpy(), 10_000),
        "unit_cost": _scaled(unit_cost.to_numpy(np.float64), 10_000),
        "currency": lines["currency"].to_numpy(object),
    })
    customers = pd.DataFrame({
        "customer_id": np.arange(1, len(demo.customers) + 1), "tier": demo.customers["tier"].to_numpy(object),
        "late_penalty": _scaled(pd.to_numeric(demo.customers["late_penalty_per_day"]).to_numpy(), 10_000),
        "fill_rate_target": pd.to_numeric(demo.customers["fill_rate_target"]).to_numpy(np.float64),
        "recent_fill_rate": np.nan, "late_share": np.nan,
    })
    stock = demo.stock
    picture_stock = pd.DataFrame({
        "item_id": stock["sku"].map(demo.item_ids).to_numpy(np.int64),
        "warehouse_id": stock["warehouse_code"].map(demo.warehouse_ids).to_numpy(np.int64),
        "on_hand": _scaled(demo.base(stock, "on_hand_qty"), 1_000_000),
        "hold": _scaled(demo.base(stock, "quality_hold_qty"), 1_000_000),
        "allocated": _scaled(demo.base(stock, "allocated_qty"), 1_000_000),
    })
    return SupplyPicture(
        lines=picture_lines, customers=customers, stock=picture_stock, purchases=_picture_purchases(demo),
        in_transit=empty_frame(IN_TRANSIT_COLUMNS).assign(kind=pd.Series(dtype=object)),
        lanes=pd.DataFrame({
            "from_warehouse_id": demo.lanes["from_warehouse_code"].map(demo.warehouse_ids).to_numpy(np.int64),
            "to_warehouse_id": demo.lanes["to_warehouse_code"].map(demo.warehouse_ids).to_numpy(np.int64),
        }),
        warehouses=pd.DataFrame({
            "warehouse_id": np.arange(1, len(demo.warehouses) + 1),
            "warehouse_code": demo.warehouses["warehouse_code"].to_numpy(object),
            "today": np.full(len(demo.warehouses), day_number(AS_OF)),
        }),
    )


def _picture_purchases(demo: DemoFrames) -> pd.DataFrame:
    """Open purchase order lines dated by acknowledgement, promise or lead time, as the exposure loader dates them without forecasts."""
    purchases = demo.purchases[demo.purchases["status"] == "open"].reset_index(drop=True)
    ordered = np.where(purchases["acknowledged_qty"] != "", demo.base(purchases, "acknowledged_qty"), demo.base(purchases, "ordered_qty"))
    open_qty = np.maximum(ordered - demo.base(purchases, "received_qty") - demo.base(purchases, "cancelled_qty"), 0)
    lead = purchases["supplier_code"].map(dict(zip(demo.suppliers["supplier_code"], pd.to_numeric(demo.suppliers["default_lead_days"]))))
    promised = _days(purchases["promised_date"])
    expected = np.where(promised != NO_DAY, promised, _days(purchases["order_date"]) + lead.to_numpy(np.int64))
    return pd.DataFrame({
        "po_line_id": np.arange(1, len(purchases) + 1), "supplier_id": 1,
        "item_id": purchases["sku"].map(demo.item_ids).to_numpy(np.int64),
        "warehouse_id": purchases["warehouse_code"].map(demo.warehouse_ids).to_numpy(np.int64),
        "open_qty": _scaled(open_qty, 1_000_000), "expected_day": expected, "p90_day": NO_DAY, "baseline_day": expected,
        "date_source": np.where(promised != NO_DAY, "promised", "lead_time").astype(object), "confidence": "",
    })


def build_allocation_input(demo: DemoFrames, picture: SupplyPicture, line_count: int,
                           settings: RecommendationSettings) -> AllocationInput:
    """Turn the netted picture into the LP input of the line_count highest-priority short lines."""
    exposure = net_exposure(picture, PriorityWeights())
    short = exposure[exposure["shortage_qty"] > 0].head(line_count)
    tiers = dict(zip(picture.customers["customer_id"], picture.customers["tier"]))
    codes = dict(zip(picture.customers["customer_id"], demo.customers["customer_code"]))
    due = picture.lines.set_index("so_line_id").loc[short["so_line_id"], ["requested_day", "promised_day"]]
    lines = pd.DataFrame({
        "so_line_id": short["so_line_id"].to_numpy(np.int64),
        "customer_code": short["customer_id"].map(codes).to_numpy(object),
        "tier": short["customer_id"].map(tiers).to_numpy(object),
        "item_id": short["item_id"].to_numpy(np.int64), "warehouse_id": short["warehouse_id"].to_numpy(np.int64),
        "demand": short["shortage_qty"].to_numpy(np.float64) / 1_000_000,
        "due_day": np.where(due["promised_day"] != NO_DAY, due["promised_day"], due["requested_day"]),
        "today": day_number(AS_OF), "priority": short["priority_score"].to_numpy(np.float64) / 10_000,
    })
    open_lines = picture.lines.merge(picture.customers[["customer_id", "tier"]], on="customer_id")
    open_lines["open"] = open_lines["open_qty"] / 1_000_000
    open_lines["reserved"] = open_lines["reserved_qty"] / 1_000_000
    open_lines["strategic"] = np.where(open_lines["tier"] == "strategic", open_lines["open"], 0.0)
    demand = open_lines.groupby(["item_id", "warehouse_id"], as_index=False).agg(
        open_total=("open", "sum"), reserved_total=("reserved", "sum"), strategic_open=("strategic", "sum"))
    stock = picture.stock.assign(usable=(picture.stock["on_hand"] - picture.stock["hold"]) / 1_000_000,
                                 allocated=picture.stock["allocated"] / 1_000_000)[["item_id", "warehouse_id", "usable", "allocated"]]
    short_total = lines.groupby(["item_id", "warehouse_id"], as_index=False)["demand"].sum().rename(columns={"demand": "short_total"})
    locations = stock.merge(demand, on=["item_id", "warehouse_id"], how="outer").merge(short_total, on=["item_id", "warehouse_id"], how="left")
    locations = locations.fillna(0.0)
    located = promised_elsewhere(locations)
    strategic_by_item = locations.groupby("item_id")["strategic_open"].sum()
    stock_input = stock.merge(located[["item_id", "warehouse_id", "available"]], on=["item_id", "warehouse_id"], how="left")
    stock_input["strategic_open_qty"] = stock_input["item_id"].map(strategic_by_item).fillna(0.0)

    purchases = picture.purchases.assign(open_qty=picture.purchases["open_qty"] / 1_000_000)
    purchases["available"] = purchases_left(purchases, located)
    lanes = pd.DataFrame({
        "from_warehouse_id": demo.lanes["from_warehouse_code"].map(demo.warehouse_ids).to_numpy(np.int64),
        "to_warehouse_id": demo.lanes["to_warehouse_code"].map(demo.warehouse_ids).to_numpy(np.int64),
        "lead_days": pd.to_numeric(demo.lanes["lead_days"]).to_numpy(np.int64),
        "cost_per_unit": pd.to_numeric(demo.lanes["cost_per_unit"]).to_numpy(np.float64),
    })
    return AllocationInput(lines=lines, stock=stock_input[["item_id", "warehouse_id", "available", "strategic_open_qty"]],
                           purchases=purchases[["po_line_id", "item_id", "warehouse_id", "available", "expected_day"]],
                           lanes=lanes, substitutes=_substitutes(demo))


def _substitutes(demo: DemoFrames) -> pd.DataFrame:
    frame = demo.substitutes
    cost = dict(zip(demo.items["sku"], pd.to_numeric(demo.items["unit_cost"])))
    ratio = pd.to_numeric(frame["ratio"].replace("", "1")).to_numpy(np.float64)
    extra = np.maximum(frame["substitute_sku"].map(cost).to_numpy(np.float64) * ratio - frame["sku"].map(cost).to_numpy(np.float64), 0)

    def listed(values: pd.Series, default: list[str]) -> list:
        return [value.split("|") if value else default for value in values]

    return pd.DataFrame({
        "item_id": frame["sku"].map(demo.item_ids).to_numpy(np.int64),
        "substitute_item_id": frame["substitute_sku"].map(demo.item_ids).to_numpy(np.int64),
        "ratio": ratio, "extra_cost": extra, "needs_approval": frame["needs_approval"].str.lower().isin(["true", "1", "yes"]),
        "excluded_customer_codes": listed(frame["excluded_customer_codes"], []),
        "allowed_tiers": listed(frame["allowed_tiers"], ["strategic", "key", "standard"]),
    })


def _offset(problem: AllocationInput, offset: int) -> AllocationInput:
    """Give a further demo's items, lines and purchase order lines ids of their own; warehouses stay shared."""
    def shifted(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
        return frame.assign(**{column: frame[column] + offset for column in columns})

    return AllocationInput(
        lines=shifted(problem.lines, "so_line_id", "item_id"), stock=shifted(problem.stock, "item_id"),
        purchases=shifted(problem.purchases, "po_line_id", "item_id"), lanes=problem.lanes,
        substitutes=shifted(problem.substitutes, "item_id", "substitute_item_id"),
    )


def _demo_problem(seed: int, open_lines: int, lines: int, settings: RecommendationSettings) -> tuple[AllocationInput, int, int]:
    with tempfile.TemporaryDirectory(prefix="bench-recommend-") as folder:
        skus = 50_000 if open_lines >= 1_000_000 else None
        generate_demo(Path(folder), seed=seed, lines=open_lines, as_of=AS_OF, skus=skus, warehouses=10)
        demo = DemoFrames(Path(folder))
    picture = build_picture(demo)
    return build_allocation_input(demo, picture, lines, settings), len(picture.lines), len(demo.warehouses)


def _prepared_problem(*, lines: int, open_lines: int, seed: int, settings: RecommendationSettings) -> tuple[AllocationInput, dict]:
    """Return the LP input of `lines` short lines, from as many demos (seeds seed, seed + 1, ...) of open_lines as it takes."""
    parts, open_total, demos = [], 0, 0
    while sum(len(part.lines) for part in parts) < lines:
        problem, netted, warehouse_count = _demo_problem(seed + demos, open_lines, lines - sum(len(p.lines) for p in parts), settings)
        parts.append(_offset(problem, demos * 10_000_000))
        open_total += netted
        demos += 1
    problem = AllocationInput(
        lines=pd.concat([part.lines for part in parts], ignore_index=True),
        stock=pd.concat([part.stock for part in parts], ignore_index=True),
        purchases=pd.concat([part.purchases for part in parts], ignore_index=True),
        lanes=parts[0].lanes,
        substitutes=pd.concat([part.substitutes for part in parts], ignore_index=True),
    )
    return problem, {"open_lines": open_total, "demos": demos, "warehouses": warehouse_count}


def _cached_problem(cache: Path | None, **case) -> tuple[AllocationInput, dict]:
    if cache is not None and cache.exists():
        with cache.open("rb") as file:
            problem, sizes = pickle.load(file)
        return problem, {**sizes, "input_from_cache": True}
    problem, sizes = _prepared_problem(**case)
    if cache is not None:
        with cache.open("wb") as file:
            pickle.dump((problem, sizes), file, protocol=pickle.HIGHEST_PROTOCOL)
    return problem, {**sizes, "input_from_cache": False}


def run_case(*, lines: int, open_lines: int, seed: int, cache: Path | None = None) -> dict:
    """Allocate `lines` short lines; the input comes from `cache` when that file exists."""
    settings = RecommendationSettings()
    started = time.perf_counter()
    problem, demo_sizes = _cached_problem(cache, lines=lines, open_lines=open_lines, seed=seed, settings=settings)
    prepared = time.perf_counter()

    sources = build_sources(problem, settings)
    arcs = build_arcs(problem, sources)
    arcs_seconds = time.perf_counter() - prepared
    lp = solve_allocation(problem, sources, arcs, settings)
    greedy = greedy_allocation(problem, sources, arcs)
    kinds = np.bincount(arcs.kind, minlength=4).tolist()
    return {
        "backordered_lines": len(problem.lines),
        **demo_sizes,
        "substitute_rules": len(problem.substitutes),
        "sources_with_capacity": int((sources.capacity > 0).sum()),
        "arcs": len(arcs),
        "arcs_by_kind": dict(zip(("stock", "transfer", "purchase", "substitute"), kinds)),
        "prepare_seconds": round(prepared - started, 2),
        "arcs_seconds": round(arcs_seconds, 3),
        "lp_seconds": round(lp.seconds, 3),
        "lp_first_step_seconds": round(lp.first_seconds, 3),
        "lp_columns": lp.lp_columns,
        "lp_batches": lp.lp_batches,
        "greedy_seconds": round(greedy.seconds, 3),
        "lp_vs_greedy_time": round(lp.seconds / greedy.seconds, 2),
        "lp_weighted_served": round(lp.weighted_served, 1),
        "greedy_weighted_served": round(greedy.weighted_served, 1),
        "lp_vs_greedy_weighted_served": round(lp.weighted_served / greedy.weighted_served, 4) if greedy.weighted_served else None,
        "lp_units_served": round(lp.served, 1),
        "greedy_units_served": round(greedy.served, 1),
        "demand_units": round(float(problem.lines["demand"].sum()), 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average": os.getloadavg()[0]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, required=True, help="Backordered lines to allocate.")
    parser.add_argument("--open-lines", type=int, help=(
        f"Open order lines of each demo (default: {OPEN_LINES_PER_BACKORDER} x --lines, at most 1,000,000); "
        "further demos with the next seeds are added until there are --lines short lines."))
    parser.add_argument("--seed", type=int, default=7, help="Demo seed (default: 7).")
    parser.add_argument("--cache", type=Path, help=(
        "Pickle file of the prepared input: written when missing, read when present (for example "
        "/tmp/bench-recommend-100000.pickle). One file per --lines, --open-lines and --seed."))
    arguments = parser.parse_args()
    open_lines = arguments.open_lines or min(OPEN_LINES_PER_BACKORDER * arguments.lines, 1_000_000)
    print(json.dumps(run_case(lines=arguments.lines, open_lines=open_lines, seed=arguments.seed, cache=arguments.cache)))


if __name__ == "__main__":
    main()
