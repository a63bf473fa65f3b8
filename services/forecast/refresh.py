"""The forecast refresh: refit the series with new receipts and write the ETA of every open PO line.

refresh_forecasts is the use case and forecast_job its worker job. Series
whose receipts count and last receipt date match their stored row are not
refitted: their stored curves are reused. Series that may try Prophet are
fitted in a process pool, the others in the calling process meanwhile.
Everything the run writes commits in one transaction at its end.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from multiprocessing import get_context
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Connection, Engine, delete, insert, text

from services.db import schema
from services.forecast.backtest import PARAMS_VERSION, SeriesFit, SeriesTask, fit_series, series_tasks
from services.forecast.history import load_open_lines, load_receipt_history, load_series_states
from services.forecast.models import (
    ETA_COLUMNS,
    ProphetPolicy,
    SeriesForecast,
    Target,
    date_of_day,
    day_number,
    forecast_lines,
    prophet_candidates,
    quiet_backend_logs,
)
from services.worker.job_runs import JobOutcome

logger = logging.getLogger(__name__)

# Prophet curves are tabulated from the earliest open line's base day to at
# least this many days after today, so a reused series covers lines ordered later.
CURVE_DAYS_AHEAD = 365
# Series sent to a worker process at a time.
CHUNK_SIZE = 4
PROGRESS_SECONDS = 15.0
FAILURES_IN_ERROR_TEXT = 5


@dataclass
class ForecastRunResult:
    """Counts and failures of one refresh; a run with failures is partial."""

    as_of: date | None
    history_read: int = 0
    history_used: int = 0
    history_excluded: int = 0
    excluded_by_kind: dict[str, int] = field(default_factory=dict)
    series_total: int = 0
    series_fitted: int = 0
    series_reused: int = 0
    series_failed: int = 0
    prophet_fits: int = 0
    lines_forecast: int = 0
    lines_low_data: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def partial(self) -> bool:
        return bool(self.failures)

    @property
    def counts(self) -> dict[str, int]:
        names = (
            "history_read", "history_used", "history_excluded", "series_total", "series_fitted",
            "series_reused", "series_failed", "prophet_fits", "lines_forecast", "lines_low_data",
        )
        return {name: getattr(self, name) for name in names}

    @property
    def error_text(self) -> str | None:
        if not self.failures:
            return None
        listed = "; ".join(self.failures[:FAILURES_IN_ERROR_TEXT])
        more = len(self.failures) - FAILURES_IN_ERROR_TEXT
        return f"{listed} (and {more} more)" if more > 0 else listed

    def outcome(self) -> JobOutcome:
        return JobOutcome(counts=self.counts, partial=self.partial, error=self.error_text)


def refresh_forecasts(
    engine: Engine,
    *,
    as_of: date | None = None,
    workers: int = 2,
    job_run_id: int | None = None,
    refit_all: bool = False,
    prophet: ProphetPolicy = ProphetPolicy.SCREENED,
) -> ForecastRunResult:
    """Refit the series with new receipts and replace the ETA forecast of every open PO line.

    as_of is the day no ETA may fall before; without it, each line takes
    today's date in its warehouse's time zone. workers is the number of
    processes that fit Prophet; with 1, everything runs in this process.
    refit_all refits series whose receipts did not change. A series that
    cannot be fitted leaves its lines to the level above and makes the run
    partial. An error of the database is raised, and nothing is written.
    """
    started = time.monotonic()
    result = ForecastRunResult(as_of)

    with engine.connect() as connection:
        history = load_receipt_history(connection)
        open_lines = load_open_lines(connection, as_of)
        stored = load_series_states(connection)

    result.history_read, result.history_used = history.read, len(history.lines)
    result.history_excluded, result.excluded_by_kind = len(history.excluded), history.reason_counts()
    first_day, last_day = _curve_days(open_lines, as_of)
    tasks = series_tasks(history.lines, first_day, last_day, prophet)
    to_fit, reused = _split_unchanged(tasks, stored, refit_all)
    result.series_total, result.series_reused = len(tasks), len(reused)
    logger.info(
        "forecast run %s: %d received lines (%d left out), %d series, %d to fit, %d unchanged, %d open lines",
        job_run_id, result.history_read, result.history_excluded, len(tasks), len(to_fit), len(reused), len(open_lines),
    )

    fits = _fit_series(to_fit, workers, result)
    forecasts = {**reused, **{fit.forecast.key: fit.forecast for fit in fits}}
    eta = forecast_lines(open_lines, forecasts)
    result.lines_forecast = len(eta)
    result.lines_low_data = int((eta["confidence"] == "low_data").sum())

    with engine.begin() as connection:
        _write_series(connection, fits, current_keys={task.key for task in tasks})
        _write_backtests(connection, fits, job_run_id)
        _replace_eta_forecasts(connection, eta, job_run_id)

    result.seconds = time.monotonic() - started
    logger.info(
        "forecast run %s: fitted %d series (%d Prophet fits, %d failed), reused %d, wrote %d ETAs "
        "(%d low_data) in %.1f s",
        job_run_id, result.series_fitted, result.prophet_fits, result.series_failed, result.series_reused,
        result.lines_forecast, result.lines_low_data, result.seconds,
    )
    return result


# The latest run that wrote forecasts; a partial run wrote them too, with
# fallbacks for the series that failed.
LAST_FORECAST_RUN = """
    select started_at from job_runs
    where job_name = 'forecast' and status in ('succeeded', 'partial')
    order by started_at desc, id desc
    limit 1
