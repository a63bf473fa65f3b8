"""Benchmark case: the service calls of the Weekly KPIs, Operations and Supplier ETA pages on the demo distributor.

    python -m bench.pages2 --lines 100000

Generates the demo at the given number of open order lines, loads it,
recomputes exposure, refreshes the ETA forecasts without Prophet, snapshots
12 weeks of KPIs, and adds 100,000 quarantined records and 100,000 audit
entries so the operations lists have depth. Then it times, with the database
warm, the median of three runs of the calls each page makes on its first
render (the calls are listed in PAGE_CALLS' functions), and the weekly
snapshot job's computation of one week.

Prints one JSON object on stdout. Read the times as ratios to
baseline_scan_seconds of the same run: one aggregate scan of the open order
lines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import Engine, text

from bench.server import benchmark_server
from bench.exposure import _baseline_seconds, _load_demo, _prepare_database
from services.auth.roles import Actor, Role
from services.db.engine import make_engine
from services.exposure.recompute import recompute_exposure
from services.forecast.models import ProphetPolicy
from services.forecast.queries import list_eta_suppliers, open_line_etas, supplier_backtests, supplier_scorecard
from services.forecast.refresh import refresh_forecasts
from services.kpis.weekly import compare_latest_weeks, get_kpi_snapshots, snapshot_weekly_kpis
from services.operations.queries import (
    distinct_values,
    job_staleness,
    list_job_runs,
    list_outbox,
    list_quarantine,
    list_sync_runs,
    outbox_status_counts,
    quarantine_reasons,
    search_audit_log,
)
from services.settings import load_settings

AS_OF = date(2026, 3, 2)
SNAPSHOT_NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
LATEST_WEEK = date(2026, 2, 23)
TREND_WEEKS = 12
RUNS = 3
ADMIN = Actor("bench", Role.ADMINISTRATOR)
TIME_ZONE = "America/Chicago"

ADD_QUARANTINE = text(
    """
    insert into quarantine (sync_run_id, source, entity, file_name, position, record, reason)
    select (select min(id) from sync_runs), 'erp', case when n % 3 = 0 then 'items' else 'sales_order_lines' end,
           'bench.csv', 'line ' || n, jsonb_build_object('n', n),
           case when n % 4 = 0 then 'unit_price ''x'' is not a number' else 'customer_code ''C' || n % 50 || ''' is unknown' end
    from generate_series(1, 100000) as n
    """
)
ADD_AUDIT = text(
    """
    insert into audit_log (occurred_at, actor, action, entity, entity_id, reason, after)
    select now() - n * interval '1 minute', 'user' || n % 20, case when n % 2 = 0 then 'approve_recommendation' else 'reject_recommendation' end,
           'recommendation', n::text, 'reason ' || n, jsonb_build_object('comment', 'warehouse W' || n % 10)
    from generate_series(1, 100000) as n
    """
)


def weekly_kpis_page(engine: Engine, settings) -> None:
    compare_latest_weeks(get_kpi_snapshots(engine, ADMIN, weeks=TREND_WEEKS))


def operations_page(engine: Engine, settings) -> None:
    for column in ("sync_runs.source", "sync_runs.entity", "quarantine.entity", "audit_log.actor", "audit_log.action", "audit_log.entity"):
        distinct_values(engine, ADMIN, column)
    list_sync_runs(engine, ADMIN)
    quarantine_reasons(engine, ADMIN)
    list_quarantine(engine, ADMIN)
    job_staleness(engine, ADMIN, settings, datetime.now(timezone.utc))
    list_job_runs(engine, ADMIN)
    outbox_status_counts(engine, ADMIN)
    list_outbox(engine, ADMIN)
    search_audit_log(engine, ADMIN)


def operations_search(engine: Engine, settings) -> None:
    """Run a filtered quarantine read and an audit text search, the slowest filters."""
    list_quarantine(engine, ADMIN, reason="not a number")
    search_audit_log(engine, ADMIN, search="W7")


def supplier_eta_page(engine: Engine, settings) -> None:
    suppliers = list_eta_suppliers(engine, ADMIN)
    first = suppliers.iloc[0]
    open_line_etas(engine, ADMIN, int(first["supplier_id"]))
    supplier_backtests(engine, ADMIN, first["supplier_code"])
    supplier_scorecard(engine, ADMIN, int(first["supplier_id"]))


def snapshot_one_week(engine: Engine, settings) -> None:
    snapshot_weekly_kpis(engine, LATEST_WEEK, time_zone=TIME_ZONE, now=SNAPSHOT_NOW)


PAGE_CALLS = {
    "weekly_kpis_seconds": weekly_kpis_page,
    "operations_seconds": operations_page,
    "operations_search_seconds": operations_search,
    "supplier_eta_seconds": supplier_eta_page,
    "kpi_snapshot_week_seconds": snapshot_one_week,
}


def _median_seconds(function, engine: Engine, settings) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        function(engine, settings)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def run_case(server_url: str, *, lines: int, database: str, reuse: bool) -> dict:
    url, reused = _prepare_database(server_url, database, reuse)
    engine = make_engine(url)
    result: dict = {"lines": lines, "machine": f"{platform.machine()}, {os.cpu_count()} cores", "reused": reused}
    try:
        if not reused:
            result.update(_load_demo(engine, lines, 7, None, None))
            started = time.perf_counter()
            recompute_exposure(engine, as_of=AS_OF)
            refresh_forecasts(engine, as_of=AS_OF, workers=1, prophet=ProphetPolicy.NEVER)
            with engine.begin() as connection:
                connection.execute(ADD_QUARANTINE)
                connection.execute(ADD_AUDIT)
            for weeks_back in range(TREND_WEEKS - 1, -1, -1):
                snapshot_weekly_kpis(engine, LATEST_WEEK - timedelta(days=7 * weeks_back), time_zone=TIME_ZONE, now=SNAPSHOT_NOW)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("vacuum analyze"))
            result["prepare_seconds"] = round(time.perf_counter() - started, 2)
        settings = load_settings({"DATABASE_URL": url, "CONTROL_TOWER_TIMEZONE": TIME_ZONE})
        result["baseline_scan_seconds"] = _baseline_seconds(engine)
        for name, function in PAGE_CALLS.items():
            function(engine, settings)
            result[name] = _median_seconds(function, engine, settings)
    finally:
        engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, required=True, help="Open order lines of the demo, 1,000 to 1,000,000.")
    parser.add_argument(
        "--database-url", default=os.environ.get("CONTROL_TOWER_BENCH_DATABASE_URL"),
        help="PostgreSQL server to create the benchmark database on; default: a temporary embedded server.",
    )
    parser.add_argument("--database", help="Name of the benchmark database (default: bench_pages2_<lines>).")
    parser.add_argument("--reuse", action="store_true", help="Keep a benchmark database of that name that already exists.")
    arguments = parser.parse_args()
    database = arguments.database or f"bench_pages2_{arguments.lines}"

    with benchmark_server(arguments.database_url) as server_url:
        result = run_case(server_url, lines=arguments.lines, database=database, reuse=arguments.reuse)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
