"""Train and test evaluation of the ETA forecasts on a receipt history.

Lines promised before the split date train the series, each with its own
rolling backtest and model choice. Lines promised on or after it are
forecast from them and scored against their actual receipt dates. The
supplier's promise is scored on the same lines, so the two mean absolute
errors compare directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from services.forecast.backtest import fit_series, series_tasks
from services.forecast.history import HISTORY_COLUMNS, History, build_history, load_receipt_history
from services.forecast.models import (
    ProphetPolicy,
    SeriesForecast,
    TargetForecast,
    day_number,
    forecast_lines,
    series_specs,
)

DATE_COLUMNS = ("order_date", "promised_date", "receipt_date")


class InvalidDate(ValueError):
    """A raw date value is not a date; the message names the column and the value."""

    def __init__(self, column: str, value: object):
        self.column = column
        self.value = value
        super().__init__(
            f"{column} {value!r} is not a date; write it as YYYY-MM-DD or as an ISO 8601 timestamp, "
            "or leave the line out of the history"
        )


@dataclass(frozen=True)
class Evaluation:
    """Scores of the forecasts on the test lines, against the promise on the same lines."""

    split: date
    method: str
    train_lines: int
    test_lines: int
    excluded_lines: int
    series: int
    mae_p50_days: float
    mae_promise_days: float
    coverage_p10_p90: float
    test_lines_by_model: dict[str, int] = field(default_factory=dict)

    @property
    def improvement(self) -> float:
        """Return how much lower the P50's MAE is than the promise's, as a share of the promise's."""
        return 1.0 - self.mae_p50_days / self.mae_promise_days if self.mae_promise_days else math.nan

    def describe(self) -> str:
        models = ", ".join(f"{name} {count}" for name, count in sorted(self.test_lines_by_model.items()))
        return (
            f"{self.method}: trained on {self.train_lines} lines promised before {self.split} ({self.series} series), "
            f"tested on {self.test_lines} lines; MAE of P50 {self.mae_p50_days:.3f} days, "
            f"of the promise {self.mae_promise_days:.3f} days "
            f"({abs(self.improvement):.1%} {'better' if self.improvement >= 0 else 'worse'} than the promise); "
            f"P10-P90 coverage {self.coverage_p10_p90:.1%}; test lines by model: {models}; "
            f"{self.excluded_lines} lines left out for their dates"
        )


def evaluate_history(
    history: History,
    *,
    split: date,
    prophet: ProphetPolicy = ProphetPolicy.SCREENED,
    earliest_after_order: int = 0,
) -> Evaluation:
    """Fit the series on the lines promised before split and score the forecasts of the lines promised after.

    No forecast falls before the order date plus earliest_after_order days.
    The default 0 scores lines received on their order day fairly: a
    nightly refresh never finds them open, so it never forecasts them with
    the day-after-order floor of open lines. Pass 1 to apply that floor.
    Raises ValueError when either side of the split has no promised line.
    """
    train, test = _split(history.lines, split)
    first_day, last_day = int(test["promised_day"].min()), int(test["promised_day"].max())
    forecasts = {}
    for task in series_tasks(train, first_day, last_day, prophet):
        forecasts[task.key] = fit_series(task).forecast
    method = f"backtested selection (Prophet {prophet})"
    return _score(history, train, test, forecasts, split, method, earliest_after_order)


def evaluate_single_model(history: History, *, split: date, model) -> Evaluation:
    """Score one model fitted on every series without a backtest or calibration, as a naive method would."""
    train, test = _split(history.lines, split)
    first_day, last_day = int(test["promised_day"].min()), int(test["promised_day"].max())
    forecasts = {}
    for task in series_tasks(train, first_day, last_day, ProphetPolicy.NEVER):
        if len(task.delay) == 0:
            continue
        curve = model.fit(task.delay, first_day, last_day)
        delay = TargetForecast(model.name, curve, None, len(task.delay))
        forecasts[task.key] = SeriesForecast(task.key, task.level, task.receipts_count, task.last_receipt_day, delay, None)
    return _score(history, train, test, forecasts, split, f"{model.name} on every series", 0)


def evaluate_database(engine: Engine, *, split: date, prophet: ProphetPolicy = ProphetPolicy.SCREENED) -> Evaluation:
    """Evaluate on the receipt history stored in the database."""
    with engine.connect() as connection:
        history = load_receipt_history(connection)
    return evaluate_history(history, split=split, prophet=prophet)


def _split(lines: pd.DataFrame, split: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    split_day = day_number(split)
    promised = lines["promised_day"]
    train = lines[(promised < split_day) | (promised.isna() & (lines["order_day"] < split_day))]
    test = lines[promised >= split_day]
    if train["promised_day"].notna().sum() == 0 or test.empty:
        raise ValueError(
            f"split {split} leaves {int(train['promised_day'].notna().sum())} promised lines to train on and "
            f"{len(test)} to test; choose a date inside the history's promised dates"
        )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _score(history, train, test, forecasts, split, method, earliest_after_order: int) -> Evaluation:
    """Forecast the test lines as open lines, with no today to respect, and score them."""
    lines = test.assign(earliest_day=test["order_day"] + earliest_after_order, default_lead_days=0)
    eta = forecast_lines(lines, forecasts)
    actual = test["receipt_day"].to_numpy()
    p10, p50, p90 = (eta[f"{name}_day"].to_numpy(dtype=np.int64) for name in ("p10", "p50", "p90"))
    promised = test["promised_day"].to_numpy(dtype=np.int64)
    return Evaluation(
        split=split,
        method=method,
        train_lines=len(train),
        test_lines=len(test),
        excluded_lines=len(history.excluded),
        series=len(series_specs(train)),
        mae_p50_days=float(np.abs(p50 - actual).mean()),
        mae_promise_days=float(np.abs(promised - actual).mean()),
        coverage_p10_p90=float(((p10 <= actual) & (actual <= p90)).mean()),
        test_lines_by_model=eta["model"].value_counts().to_dict(),
    )


# --- Raw input ---------------------------------------------------------------


def history_from_records(records: Iterable[Mapping[str, object]], time_zone: str = "UTC") -> History:
    """Build a history from raw records whose dates may be text, dates or timestamps with or without an offset.

    A timestamp with an offset is converted to the business time zone before
    its date is taken. A record with a date that cannot be read is left out
    with the reason naming the column and the value; the others are kept.
    """
    zone = ZoneInfo(time_zone)
    rows, excluded = [], []
    for position, record in enumerate(records, start=1):
        row = {column: record.get(column) for column in HISTORY_COLUMNS}
        row["po_line_id"] = record.get("po_line_id", position)
        try:
            for column in DATE_COLUMNS:
                row[column] = _business_date(column, record.get(column), zone)
        except InvalidDate as error:
            excluded.append({"po_line_id": row["po_line_id"], "kind": "not_a_date", "reason": str(error)})
            continue
        rows.append(row)

    frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    for column in DATE_COLUMNS:
        frame[column] = pd.to_datetime(frame[column])
    history = build_history(frame, time_zone)
    unreadable = pd.DataFrame(excluded, columns=["po_line_id", "kind", "reason"])
    return History(history.lines, pd.concat([unreadable, history.excluded], ignore_index=True))


def _business_date(column: str, value: object, zone: ZoneInfo) -> date | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, datetime):
        return value.astimezone(zone).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidDate(column, value) from None
    if len(text) == 10 or parsed.tzinfo is None:
        return parsed.date()
    return parsed.astimezone(zone).date()
