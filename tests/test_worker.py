"""The worker: job runs recorded under advisory locks, the schedule, and stopping on SIGTERM."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text

from services.db import schema
from services.settings import PROJECT_ROOT
from services.worker import JOBS, run_worker
from services.worker.job_runs import JobOutcome, JobStatus, run_job
from services.worker.scheduler import build_scheduler
from tests.test_inbox import (
    CUSTOMERS,
    ITEMS,
    MASTER_FILES,
    ORDER_LINES,
    WAREHOUSES,
    count_rows,
    drop_file,
    inbox_folder,
    make_settings,
)

WORKER_SCRIPT = (
    "from services.settings import configure_logging, load_settings\n"
    "from services.worker import run_worker\n"
    "settings = load_settings()\n"
    "configure_logging(settings.log_level)\n"
    "run_worker(settings, settings.database_url)\n"
)


def job_runs(engine) -> list:
    with engine.connect() as connection:
        return connection.execute(select(schema.job_runs).order_by(schema.job_runs.c.id)).all()


def try_job_lock(engine, job_name: str) -> bool:
    """Take and release the job's lock from another session; return whether it was free."""
    with engine.connect() as connection:
        acquired = connection.execute(
            text("select pg_try_advisory_lock(hashtext('job:' || cast(:name as text)))"), {"name": job_name}
        ).scalar_one()
        if acquired:
            connection.execute(text("select pg_advisory_unlock(hashtext('job:' || cast(:name as text)))"), {"name": job_name})
        connection.commit()
    return acquired


def wait_until(condition, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def start_worker_process(database_url: str, data_dir: Path, log_path: Path, poll_seconds: int = 1) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CONTROL_TOWER_DATA_DIR": str(data_dir),
        "CONTROL_TOWER_INBOX_POLL_SECONDS": str(poll_seconds),
        "CONTROL_TOWER_LOG_LEVEL": "INFO",
    }
    with log_path.open("w") as log:
        return subprocess.Popen(
            [sys.executable, "-c", WORKER_SCRIPT], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )


@pytest.fixture
def stop_on_exit():
    """Processes a test started; any still running at its end are killed."""
    processes: list[subprocess.Popen] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_run_job_records_succeeded_with_counts(engine):
    finished = run_job(engine, "count", lambda engine, job_run_id: {"lines": 3, "files": 1})

    [row] = job_runs(engine)
    assert finished.status is JobStatus.SUCCEEDED
    assert (row.id, row.job_name, row.status, row.counts, row.error) == (
        finished.job_run_id, "count", "succeeded", {"lines": 3, "files": 1}, None
    )
    assert row.finished_at >= row.started_at
    assert row.pid == os.getpid()
    assert row.host


def test_run_job_records_partial_outcome(engine):
    outcome = JobOutcome(counts={"files_loaded": 1, "files_failed": 1}, partial=True, error="b.csv: bad header")

    finished = run_job(engine, "inbox", lambda engine, job_run_id: outcome)

    [row] = job_runs(engine)
    assert finished.status is JobStatus.PARTIAL
    assert (row.status, row.counts, row.error) == ("partial", {"files_loaded": 1, "files_failed": 1}, "b.csv: bad header")


def test_run_job_records_failure_without_raising(engine, caplog):
    def explode(engine, job_run_id):
        raise ValueError(f"no supply plan for job run {job_run_id}")

    with caplog.at_level(logging.ERROR, logger="services.worker.job_runs"):
        finished = run_job(engine, "exposure", explode)

    [row] = job_runs(engine)
    assert finished.status is JobStatus.FAILED
    assert (row.status, row.counts, row.error) == ("failed", {}, f"ValueError: no supply plan for job run {row.id}")
    assert row.finished_at is not None
    [record] = caplog.records
    assert record.getMessage().startswith(f"job exposure: run {row.id} failed after ")
    assert record.exc_info[0] is ValueError


def test_run_job_releases_lock_afterwards(engine):
    def explode(engine, job_run_id):
        raise RuntimeError("boom")

    run_job(engine, "inbox", lambda engine, job_run_id: {})
    free_after_success = try_job_lock(engine, "inbox")
    run_job(engine, "inbox", explode)
    free_after_failure = try_job_lock(engine, "inbox")

    assert free_after_success is True
    assert free_after_failure is True


