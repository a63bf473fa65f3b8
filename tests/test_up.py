"""`control-tower up` as a user runs it: app served, data kept, nothing left behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import psycopg
import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 240

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_up(data_dir: Path, port: int) -> tuple[subprocess.Popen, list[str]]:
    environment = {
        key: value for key, value in os.environ.items() if key != "DATABASE_URL"
    }
    environment.update(CONTROL_TOWER_DATA_DIR=str(data_dir), CONTROL_TOWER_PORT=str(port))
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "up", "--demo-lines", "1000"],
        cwd=PROJECT_ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        output.append(line)
        if "is running at http://localhost:" in line:
            return process, output
    process.kill()
    pytest.fail("up did not report the app running:\n" + "".join(output[-40:]))


def stop_up(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGINT)
    try:
        process.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("up did not stop within 90 s of SIGINT")
    return process.returncode


def query(data_dir: Path, statement: str):
    socket_dir = data_dir / "postgres"
    with psycopg.connect(f"host={socket_dir} user=postgres dbname=control_tower") as connection:
        return connection.execute(statement).fetchone()[0]


def product_processes(launcher: subprocess.Popen, data_dir: Path) -> list[psutil.Process]:
    processes = psutil.Process(launcher.pid).children(recursive=True)
    pid_file = data_dir / "postgres" / "postmaster.pid"
    processes.append(psutil.Process(int(pid_file.read_text().splitlines()[0])))
    return processes


def test_up_restart_keeps_data_and_processes(tmp_path):
    data_dir = tmp_path / "data"
    port = free_port()

    first, _ = start_up(data_dir, port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as response:
        health = response.status
    open_lines = query(data_dir, "select count(*) from sales_order_lines where status = 'open'")
    demo_runs = query(data_dir, "select count(*) from sync_runs where source = 'demo'")
    processes = product_processes(first, data_dir)
    first_exit = stop_up(first)

    assert health == 200
    assert open_lines == 1000
    assert demo_runs > 0
    assert first_exit == 0
    _, alive = psutil.wait_procs(processes, timeout=10)
    assert alive == []
    assert not (data_dir / "postgres" / "postmaster.pid").exists()

    second, output = start_up(data_dir, port)
    runs_after_restart = query(data_dir, "select count(*) from sync_runs where source = 'demo'")
    lines_after_restart = query(data_dir, "select count(*) from sales_order_lines where status = 'open'")
    second_exit = stop_up(second)

    assert runs_after_restart == demo_runs
    assert lines_after_restart == 1000
    assert not any("loading the demo distributor" in line for line in output)
    assert second_exit == 0


def test_up_port_in_use_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
        environment.update(CONTROL_TOWER_DATA_DIR=str(tmp_path / "data"), CONTROL_TOWER_PORT=str(port))

        result = subprocess.run(
            [sys.executable, "-m", "services.cli", "up"],
            cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=60,
        )

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 is in use (Address already in use); "
        "stop what uses it or set CONTROL_TOWER_PORT to a free port"
    ]
    assert not (tmp_path / "data" / "postgres").exists()
