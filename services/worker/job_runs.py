"""The job wrapper: one advisory lock and one job_runs row per run of a scheduled job."""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Callable, Mapping

from sqlalchemy import Connection, Engine, insert, select, text, update

from services.db import schema
from services.worker.locks import job_lock

logger = logging.getLogger(__name__)

Counts = dict[str, int]


class JobStatus(StrEnum):
    """The status of a job_runs row."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class JobOutcome:
    """Result of a job function whose counts alone do not give its status.

    A partial outcome means the run did only part of its work, and `error`
    then names the part that failed and the reason.
    """

    counts: Counts = field(default_factory=dict)
    partial: bool = False
    error: str | None = None


# A job function receives the engine and the id of its job_runs row. It opens
# its own connections, and returns its counts or a JobOutcome.
JobFunction = Callable[[Engine, int], "Mapping[str, int] | JobOutcome"]


@dataclass(frozen=True)
class FinishedRun:
    """The recorded result of one run_job call, with job_run_id None when no row could be written."""

    job_run_id: int | None
    status: JobStatus
    counts: Counts
    error: str | None
    seconds: float


def run_job(engine: Engine, job_name: str, function: JobFunction) -> FinishedRun:
    """Run the job under its advisory lock and record the run in job_runs.

    When another process holds the job's lock, the run is recorded as
    skipped, with the holder in its error text, and the function is not
    called. An Exception from the function is recorded as a failed run and
    logged with its traceback, and an Exception from the database while
    locking or recording is logged. Neither is raised to the caller.
    """
    started = time.monotonic()
    try:
        with job_lock(engine, job_name) as acquired:
            if not acquired:
                return _record_skipped_run(engine, job_name)
            return _run_locked(engine, job_name, function)
    except Exception as error:
        # Reached only when taking the lock or writing the job_runs row failed.
        logger.exception("job %s: the database failed while locking the job or recording its run", job_name)
        return FinishedRun(None, JobStatus.FAILED, {}, _error_text(error), time.monotonic() - started)


def _run_locked(engine: Engine, job_name: str, function: JobFunction) -> FinishedRun:
    job_run_id = _start_run(engine, job_name)
    logger.info("job %s: run %d started on %s, pid %d", job_name, job_run_id, socket.gethostname(), os.getpid())
    started = time.monotonic()

    try:
        outcome = function(engine, job_run_id)
    except Exception as error:
        seconds = time.monotonic() - started
        logger.exception("job %s: run %d failed after %.2f s", job_name, job_run_id, seconds)
        finished = FinishedRun(job_run_id, JobStatus.FAILED, {}, _error_text(error), seconds)
    else:
        finished = _finished_from_outcome(job_run_id, outcome, time.monotonic() - started)
        _log_finished(job_name, finished)

    _finish_run(engine, finished)
    return finished


def _finished_from_outcome(job_run_id: int, outcome, seconds: float) -> FinishedRun:
    if not isinstance(outcome, JobOutcome):
        outcome = JobOutcome(counts=dict(outcome or {}))
    status = JobStatus.PARTIAL if outcome.partial else JobStatus.SUCCEEDED
    return FinishedRun(job_run_id, status, dict(outcome.counts), outcome.error, seconds)


def _log_finished(job_name: str, finished: FinishedRun) -> None:
    counts = ", ".join(f"{name} {value}" for name, value in finished.counts.items() if value) or "all counts 0"
    if finished.status is JobStatus.PARTIAL:
        logger.warning(
            "job %s: run %d partial in %.2f s (%s): %s",
            job_name, finished.job_run_id, finished.seconds, counts, finished.error,
        )
    else:
        logger.info("job %s: run %d succeeded in %.2f s (%s)", job_name, finished.job_run_id, finished.seconds, counts)


def _start_run(engine: Engine, job_name: str) -> int:
    """Insert the running row, after marking as failed the job's running rows that no process holds."""
    with engine.begin() as connection:
        _fail_abandoned_runs(connection, job_name)
        return connection.execute(
            insert(schema.job_runs)
            .values(job_name=job_name, status=JobStatus.RUNNING, host=socket.gethostname(), pid=os.getpid())
            .returning(schema.job_runs.c.id)
        ).scalar_one()


def _fail_abandoned_runs(connection: Connection, job_name: str) -> None:
    """Mark the job's rows still 'running' as failed.

    The caller holds the job's lock, so no other process is running the job:
    such a row belongs to a worker that stopped before it could finish it.
    """
    abandoned = connection.execute(
        update(schema.job_runs)
        .where(schema.job_runs.c.job_name == job_name, schema.job_runs.c.status == JobStatus.RUNNING)
        .values(
            status=JobStatus.FAILED,
            finished_at=text("greatest(now(), started_at)"),
            error="the worker process stopped before the run finished",
        )
        .returning(schema.job_runs.c.id, schema.job_runs.c.host, schema.job_runs.c.pid)
    ).all()
    for row in abandoned:
        logger.warning(
            "job %s: run %d (host %s, pid %s) was still marked running with no process holding its lock; "
            "marked it failed",
            job_name, row.id, row.host, row.pid,
        )


def _finish_run(engine: Engine, finished: FinishedRun) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(schema.job_runs)
            .where(schema.job_runs.c.id == finished.job_run_id)
            .values(
                status=finished.status,
                finished_at=text("now()"),
                counts=finished.counts,
                error=finished.error,
            )
        )


def _record_skipped_run(engine: Engine, job_name: str) -> FinishedRun:
    with engine.begin() as connection:
        reason = _skip_reason(connection, job_name)
        job_run_id = connection.execute(
            insert(schema.job_runs)
            .values(
                job_name=job_name,
                status=JobStatus.SKIPPED,
                finished_at=text("now()"),
                error=reason,
                host=socket.gethostname(),
                pid=os.getpid(),
            )
            .returning(schema.job_runs.c.id)
        ).scalar_one()
    logger.warning("job %s: run %d skipped: %s", job_name, job_run_id, reason)
    return FinishedRun(job_run_id, JobStatus.SKIPPED, {}, reason, 0.0)


def _skip_reason(connection: Connection, job_name: str) -> str:
    """Name the run that holds the lock, as far as job_runs shows it."""
    holder = connection.execute(
        select(schema.job_runs.c.id, schema.job_runs.c.host, schema.job_runs.c.pid, schema.job_runs.c.started_at)
        .where(schema.job_runs.c.job_name == job_name, schema.job_runs.c.status == JobStatus.RUNNING)
        .order_by(schema.job_runs.c.started_at.desc())
        .limit(1)
    ).first()
    if holder is None:
        return f"another process holds the lock of job {job_name}"
    return (
        f"another process holds the lock of job {job_name}: run {holder.id} on host {holder.host}, "
        f"pid {holder.pid}, started {holder.started_at.isoformat()}"
    )


def _error_text(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"