"""

# The synced entities a refresh reads: receipts, purchase order lines and
# their acknowledgements, ship notices, suppliers and items.
FORECAST_INPUTS_CHANGED = """
    select exists (
        select 1 from sync_runs
        where status = 'succeeded' and finished_at > :since and inserted_count + updated_count > 0
          and entity in ('receipts', 'purchase_order_lines', 'supplier_events', 'shipments', 'suppliers', 'items')
    )
"""


def forecast_job(engine: Engine, job_run_id: int, settings) -> JobOutcome:
    """Worker job: refresh the forecasts with one fitting process per core, when their input changed.

    The job runs as often as the inbox is read, so forecasts follow new
    receipts and acknowledgements within a poll. A run that finds nothing
    new since the last run that wrote forecasts, on the same business date,
    writes nothing.
    """
    reason = _refresh_reason(engine, settings)
    if reason is None:
        logger.info("forecast job run %d: no new receipts or purchase order changes; forecasts kept", job_run_id)
        return JobOutcome(counts={"skipped": 1})
    logger.info("forecast job run %d: refreshing because %s", job_run_id, reason)
    result = refresh_forecasts(engine, as_of=settings.as_of, workers=os.cpu_count() or 1, job_run_id=job_run_id)
    return result.outcome()


def _refresh_reason(engine: Engine, settings) -> str | None:
    with engine.connect() as connection:
        since = connection.execute(text(LAST_FORECAST_RUN)).scalar_one_or_none()
        if since is None:
            return "no earlier run wrote forecasts"
        if settings.as_of is None:
            zone = ZoneInfo(settings.business_timezone)
            if since.astimezone(zone).date() < datetime.now(timezone.utc).astimezone(zone).date():
                return f"the last run started on an earlier business date ({since.isoformat()})"
        if connection.execute(text(FORECAST_INPUTS_CHANGED), {"since": since}).scalar_one():
            return f"receipts or purchase order data changed since {since.isoformat()}"
    return None


# --- Checks ------------------------------------------------------------------


def _curve_days(open_lines: pd.DataFrame, as_of: date | None) -> tuple[int, int]:
    today = day_number(as_of or datetime.now(timezone.utc).date())
    base = open_lines["promised_day"].fillna(open_lines["order_day"]) if len(open_lines) else pd.Series([today])
    return int(min(base.min(), today)), int(max(base.max(), today + CURVE_DAYS_AHEAD))


def _split_unchanged(tasks: list[SeriesTask], stored: dict[str, dict], refit_all: bool):
    """Return the tasks to fit, and the stored forecasts of series whose receipts did not change."""
    to_fit, reused = [], {}
    for task in tasks:
        row = stored.get(task.key)
        if not refit_all and row is not None and _unchanged(task, row):
            reused[task.key] = SeriesForecast.from_params(
                task.key, row["level"], row["receipts_count"], row["last_receipt_date"], row["params"]
            )
        else:
            to_fit.append(task)
    return to_fit, reused


def _unchanged(task: SeriesTask, row: dict) -> bool:
    last_receipt = date_of_day(task.last_receipt_day) if task.last_receipt_day is not None else None
    return (
        row["level"] == task.level
        and row["receipts_count"] == task.receipts_count
        and row["last_receipt_date"] == last_receipt
        and row["params"].get("version") == PARAMS_VERSION
    )


# --- Fitting -----------------------------------------------------------------


def _fit_series(tasks: list[SeriesTask], workers: int, result: ForecastRunResult) -> list[SeriesFit]:
    """Fit the tasks, those that may try Prophet in a pool of worker processes when workers > 1."""
    with_prophet = [task for task in tasks if prophet_candidates(task.delay, task.prophet)[0]]
    if workers <= 1 or not with_prophet:
        return _collect(result, _fit_in_process(tasks))

    keys = {task.key for task in with_prophet}
    others = [task for task in tasks if task.key not in keys]
    with_prophet.sort(key=lambda task: len(task.delay), reverse=True)
    chunks = [with_prophet[i : i + CHUNK_SIZE] for i in range(0, len(with_prophet), CHUNK_SIZE)]
    quiet_backend_logs()
    context = get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=quiet_backend_logs) as pool:
        pending = {pool.submit(fit_chunk, chunk): chunk for chunk in chunks}
        outcomes = _fit_in_process(others)
        outcomes += _gather(pending, result)
    return _collect(result, outcomes)


def fit_chunk(tasks: list[SeriesTask]) -> list[SeriesFit | str]:
    """Fit a chunk of series in a worker process; a series that raises becomes its failure text."""
    return [_fit_or_failure(task) for task in tasks]


def _fit_or_failure(task: SeriesTask) -> SeriesFit | str:
    try:
        return fit_series(task)
    except Exception as error:  # a bug or bad data in one series must not stop the others
        logger.exception("series %s could not be fitted", task.key)
        return f"series {task.key} could not be fitted ({type(error).__name__}: {error}); its lines use the level above"


def _fit_in_process(tasks: list[SeriesTask]) -> list[SeriesFit | str]:
    outcomes = []
    last_log = time.monotonic()
    for task in tasks:
        outcomes.append(_fit_or_failure(task))
        if time.monotonic() - last_log > PROGRESS_SECONDS:
            logger.info("forecast: fitted %d of %d series in this process", len(outcomes), len(tasks))
            last_log = time.monotonic()
    return outcomes


def _gather(pending: dict, result: ForecastRunResult) -> list[SeriesFit | str]:
    """Wait for the pool's chunks; a chunk whose process failed is refitted here without Prophet."""
    outcomes, done_count, last_log = [], 0, time.monotonic()
    while pending:
        done, _ = wait(pending, timeout=PROGRESS_SECONDS, return_when=FIRST_COMPLETED)
        for future in done:
            chunk = pending.pop(future)
            try:
                outcomes += future.result()
            except Exception as error:  # the worker process died or could not return its result
                logger.error("a forecast worker process failed on %d series: %s", len(chunk), error)
                for task in chunk:
                    result.failures.append(
                        f"series {task.key}: the worker process failed ({type(error).__name__}: {error}); "
                        "fitted without Prophet"
                    )
                    outcomes.append(_fit_or_failure(_without_prophet(task)))
            done_count += len(chunk)
        if time.monotonic() - last_log > PROGRESS_SECONDS:
            logger.info("forecast: worker processes fitted %d series with Prophet candidates, %d chunks left", done_count, len(pending))
            last_log = time.monotonic()
    return outcomes


