"""Candidate models of supplier delivery, the series they are fitted on, and the ETA dates of open lines.

Dates are whole business days counted from 1970-01-01 ("epoch days"), so
arrays of them are cheap to shift, compare and send to worker processes. A
fitted model is a QuantileCurve: the P50 delay (or lead time) in days by
the day of the promise (or order), with constant offsets to P10 and P90.

Two targets are learned from each series of receipts. The delay against
the promise (receipt date minus promised date) serves lines that have a
promise. The lead time (receipt date minus order date) serves lines that
have none.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

import numpy as np
import pandas as pd

EPOCH = date(1970, 1, 1)
QUANTILES = (0.1, 0.5, 0.9)
PROMISE = "promise"

# The empirical model reads the delays of a series' most recent receipts.
EMPIRICAL_WINDOW = 200
# Minimum number of recent delays at least as late as a line, to date the line from them.
MIN_LATE_SAMPLES = 5
# A received line counts once, at the date of its last receipt. Series below
# these counts are not fitted; their lines fall back to the level above.
MIN_SUBSERIES_RECEIPTS = 30
MIN_SUPPLIER_RECEIPTS = 10
# Prophet is a candidate only for series with at least this many receipts.
MIN_PROPHET_RECEIPTS = 40
# Yearly seasonality needs two full years between the first and last observation.
YEARLY_SEASONALITY_DAYS = 730
# Tukey fences: values beyond this many interquartile ranges outside the quartiles are clipped for Prophet.
OUTLIER_FENCE_IQR = 3.0
# A trend or a month-of-year pattern must be this significant before Prophet is tried.
SCREEN_P_VALUE = 0.01
# Backtest MAE of the P50, in days, at or below which a line's confidence is high or medium.
HIGH_CONFIDENCE_MAE_DAYS = 2.0
MEDIUM_CONFIDENCE_MAE_DAYS = 5.0


class Target(StrEnum):
    """The quantity a series forecasts: the delay against the promise, or the lead time from order."""

    DELAY = "delay"
    LEAD_TIME = "lead_time"


class Level(StrEnum):
    """The levels of series, from the most specific; values match forecast_series.level."""

    SUPPLIER_MODE = "supplier_mode"
    SUPPLIER_FAMILY = "supplier_family"
    SUPPLIER = "supplier"
    GLOBAL = "global"


class ProphetPolicy(StrEnum):
    """When Prophet is a candidate: after the trend and seasonality screen, always, or never."""

    SCREENED = "screened"
    ALWAYS = "always"
    NEVER = "never"


# --- Days --------------------------------------------------------------------


def day_number(value: date) -> int:
    return (value - EPOCH).days


def date_of_day(day: int) -> date:
    return EPOCH + timedelta(days=int(day))


def day_numbers(dates: pd.Series) -> np.ndarray:
    """Return epoch days of a datetime64 column of naive business dates, NaN where a date is missing."""
    values = pd.to_datetime(dates)
    days = (values - pd.Timestamp(EPOCH)).dt.days
    return days.to_numpy(dtype=float, na_value=np.nan)


def to_business_dates(values: pd.Series, time_zone: str) -> pd.Series:
    """Return naive midnight dates of the values as seen in the business time zone.

    Time-zone-aware timestamps are converted to the zone before their date is
    taken, so an instant late in the evening in Chicago stays on its Chicago
    date on both sides of a daylight-saving change. Naive timestamps and
    dates are taken as already local. Prophet rejects time-zone-aware
    timestamps, so every date given to it passes through here.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert(time_zone).dt.tz_localize(None).dt.normalize()
    if values.dtype == object and any(getattr(v, "tzinfo", None) is not None for v in values):
        converted = pd.to_datetime(values, utc=True).dt.tz_convert(time_zone)
        return converted.dt.tz_localize(None).dt.normalize()
    return pd.to_datetime(values).dt.normalize()


# --- Observations and curves -------------------------------------------------


