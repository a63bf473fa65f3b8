"""One benchmark case: generate the demo at a size, load it, and COPY its order lines raw.

Run by bench/run.py in a child process so each size's peak memory is its own.
Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from seed_data.generator import generate_demo
from services.db.engine import make_engine
from services.db.migrate import upgrade_database
from services.sync.canonical import load_canonical_folder

AS_OF = date(2026, 3, 2)


def _fresh_database(server_url: str, name: str) -> str:
    admin = make_url(server_url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def raw_copy_seconds(url: str, path: Path, table_kind: str = "unlogged") -> float:
    """Time a plain COPY of the file into a new table of text columns: the floor any loader is measured against.

    table_kind is "unlogged" or "" for a logged table. The table is dropped afterwards.
    """
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with path.open("rb") as handle:
        header = handle.readline().decode().strip().split(",")
    columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(name)) for name in header)
    with psycopg.connect(dsn) as connection:
        connection.execute(sql.SQL("create {} table raw_copy ({})").format(sql.SQL(table_kind), columns))
        connection.commit()
        started = time.perf_counter()
        with connection.cursor() as cursor, path.open("rb") as handle:
            with cursor.copy("copy raw_copy from stdin with (format csv, header true)") as copy:
                while block := handle.read(1 << 20):
                    copy.write(block)
        connection.commit()
        seconds = time.perf_counter() - started
        connection.execute("drop table raw_copy")
        connection.commit()
    return seconds


def run_case(server_url: str, lines: int, seed: int) -> dict:
    url = _fresh_database(server_url, f"bench_demo_{lines}")
    engine = make_engine(url)
    upgrade_database(engine)
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as folder:
        folder = Path(folder)
        started = time.perf_counter()
        generate_demo(folder, seed=seed, lines=lines, as_of=AS_OF)
        generate_seconds = time.perf_counter() - started

        started = time.perf_counter()
        results = load_canonical_folder(engine, folder, source="demo")
        load_seconds = time.perf_counter() - started

        orders = next(r for r in results if r.entity == "sales_order_lines")
        order_seconds = orders.seconds
        copy_seconds = raw_copy_seconds(url, folder / "sales_order_lines.csv")
        file_rows = {r.entity: r.read for r in results}
    engine.dispose()
    return {
        "lines": lines,
        "generate_seconds": round(generate_seconds, 2),
        "load_seconds": round(load_seconds, 2),
        "records_loaded": sum(file_rows.values()),
        "order_line_rows": orders.read,
        "order_line_load_seconds": round(order_seconds, 2),
        "order_line_raw_copy_seconds": round(copy_seconds, 2),
        "rejected": sum(r.rejected for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True, help="Server to create the benchmark database on.")
    parser.add_argument("--lines", type=int, required=True, help="Open order lines of the demo.")
    parser.add_argument("--seed", type=int, default=7, help="Demo seed.")
    arguments = parser.parse_args()
    print(json.dumps(run_case(arguments.database_url, arguments.lines, arguments.seed)))


if __name__ == "__main__":
    main()
