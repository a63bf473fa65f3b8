"""Benchmark of the forecast refresh: `python -m bench.forecast --series 5000`.

The demo distributor's suppliers are cloned until their receipt history
makes the requested number of series. Each clone draws its delays afresh
from its supplier's own delays; a share of the clones drifts later by a
steady number of days per year, so the Prophet screen has trends to find.
The clones are loaded through the canonical loader, and three refreshes are
timed on them in one run:

- baseline: the promise and the empirical-quantile model only, no Prophet;
- full: every series refitted with the Prophet candidates, across the pool;
- unchanged: a second refresh with no new receipts, which reuses every series.

Prints one line per refresh and a JSON object last. CPU seconds count this
process and its finished children (the fitting workers and their cmdstan
optimisers), so they stay comparable when other work shares the machine.
Peak memory is the largest sum of the resident set sizes of this process
and its descendants, sampled every 0.2 seconds during each refresh; shared
pages count once per process, so the sum overstates the memory in use.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import psycopg
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.server import benchmark_server
from seed_data.generator import generate_demo
from services.db.engine import make_engine
from services.db.migrate import upgrade_database
from services.forecast.history import build_history
from services.forecast.models import ProphetPolicy, series_specs
from services.forecast.refresh import refresh_forecasts
from services.sync.canonical import load_canonical_folder

AS_OF = date(2026, 3, 2)
MASTER_FILES = ("warehouses.csv", "items.csv", "units.csv")
DATABASE_NAME = "bench_forecast"


def _fresh_database(server_url: str) -> str:
    admin = make_url(server_url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE_NAME)))
        connection.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE_NAME)))
    return make_url(server_url).set(database=DATABASE_NAME).render_as_string(hide_password=False)


def _read_demo(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    lines = pd.read_csv(folder / "purchase_order_lines.csv", dtype=str, keep_default_na=False)
    receipts = pd.read_csv(folder / "receipts.csv", dtype=str, keep_default_na=False)
    suppliers = pd.read_csv(folder / "suppliers.csv", dtype=str, keep_default_na=False)
    items = pd.read_csv(folder / "items.csv", dtype=str, keep_default_na=False)
    return lines, receipts, suppliers, items


def _history_frame(lines: pd.DataFrame, receipts: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Return one row per received line with its last receipt date, as the refresh reads it."""
    last = receipts.groupby(["po_number", "po_line_number"])["receipt_date"].max().rename("receipt_date")
    received = lines[lines["status"].isin(["received", "closed"])].join(last, on=["po_number", "line_number"], how="inner")
    received = received.merge(items[["sku", "family"]], on="sku")
    received["po_line_id"] = received["po_number"] + "/" + received["line_number"]
    return received


def _series_per_supplier(history: pd.DataFrame) -> dict[str, int]:
    """Return how many series (not counting global) each supplier's history makes on its own."""
    counts = {}
    for supplier, part in history.groupby("supplier_code"):
        frame = build_history(part[["po_line_id", "supplier_code", "shipment_mode", "family", "order_date",
                                    "promised_date", "receipt_date"]]).lines
        counts[supplier] = len(series_specs(frame)) - 1
    return counts


def _clone_plan(counts: dict[str, int], series: int) -> list[tuple[str, int]]:
    """Return (supplier, clone number) pairs, round-robin over suppliers with series, until the count is reached."""
    suppliers = [code for code, count in sorted(counts.items()) if count > 0]
    plan, total, clone = [], 1, 0
    while total < series:
        for code in suppliers:
            if total >= series:
                break
            plan.append((code, clone))
            total += counts[code]
        clone += 1
    return plan