@dataclass(frozen=True)
class Observations:
    """Received lines of one series for one target, sorted by the day they were received.

    day is the promised day for the delay target and the order day for the
    lead-time target. value is the delay or the lead time in days.
    """

    day: np.ndarray
    value: np.ndarray
    received_day: np.ndarray
    order_day: np.ndarray

    @classmethod
    def build(cls, day, value, received_day, order_day) -> "Observations":
        order = np.lexsort((np.asarray(day), np.asarray(received_day)))
        return cls(
            day=np.asarray(day, dtype=np.int64)[order],
            value=np.asarray(value, dtype=float)[order],
            received_day=np.asarray(received_day, dtype=np.int64)[order],
            order_day=np.asarray(order_day, dtype=np.int64)[order],
        )

    def __len__(self) -> int:
        return len(self.day)

    def select(self, mask: np.ndarray) -> "Observations":
        return Observations(self.day[mask], self.value[mask], self.received_day[mask], self.order_day[mask])

    def recent(self, count: int) -> "Observations":
        """Return the last count observations by day received."""
        return self.select(slice(max(0, len(self) - count), None))


@dataclass(frozen=True)
class QuantileCurve:
    """P50 in days by day, with constant offsets to P10 (lower, at most 0) and P90 (upper, at least 0).

    p50 contains one value for a constant curve, or one value per day from
    first_day. Days outside a table take the value of its nearest end.
    """

    p50: np.ndarray
    lower: float
    upper: float
    first_day: int = 0

    @classmethod
    def constant(cls, p50: float, p10: float, p90: float) -> "QuantileCurve":
        return cls(np.array([float(p50)]), min(0.0, p10 - p50), max(0.0, p90 - p50))

    def quantiles(self, days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        index = np.clip(np.asarray(days, dtype=np.int64) - self.first_day, 0, len(self.p50) - 1)
        p50 = self.p50[index]
        return p50 + self.lower, p50, p50 + self.upper

    def widened(self, lower_margin: float, upper_margin: float) -> "QuantileCurve":
        """Return the curve with P10 moved down and P90 up by the margins; a negative margin narrows."""
        return QuantileCurve(
            self.p50, min(0.0, self.lower - lower_margin), max(0.0, self.upper + upper_margin), self.first_day
        )

    def to_params(self) -> dict:
        return {
            "p50": [round(float(v), 3) for v in self.p50],
            "first_day": date_of_day(self.first_day).isoformat(),
            "lower": round(self.lower, 3),
            "upper": round(self.upper, 3),
        }

    @classmethod
    def from_params(cls, params: dict) -> "QuantileCurve":
        return cls(
            np.array(params["p50"], dtype=float),
            float(params["lower"]),
            float(params["upper"]),
            day_number(date.fromisoformat(params["first_day"])),
        )


def _quantiles(values: np.ndarray) -> tuple[float, float, float]:
    p10, p50, p90 = np.quantile(values, QUANTILES)
    return float(p10), float(p50), float(p90)


def clip_outliers(values: np.ndarray) -> np.ndarray:
    """Clip values to Tukey fences three interquartile ranges (at least one day) outside the quartiles."""
    q1, q3 = np.quantile(values, (0.25, 0.75))
    spread = OUTLIER_FENCE_IQR * max(q3 - q1, 1.0)
    return np.clip(values, q1 - spread, q3 + spread)


# --- Candidate models --------------------------------------------------------


@dataclass(frozen=True)
class PromiseModel:
    """The supplier's promise itself: a delay of 0, with the interval of recent delays around it."""

    name: str = PROMISE
    window: int = EMPIRICAL_WINDOW

    def fit(self, observations: Observations, first_day: int, last_day: int) -> QuantileCurve:
        p10, _, p90 = _quantiles(observations.recent(self.window).value)
        return QuantileCurve.constant(0.0, p10, p90)


@dataclass(frozen=True)
class EmpiricalModel:
    """Quantiles 0.1, 0.5 and 0.9 of the most recent receipts' values."""

    name: str = "empirical"
    window: int = EMPIRICAL_WINDOW

    def fit(self, observations: Observations, first_day: int, last_day: int) -> QuantileCurve:
        p10, p50, p90 = _quantiles(observations.recent(self.window).value)
        return QuantileCurve.constant(p50, p10, p90)


@dataclass(frozen=True)
class ProphetModel:
    """Prophet on weekly medians of the values, outliers clipped; P50 is its curve shifted by the median residual.

    Only weeks with receipts are given to Prophet: a week without a receipt
    is missing, not a delay of zero. Weekly medians keep each fit to about
    a hundred rows for two years of history. P10 and P90 are the 0.1 and
    0.9 quantiles of the residuals of the receipts around P50.
    """

    growth: str = "flat"
    yearly: bool = False

    @property
    def name(self) -> str:
        return f"prophet_{self.growth}{'_yearly' if self.yearly else ''}"

    def fit(self, observations: Observations, first_day: int, last_day: int) -> QuantileCurve:
        from prophet import Prophet

        quiet_backend_logs()
        clipped = clip_outliers(observations.value)
        week_days = _mid_week(observations.day)
        weeks, inverse = np.unique(week_days, return_inverse=True)
        medians = pd.Series(clipped).groupby(inverse).median().to_numpy()
        model = Prophet(
            growth=self.growth,
            yearly_seasonality=self.yearly and int(weeks[-1] - weeks[0]) >= YEARLY_SEASONALITY_DAYS,
            weekly_seasonality=False,
            daily_seasonality=False,
            uncertainty_samples=0,
        )
        # Prophet 1.5.0 optimises fewer than 100 rows with Newton's method, which took about 20 times
        # as long as L-BFGS on two years of weekly medians, for the same curve.
        model.fit(pd.DataFrame({"ds": _timestamps(weeks), "y": medians}), algorithm="LBFGS")

        # One prediction for the fitted weeks and the days of the table.
        table_days = np.arange(first_day, last_day + 1)
        grid = np.union1d(weeks, table_days)
        yhat = model.predict(pd.DataFrame({"ds": _timestamps(grid)}))["yhat"].to_numpy()
        residuals = observations.value - yhat[np.searchsorted(grid, week_days)]
        r10, r50, r90 = _quantiles(residuals)
        table = yhat[np.searchsorted(grid, table_days)] + r50
        return QuantileCurve(table, min(0.0, r10 - r50), max(0.0, r90 - r50), first_day)


def _mid_week(days: np.ndarray) -> np.ndarray:
    """Return the Thursday of each day's Monday-to-Sunday week; epoch day 0, 1970-01-01, was a Thursday."""
    return (days + 3) // 7 * 7


def _timestamps(days: np.ndarray) -> pd.DatetimeIndex:
    return pd.to_datetime(np.asarray(days, dtype=np.int64), unit="D")


def quiet_backend_logs() -> None:
    """Keep Prophet and cmdstanpy at WARNING, so a run logs a few lines instead of several per fit.

    cmdstanpy 1.3.2 sets its logger to DEBUG and adds a handler of its own
    unless the logger already has a handler, hence the NullHandler. Prophet
    sets its logger to INFO when imported, so call this again after the
    import.
    """
    for name in ("prophet", "cmdstanpy"):
        backend = logging.getLogger(name)
        if not any(isinstance(handler, logging.NullHandler) for handler in backend.handlers):
            backend.addHandler(logging.NullHandler())
        backend.setLevel(logging.WARNING)


# --- Prophet screen ----------------------------------------------------------


def _normal_two_sided_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2))