def test_run_job_skipped_while_lock_held(engine):
    with engine.begin() as connection:
        holder_id = connection.execute(
            insert(schema.job_runs)
            .values(job_name="inbox", status="running", host="other-host", pid=4242)
            .returning(schema.job_runs.c.id)
        ).scalar_one()
    calls = []

    with engine.connect() as other_worker:
        other_worker.execute(text("select pg_advisory_lock(hashtext('job:inbox'))"))
        finished = run_job(engine, "inbox", lambda engine, job_run_id: calls.append(job_run_id) or {})
        other_worker.execute(text("select pg_advisory_unlock(hashtext('job:inbox'))"))
        other_worker.commit()

    skipped = job_runs(engine)[-1]
    assert calls == []
    assert finished.status is JobStatus.SKIPPED
    assert (skipped.id, skipped.status, skipped.counts) == (finished.job_run_id, "skipped", {})
    assert skipped.error.startswith(f"another process holds the lock of job inbox: run {holder_id} on host other-host, pid 4242, started ")
    assert skipped.finished_at == skipped.started_at
    assert job_runs(engine)[0].status == "running"


def test_abandoned_running_row_marked_failed(engine):
    with engine.begin() as connection:
        abandoned_id = connection.execute(
            insert(schema.job_runs)
            .values(job_name="inbox", status="running", host="gone-host", pid=4242)
            .returning(schema.job_runs.c.id)
        ).scalar_one()

    run_job(engine, "inbox", lambda engine, job_run_id: {})

    abandoned, current = job_runs(engine)
    assert (abandoned.id, abandoned.status, abandoned.error) == (
        abandoned_id, "failed", "the worker process stopped before the run finished"
    )
    assert abandoned.finished_at is not None
    assert current.status == "succeeded"


def test_scheduler_starts_jobs_without_overlap(engine, database_url, tmp_path):
    settings = make_settings(database_url, tmp_path, poll_seconds=45)

    scheduler = build_scheduler(engine, settings)
    scheduler.start(paused=True)
    try:
        inbox = scheduler.get_job("sync_inbox")
        catch_up = scheduler.get_job("kpi_snapshot-catch-up")
        scheduled = sorted(job.id for job in scheduler.get_jobs())
    finally:
        scheduler.shutdown(wait=False)

    assert [job.name for job in JOBS] == ["sync_inbox", "forecast", "exposure", "risk", "recommend", "outbox", "kpi_snapshot"]
    # The empty database has no snapshot of last week, so one is taken two polls after the start.
    assert scheduled == [
        "exposure", "forecast", "kpi_snapshot", "kpi_snapshot-catch-up", "outbox", "recommend", "risk", "sync_inbox",
    ]
    assert abs((catch_up.next_run_time - datetime.now(timezone.utc)).total_seconds() - 90) < 5
    assert inbox.id == "sync_inbox"
    assert inbox.trigger.interval.total_seconds() == 45
    assert (inbox.max_instances, inbox.coalesce, inbox.misfire_grace_time) == (1, True, 60)
    assert abs((inbox.next_run_time - datetime.now(timezone.utc)).total_seconds()) < 5


def test_snapshot_catch_up_skipped_when_taken(engine, database_url, tmp_path):
    from services.kpis.weekly import kpi_snapshot_job

    settings = make_settings(database_url, tmp_path)
    kpi_snapshot_job(engine, 0, settings)

    scheduler = build_scheduler(engine, settings)
    scheduler.start(paused=True)
    try:
        scheduled = sorted(job.id for job in scheduler.get_jobs())
    finally:
        scheduler.shutdown(wait=False)

    assert "kpi_snapshot-catch-up" not in scheduled
    assert "kpi_snapshot" in scheduled


def test_run_once_runs_every_registered_job(engine, database_url, tmp_path):
    settings = make_settings(database_url, tmp_path)
    drop_file(settings, "warehouses.csv", WAREHOUSES)

    run_worker(settings, database_url, run_once=True)

    assert [(row.job_name, row.status) for row in job_runs(engine)] == [(job.name, "succeeded") for job in JOBS]
    assert count_rows(engine, "warehouses") == 2


