"""Rolling-origin backtest, interval calibration and model selection for one series.

At each origin, candidates are fitted on the lines received by that day.
They forecast the lines received in the window after it, as a refresh on
that day would have, so a line still open then is forecast with the floors
of an open line. Every line received after the first origin is forecast
once.
The candidate with the lowest mean absolute error of its P50 wins, and the
promise is always a candidate, so a model worse than the promise on the
backtest is never chosen.

Intervals are calibrated on the backtest in the manner of conformalized
quantile regression (Romano, Patterson and Candes, 2019), one margin per
side: P10 moves down by how far actual arrivals fell below it, and P90 up
by how far they fell above it, each by the margin that leaves the share of
arrivals outside that side nearest to 10 percent. Arrivals are whole days
with many ties, so the conservative conformal quantile would over-cover;
the nearest share keeps coverage about 80 percent. A negative margin
narrows an interval that covered more than it had to.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from services.forecast.models import (
    EMPIRICAL_WINDOW,
    EmpiricalModel,
    Level,
    Observations,
    PROMISE,
    PromiseModel,
    ProphetPolicy,
    QuantileCurve,
    SeriesForecast,
    Target,
    TargetForecast,
    eta_days,
    prophet_candidates,
    series_specs,
)

# Origins at these quantiles of the days lines were received: folds test the last 40 percent.
FOLD_QUANTILES = (0.6, 0.7, 0.8, 0.9)
MIN_TRAIN_RECEIPTS = 8
# A model other than the promise is chosen only on at least this many backtest forecasts.
MIN_BACKTEST_POINTS = 10
# Intervals are calibrated only from at least this many backtest forecasts.
MIN_CALIBRATION_POINTS = 10
COVERAGE = 0.8
PARAMS_VERSION = 2


@dataclass(frozen=True)
class Fold:
    """One origin of the backtest: lines received by then train, lines received in the window after it test."""

    origin_day: int
    train: np.ndarray
    test: np.ndarray


def rolling_origins(observations: Observations) -> list[Fold]:
    """Return the folds that have at least MIN_TRAIN_RECEIPTS to train on and one line to test."""
    if len(observations) <= MIN_TRAIN_RECEIPTS:
        return []
    received = observations.received_day
    origins = np.unique(np.quantile(received, FOLD_QUANTILES, method="lower").astype(np.int64))
    ends = np.append(origins[1:], np.iinfo(np.int64).max)
    folds = []
    for origin, end in zip(origins.tolist(), ends.tolist()):
        train = received <= origin
        test = (received > origin) & (received <= end)
        if train.sum() >= MIN_TRAIN_RECEIPTS and test.any():
            folds.append(Fold(origin, train, test))
    return folds


@dataclass(frozen=True)
class FoldForecast:
    """A candidate's curve from one fold, with the test lines' base days, earliest days and actual days."""

    curve: QuantileCurve
    base: np.ndarray
    earliest: np.ndarray
    actual: np.ndarray

    def interval_misses(self, curve: QuantileCurve | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return how many days each actual arrival fell below P10 and above P90 (negative inside)."""
        p10, _, p90 = eta_days(curve or self.curve, self.base, self.earliest)
        return p10 - self.actual, self.actual - p90


@dataclass
class CandidateResult:
    """The backtest of one candidate model on one target of a series."""

    target: Target
    model: str
    mae_p50: float | None = None
    mae_promise: float | None = None
    coverage: float | None = None
    train_count: int = 0
    test_count: int = 0
    chosen: bool = False
    error: str | None = None
    folds: list[FoldForecast] = field(default_factory=list, repr=False)


def conformal_margins(below: np.ndarray, above: np.ndarray, coverage: float = COVERAGE) -> tuple[float, float]:
    """Return the (lower, upper) margins that leave about (1 - coverage) / 2 of the points outside each side.

    below and above are how many days each arrival fell below P10 and above
    P90 (negative when inside). With fewer than MIN_CALIBRATION_POINTS
    points both margins are 0.
    """
    if len(below) < MIN_CALIBRATION_POINTS:
        return 0.0, 0.0
    share = (1 - coverage) / 2
    return _side_margin(np.asarray(below, dtype=float), share), _side_margin(np.asarray(above, dtype=float), share)


def _side_margin(misses: np.ndarray, share: float) -> float:
    """Return the observed miss after which the share of larger misses is nearest `share`, the larger on a tie."""
    ordered = np.sort(misses)
    candidates = np.unique(ordered)
    outside = (len(ordered) - np.searchsorted(ordered, candidates, side="right")) / len(ordered)
    distance = np.abs(outside - share)
    return float(candidates[np.flatnonzero(distance == distance.min())[-1]])


