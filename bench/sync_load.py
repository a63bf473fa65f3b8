"""Order-line load: the loader against pandas to_sql and a raw COPY of the same CSV, then re-syncs.

For each size, a child process generates the demo distributor with enough
open lines for a canonical order-line file of about that many rows, loads
the master files it needs untimed, and then times, in one database:

- a raw COPY of the order-line file into a logged table of text columns,
  the baseline (and, for reference, into an unlogged one);
- the loader's full load into the empty sales_order_lines table;
- a re-sync of the same file, unchanged;
- a re-sync with 1% of the rows changed (ordered_qty raised by 1);
- the write floor: an INSERT of the loaded rows into an empty table with
  the same indexes and check constraints, without and with the four
  foreign keys, which no loader of these rows can beat;
- pandas read_csv and DataFrame.to_sql with its defaults into a new table,
  last, so the peak memory read before it is the loader's.

Command: `python -m bench.sync_load --rows 100000,1000000`.
`CONTROL_TOWER_BENCH_DATABASE_URL` or --database-url names a server;
default: a temporary embedded one.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

ORDER_LINES_PER_OPEN_LINE = 2.5
MASTERS = ("warehouses", "customers", "items", "units")
AS_OF = date(2026, 3, 2)


def _to_sql_seconds(url: str, path: Path) -> float:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    started = time.perf_counter()
    frame = pandas.read_csv(path)
    frame.to_sql("to_sql_lines", engine, if_exists="replace", index=False)
    seconds = time.perf_counter() - started
    with engine.begin() as connection:
        connection.exec_driver_sql("drop table to_sql_lines")
    engine.dispose()
    return seconds


FOREIGN_KEYS = (
    ("customer_id", "customers"),
    ("item_id", "items"),
    ("warehouse_id", "warehouses"),
    ("sync_run_id", "sync_runs"),
)


def _write_floor_seconds(dsn: str, with_foreign_keys: bool) -> float:
    """Time copying the loaded order lines into an empty table with the same indexes and checks.

    No loader can write the rows faster than this, whatever it does before.
    """
    with psycopg.connect(dsn) as connection:
        connection.execute("create table floor_lines (like sales_order_lines including all)")
        if with_foreign_keys:
            for column, table in FOREIGN_KEYS:
                connection.execute(
                    sql.SQL("alter table floor_lines add foreign key ({}) references {} (id)").format(
                        sql.Identifier(column), sql.Identifier(table)
                    )
                )
        connection.commit()
        started = time.perf_counter()
        connection.execute("insert into floor_lines select * from sales_order_lines")
        connection.commit()
        seconds = time.perf_counter() - started
        connection.execute("drop table floor_lines")
        connection.commit()
    return seconds


def _change_one_percent(source: Path, target: Path) -> int:
    """Copy the order-line file with ordered_qty raised by 1 on every 100th row; return how many changed."""
    changed = 0
    with source.open(newline="") as reading, target.open("w", newline="") as writing:
        reader = csv.DictReader(reading)
        writer = csv.DictWriter(writing, fieldnames=reader.fieldnames)
        writer.writeheader()
        for index, row in enumerate(reader):
            if index % 100 == 0:
                row["ordered_qty"] = str(int(row["ordered_qty"]) + 1)
                changed += 1
            writer.writerow(row)
    return changed


def _load_summary(result) -> dict:
    return {
        "seconds": round(result.seconds, 3),
        "read": result.read,
        "inserted": result.inserted,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "rejected": result.rejected,
        "skipped_unchanged": result.skipped_unchanged,
        "step_seconds": result.step_seconds,
    }


def run_case(server_url: str, rows: int, seed: int) -> dict:
    from bench.demo_load import _fresh_database, raw_copy_seconds
    from seed_data.generator import generate_demo
    from services.db.engine import make_engine
    from services.db.migrate import upgrade_database
    from services.sync.canonical import load_canonical_file
    from services.sync.layout import ENTITIES_BY_NAME

    url = _fresh_database(server_url, f"bench_sync_{rows}")
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade_database(engine)
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as folder:
        folder = Path(folder)
        generate_demo(folder, seed=seed, lines=round(rows / ORDER_LINES_PER_OPEN_LINE), as_of=AS_OF)
        for name in MASTERS:
            load_canonical_file(engine, folder / f"{name}.csv", source="demo", entity=ENTITIES_BY_NAME[name])
        path = folder / "sales_order_lines.csv"
        changed_path = folder / "changed" / "sales_order_lines.csv"
        changed_path.parent.mkdir()
        changed_rows = _change_one_percent(path, changed_path)
        raw_copy = raw_copy_seconds(url, path, table_kind="")
        raw_copy_unlogged = raw_copy_seconds(url, path, table_kind="unlogged")
        entity = ENTITIES_BY_NAME["sales_order_lines"]
        full = load_canonical_file(engine, path, source="demo", entity=entity)
        unchanged = load_canonical_file(engine, path, source="demo", entity=entity)
        one_percent = load_canonical_file(engine, changed_path, source="demo", entity=entity)
        write_floor = _write_floor_seconds(dsn, with_foreign_keys=False)
        write_floor_with_keys = _write_floor_seconds(dsn, with_foreign_keys=True)
        # Read before to_sql runs, because pandas keeps the whole file in memory.
        loader_peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        to_sql = _to_sql_seconds(url, path)
    engine.dispose()
    return {
        "rows": full.read,
        "changed_rows": changed_rows,
        "raw_copy_seconds": round(raw_copy, 3),
        "raw_copy_unlogged_seconds": round(raw_copy_unlogged, 3),
        "to_sql_seconds": round(to_sql, 3),
        "write_floor_seconds": round(write_floor, 3),
        "write_floor_with_foreign_keys_seconds": round(write_floor_with_keys, 3),
        "loader_peak_rss_mib": round(loader_peak_mib, 1),
        "full_load": _load_summary(full),
        "resync_unchanged": _load_summary(unchanged),
        "resync_one_percent": _load_summary(one_percent),
        "full_load_vs_raw_copy": round(full.seconds / raw_copy, 2),
        "to_sql_vs_full_load": round(to_sql / full.seconds, 2),
        "resync_one_percent_vs_full_load": round(one_percent.seconds / full.seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="100000,1000000", help="Comma-separated order-line file sizes in rows.")
    parser.add_argument("--seed", type=int, default=7, help="Demo seed.")
    parser.add_argument(
        "--database-url", default=os.environ.get("CONTROL_TOWER_BENCH_DATABASE_URL"),
        help="PostgreSQL server to create the benchmark databases on; default: a temporary embedded server.",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.rows.split(",")]

    if arguments.child:
        print(json.dumps(run_case(arguments.database_url, sizes[0], arguments.seed)))
        return

    from bench.run import run_child
    from bench.server import benchmark_server

    with benchmark_server(arguments.database_url) as server_url:
        for rows in sizes:
            result, peak_mib = run_child(
                "bench.sync_load",
                ["--child", "--rows", str(rows), "--seed", str(arguments.seed), "--database-url", server_url],
            )
            result["peak_rss_mib"] = round(peak_mib, 1)
            print(json.dumps(result), flush=True)
            print(
                f"{result['rows']:,} order lines: raw COPY {result['raw_copy_seconds']:.2f} s, "
                f"to_sql {result['to_sql_seconds']:.2f} s, full load {result['full_load']['seconds']:.2f} s "
                f"({result['full_load_vs_raw_copy']}x raw COPY, to_sql takes {result['to_sql_vs_full_load']}x), "
                f"re-sync unchanged {result['resync_unchanged']['seconds']:.2f} s, "
                f"1% changed {result['resync_one_percent']['seconds']:.2f} s "
                f"({result['resync_one_percent_vs_full_load']:.1%} of the full load), "
                f"write floor {result['write_floor_seconds']:.2f} s, "
                f"{result['write_floor_with_foreign_keys_seconds']:.2f} s with foreign keys, "
                f"peak RSS {result['loader_peak_rss_mib']} MiB before to_sql, {result['peak_rss_mib']} MiB with it",
                flush=True,
            )


if __name__ == "__main__":
    main()