def _run_worker_once(database_url: str, data_dir: str, start_together) -> None:
    """Body of one worker process in the two-process test."""
    from services.worker import run_worker as run_worker_in_child

    settings = make_settings(database_url, Path(data_dir))
    start_together.wait(timeout=60)
    run_worker_in_child(settings, settings.database_url, run_once=True)


@pytest.mark.slow
def test_two_worker_processes_ingest_each_file_once(engine, database_url, tmp_path):
    settings = make_settings(database_url, tmp_path)
    files = {**MASTER_FILES, "sales_order_lines.csv": ORDER_LINES}
    for name, content in files.items():
        drop_file(settings, name, content)
    context = multiprocessing.get_context("spawn")
    start_together = context.Barrier(2)
    workers = [
        context.Process(target=_run_worker_once, args=(database_url, str(tmp_path), start_together)) for _ in range(2)
    ]

    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert [worker.exitcode for worker in workers] == [0, 0]
    counts = {table: count_rows(engine, table) for table in ("warehouses", "customers", "items", "units", "sales_order_lines")}
    assert counts == {"warehouses": 2, "customers": 1, "items": 1, "units": 1, "sales_order_lines": 2}
    with engine.connect() as connection:
        checksums = connection.execute(
            text("select checksum, count(*) from inbox_files group by checksum")
        ).all()
        sync_runs = connection.execute(text("select status, count(*) from sync_runs group by status")).all()
    assert len(checksums) == 5
    assert {count for _, count in checksums} == {1}
    assert [tuple(row) for row in sync_runs] == [("succeeded", 5)]
    runs = [row for row in job_runs(engine) if row.job_name == "sync_inbox"]
    assert len(runs) == 2
    loading = [row for row in runs if row.counts.get("files_loaded") == 5]
    others = [row for row in runs if row.counts.get("files_loaded") != 5]
    assert [row.status for row in loading] == ["succeeded"]
    [other] = others
    assert other.status in ("skipped", "succeeded")
    if other.status == "succeeded":
        assert other.counts["files_loaded"] == 0
        assert other.counts["files_already_loaded"] == 0
    assert sorted(path.name for path in (inbox_folder(settings) / "processed").glob("*.csv")) == sorted(files)


@pytest.mark.slow
def test_sigterm_stops_worker_with_exit_0(engine, database_url, tmp_path, stop_on_exit):
    log_path = tmp_path / "worker.log"
    worker = start_worker_process(database_url, tmp_path / "data", log_path)
    stop_on_exit.append(worker)
    assert wait_until(lambda: any(row.status == "succeeded" for row in job_runs(engine)), timeout=30), log_path.read_text()

    signalled = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    exit_code = worker.wait(timeout=15)

    log = log_path.read_text()
    assert exit_code == 0, log
    assert time.monotonic() - signalled < 5
    assert f"worker started on {os.uname().nodename}, pid {worker.pid}: sync_inbox every 1 s" in log
    assert f"worker pid {worker.pid} received SIGTERM" in log
    assert f"worker stopped, pid {worker.pid}" in log
    assert "Traceback" not in log


@pytest.mark.slow
def test_running_worker_loads_later_file(engine, database_url, tmp_path, stop_on_exit):
    settings = make_settings(database_url, tmp_path / "data", poll_seconds=1)
    drop_file(settings, "customers.csv", CUSTOMERS)
    log_path = tmp_path / "worker.log"
    worker = start_worker_process(database_url, tmp_path / "data", log_path)
    stop_on_exit.append(worker)
    assert wait_until(lambda: count_rows(engine, "customers") == 1, timeout=30), log_path.read_text()

    # Written under a .part name and renamed when complete, as an export should.
    partial = drop_file(settings, "items.csv.part", ITEMS)
    partial.rename(partial.with_name("items.csv"))
    loaded = wait_until(lambda: count_rows(engine, "items") == 1, timeout=15)
    worker.send_signal(signal.SIGTERM)
    exit_code = worker.wait(timeout=15)

    assert loaded, log_path.read_text()
    assert exit_code == 0
    assert count_rows(engine, "inbox_files") == 2
    assert sorted(path.name for path in (inbox_folder(settings) / "processed").glob("*.csv")) == ["customers.csv", "items.csv"]
    assert {row.status for row in job_runs(engine)} == {"succeeded"}