def _without_prophet(task: SeriesTask) -> SeriesTask:
    return SeriesTask(
        task.key, task.level, task.delay, task.lead_time, task.receipts_count, task.last_receipt_day,
        task.first_day, task.last_day, ProphetPolicy.NEVER,
    )


def _collect(result: ForecastRunResult, outcomes: list[SeriesFit | str]) -> list[SeriesFit]:
    fits = []
    for outcome in outcomes:
        if isinstance(outcome, str):
            result.series_failed += 1
            result.failures.append(outcome)
            continue
        fits.append(outcome)
        result.failures += outcome.failures
        result.prophet_fits += outcome.prophet_fits
    result.series_fitted = len(fits)
    for failure in result.failures[:FAILURES_IN_ERROR_TEXT]:
        logger.warning("forecast: %s", failure)
    return fits


# --- Records -----------------------------------------------------------------


def _headline(forecast: SeriesForecast) -> tuple[str, float | None]:
    """Return the model and backtest MAE that name the series: its delay model, else its lead-time model."""
    if forecast.delay is not None:
        return forecast.delay.model, forecast.delay.backtest_mae
    return f"{forecast.lead_time.model}_lead_time", forecast.lead_time.backtest_mae


SERIES_UPSERT_SQL = text(
    """
    insert into forecast_series (series_key, level, model, receipts_count, last_receipt_date,
                                 fitted_at, backtest_mae_days, params)
    values (:series_key, :level, :model, :receipts_count, :last_receipt_date, now(), :backtest_mae_days,
            cast(:params as jsonb))
    on conflict (series_key) do update set
        level = excluded.level, model = excluded.model, receipts_count = excluded.receipts_count,
        last_receipt_date = excluded.last_receipt_date, fitted_at = excluded.fitted_at,
        backtest_mae_days = excluded.backtest_mae_days, params = excluded.params
    """
)