def trend_p_value(observations: Observations) -> float:
    """Return the two-sided p-value of Spearman's rank correlation between day and value."""
    if len(observations) < 3:
        return 1.0
    day_rank = pd.Series(observations.day).rank().to_numpy()
    value_rank = pd.Series(observations.value).rank().to_numpy()
    if np.std(day_rank) == 0 or np.std(value_rank) == 0:
        return 1.0
    rho = float(np.corrcoef(day_rank, value_rank)[0, 1])
    return _normal_two_sided_p(rho * math.sqrt(len(observations) - 1))


def month_p_value(observations: Observations) -> float:
    """Return the p-value of a Kruskal-Wallis test of values grouped by the month of their day.

    The chi-square tail uses the Wilson-Hilferty normal approximation.
    """
    months = _timestamps(observations.day).month.to_numpy()
    groups = np.unique(months)
    n = len(observations)
    if len(groups) < 2 or n < 3:
        return 1.0
    ranks = pd.Series(observations.value).rank().to_numpy()
    statistic = 12.0 / (n * (n + 1)) * sum(ranks[months == g].sum() ** 2 / (months == g).sum() for g in groups)
    statistic -= 3.0 * (n + 1)
    _, tie_counts = np.unique(observations.value, return_counts=True)
    tie_correction = 1.0 - float((tie_counts**3 - tie_counts).sum()) / (n**3 - n)
    if tie_correction <= 0:
        return 1.0
    statistic /= tie_correction
    if statistic <= 0:  # every month ranks alike; rounding can leave a tiny negative value
        return 1.0
    freedom = len(groups) - 1
    scale = 2.0 / (9.0 * freedom)
    z = ((statistic / freedom) ** (1.0 / 3.0) - (1.0 - scale)) / math.sqrt(scale)
    return 0.5 * math.erfc(z / math.sqrt(2))


