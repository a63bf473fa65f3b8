"""Read queries of the Operations page: sync runs, the quarantine, job runs, the outbox and the audit log.

Every list is filtered and paged in PostgreSQL, newest first, and returns
at most MAX_PAGE_SIZE rows with the total count of the filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, text

from services.auth.roles import Actor, require_role
from services.operations import OPERATIONS_READERS
from services.settings import Settings

MAX_PAGE_SIZE = 5_000
DEFAULT_PAGE_SIZE = 100
# A job counts as stale when its last success finished longer ago than its
# interval plus this margin, which covers the run's own duration and the
# scheduler's misfire grace time.
STALE_MARGIN_SECONDS = 60

SYNC_RUN_COLUMNS = [
    "id", "source", "entity", "file_name", "started_at", "finished_at", "status", "read_count", "inserted_count",
    "updated_count", "unchanged_count", "rejected_count", "error",
]
QUARANTINE_COLUMNS = ["id", "sync_run_id", "source", "entity", "file_name", "position", "reason", "record", "created_at", "resolved_at"]
JOB_RUN_COLUMNS = ["id", "job_name", "started_at", "finished_at", "status", "counts", "error", "host", "pid"]
OUTBOX_COLUMNS = ["message_id", "target", "kind", "status", "attempts", "next_attempt_at", "last_error", "created_at", "delivered_at"]
AUDIT_COLUMNS = ["id", "occurred_at", "actor", "action", "entity", "entity_id", "reason", "rule", "source", "before", "after"]

SYNC_RUN_FILTER = """
    from sync_runs
    where (cast(:source as text) is null or source = :source)
      and (cast(:entity as text) is null or entity = :entity)
      and (cast(:status as text) is null or status = :status)
"""

QUARANTINE_FILTER = """
    from quarantine
    where (cast(:sync_run_id as bigint) is null or sync_run_id = :sync_run_id)
      and (cast(:entity as text) is null or entity = :entity)
      and (cast(:reason as text) is null or reason ilike '%' || :reason || '%')
"""

OUTBOX_FILTER = """
    from outbox
    where (cast(:status as text) is null or status = :status)
"""

# The text search looks in the entity id, reason, rule and the before and
# after images of each entry.
AUDIT_FILTER = """
    from audit_log
    where (cast(:actor as text) is null or actor = :actor)
      and (cast(:action as text) is null or action = :action)
      and (cast(:entity as text) is null or entity = :entity)
      and (cast(:search as text) is null
           or coalesce(entity_id, '') || ' ' || coalesce(reason, '') || ' ' || coalesce(rule, '') || ' '
              || coalesce(before::text, '') || ' ' || coalesce(after::text, '') ilike '%' || :search || '%')
