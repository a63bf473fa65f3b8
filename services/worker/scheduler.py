"""The worker process: the registry of scheduled jobs and the loop that runs them until stopped.

Every job runs through run_job, so each run holds the job's advisory lock
and is recorded in job_runs. More worker processes can therefore run
against one database and share the jobs.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from services.db.engine import check_connection, make_engine
from services.exposure.recompute import EXPOSURE_JOB_NAME, exposure_job
from services.notify.outbox import OUTBOX_JOB_NAME, outbox_job
from services.kpis.weekly import KPI_SNAPSHOT_JOB_NAME, kpi_snapshot_job, weekly_snapshot_missing
from services.recommend.run import RECOMMEND_JOB_NAME, recommend_job
from services.settings import Settings
from services.worker.inbox import INBOX_JOB_NAME, inbox_folders, run_inbox_job
from services.worker.job_runs import JobOutcome, run_job

logger = logging.getLogger(__name__)

# A run due while the previous run of the same job is still going is
# dropped, and runs missed by more than misfire_grace_time seconds are
# merged into one.
JOB_DEFAULTS = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 60}
STOP_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class WorkerJob:
    """A scheduled job: it runs once when the worker starts, then every interval_seconds(settings).

    A job with a trigger runs only when trigger(settings) fires, and
    interval_seconds is then the longest expected gap between two runs.
    """

    name: str
    function: Callable[[Engine, int, Settings], "Mapping[str, int] | JobOutcome"]
    interval_seconds: Callable[[Settings], int]
    trigger: Callable[[Settings], BaseTrigger] | None = None

    def describe_schedule(self, settings: Settings) -> str:
        if self.trigger is not None:
            return f"{self.name} on {self.trigger(settings)}"
        return f"{self.name} every {self.interval_seconds(settings)} s"


FORECAST_JOB_NAME = "forecast"


def forecast_job(engine: Engine, job_run_id: int, settings: Settings) -> JobOutcome:
    """Refresh the ETA forecasts; imported here because the forecast package imports the worker's JobOutcome."""
    from services.forecast.refresh import forecast_job as refresh_job

    return refresh_job(engine, job_run_id, settings)

def risk_job(engine: Engine, job_run_id: int, settings: Settings) -> JobOutcome:
    """Score backorder risk; imported here because the risk package imports the worker's JobOutcome."""
    from services.risk.service import risk_job as score_job

    return score_job(engine, job_run_id, settings)


WEEK_SECONDS = 7 * 24 * 3600
KPI_CATCH_UP_JOB_ID = f"{KPI_SNAPSHOT_JOB_NAME}-catch-up"
KPI_CATCH_UP_POLLS = 2


def weekly_kpi_trigger(settings: Settings) -> CronTrigger:
    """Monday 06:00 in the business time zone; the zone's rules keep it at 06:00 local across DST changes."""
    return CronTrigger(day_of_week="mon", hour=6, minute=0, timezone=ZoneInfo(settings.business_timezone))


# Every job of the worker. run_once runs them in this order, so a job comes
# after the jobs whose output it reads.
JOBS: tuple[WorkerJob, ...] = (
    # One job reads every inbox folder, so that one run loads masters before
    # the exports and EDI files that name them. Jobs per folder would run in
    # parallel, in no fixed order.
    WorkerJob(INBOX_JOB_NAME, run_inbox_job, lambda settings: settings.worker_poll_seconds),
    # Forecasts refresh only when receipts or purchase orders changed, and
    # refit only series with new receipts, so polling often costs one query.
    WorkerJob(FORECAST_JOB_NAME, forecast_job, lambda settings: settings.worker_poll_seconds),
    # Exposure reads what the inbox loaded and the forecast ETAs; with nothing
    # new it recomputes no line.
    WorkerJob(EXPOSURE_JOB_NAME, exposure_job, lambda settings: settings.worker_poll_seconds),
    # Risk scores every SKU and warehouse once after each exposure run that
    # succeeded, and retrains on the order history at most once a week.
    WorkerJob("risk", risk_job, lambda settings: settings.worker_poll_seconds),
    # Recommendations allocate the shortages exposure found; with nothing
    # changed since their last run they keep what is proposed.
    WorkerJob(RECOMMEND_JOB_NAME, recommend_job, lambda settings: settings.worker_poll_seconds),
    # Delivers approved allocations, task feeds and customer mail; a failed
    # message waits for its own backoff, so polling often costs one query.
    WorkerJob(OUTBOX_JOB_NAME, outbox_job, lambda settings: settings.worker_poll_seconds),
    # The weekly snapshot reads exposure for revenue at risk, so it comes last.
    WorkerJob(KPI_SNAPSHOT_JOB_NAME, kpi_snapshot_job, lambda settings: WEEK_SECONDS, weekly_kpi_trigger),
)


