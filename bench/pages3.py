"""Benchmark case: the service calls of the Recommendations and Customer updates pages on the demo distributor.

    python -m bench.pages3 --lines 100000

Generates the demo at the given number of open order lines, loads it,
recomputes exposure and runs the recommendation use case. Then it times,
with the database warm, the median of three runs of the reads each page
makes on its first render and on a filter change, and once each: approving
every auto-approvable recommendation (one transaction per recommendation,
the bulk button of the Recommendations page) and the Customer updates reads
on the drafts that approval wrote.

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
from datetime import date
from decimal import Decimal

from sqlalchemy import Engine

from bench.server import benchmark_server
from bench.exposure import _baseline_seconds, _load_demo, _prepare_database
from services.approvals.decide import approve_all_auto
from services.approvals.queries import (
    count_recommendations,
    customer_message_drafts,
    delivered_customer_mail,
    recommendation_queue,
)
from services.auth.roles import Actor, Role
from services.db.engine import make_engine
from services.exposure.recompute import recompute_exposure
from services.recommend.run import recommend

AS_OF = date(2026, 3, 2)
RUNS = 3
PAGE_SIZE = 200
# An actor without a user id decides with actor.approval_limit; a leader decides every class.
LEADER = Actor("bench", Role.OPERATIONS_LEADER, Decimal("1000000000"))


def recommendations_page(engine: Engine) -> None:
    """First render: proposed recommendations, every class and action, the first page of 200."""
    count_recommendations(engine, LEADER)
    recommendation_queue(engine, LEADER, limit=PAGE_SIZE)


def recommendations_filtered(engine: Engine) -> None:
    """Filtered by class leader and action transfer, then the last full page of every status."""
    count_recommendations(engine, LEADER, governance_class="leader", action="transfer")
    recommendation_queue(engine, LEADER, governance_class="leader", action="transfer", limit=PAGE_SIZE)
    total = count_recommendations(engine, LEADER, status=None)
    recommendation_queue(engine, LEADER, status=None, limit=PAGE_SIZE, offset=max(total - PAGE_SIZE, 0))


def customer_updates_page(engine: Engine) -> None:
    customer_message_drafts(engine, LEADER, limit=1000)
    delivered_customer_mail(engine, LEADER, limit=1000)


def _median_seconds(function, engine: Engine) -> float:
    function(engine)
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        function(engine)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def run_case(server_url: str, *, lines: int, database: str) -> dict:
    url, _ = _prepare_database(server_url, database, reuse=False)
    engine = make_engine(url)
    result: dict = {"lines": lines, "machine": f"{platform.machine()}, {os.cpu_count()} cores"}
    try:
        result.update(_load_demo(engine, lines, 7, None, None))
        recompute_exposure(engine, as_of=AS_OF)
        started = time.perf_counter()
        run = recommend(engine, as_of=AS_OF)
        result["recommend_seconds"] = round(time.perf_counter() - started, 2)
        result["recommendations"] = run.inserted + run.updated + run.kept
        result["by_class"] = run.by_class

        result["baseline_scan_seconds"] = _baseline_seconds(engine)
        result["recommendations_page_seconds"] = _median_seconds(recommendations_page, engine)
        result["recommendations_filtered_seconds"] = _median_seconds(recommendations_filtered, engine)

        started = time.perf_counter()
        summary = approve_all_auto(engine, LEADER)
        result["approve_all_auto_seconds"] = round(time.perf_counter() - started, 2)
        result["approve_all_auto_counts"] = summary.counts
        result["customer_updates_page_seconds"] = _median_seconds(customer_updates_page, engine)
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
    arguments = parser.parse_args()
    database = f"bench_pages3_{arguments.lines}"

    with benchmark_server(arguments.database_url) as server_url:
        result = run_case(server_url, lines=arguments.lines, database=database)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
