"""Benchmark runner: `make bench` (or `python -m bench.run --help`).

Each case runs in its own child process so its peak resident memory is
measured alone. Times are reported with a baseline measured in the same run
on the same machine, so figures compare as ratios rather than as seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def run_child(module: str, arguments: list[str]) -> tuple[dict, float]:
    """Run a benchmark module; return its JSON result and its peak RSS in MiB."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, *arguments], stdout=subprocess.PIPE, text=True
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"benchmark {module} {' '.join(arguments)} failed with exit code {process.returncode}")
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss / 1024


def bench_demo_load(server_url: str, sizes: list[int]) -> list[dict]:
    rows = []
    for lines in sizes:
        result, peak_mib = run_child("bench.demo_load", ["--database-url", server_url, "--lines", str(lines)])
        result["peak_rss_mib"] = round(peak_mib, 1)
        result["load_vs_raw_copy"] = round(result["order_line_load_seconds"] / result["order_line_raw_copy_seconds"], 2)
        rows.append(result)
        print(
            f"demo {lines:>9,} lines: generate {result['generate_seconds']:>7.2f} s, "
            f"load all files {result['load_seconds']:>7.2f} s ({result['records_loaded']:,} records), "
            f"order lines {result['order_line_load_seconds']:.2f} s = {result['load_vs_raw_copy']}x raw COPY "
            f"({result['order_line_raw_copy_seconds']:.2f} s), peak RSS {result['peak_rss_mib']} MiB",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sizes", default="20000,100000,1000000",
        help="Comma-separated open order line counts for the demo load (default: 20000,100000,1000000).",
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("CONTROL_TOWER_BENCH_DATABASE_URL"),
        help="PostgreSQL server for the benchmark databases; default: a temporary embedded server.",
    )
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]

    from services.db.embedded import EmbeddedPostgres

    server = None
    server_url = arguments.database_url
    with tempfile.TemporaryDirectory(prefix="bench-postgres-") as folder:
        if not server_url:
            server = EmbeddedPostgres(Path(folder))
            server_url = server.start()
        try:
            report = {
                "taken_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
                "demo_load": bench_demo_load(server_url, sizes),
            }
        finally:
            if server:
                server.stop()
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"bench-{report['taken_at'].replace(':', '')}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"results written to {out}")


if __name__ == "__main__":
    main()