def run_worker(settings: Settings, database_url: str, *, run_once: bool = False) -> None:
    """Run the registered jobs on their schedule until SIGINT or SIGTERM, or each job once.

    With run_once, every job runs once in registry order and the call
    returns. Otherwise the call blocks, and it must then run in the main
    thread because only that thread receives signals. Raises
    DatabaseUnavailable when PostgreSQL cannot be reached at start.
    """
    engine = make_engine(database_url)
    try:
        check_connection(engine)
        folders = inbox_folders(settings)
        if run_once:
            run_jobs_once(engine, settings)
        else:
            logger.info("inbox folders: %s", ", ".join(str(path) for path in folders.values()))
            _run_until_stopped(engine, settings)
    finally:
        engine.dispose()


def run_jobs_once(engine: Engine, settings: Settings) -> None:
    """Run every registered job once, in registry order."""
    for job in JOBS:
        run_job(engine, job.name, _bind_settings(job, settings))


def _bind_settings(job: WorkerJob, settings: Settings):
    def function(engine: Engine, job_run_id: int):
        return job.function(engine, job_run_id, settings)

    return function


def _scheduled_run(job: WorkerJob, engine: Engine, settings: Settings) -> Callable[[], None]:
    function = _bind_settings(job, settings)

    def run() -> None:
        run_job(engine, job.name, function)

    return run


def build_scheduler(engine: Engine, settings: Settings) -> BackgroundScheduler:
    """Create a scheduler with every registered job: an interval job is due at once and then at its interval, a job with a trigger when it fires."""
    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=max(1, len(JOBS)))},
        job_defaults=JOB_DEFAULTS,
        timezone=timezone.utc,
    )
    for job in JOBS:
        if job.trigger is not None:
            scheduler.add_job(_scheduled_run(job, engine, settings), trigger=job.trigger(settings), id=job.name, name=job.name)
            continue
        scheduler.add_job(
            _scheduled_run(job, engine, settings),
            trigger=IntervalTrigger(seconds=job.interval_seconds(settings)),
            id=job.name,
            name=job.name,
            next_run_time=datetime.now(timezone.utc),
        )
    _catch_up_weekly_snapshot(scheduler, engine, settings)
    return scheduler


def _catch_up_weekly_snapshot(scheduler: BackgroundScheduler, engine: Engine, settings: Settings) -> None:
    """Take last week's KPI snapshot soon when the worker was not running at its Monday 06:00 trigger.

    The run waits two poll intervals, so that exposure has been recomputed
    for the revenue at risk the snapshot reads.
    """
    if not weekly_snapshot_missing(engine, settings):
        return
    job = next(job for job in JOBS if job.name == KPI_SNAPSHOT_JOB_NAME)
    run_at = datetime.now(timezone.utc) + timedelta(seconds=KPI_CATCH_UP_POLLS * settings.worker_poll_seconds)
    logger.info("last week has no KPI snapshot; taking it at %s", run_at.isoformat(timespec="seconds"))
    scheduler.add_job(
        _scheduled_run(job, engine, settings), trigger=DateTrigger(run_date=run_at),
        id=KPI_CATCH_UP_JOB_ID, name=KPI_CATCH_UP_JOB_ID,
    )


class _StopRequest:
    """A signal handler that only records the signal, which the main loop polls.

    The handler takes no lock and does no logging, because it can interrupt
    the main thread while that thread holds one.
    """

    def __init__(self) -> None:
        self.signal_name: str | None = None

    def __call__(self, signum, _frame) -> None:
        self.signal_name = signal.Signals(signum).name


def _run_until_stopped(engine: Engine, settings: Settings) -> None:
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("run_worker must run in the main thread to receive SIGINT and SIGTERM; use run_once=True elsewhere")

    stop = _StopRequest()
    previous_handlers = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    scheduler = build_scheduler(engine, settings)
    pid = os.getpid()
    try:
        scheduler.start()
        schedule = ", ".join(job.describe_schedule(settings) for job in JOBS)
        logger.info("worker started on %s, pid %d: %s", socket.gethostname(), pid, schedule)
        while stop.signal_name is None:
            time.sleep(STOP_POLL_SECONDS)
        logger.info(
            "worker pid %d received %s; waiting for running jobs to finish (a second signal stops it at once)",
            pid, stop.signal_name,
        )
    finally:
        for number, handler in previous_handlers.items():
            signal.signal(number, handler)
        if scheduler.running:
            scheduler.shutdown(wait=True)
    logger.info("worker stopped, pid %d", pid)