"""

QUARANTINE_REASONS = text(
    """
    select split_part(reason, ';', 1) as reason, count(*) as records
    """ + QUARANTINE_FILTER + """
    group by 1
    order by records desc, reason
    limit 20
    """
)

OUTBOX_STATUS_COUNTS = text("select status, count(*) as messages from outbox group by status order by status")

JOB_LAST_RUNS = text(
    """
    with latest as (
        select distinct on (job_name) job_name, status, started_at, error
        from job_runs
        order by job_name, started_at desc, id desc
    ),
    last_success as (
        select job_name, max(finished_at) as finished_at
        from job_runs
        where status = 'succeeded'
        group by job_name
    )
    select latest.job_name, latest.status as last_status, latest.started_at as last_started_at, latest.error as last_error,
           last_success.finished_at as last_success_at
    from latest
    left join last_success using (job_name)
    """
)

DISTINCT_VALUES = {
    "sync_runs.source": "select distinct source from sync_runs order by 1",
    "sync_runs.entity": "select distinct entity from sync_runs order by 1",
    "quarantine.entity": "select distinct entity from quarantine order by 1",
    "audit_log.actor": "select distinct actor from audit_log order by 1 limit 500",
    "audit_log.action": "select distinct action from audit_log order by 1 limit 500",
    "audit_log.entity": "select distinct entity from audit_log order by 1 limit 500",
}


class InvalidPage(ValueError):
    """A page number or page size outside its range."""


@dataclass(frozen=True)
class Page:
    """One page of a filtered list and the total number of rows the filter matches."""

    rows: pd.DataFrame
    total: int
    page: int
    page_size: int

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _check_page(page: int, page_size: int) -> None:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidPage(f"page size {page_size} is outside 1 to {MAX_PAGE_SIZE}; choose a size in that range")
    if page < 1:
        raise InvalidPage(f"page {page} is below 1; pages are numbered from 1")


def _paged(engine: Engine, filter_sql: str, select_sql: str, order_sql: str, params: dict, columns: list[str], page: int, page_size: int) -> Page:
    _check_page(page, page_size)
    with engine.connect() as connection:
        total = connection.execute(text("select count(*) " + filter_sql), params).scalar_one()
        rows = connection.execute(
            text(f"select {select_sql} {filter_sql} order by {order_sql} limit :limit offset :offset"),
            {**params, "limit": page_size, "offset": (page - 1) * page_size},
        ).mappings().all()
    frame = pd.DataFrame([dict(row) for row in rows], columns=columns)
    return Page(frame, int(total), page, page_size)


def _utc(frame: pd.DataFrame, *names: str) -> pd.DataFrame:
    for name in names:
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


def _blank_to_none(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _like_text(value: str | None) -> str | None:
    """Escape LIKE wildcards, so that % and _ in a search match themselves."""
    value = _blank_to_none(value)
    if value is None:
        return None
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def distinct_values(engine: Engine, actor: Actor, column: str) -> list[str]:
    """Return the values of a filterable column (such as 'quarantine.entity') for a filter's choices."""
    require_role(actor, "read the operations data", *OPERATIONS_READERS)
    if column not in DISTINCT_VALUES:
        raise ValueError(f"column {column!r} has no filter choices; use one of {', '.join(DISTINCT_VALUES)}")
    with engine.connect() as connection:
        return list(connection.execute(text(DISTINCT_VALUES[column])).scalars())