def prophet_candidates(observations: Observations, policy: ProphetPolicy) -> tuple[list[ProphetModel], str | None]:
    """Return the Prophet variants worth a backtest on the observations, or none with the reason.

    Yearly seasonality needs two years of days. Screened, Prophet is tried
    only where a trend or a month-of-year pattern is significant, because a
    flat Prophet without seasonality predicts a constant, and for the mean
    absolute error the empirical median is already the best constant.
    """
    if policy is ProphetPolicy.NEVER:
        return [], "Prophet is turned off for this run"
    if len(observations) < MIN_PROPHET_RECEIPTS:
        return [], f"{len(observations)} receipts, fewer than the {MIN_PROPHET_RECEIPTS} Prophet needs"
    span = int(observations.day.max() - observations.day.min())
    can_be_yearly = span >= YEARLY_SEASONALITY_DAYS
    if policy is ProphetPolicy.ALWAYS:
        return [ProphetModel("flat", can_be_yearly), ProphetModel("linear", can_be_yearly)], None

    trend = trend_p_value(observations) < SCREEN_P_VALUE
    yearly = can_be_yearly and month_p_value(observations) < SCREEN_P_VALUE
    if not (trend or yearly):
        return [], f"no significant trend or yearly pattern in {len(observations)} receipts over {span} days"
    return [ProphetModel("linear" if trend else "flat", yearly)], None


# --- Forecasts of series -----------------------------------------------------


@dataclass(frozen=True)
class TargetForecast:
    """The chosen model of one target of a series, with its calibrated curve and backtest error.

    recent_values contains the series' last EMPIRICAL_WINDOW observed values
    (delays or lead times in days), sorted. Lines already later than the
    curve expects take their dates from the tail of these values.
    """

    model: str
    curve: QuantileCurve
    backtest_mae: float | None
    receipts_used: int
    recent_values: tuple[float, ...] = ()

    def to_params(self) -> dict:
        return {
            "model": self.model,
            "curve": self.curve.to_params(),
            "backtest_mae_days": None if self.backtest_mae is None else round(self.backtest_mae, 3),
            "receipts_used": self.receipts_used,
            "recent_values": [round(float(value), 3) for value in self.recent_values],
        }

    @classmethod
    def from_params(cls, params: dict) -> "TargetForecast":
        return cls(
            params["model"],
            QuantileCurve.from_params(params["curve"]),
            params["backtest_mae_days"],
            params["receipts_used"],
            tuple(params.get("recent_values", ())),
        )


@dataclass(frozen=True)
class SeriesForecast:
    """The forecasts of one series that ETAs are computed from: one per target, None without data for it."""

    key: str
    level: Level
    receipts_count: int
    last_receipt_day: int | None
    delay: TargetForecast | None
    lead_time: TargetForecast | None
    notes: dict = field(default_factory=dict)

    def target(self, target: Target) -> TargetForecast | None:
        return self.delay if target is Target.DELAY else self.lead_time

    def to_params(self) -> dict:
        return {
            Target.DELAY.value: self.delay.to_params() if self.delay else None,
            Target.LEAD_TIME.value: self.lead_time.to_params() if self.lead_time else None,
            **self.notes,
        }

    @classmethod
    def from_params(cls, key: str, level: str, receipts_count: int, last_receipt: date | None, params: dict):
        delay, lead_time = params.get(Target.DELAY.value), params.get(Target.LEAD_TIME.value)
        notes = {name: value for name, value in params.items() if name not in (Target.DELAY.value, Target.LEAD_TIME.value)}
        return cls(
            key,
            Level(level),
            receipts_count,
            day_number(last_receipt) if last_receipt else None,
            TargetForecast.from_params(delay) if delay else None,
            TargetForecast.from_params(lead_time) if lead_time else None,
            notes,
        )


# --- Series of a history -----------------------------------------------------


def global_key() -> str:
    return "global"


def supplier_key(supplier: str) -> str:
    return f"supplier:{supplier}"