def _calibrated(curve: QuantileCurve, folds: list[FoldForecast]) -> tuple[QuantileCurve, tuple[float, float]]:
    misses = [fold.interval_misses() for fold in folds]
    below = np.concatenate([m[0] for m in misses]) if misses else np.array([])
    above = np.concatenate([m[1] for m in misses]) if misses else np.array([])
    margins = conformal_margins(below, above)
    return curve.widened(*margins), margins


def _sequential_coverage(folds: list[FoldForecast]) -> float:
    """Return the share of test arrivals inside intervals calibrated only on earlier folds.

    This is the coverage a refresh would have had: the first fold has no
    earlier fold and is scored with its raw interval.
    """
    inside = 0
    total = 0
    for k, fold in enumerate(folds):
        curve, _ = _calibrated(fold.curve, folds[:k])
        below, above = fold.interval_misses(curve)
        inside += int(((below <= 0) & (above <= 0)).sum())
        total += len(fold.actual)
    return inside / total if total else math.nan


def backtest_candidate(model, observations: Observations, folds: list[Fold], target: Target) -> CandidateResult:
    """Fit the model at each origin and score its forecasts of the lines open then."""
    result = CandidateResult(target, model.name)
    for fold in folds:
        train, test = observations.select(fold.train), observations.select(fold.test)
        curve = model.fit(train, int(test.day.min()), int(test.day.max()))
        # A line ordered after the origin is forecast from its order day. One received on that same day
        # is never open at a refresh, so the floor is the order day, not the day after as for open lines.
        earliest = np.maximum(fold.origin_day, test.order_day)
        result.folds.append(FoldForecast(curve, test.day, earliest, test.received_day))
        result.train_count = len(train)

    actual = np.concatenate([fold.actual for fold in result.folds])
    p50 = np.concatenate([eta_days(fold.curve, fold.base, fold.earliest)[1] for fold in result.folds])
    result.test_count = len(actual)
    result.mae_p50 = float(np.abs(p50 - actual).mean())
    if target is Target.DELAY:
        promised = np.concatenate([np.maximum(fold.earliest, fold.base) for fold in result.folds])
        result.mae_promise = float(np.abs(promised - actual).mean())
    result.coverage = _sequential_coverage(result.folds)
    return result


def choose_candidate(results: list[CandidateResult]) -> CandidateResult | None:
    """Return the candidate with the lowest MAE of its P50, the simpler one on a tie, never one worse than the promise.

    With fewer than MIN_BACKTEST_POINTS forecasts, the promise (for the
    delay target) or the first candidate is kept, because so few points
    cannot show that another model is better.
    """
    scored = [result for result in results if result.error is None and result.mae_p50 is not None]
    if not scored:
        return None
    promise = next((result for result in scored if result.model == PROMISE), None)
    if scored[0].test_count < MIN_BACKTEST_POINTS:
        return promise or scored[0]
    best = min(scored, key=lambda result: round(result.mae_p50, 9))
    if promise is not None and best.mae_p50 > promise.mae_p50:
        return promise
    return best


@dataclass(frozen=True)
class SeriesTask:
    """One series to fit: its observations per target and the days its curves must cover."""

    key: str
    level: Level
    delay: Observations
    lead_time: Observations
    receipts_count: int
    last_receipt_day: int | None
    first_day: int
    last_day: int
    prophet: ProphetPolicy = ProphetPolicy.SCREENED


@dataclass
class SeriesFit:
    """The fitted series, the backtest of every candidate, and the failures that forced a fallback."""

    forecast: SeriesForecast
    backtests: list[CandidateResult]
    failures: list[str]
    prophet_fits: int = 0
    seconds: float = 0.0


@dataclass
class _TargetOutcome:
    forecast: TargetForecast | None
    results: list[CandidateResult]
    failures: list[str]
    prophet_fits: int
    notes: dict