def list_sync_runs(
    engine: Engine, actor: Actor, *, source: str | None = None, entity: str | None = None, status: str | None = None,
    page: int = 1, page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """List sync runs, newest first, with their counts read, inserted, updated, unchanged and rejected."""
    require_role(actor, "read the sync runs", *OPERATIONS_READERS)
    params = {"source": _blank_to_none(source), "entity": _blank_to_none(entity), "status": _blank_to_none(status)}
    result = _paged(engine, SYNC_RUN_FILTER, ", ".join(SYNC_RUN_COLUMNS), "started_at desc, id desc", params, SYNC_RUN_COLUMNS, page, page_size)
    _utc(result.rows, "started_at", "finished_at")
    return result


def list_quarantine(
    engine: Engine, actor: Actor, *, sync_run_id: int | None = None, entity: str | None = None, reason: str | None = None,
    page: int = 1, page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """List quarantined records, newest first; reason matches any part of the reason text, ignoring case."""
    require_role(actor, "read the quarantine", *OPERATIONS_READERS)
    params = {"sync_run_id": sync_run_id, "entity": _blank_to_none(entity), "reason": _like_text(reason)}
    select_sql = ", ".join(column if column != "record" else "record::text as record" for column in QUARANTINE_COLUMNS)
    result = _paged(engine, QUARANTINE_FILTER, select_sql, "id desc", params, QUARANTINE_COLUMNS, page, page_size)
    _utc(result.rows, "created_at", "resolved_at")
    return result


def quarantine_reasons(engine: Engine, actor: Actor, *, sync_run_id: int | None = None, entity: str | None = None, reason: str | None = None) -> pd.DataFrame:
    """Count the quarantined records of the filter by the first clause of their reason, the 20 most frequent."""
    require_role(actor, "read the quarantine", *OPERATIONS_READERS)
    params = {"sync_run_id": sync_run_id, "entity": _blank_to_none(entity), "reason": _like_text(reason)}
    with engine.connect() as connection:
        rows = connection.execute(QUARANTINE_REASONS, params).mappings().all()
    return pd.DataFrame([dict(row) for row in rows], columns=["reason", "records"])


def list_job_runs(engine: Engine, actor: Actor, *, job_name: str | None = None, page: int = 1, page_size: int = DEFAULT_PAGE_SIZE) -> Page:
    """List job runs, newest first, with their counts as JSON text."""
    require_role(actor, "read the job runs", *OPERATIONS_READERS)
    filter_sql = "from job_runs where (cast(:job_name as text) is null or job_name = :job_name)"
    select_sql = ", ".join(column if column != "counts" else "counts::text as counts" for column in JOB_RUN_COLUMNS)
    result = _paged(engine, filter_sql, select_sql, "started_at desc, id desc", {"job_name": _blank_to_none(job_name)}, JOB_RUN_COLUMNS, page, page_size)
    _utc(result.rows, "started_at", "finished_at")
    return result


def job_staleness(engine: Engine, actor: Actor, settings: Settings, now: datetime) -> pd.DataFrame:
    """List every registered job with its last run, its last success, its interval and whether it is stale.

    A job is stale when it never succeeded or its last success finished more
    than its interval plus STALE_MARGIN_SECONDS before now. The inbox job's
    interval is worker_poll_seconds, so a stale inbox means new files are
    not being loaded. Jobs found in job_runs but no longer registered are
    listed without an interval and never stale.
    """
    from services.worker.scheduler import JOBS

    require_role(actor, "read the job runs", *OPERATIONS_READERS)
    with engine.connect() as connection:
        last_runs = {row["job_name"]: dict(row) for row in connection.execute(JOB_LAST_RUNS).mappings()}

    rows = []
    registered = {job.name: job.interval_seconds(settings) for job in JOBS}
    for name in [*registered, *sorted(set(last_runs) - set(registered))]:
        last = last_runs.get(name, {})
        interval = registered.get(name)
        success = last.get("last_success_at")
        age = (now - success).total_seconds() if success is not None else None
        stale = interval is not None and (age is None or age > interval + STALE_MARGIN_SECONDS)
        rows.append({
            "job_name": name,
            "interval_seconds": interval,
            "last_status": last.get("last_status"),
            "last_started_at": last.get("last_started_at"),
            "last_success_at": success,
            "seconds_since_success": age,
            "stale": stale,
            "last_error": last.get("last_error"),
        })
    frame = pd.DataFrame(rows, columns=[
        "job_name", "interval_seconds", "last_status", "last_started_at", "last_success_at", "seconds_since_success", "stale", "last_error",
    ])
    frame["interval_seconds"] = frame["interval_seconds"].astype("Int64")
    frame["seconds_since_success"] = frame["seconds_since_success"].astype("float64")
    return _utc(frame, "last_started_at", "last_success_at")


def list_outbox(engine: Engine, actor: Actor, *, status: str | None = None, page: int = 1, page_size: int = DEFAULT_PAGE_SIZE) -> Page:
    """List outbox messages, newest first, with their attempts and last error."""
    require_role(actor, "read the outbox", *OPERATIONS_READERS)
    select_sql = ", ".join(column if column != "message_id" else "message_id::text as message_id" for column in OUTBOX_COLUMNS)
    result = _paged(engine, OUTBOX_FILTER, select_sql, "created_at desc, id desc", {"status": _blank_to_none(status)}, OUTBOX_COLUMNS, page, page_size)
    _utc(result.rows, "next_attempt_at", "created_at", "delivered_at")
    return result


def outbox_status_counts(engine: Engine, actor: Actor) -> dict[str, int]:
    """Count outbox messages by status: pending, delivered and failed, each present even at zero."""
    require_role(actor, "read the outbox", *OPERATIONS_READERS)
    with engine.connect() as connection:
        counts = {row.status: row.messages for row in connection.execute(OUTBOX_STATUS_COUNTS)}
    return {status: int(counts.get(status, 0)) for status in ("pending", "delivered", "failed")}


def search_audit_log(
    engine: Engine, actor: Actor, *, by: str | None = None, action: str | None = None, entity: str | None = None,
    search: str | None = None, page: int = 1, page_size: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """Search the audit log, newest first: by actor, action and entity exactly, and free text in ids, reasons and images."""
    require_role(actor, "read the audit log", *OPERATIONS_READERS)
    params = {"actor": _blank_to_none(by), "action": _blank_to_none(action), "entity": _blank_to_none(entity), "search": _like_text(search)}
    select_sql = ", ".join(
        f"{column}::text as {column}" if column in ("before", "after") else column for column in AUDIT_COLUMNS
    )
    result = _paged(engine, AUDIT_FILTER, select_sql, "occurred_at desc, id desc", params, AUDIT_COLUMNS, page, page_size)
    _utc(result.rows, "occurred_at")
    return result