def mode_key(supplier: str, mode: str) -> str:
    return f"supplier:{supplier}|mode:{mode}"


def family_key(supplier: str, family: str) -> str:
    return f"supplier:{supplier}|family:{family}"


@dataclass(frozen=True)
class SeriesSpec:
    """A series of the history: its key, level and the positions of its rows."""

    key: str
    level: Level
    rows: np.ndarray


def series_specs(history: pd.DataFrame) -> list[SeriesSpec]:
    """Return the series the history is deep enough for, global first.

    A supplier gets a series from MIN_SUPPLIER_RECEIPTS received lines on.
    A shipment mode or item family of a supplier gets its own series from
    MIN_SUBSERIES_RECEIPTS on, unless it contains all of the supplier's
    lines and would repeat the supplier's series.
    """
    specs = []
    if len(history):
        specs.append(SeriesSpec(global_key(), Level.GLOBAL, np.arange(len(history))))
    positions = pd.Series(np.arange(len(history)), index=history.index)
    for supplier, rows in positions.groupby(history["supplier_code"], sort=True):
        if len(rows) < MIN_SUPPLIER_RECEIPTS:
            continue
        specs.append(SeriesSpec(supplier_key(supplier), Level.SUPPLIER, rows.to_numpy()))
        part = history.iloc[rows.to_numpy()]
        for column, level, make_key in (
            ("shipment_mode", Level.SUPPLIER_MODE, mode_key),
            ("family", Level.SUPPLIER_FAMILY, family_key),
        ):
            for value, sub_rows in rows.groupby(part[column].to_numpy(), sort=True):
                if value and MIN_SUBSERIES_RECEIPTS <= len(sub_rows) < len(rows):
                    specs.append(SeriesSpec(make_key(supplier, value), level, sub_rows.to_numpy()))
    return specs


def series_keys_for_line(supplier: str, mode: str | None, family: str | None) -> list[str]:
    """Return the keys a line may use, most specific first: its mode, its family, its supplier, global.

    Shipment mode comes before item family because the mode sets the
    transit time of the goods, which is where most of a delay arises.
    """
    keys = []
    if mode:
        keys.append(mode_key(supplier, mode))
    if family:
        keys.append(family_key(supplier, family))
    return keys + [supplier_key(supplier), global_key()]


# --- ETA dates of open lines -------------------------------------------------


def eta_days(curve: QuantileCurve, base_days: np.ndarray, earliest_days: np.ndarray):
    """Return P10, P50 and P90 days: base day plus the curve's days rounded, never before the earliest day."""
    return tuple(
        np.maximum(earliest_days, base_days + np.floor(quantile + 0.5).astype(np.int64))
        for quantile in curve.quantiles(base_days)
    )