def fit_series(task: SeriesTask) -> SeriesFit:
    """Backtest the candidates of each target of the series, choose one, and fit it on all its receipts.

    A candidate model that raises, in the backtest or on all receipts, is
    recorded in the failures and the best remaining candidate is used.
    """
    started = time.perf_counter()
    prophet_models, prophet_note = prophet_candidates(task.delay, task.prophet)
    delay = _fit_target(
        task, task.delay, Target.DELAY, [PromiseModel(), EmpiricalModel(), *prophet_models]
    )
    lead_time = _fit_target(task, task.lead_time, Target.LEAD_TIME, [EmpiricalModel()])

    notes = {
        "version": PARAMS_VERSION,
        "prophet": prophet_note or ", ".join(model.name for model in prophet_models),
        **delay.notes,
        **lead_time.notes,
    }
    forecast = SeriesForecast(
        task.key, task.level, task.receipts_count, task.last_receipt_day, delay.forecast, lead_time.forecast, notes
    )
    return SeriesFit(
        forecast,
        delay.results + lead_time.results,
        delay.failures + lead_time.failures,
        delay.prophet_fits + lead_time.prophet_fits,
        time.perf_counter() - started,
    )


def _fit_target(task: SeriesTask, observations: Observations, target: Target, models: list) -> _TargetOutcome:
    if len(observations) == 0:
        return _TargetOutcome(None, [], [], 0, {})
    folds = rolling_origins(observations)
    results, failures, prophet_fits = [], [], 0
    for model in models if folds else []:
        is_prophet = model.name.startswith("prophet")
        try:
            results.append(backtest_candidate(model, observations, folds, target))
        except Exception as error:  # a backend can fail in many ways; the series falls back, the run goes on
            results.append(CandidateResult(target, model.name, error=f"{type(error).__name__}: {error}"))
            failures.append(f"series {task.key}: {model.name} failed in the {target} backtest ({type(error).__name__}: {error})")
        prophet_fits += len(folds) if is_prophet else 0

    ranked = _ranked(results, models)
    for model, result in ranked:
        try:
            curve = model.fit(observations, task.first_day, task.last_day)
        except Exception as error:  # fall back to the next candidate
            failures.append(f"series {task.key}: {model.name} failed on all {target} receipts ({type(error).__name__}: {error})")
            if result is not None:
                result.error = f"{type(error).__name__}: {error}"
            continue
        finally:
            prophet_fits += model.name.startswith("prophet")
        margins = (0.0, 0.0)
        if result is not None:
            result.chosen = True
            curve, margins = _calibrated(curve, result.folds)
        if failures:
            failures[-1] += f"; used {model.name} instead"
        recent = tuple(float(value) for value in np.sort(observations.recent(EMPIRICAL_WINDOW).value))
        forecast = TargetForecast(model.name, curve, result.mae_p50 if result else None, len(observations), recent)
        notes = {f"{target}_interval_margins_days": [round(margins[0], 3), round(margins[1], 3)]}
        return _TargetOutcome(forecast, results, failures, prophet_fits, notes)
    return _TargetOutcome(None, results, failures, prophet_fits, {})


def _ranked(results: list[CandidateResult], models: list) -> list[tuple[object, CandidateResult | None]]:
    """Order the models to try on all receipts: the chosen one first, then the others by backtest MAE.

    Without a backtest only the first model (the promise, or the empirical
    lead time) is used, without a backtest result.
    """
    if not results:
        return [(models[0], None)]
    by_name = {model.name: model for model in models}
    remaining = [result for result in results if result.error is None]
    ranked = []
    while remaining:
        best = choose_candidate(remaining)
        ranked.append((by_name[best.model], best))
        remaining.remove(best)
    return ranked


def series_tasks(history: pd.DataFrame, first_day: int, last_day: int, prophet: ProphetPolicy) -> list[SeriesTask]:
    """Return a task per series of the history, with curves to cover first_day to last_day.

    history is History.lines: one row per received line with order_day,
    promised_day (NaN without a promise) and receipt_day.
    """
    order_day = history["order_day"].to_numpy(dtype=np.int64)
    receipt_day = history["receipt_day"].to_numpy(dtype=np.int64)
    promised_day = history["promised_day"].to_numpy(dtype=float)
    tasks = []
    for spec in series_specs(history):
        rows = spec.rows
        with_promise = rows[~np.isnan(promised_day[rows])]
        promised = promised_day[with_promise].astype(np.int64)
        received = receipt_day[with_promise]
        delay = Observations.build(promised, received - promised, received, order_day[with_promise])
        lead_time = Observations.build(
            order_day[rows], receipt_day[rows] - order_day[rows], receipt_day[rows], order_day[rows]
        )
        tasks.append(
            SeriesTask(
                spec.key, spec.level, delay, lead_time, len(rows), int(receipt_day[rows].max()), first_day, last_day,
                prophet,
            )
        )
    return tasks
