"""Use cases that recompute the exposure table: in full, for the items of new supplier events, and as a worker job.

Each recompute is one REPEATABLE READ transaction, so the picture it nets is
one snapshot of the database, and it holds a transaction lock so two
recomputes never write the table at once.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Sequence
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Connection, Engine

from services.exposure import repository
from services.exposure.netting import net_exposure
from services.exposure.settings import PRIORITY_WEIGHTS_KEY, read_priority_weights
from services.settings import Settings

logger = logging.getLogger(__name__)

EXPOSURE_JOB_NAME = "exposure"


class ExposureBusy(RuntimeError):
    """Another exposure recompute holds the exposure table's lock."""


@dataclass(frozen=True)
class ExposureRunResult:
    """The result of one recompute: what it netted and what it wrote.

    item_count is None for a full recompute. rows_exposed counts the lines
    found not on track; the rows deleted, updated and inserted are what the
    table needed to match them. revenue_at_risk maps a currency code to the
    exact sum over the exposed lines.
    """

    as_of: date | None
    item_count: int | None
    lines_netted: int
    rows_exposed: int
    rows_deleted: int = 0
    rows_updated: int = 0
    rows_inserted: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    revenue_at_risk: dict[str, Decimal] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Return the integer counts a job_runs row records."""
        return {
            "items": -1 if self.item_count is None else self.item_count,
            "lines_netted": self.lines_netted,
            "rows_exposed": self.rows_exposed,
            "rows_deleted": self.rows_deleted,
            "rows_updated": self.rows_updated,
            "rows_inserted": self.rows_inserted,
            **{status: count for status, count in sorted(self.by_status.items())},
        }


def _repeatable_read(engine: Engine):
    return engine.connect().execution_options(isolation_level="REPEATABLE READ")


def recompute_exposure(
    engine: Engine,
    *,
    as_of: date | None = None,
    item_ids: Sequence[int] | None = None,
    job_run_id: int | None = None,
) -> ExposureRunResult:
    """Net open lines against supply and replace their exposure rows; every item when item_ids is None.

    as_of is the business date of every warehouse; None takes today in each
    warehouse's time zone. Raises ExposureBusy when another recompute is
    writing the table.
    """
    with _repeatable_read(engine) as connection, connection.begin():
        return _recompute(connection, as_of=as_of, item_ids=item_ids, job_run_id=job_run_id)


def recompute_exposure_for_supplier_events(
    engine: Engine, *, since: datetime, as_of: date | None = None, job_run_id: int | None = None
) -> ExposureRunResult:
    """Recompute the items of purchase order lines named by supplier events loaded after since."""
    with _repeatable_read(engine) as connection, connection.begin():
        item_ids = repository.items_touched_by_supplier_events(connection, since)
        if not item_ids:
            logger.info("exposure: no supplier events loaded since %s; nothing to recompute", since.isoformat())
            return ExposureRunResult(as_of=as_of, item_count=0, lines_netted=0, rows_exposed=0)
        return _recompute(connection, as_of=as_of, item_ids=item_ids, job_run_id=job_run_id)


def _recompute(connection: Connection, *, as_of, item_ids, job_run_id) -> ExposureRunResult:
    started = time.perf_counter()
    if not repository.lock_exposure(connection):
        raise ExposureBusy("another exposure recompute is writing the exposure table; run again when it has finished")
    weights = read_priority_weights(connection)
    picture = repository.load_picture(
        connection, as_of=as_of, item_ids=item_ids, store_customer_facts=item_ids is None
    )
    loaded = time.perf_counter()

    exposure = net_exposure(picture, weights)
    netted = time.perf_counter()

    codes = dict(zip(picture.warehouses["warehouse_id"].tolist(), picture.warehouses["warehouse_code"].tolist()))
    written = repository.replace_exposure(connection, exposure, codes, item_ids=item_ids, job_run_id=job_run_id)
    finished = time.perf_counter()

    result = ExposureRunResult(
        as_of=as_of,
        item_count=None if item_ids is None else len(item_ids),
        lines_netted=len(picture.lines),
        rows_exposed=len(exposure),
        rows_deleted=written.deleted,
        rows_updated=written.updated,
        rows_inserted=written.inserted,
        by_status=dict(Counter(exposure["status"].tolist())),
        revenue_at_risk=_sum_money(exposure["currency"].to_numpy(object), exposure["revenue_at_risk"].to_numpy(np.int64)),
        seconds={"load": loaded - started, "net": netted - loaded, "write": finished - netted, "total": finished - started},
    )
    scope = "all items" if item_ids is None else f"{len(item_ids)} items"
    logger.info(
        "exposure: netted %d open lines of %s, %d exposed; deleted %d, updated %d, inserted %d rows"
        " in %.2f s (load %.2f, net %.2f, write %.2f)",
        result.lines_netted, scope, result.rows_exposed, written.deleted, written.updated, written.inserted,
        result.seconds["total"], result.seconds["load"], result.seconds["net"], result.seconds["write"],
    )
    return result


def _sum_money(currencies: np.ndarray, amounts: np.ndarray) -> dict[str, Decimal]:
    totals: dict[str, int] = {}
    for currency in np.unique(currencies).tolist():
        totals[currency] = int(amounts[currencies == currency].sum())
    return {currency: Decimal(total).scaleb(-4) for currency, total in sorted(totals.items())}


def exposure_job(engine: Engine, job_run_id: int, settings: Settings) -> dict[str, int]:
    """Recompute exposure for the worker: only the items of new supplier events when nothing else changed.

    A full recompute runs when the job never succeeded, when its last
    success started on an earlier business date (ages and lateness moved),
    or when anything other than supplier events changed since then.
    """
    with engine.connect() as connection:
        since = repository.last_exposure_run(connection, EXPOSURE_JOB_NAME)
        full_reason = _full_recompute_reason(connection, since, settings.business_timezone)

    if full_reason:
        logger.info("exposure job run %d: full recompute because %s", job_run_id, full_reason)
        result = recompute_exposure(engine, as_of=settings.as_of, job_run_id=job_run_id)
    else:
        result = recompute_exposure_for_supplier_events(engine, since=since, as_of=settings.as_of, job_run_id=job_run_id)
    return {"full": int(full_reason is not None), **result.counts()}


def _full_recompute_reason(connection: Connection, since: datetime | None, business_timezone: str) -> str | None:
    if since is None:
        return "no earlier run succeeded"
    zone = ZoneInfo(business_timezone)
    if since.astimezone(zone).date() < datetime.now(timezone.utc).astimezone(zone).date():
        return f"the last run started on an earlier business date ({since.isoformat()})"
    if repository.changed_beyond_supplier_events(connection, since, PRIORITY_WEIGHTS_KEY):
        return f"order, stock, purchase, forecast or weight data changed since {since.isoformat()}"
    return None