def late_line_days(
    recent_values: tuple[float, ...], base_days: np.ndarray, earliest_days: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return P10, P50 and P90 days of lines that cannot arrive before their earliest day, and which lines had enough data.

    A line that has not arrived by its earliest day has a value of at least
    earliest minus base days. Its quantiles are those of the recent values
    at least that large, when there are MIN_LATE_SAMPLES of them. The
    returned mask is False for lines with fewer, whose days are left at
    their earliest day.
    """
    values = np.sort(np.asarray(recent_values, dtype=float))
    already = earliest_days - base_days
    days = np.repeat(earliest_days[:, None], 3, axis=1).astype(np.int64)
    enough = np.zeros(len(base_days), dtype=bool)
    for position, late_by in enumerate(already):
        tail = values[values >= late_by]
        if len(tail) < MIN_LATE_SAMPLES:
            continue
        enough[position] = True
        quantiles = np.floor(np.quantile(tail, QUANTILES) + 0.5).astype(np.int64)
        days[position] = np.maximum(earliest_days[position], base_days[position] + quantiles)
    return days[:, 0], days[:, 1], days[:, 2], enough


def confidence_class(level: Level, backtest_mae: float | None) -> str:
    """Class a line's forecast: low_data on the global series, else by the backtest MAE of its P50."""
    if level is Level.GLOBAL:
        return "low_data"
    if backtest_mae is None:
        return "low"
    if backtest_mae <= HIGH_CONFIDENCE_MAE_DAYS:
        return "high"
    if backtest_mae <= MEDIUM_CONFIDENCE_MAE_DAYS:
        return "medium"
    return "low"


ETA_COLUMNS = [
    "po_line_id", "p10_date", "p50_date", "p90_date", "model", "series_key",
    "backtest_mae_days", "receipts_used", "confidence",
]


def forecast_lines(lines: pd.DataFrame, forecasts: dict[str, SeriesForecast]) -> pd.DataFrame:
    """Return the ETA of each open line from the most specific series that forecasts its target.

    lines has po_line_id, supplier_code, shipment_mode, family, order_day,
    promised_day (NaN without a promise), earliest_day and
    default_lead_days. The earliest day is the later of today and the day
    after the order, because a lead time is at least one day. A line with no
    series at all keeps its promise, or without one the supplier's default
    lead time, with confidence low_data. The result has ETA_COLUMNS and
    the three dates as epoch days in p10_day, p50_day and p90_day.
    """
    has_promise = lines["promised_day"].notna().to_numpy()
    base = np.where(has_promise, lines["promised_day"].fillna(0), lines["order_day"]).astype(np.int64)
    earliest = lines["earliest_day"].to_numpy(dtype=np.int64)
    keys = [
        _series_key_for(line.supplier_code, line.shipment_mode, line.family, Target.DELAY if promised else Target.LEAD_TIME, forecasts)
        for line, promised in zip(lines.itertuples(index=False), has_promise)
    ]

    # Lines without any series keep the promise, or get the supplier's default lead time.
    fallback = np.where(has_promise, base, base + lines["default_lead_days"].to_numpy(dtype=np.int64))
    days = np.repeat(np.maximum(earliest, fallback)[:, None], 3, axis=1)
    model = np.where(has_promise, PROMISE, "supplier_lead_time").astype(object)
    mae = np.full(len(lines), None, dtype=object)
    receipts_used = np.zeros(len(lines), dtype=np.int64)
    confidence = np.full(len(lines), "low_data", dtype=object)

    groups: dict[tuple[str, bool], list[int]] = {}
    for position, (key, promised) in enumerate(zip(keys, has_promise)):
        if key is not None:
            groups.setdefault((key, bool(promised)), []).append(position)
    for (key, promised), positions in groups.items():
        rows = np.array(positions)
        series = forecasts[key]
        forecast = series.target(Target.DELAY if promised else Target.LEAD_TIME)
        days[rows] = np.column_stack(eta_days(forecast.curve, base[rows], earliest[rows]))
        model[rows] = forecast.model if promised else f"{forecast.model}_lead_time"
        # A promised line past its promise and its P50 is later than the
        # curve expects, so its dates come from the tail of the series' delays.
        unconditional_p50 = base[rows] + np.floor(forecast.curve.quantiles(base[rows])[1] + 0.5).astype(np.int64)
        late = rows[(unconditional_p50 < earliest[rows]) & (base[rows] < earliest[rows])] if promised else rows[:0]
        if len(late) and forecast.recent_values:
            p10, p50, p90, enough = late_line_days(forecast.recent_values, base[late], earliest[late])
            conditioned = late[enough]
            days[conditioned] = np.column_stack((p10, p50, p90))[enough]
            model[conditioned] = [f"{name}_given_late" for name in model[conditioned]]
        mae[rows] = forecast.backtest_mae
        receipts_used[rows] = forecast.receipts_used
        confidence[rows] = confidence_class(series.level, forecast.backtest_mae)

    eta = pd.DataFrame(
        {
            "po_line_id": lines["po_line_id"].to_numpy(),
            "model": model,
            "series_key": [key or global_key() for key in keys],
            "backtest_mae_days": mae,
            "receipts_used": receipts_used,
            "confidence": confidence,
            "p10_day": days[:, 0],
            "p50_day": days[:, 1],
            "p90_day": days[:, 2],
        }
    )
    for name in ("p10", "p50", "p90"):
        eta[f"{name}_date"] = [date_of_day(day) for day in eta[f"{name}_day"]]
    return eta[ETA_COLUMNS + ["p10_day", "p50_day", "p90_day"]]


def _series_key_for(supplier, mode, family, target: Target, forecasts: dict[str, SeriesForecast]) -> str | None:
    for key in series_keys_for_line(supplier, mode, family):
        series = forecasts.get(key)
        if series is not None and series.target(target) is not None:
            return key
    return None