def _clone_supplier(rng, lines, history, supplier: str, clone: int, drift_days_per_year: float):
    """Return the clone's purchase order lines and one receipt per received line, with redrawn delays."""
    suffix = f"-C{clone:04d}"
    own = lines[lines["supplier_code"] == supplier].copy()
    received = history[history["supplier_code"] == supplier]
    delays = (pd.to_datetime(received["receipt_date"]) - pd.to_datetime(received["promised_date"])).dt.days.to_numpy()

    own["supplier_code"] = supplier + suffix
    own["po_number"] = own["po_number"] + suffix
    done = own[own["status"].isin(["received", "closed"]) & own["promised_date"].ne("")].copy()
    promised = pd.to_datetime(done["promised_date"])
    drawn = rng.choice(delays, size=len(done)) if len(delays) else np.zeros(len(done), dtype=int)
    years_before = (pd.Timestamp(AS_OF) - promised).dt.days.to_numpy() / 365.0
    drift = np.round(drift_days_per_year * (2.0 - years_before)).astype(int)
    receipt = promised + pd.to_timedelta(drawn + drift, unit="D")
    receipt = np.maximum(receipt, pd.to_datetime(done["order_date"]))
    receipt = np.minimum(receipt, pd.Timestamp(AS_OF) - pd.Timedelta(days=1))
    receipts = pd.DataFrame(
        {
            "receipt_number": "GR" + done["po_number"] + "/" + done["line_number"],
            "po_number": done["po_number"],
            "po_line_number": done["line_number"],
            "warehouse_code": done["warehouse_code"],
            "receipt_date": pd.Series(receipt, index=done.index).dt.strftime("%Y-%m-%d"),
            "unit": done["unit"],
            "received_qty": done["received_qty"],
            "asn_number": "",
        }
    )
    keep = own["status"].isin(["received", "closed", "open"])
    return own[keep], receipts[receipts["received_qty"].astype(float) > 0]


def build_bench_folder(out: Path, series: int, seed: int, drifting_share: float, demo_lines: int) -> dict:
    """Write canonical files of cloned suppliers into out; return what was written."""
    demo = out / "demo"
    generate_demo(demo, seed=seed, lines=demo_lines, as_of=AS_OF)
    lines, receipts, suppliers, items = _read_demo(demo)
    history = _history_frame(lines, receipts, items)
    plan = _clone_plan(_series_per_supplier(history), series)

    rng = np.random.default_rng(seed)
    clone_lines, clone_receipts, clone_suppliers = [], [], []
    drifting = rng.random(len(plan)) < drifting_share
    for (supplier, clone), drifts in zip(plan, drifting):
        part_lines, part_receipts = _clone_supplier(rng, lines, history, supplier, clone, 10.0 if drifts else 0.0)
        clone_lines.append(part_lines)
        clone_receipts.append(part_receipts)
        row = suppliers[suppliers["supplier_code"] == supplier].copy()
        row["supplier_code"] = supplier + f"-C{clone:04d}"
        clone_suppliers.append(row)

    folder = out / "bench"
    folder.mkdir()
    for name in MASTER_FILES:
        shutil.copy(demo / name, folder / name)
    pd.concat(clone_suppliers).to_csv(folder / "suppliers.csv", index=False)
    pd.concat(clone_lines).to_csv(folder / "purchase_order_lines.csv", index=False)
    pd.concat(clone_receipts).to_csv(folder / "receipts.csv", index=False)
    return {"clones": len(plan), "drifting_clones": int(drifting.sum())}


