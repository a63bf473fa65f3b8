"""The worker process: scheduled jobs under advisory locks, each run recorded in job_runs."""

from services.worker.inbox import InboxReport, ingest_inbox
from services.worker.job_runs import JobOutcome, JobStatus, run_job
from services.worker.scheduler import JOBS, run_worker

__all__ = ["JOBS", "InboxReport", "JobOutcome", "JobStatus", "ingest_inbox", "run_job", "run_worker"]
