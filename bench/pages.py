"""Benchmark case: server-side time of each page's reads on the demo distributor.

    python -m bench.pages --lines 100000

Generates the demo at the given number of open order lines, loads it into a
fresh database, computes exposure, and then times the service functions
each page calls on one render, in the order the page calls them (the
Streamlit script itself, its caches and the browser are not included):

- control_tower: backlog overview, exposure headline, top five exposures,
  source and job freshness;
- exposure: filter options, totals, the first page of 500 lines, aging,
  root causes and one line's supply picture, without filters;
- exposure_filtered: the same with a warehouse and a supplier filter;
- revenue_at_risk: by ship week, top 50 customers, top 50 suppliers and the
  what-if supplier list;
- whatif_preview: one what-if (delay the supplier with the most open
  purchase order lines by 7 days), a user action rather than a render.

Each figure is the median of three warm runs after one cold run. The
baseline, measured in the same run, is one aggregate scan of the open
order lines. Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

from sqlalchemy import Engine, text

from bench.server import benchmark_server
from bench.exposure import AS_OF, _baseline_seconds, _load_demo, _prepare_database
from services.auth.roles import Actor, Role
from services.db.engine import make_engine
from services.db.migrate import upgrade_database
from services.exposure.backlog import (
    BacklogFilters,
    backlog_aging,
    backlog_filter_options,
    backlog_page,
    backlog_root_causes,
    backlog_totals,
    line_supply,
)
from services.exposure.recompute import recompute_exposure
from services.exposure.revenue import (
    preview_supply_change,
    revenue_by_customer,
    revenue_by_ship_week,
    revenue_by_supplier,
    whatif_suppliers,
)
from services.exposure.whatif import SupplyChange
from services.kpis.headline import get_exposure_headline, get_top_exposures
from services.kpis.overview import get_backlog_overview, get_job_freshness, get_source_freshness, has_loaded_data

RUNS = 3
LEADER = Actor(username="bench", role=Role.OPERATIONS_LEADER)

BUSIEST_SUPPLIER = text(
    "select s.id, s.supplier_code from purchase_order_lines p join suppliers s on s.id = p.supplier_id"
    " where p.status = 'open' group by s.id order by count(*) desc, s.id limit 1"
)
BUSIEST_WAREHOUSE = text(
    "select w.warehouse_code from exposure e join sales_order_lines l on l.id = e.so_line_id"
    " join warehouses w on w.id = l.warehouse_id group by w.warehouse_code order by count(*) desc limit 1"
)


def control_tower(engine: Engine) -> None:
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    has_loaded_data(engine)
    get_backlog_overview(engine)
    get_exposure_headline(engine, LEADER)
    get_top_exposures(engine, LEADER)
    get_source_freshness(engine, now)
    get_job_freshness(engine, now)


def exposure_page(engine: Engine, filters: BacklogFilters) -> None:
    backlog_filter_options(engine, LEADER)
    backlog_totals(engine, LEADER, filters)
    page = backlog_page(engine, LEADER, filters)
    backlog_aging(engine, LEADER, filters)
    backlog_root_causes(engine, LEADER, filters)
    if not page.empty:
        line_supply(engine, LEADER, int(page.loc[0, "so_line_id"]))


def revenue_page(engine: Engine) -> None:
    revenue_by_ship_week(engine, LEADER)
    revenue_by_customer(engine, LEADER)
    revenue_by_supplier(engine, LEADER)
    whatif_suppliers(engine, LEADER)


def _timed(function) -> dict:
    started = time.perf_counter()
    function()
    cold = time.perf_counter() - started
    warm = []
    for _ in range(RUNS):
        started = time.perf_counter()
        function()
        warm.append(time.perf_counter() - started)
    return {"cold_seconds": round(cold, 3), "seconds": round(statistics.median(warm), 3)}


def run_case(server_url: str, *, lines: int, seed: int, database: str, reuse: bool) -> dict:
    skus, warehouses = (50_000, 10) if lines >= 1_000_000 else (None, None)
    url, reused = _prepare_database(server_url, database, reuse)
    engine = make_engine(url)
    try:
        if reused:
            upgrade_database(engine)  # a database kept from an earlier run may predate the latest migrations
            setup = {"reused_database": True}
        else:
            setup = _load_demo(engine, lines, seed, skus, warehouses)
        exposure = recompute_exposure(engine, as_of=AS_OF)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("analyze exposure"))
        with engine.connect() as connection:
            supplier_id, supplier_code = connection.execute(BUSIEST_SUPPLIER).one()
            warehouse_code = connection.execute(BUSIEST_WAREHOUSE).scalar_one()
        filters = BacklogFilters(warehouses=(warehouse_code,), suppliers=(supplier_code,))

        baseline = _baseline_seconds(engine)
        pages = {
            "control_tower": _timed(lambda: control_tower(engine)),
            "exposure": _timed(lambda: exposure_page(engine, BacklogFilters())),
            "exposure_filtered": _timed(lambda: exposure_page(engine, filters)),
            "revenue_at_risk": _timed(lambda: revenue_page(engine)),
            "whatif_preview": _timed(
                lambda: preview_supply_change(engine, LEADER, SupplyChange("delay", supplier_id=supplier_id, days=7))
            ),
        }
    finally:
        engine.dispose()

    for figures in pages.values():
        figures["vs_baseline"] = round(figures["seconds"] / baseline, 1)
    return {
        "lines": lines,
        **setup,
        "exposed_lines": exposure.rows_exposed,
        "baseline_scan_seconds": round(baseline, 3),
        "pages": pages,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average": os.getloadavg()[0]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, required=True, help="Open order lines of the demo, 1,000 to 1,000,000.")
    parser.add_argument("--seed", type=int, default=7, help="Demo seed (default: 7).")
    parser.add_argument(
        "--database-url", default=os.environ.get("CONTROL_TOWER_BENCH_DATABASE_URL"),
        help="PostgreSQL server to create the benchmark database on; default: a temporary embedded server.",
    )
    parser.add_argument("--database", help="Name of the benchmark database (default: bench_pages_<lines>).")
    parser.add_argument(
        "--reuse", action="store_true",
        help="Keep a benchmark database of that name that already exists, skipping generation and load.",
    )
    arguments = parser.parse_args()
    database = arguments.database or f"bench_pages_{arguments.lines}"

    with benchmark_server(arguments.database_url) as server_url:
        result = run_case(server_url, lines=arguments.lines, seed=arguments.seed, database=database, reuse=arguments.reuse)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