def _cpu_seconds() -> float:
    """Return the CPU seconds of this process and of its finished children, fitting workers and cmdstan included."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class PeakMemory:
    """Samples the resident set size of this process and its descendants in a thread, keeping the largest sum."""

    INTERVAL_SECONDS = 0.2

    def __init__(self) -> None:
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = psutil.Process()
        while True:
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.Error:  # the process ended between listing and reading
                    pass
            self.peak_bytes = max(self.peak_bytes, total)
            if self._stop.wait(self.INTERVAL_SECONDS):
                return


def _timed_refresh(engine, label: str, **options) -> dict:
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    with PeakMemory() as memory:
        result = refresh_forecasts(engine, as_of=AS_OF, **options)
    seconds, cpu_seconds = time.perf_counter() - started, _cpu_seconds() - cpu_started
    figures = {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "peak_rss_mib": round(memory.peak_bytes / 2**20, 1),
        "series": result.series_total,
        "series_fitted": result.series_fitted,
        "series_reused": result.series_reused,
        "series_per_second": round(result.series_total / seconds, 1),
        "prophet_fits": result.prophet_fits,
        "lines_forecast": result.lines_forecast,
        "failures": len(result.failures),
    }
    print(
        f"{label:<10} {seconds:8.2f} s ({cpu_seconds:7.2f} CPU s)  {result.series_total:,} series ({result.series_fitted:,} fitted, "
        f"{result.series_reused:,} reused), {figures['series_per_second']:,.1f} series/s, "
        f"{result.prophet_fits:,} Prophet fits, {result.lines_forecast:,} ETAs, {len(result.failures)} failures, "
        f"peak RSS {figures['peak_rss_mib']:,.0f} MiB",
        flush=True,
    )
    return figures


BACKTEST_SUMMARY_SQL = text(
    """
    select count(*) as series,
           sum(test_count * mae_p50_days) / sum(test_count) as mae_p50_days,
           sum(test_count * mae_promise_days) / sum(test_count) as mae_promise_days,
           sum(test_count * coverage_p10_p90) / sum(test_count) as coverage_p10_p90,
           count(*) filter (where model like 'prophet%') as prophet_chosen
    from forecast_backtests
    where chosen and mae_promise_days is not null
      -- now() is the start of the writing transaction, the same for every row of one refresh
      and computed_at = (select max(computed_at) from forecast_backtests)
    """
)


def _backtest_summary(engine) -> dict:
    """Return the delay backtests of the chosen models, averaged over all series weighted by test lines."""
    with engine.connect() as connection:
        row = connection.execute(BACKTEST_SUMMARY_SQL).mappings().one()
    summary = {name: (round(float(value), 3) if value is not None else None) for name, value in row.items()}
    print(
        f"backtest   {summary['series']:,.0f} series: MAE of the chosen P50 {summary['mae_p50_days']} days, "
        f"of the promise {summary['mae_promise_days']} days, P10-P90 coverage {summary['coverage_p10_p90']:.1%}, "
        f"Prophet chosen on {summary['prophet_chosen']:,.0f}",
        flush=True,
    )
    return summary


def run(server_url: str, series: int, seed: int, drifting_share: float, workers: int, demo_lines: int) -> dict:
    url = _fresh_database(server_url)
    engine = make_engine(url)
    upgrade_database(engine)
    with tempfile.TemporaryDirectory(prefix="bench-forecast-") as scratch:
        started = time.perf_counter()
        built = build_bench_folder(Path(scratch), series, seed, drifting_share, demo_lines)
        load_canonical_folder(engine, Path(scratch) / "bench", source="bench")
        setup_seconds = time.perf_counter() - started
    print(
        f"setup      {setup_seconds:8.2f} s  {built['clones']:,} cloned suppliers "
        f"({built['drifting_clones']:,} drifting) generated and loaded",
        flush=True,
    )

    baseline = _timed_refresh(engine, "baseline", workers=1, refit_all=True, prophet=ProphetPolicy.NEVER)
    full = _timed_refresh(engine, "full", workers=workers, refit_all=True)
    backtest = _backtest_summary(engine)
    unchanged = _timed_refresh(engine, "unchanged", workers=workers)
    engine.dispose()

    print(f"full refresh took {full['seconds'] / baseline['seconds']:.2f}x the baseline's time", flush=True)
    return {
        "series_requested": series,
        "workers": workers,
        "cpus": os.cpu_count(),
        "setup_seconds": round(setup_seconds, 2),
        **built,
        "baseline": baseline,
        "full": full,
        "unchanged": unchanged,
        "full_vs_baseline": round(full["seconds"] / baseline["seconds"], 2),
        "backtest": backtest,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=5000, help="Number of series to build (default: 5000).")
    parser.add_argument("--seed", type=int, default=7, help="Seed of the demo and of the clones' delays (default: 7).")
    parser.add_argument(
        "--drifting-share", type=float, default=0.1,
        help="Share of cloned suppliers whose delays drift 10 days later per year (default: 0.1).",
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1,
        help="Worker processes for Prophet fits (default: the number of CPUs).",
    )
    parser.add_argument(
        "--demo-lines", type=int, default=20_000,
        help="Open sales order lines of the demo whose suppliers are cloned (default: 20000).",
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("CONTROL_TOWER_BENCH_DATABASE_URL"),
        help="PostgreSQL server for the benchmark database; default: a temporary embedded server.",
    )
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("services.forecast").setLevel(os.environ.get("BENCH_FORECAST_LOG", "WARNING"))

    with benchmark_server(arguments.database_url) as server_url:
        report = run(
            server_url, arguments.series, arguments.seed, arguments.drifting_share, arguments.workers,
            arguments.demo_lines,
        )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