def _write_series(connection: Connection, fits: list[SeriesFit], current_keys: set[str]) -> None:
    """Upsert the fitted series and delete the stored ones the history no longer supports."""
    rows = []
    for fit in fits:
        forecast = fit.forecast
        model, mae = _headline(forecast)
        rows.append(
            {
                "series_key": forecast.key,
                "level": str(forecast.level),
                "model": model,
                "receipts_count": forecast.receipts_count,
                "last_receipt_date": date_of_day(forecast.last_receipt_day) if forecast.last_receipt_day is not None else None,
                "backtest_mae_days": _rounded(mae),
                "params": json.dumps(forecast.to_params()),
            }
        )
    if rows:
        connection.execute(SERIES_UPSERT_SQL, rows)
    stale = connection.execute(
        delete(schema.forecast_series)
        .where(schema.forecast_series.c.series_key.not_in(sorted(current_keys)))
        .returning(schema.forecast_series.c.series_key)
    ).scalars().all()
    if stale:
        logger.info("forecast: deleted %d series the history no longer supports, for example %s", len(stale), stale[0])


def _write_backtests(connection: Connection, fits: list[SeriesFit], job_run_id: int | None) -> None:
    rows = [
        {
            "job_run_id": job_run_id,
            "series_key": fit.forecast.key,
            "model": result.model if result.target is Target.DELAY else f"{result.model}_lead_time",
            "chosen": result.chosen,
            "mae_p50_days": _rounded(result.mae_p50),
            "mae_promise_days": _rounded(result.mae_promise),
            "coverage_p10_p90": None if result.coverage is None or math.isnan(result.coverage) else round(result.coverage, 6),
            "train_count": result.train_count,
            "test_count": result.test_count,
        }
        for fit in fits
        for result in fit.backtests
    ]
    if rows:
        connection.execute(insert(schema.forecast_backtests), rows)


def _replace_eta_forecasts(connection: Connection, eta: pd.DataFrame, job_run_id: int | None) -> None:
    """Replace every ETA forecast with this run's, so a line no longer open loses its forecast."""
    connection.execute(delete(schema.eta_forecasts))
    if eta.empty:
        return
    columns = ETA_COLUMNS + ["job_run_id"]
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor:
        with cursor.copy(f"copy eta_forecasts ({', '.join(columns)}) from stdin") as copy:
            for row in eta.itertuples(index=False):
                copy.write_row(
                    (
                        int(row.po_line_id), row.p10_date, row.p50_date, row.p90_date, row.model, row.series_key,
                        _rounded(row.backtest_mae_days), int(row.receipts_used), row.confidence, job_run_id,
                    )
                )


def _rounded(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), 3)
