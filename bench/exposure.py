"""Benchmark case: exposure recompute on the demo distributor, in full and for one supplier event.

    python -m bench.exposure --lines 1000000

Generates the demo at the given number of open order lines (at a million
lines: 50,000 SKUs and 10 warehouses), loads it into a fresh database and
times, with the database warm:

- baseline_scan_seconds: one aggregate scan of the open order lines (count
  and open quantity), the floor any reader of the open lines pays;
- picture_load_seconds: reading the supply and demand picture alone;
- full_first_seconds: the first full recompute, which inserts every row;
- full_seconds: the median of three more full recomputes, which find the
  same exposure and change no row;
- event_seconds: the median of five recomputes after one supplier event on
  one item: the item of a typical delayed purchase order line (the median
  number of open lines among items that wait for one);
- event_busiest_seconds: the same for the purchase order line most exposed
  lines wait for, in the demo the seeded supplier delay on a popular item.

Prints one JSON object on stdout. Times depend on the machine and on what
else runs on it, so read them as ratios to the baseline of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import Engine, insert, text
from sqlalchemy.engine import make_url

from bench.server import benchmark_server
from seed_data.generator import generate_demo
from services.db import schema
from services.db.engine import make_engine
from services.db.migrate import upgrade_database
from services.exposure.recompute import recompute_exposure, recompute_exposure_for_supplier_events
from services.exposure.repository import load_picture
from services.sync.canonical import load_canonical_folder

AS_OF = date(2026, 3, 2)
FULL_RUNS = 3
EVENT_RUNS = 5
BENCH_SOURCE = "bench"

BASELINE_SCAN = text(
    "select count(*), sum(ordered_qty - shipped_qty - cancelled_qty) from sales_order_lines"
    " where status = 'open' and ordered_qty - shipped_qty - cancelled_qty > 0"
)
# Purchase order lines that exposed lines wait for, with how many wait and how many open lines their item has.
DELAYED_PO_LINES = text(
    "with causes as ("
    "  select p.id, p.supplier_id, p.promised_date, p.item_id, count(*) as waiting from exposure e"
    "  join purchase_order_lines p on p.id = e.cause_po_line_id group by p.id"
    ") select c.*, (select count(*) from sales_order_lines l where l.item_id = c.item_id and l.status = 'open') as open_lines"
    " from causes c order by open_lines, c.id"
)


def _admin_dsn(server_url: str) -> str:
    return make_url(server_url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)


def _prepare_database(server_url: str, name: str, reuse: bool) -> tuple[str, bool]:
    """Return the database URL and whether it already contains a loaded demo to reuse."""
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(_admin_dsn(server_url), autocommit=True) as connection:
        exists = connection.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if exists and reuse:
            return url, True
        connection.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return url, False


def _load_demo(engine: Engine, lines: int, seed: int, skus: int | None, warehouses: int | None) -> dict:
    upgrade_database(engine)
    with tempfile.TemporaryDirectory(prefix="bench-exposure-") as folder:
        started = time.perf_counter()
        generate_demo(Path(folder), seed=seed, lines=lines, as_of=AS_OF, skus=skus, warehouses=warehouses)
        generated = time.perf_counter()
        load_canonical_folder(engine, Path(folder), source="demo")
        loaded = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("vacuum analyze"))
    return {"generate_seconds": round(generated - started, 2), "load_seconds": round(loaded - generated, 2)}


def _seconds(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def _baseline_seconds(engine: Engine) -> float:
    with engine.connect() as connection:
        connection.execute(BASELINE_SCAN).one()
        return min(_seconds(lambda: connection.execute(BASELINE_SCAN).one()) for _ in range(3))


def _picture_seconds(engine: Engine) -> float:
    with engine.connect() as connection:
        return _seconds(lambda: load_picture(connection, as_of=AS_OF))


def _delayed_po_lines(engine: Engine):
    """Return (typical, busiest) purchase order lines that exposed lines wait for."""
    with engine.connect() as connection:
        rows = connection.execute(DELAYED_PO_LINES).all()
    if not rows:
        raise SystemExit("no exposed line waits for a purchase order line; the demo did not load as expected")
    busiest = max(rows, key=lambda row: (row.waiting, -row.id))
    return rows[len(rows) // 2], busiest


def _event_seconds(engine: Engine, po_line) -> list[float]:
    """Time recomputes after supplier events that push the purchase order line out one more day each time."""
    times = []
    for run in range(1, EVENT_RUNS + 1):
        since = datetime.now(timezone.utc)
        with engine.begin() as connection:
            connection.execute(insert(schema.supplier_events).values(
                po_line_id=po_line.id, supplier_id=po_line.supplier_id, event_type="date_change", event_at=since,
                old_date=po_line.promised_date, new_date=po_line.promised_date + timedelta(days=run),
                source=BENCH_SOURCE, source_key=f"bench-event-{since.timestamp()}", source_updated_at=since,
            ))
        times.append(_seconds(lambda: recompute_exposure_for_supplier_events(engine, since=since, as_of=AS_OF)))
    with engine.begin() as connection:
        connection.execute(text("delete from supplier_events where source = :source"), {"source": BENCH_SOURCE})
    return times


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
        with engine.begin() as connection:
            connection.execute(text("delete from exposure"))

        baseline = _baseline_seconds(engine)
        picture = _picture_seconds(engine)
        first = recompute_exposure(engine, as_of=AS_OF)
        full = [recompute_exposure(engine, as_of=AS_OF) for _ in range(FULL_RUNS)]
        typical, busiest = _delayed_po_lines(engine)
        events = _event_seconds(engine, typical)
        busiest_events = _event_seconds(engine, busiest)
    finally:
        engine.dispose()

    full_seconds = statistics.median(result.seconds["total"] for result in full)
    event_seconds = statistics.median(events)
    return {
        "lines": lines,
        "skus": skus,
        "warehouses": warehouses,
        **setup,
        "open_lines_netted": first.lines_netted,
        "exposed_lines": first.rows_exposed,
        "baseline_scan_seconds": round(baseline, 3),
        "picture_load_seconds": round(picture, 3),
        "full_first_seconds": round(first.seconds["total"], 3),
        "full_first_steps": {step: round(value, 3) for step, value in first.seconds.items()},
        "full_seconds": round(full_seconds, 3),
        "full_steps": {step: round(statistics.median(r.seconds[step] for r in full), 3) for step in ("load", "net", "write")},
        "event_seconds": round(event_seconds, 3),
        "event_max_seconds": round(max(events), 3),
        "event_item_open_lines": typical.open_lines,
        "event_busiest_seconds": round(statistics.median(busiest_events), 3),
        "event_busiest_item_open_lines": busiest.open_lines,
        "full_vs_baseline": round(full_seconds / baseline, 1),
        "event_vs_baseline": round(event_seconds / baseline, 2),
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
    parser.add_argument("--database", help="Name of the benchmark database (default: bench_exposure_<lines>).")
    parser.add_argument(
        "--reuse", action="store_true",
        help="Keep a benchmark database of that name that already exists, skipping generation and load.",
    )
    arguments = parser.parse_args()
    database = arguments.database or f"bench_exposure_{arguments.lines}"

    with benchmark_server(arguments.database_url) as server_url:
        result = run_case(server_url, lines=arguments.lines, seed=arguments.seed, database=database, reuse=arguments.reuse)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
