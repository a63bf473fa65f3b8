"""Forecast models, the rolling backtest, calibration and the choice of series, without a database."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from services.forecast.backtest import (
    CandidateResult,
    SeriesTask,
    choose_candidate,
    conformal_margins,
    fit_series,
    rolling_origins,
)
from services.forecast.models import (
    EmpiricalModel,
    Level,
    Observations,
    PromiseModel,
    ProphetModel,
    ProphetPolicy,
    QuantileCurve,
    SeriesForecast,
    Target,
    TargetForecast,
    confidence_class,
    day_number,
    eta_days,
    forecast_lines,
    month_p_value,
    prophet_candidates,
    series_keys_for_line,
    series_specs,
)

# Prophet 1.5.0 calls pandas APIs that pandas 3 deprecates; the warnings are about its code.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:prophet")

DAY0 = day_number(date(2025, 1, 6))


def observations(delays, *, lead=14, spacing=1) -> Observations:
    """Lines ordered `spacing` days apart, promised `lead` days after order, received `delay` days late."""
    delays = np.asarray(delays, dtype=np.int64)
    order = DAY0 + spacing * np.arange(len(delays))
    promised = order + lead
    return Observations.build(promised, delays, promised + delays, order)


def task_for(delays, *, lead=14, spacing=1, prophet=ProphetPolicy.SCREENED, key="supplier:S1") -> SeriesTask:
    delay = observations(delays, lead=lead, spacing=spacing)
    lead_time = Observations.build(delay.order_day, delay.received_day - delay.order_day, delay.received_day, delay.order_day)
    last = int(delay.day.max())
    return SeriesTask(key, Level.SUPPLIER, delay, lead_time, len(delay), int(delay.received_day.max()), last, last + 60, prophet)


def test_empirical_model_reads_only_recent_receipts():
    old = [-30] * 50  # received well before any of the 200 recent lines
    recent = list(range(0, 200))

    curve = EmpiricalModel().fit(observations(old + recent), 0, 0)

    p10, p50, p90 = curve.quantiles(np.array([DAY0]))
    assert (p10[0], p50[0], p90[0]) == pytest.approx((19.9, 99.5, 179.1))


def test_promise_model_spreads_around_promise():
    curve = PromiseModel().fit(observations([-2, 0, 0, 1, 3, 4, 6, 8, 9, 12]), 0, 0)

    p10, p50, p90 = curve.quantiles(np.array([DAY0]))

    assert p50[0] == 0.0
    assert p10[0] == pytest.approx(-0.2)
    assert p90[0] == pytest.approx(9.3)


def test_promise_interval_always_contains_the_promise():
    curve = PromiseModel().fit(observations([5, 6, 7, 8, 9, 10]), 0, 0)

    p10, p50, p90 = curve.quantiles(np.array([DAY0]))

    assert (p10[0], p50[0]) == (0.0, 0.0)
    assert p90[0] == pytest.approx(9.5)


def test_curve_table_takes_nearest_end_outside_its_days():
    curve = QuantileCurve(np.array([1.0, 2.0, 3.0]), -1.0, 2.0, first_day=100)

    p10, p50, p90 = curve.quantiles(np.array([90, 100, 101, 102, 150]))

    assert p50.tolist() == [1.0, 1.0, 2.0, 3.0, 3.0]
    assert p10.tolist() == [0.0, 0.0, 1.0, 2.0, 2.0]
    assert p90.tolist() == [3.0, 3.0, 4.0, 5.0, 5.0]


def test_narrowed_curve_never_crosses_its_p50():
    curve = QuantileCurve.constant(4.0, 1.0, 9.0)

    narrowed = curve.widened(-5.0, -7.0)

    assert (narrowed.lower, narrowed.upper) == (0.0, 0.0)
    assert curve.widened(2.0, 1.5).lower == -5.0
    assert curve.widened(2.0, 1.5).upper == 6.5


def test_curve_survives_a_round_trip_through_params():
    curve = QuantileCurve(np.array([1.25, 2.5]), -1.5, 3.0, first_day=day_number(date(2026, 3, 2)))

    again = QuantileCurve.from_params(curve.to_params())

    assert again.p50.tolist() == [1.25, 2.5]
    assert (again.lower, again.upper, again.first_day) == (-1.5, 3.0, curve.first_day)


def test_eta_days_round_and_respect_floor():
    curve = QuantileCurve.constant(2.5, 1.4, 6.6)
    base = np.array([100, 100, 100])
    earliest = np.array([90, 102, 104])

    p10, p50, p90 = eta_days(curve, base, earliest)

    assert p10.tolist() == [101, 102, 104]
    assert p50.tolist() == [103, 103, 104]
    assert p90.tolist() == [107, 107, 107]


def test_rolling_origins_train_on_received_lines():
    obs = observations([5] * 40)

    folds = rolling_origins(obs)

    origins = [fold.origin_day - int(obs.received_day[0]) for fold in folds]
    assert origins == [23, 27, 31, 35]
    assert [int(fold.train.sum()) for fold in folds] == [24, 28, 32, 36]
    assert [int(fold.test.sum()) for fold in folds] == [4, 4, 4, 4]
    for fold, end in zip(folds, origins[1:] + [None]):
        assert obs.received_day[fold.train].max() <= fold.origin_day
        assert obs.received_day[fold.test].min() > fold.origin_day
        if end is not None:
            assert obs.received_day[fold.test].max() <= end + int(obs.received_day[0])


def test_rolling_origins_need_eight_lines_to_train_on():
    assert rolling_origins(observations([0] * 8)) == []


def test_margins_leave_tenth_outside_each_side():
    below = np.arange(-10, 10)  # 20 misses below P10: -10 .. 9
    above = np.arange(-30, -10)  # 20 misses above P90, all inside the interval: -30 .. -11

    lower, upper = conformal_margins(below, above)

    # Two of the 20 values (8 and 9, or -12 and -11) lie above the margins.
    assert (lower, upper) == (7.0, -13.0)


def test_margins_on_ties_take_the_nearest_share():
    below = np.array([0] * 86 + [1] * 10 + [3] * 4)  # 14 percent above 0, 4 percent above 1

    lower, _ = conformal_margins(below, np.zeros(100))

    assert lower == 0.0


def test_margins_on_equally_near_shares_take_the_wider():
    below = np.array([0] * 85 + [1] * 10 + [3] * 5)  # 15 percent above 0, 5 percent above 1

    lower, _ = conformal_margins(below, np.zeros(100))

    assert lower == 1.0


def test_conformal_margins_need_ten_points():
    assert conformal_margins(np.arange(9), np.arange(9)) == (0.0, 0.0)


def result(model, mae, promise_mae=4.0, test_count=20):
    return CandidateResult(Target.DELAY, model, mae_p50=mae, mae_promise=promise_mae, test_count=test_count)


def test_model_with_lowest_mae_is_chosen():
    chosen = choose_candidate([result("promise", 4.0), result("empirical", 2.5), result("prophet_linear", 3.1)])

    assert chosen.model == "empirical"


def test_model_worse_than_the_promise_is_never_chosen():
    chosen = choose_candidate([result("empirical", 4.5), result("prophet_linear", 6.0), result("promise", 4.0)])

    assert chosen.model == "promise"


def test_tie_keeps_the_simpler_model():
    chosen = choose_candidate([result("promise", 3.0), result("empirical", 3.0)])

    assert chosen.model == "promise"


def test_promise_kept_on_few_backtest_points():
    chosen = choose_candidate([result("promise", 4.0, test_count=9), result("empirical", 0.5, test_count=9)])

    assert chosen.model == "promise"


def test_failed_candidate_is_never_chosen():
    failed = CandidateResult(Target.DELAY, "prophet_linear", error="RuntimeError: no")

    chosen = choose_candidate([failed, result("promise", 4.0), result("empirical", 4.2)])

    assert chosen.model == "promise"


def test_chronically_late_supplier_forecast_is_its_delay():
    fit = fit_series(task_for([5] * 40))

    delay = fit.forecast.delay
    assert delay.model == "empirical"
    assert delay.backtest_mae == 0.0
    assert delay.receipts_used == 40
    p10, p50, p90 = delay.curve.quantiles(np.array([DAY0 + 100]))
    assert (p10[0], p50[0], p90[0]) == (5.0, 5.0, 5.0)
    scores = {(r.target, r.model): (r.mae_p50, r.mae_promise, r.test_count, r.train_count, r.chosen) for r in fit.backtests}
    # At an origin, a line already past its promise is forecast no earlier than the origin, so the
    # promise misses the five days late by 2.5 days on average.
    assert scores[(Target.DELAY, "promise")] == (2.5, 2.5, 16, 36, False)
    assert scores[(Target.DELAY, "empirical")] == (0.0, 2.5, 16, 36, True)
    assert fit.failures == []


def test_lead_time_forecast_is_the_empirical_lead_time():
    fit = fit_series(task_for([2] * 40, lead=10))

    lead_time = fit.forecast.lead_time
    assert lead_time.model == "empirical"
    p10, p50, p90 = lead_time.curve.quantiles(np.array([DAY0]))
    assert (p10[0], p50[0], p90[0]) == (12.0, 12.0, 12.0)


def test_series_without_backtest_keeps_the_promise_uncalibrated():
    fit = fit_series(task_for([3, 4, 5]))

    assert fit.forecast.delay.model == "promise"
    assert fit.forecast.delay.backtest_mae is None
    assert fit.backtests == []


def test_calibrated_interval_covers_about_eighty_percent():
    rng = np.random.default_rng(3)
    delays = np.round(rng.normal(4, 6, 600)).astype(int)

    fit = fit_series(task_for(delays, prophet=ProphetPolicy.NEVER))

    chosen = next(r for r in fit.backtests if r.chosen and r.target is Target.DELAY)
    assert chosen.model == "empirical"
    assert 0.75 <= chosen.coverage <= 0.85


def test_under_covering_quantiles_are_widened():
    # The spread of delays doubles every 150 lines, so the recent window under-covers what follows.
    rng = np.random.default_rng(5)
    spread = 2.0 ** (np.arange(600) / 150)
    delays = np.round(rng.normal(0, 1, 600) * spread).astype(int)

    fit = fit_series(task_for(delays, prophet=ProphetPolicy.NEVER))

    lower, upper = fit.forecast.notes["delay_interval_margins_days"]
    assert lower > 0
    assert upper > 0


def test_prophet_screen_skips_series_without_trend_or_season():
    rng = np.random.default_rng(1)

    models, reason = prophet_candidates(observations(rng.integers(0, 5, 100)), ProphetPolicy.SCREENED)

    assert models == []
    assert reason == "no significant trend or yearly pattern in 100 receipts over 99 days"


def test_prophet_screen_tries_linear_growth_on_a_trend():
    delays = np.arange(100) // 5

    models, reason = prophet_candidates(observations(delays), ProphetPolicy.SCREENED)

    assert [model.name for model in models] == ["prophet_linear"]
    assert reason is None


def test_prophet_needs_forty_receipts():
    models, reason = prophet_candidates(observations(np.arange(39)), ProphetPolicy.ALWAYS)

    assert models == []
    assert reason == "39 receipts, fewer than the 40 Prophet needs"


def test_yearly_seasonality_needs_two_years():
    short = observations(np.zeros(100), spacing=7)  # 693 days
    long = observations(np.zeros(110), spacing=7)  # 763 days

    assert [m.name for m in prophet_candidates(short, ProphetPolicy.ALWAYS)[0]] == ["prophet_flat", "prophet_linear"]
    assert [m.name for m in prophet_candidates(long, ProphetPolicy.ALWAYS)[0]] == [
        "prophet_flat_yearly", "prophet_linear_yearly",
    ]


def test_month_test_of_identical_months_is_not_significant():
    # Each month of 2025 gets delays of 0, 1, 2 and 3 days, so every month ranks alike.
    days = np.array([day_number(date(2025, month, day)) for month in range(1, 13) for day in (1, 2, 3, 4)])
    values = np.tile([0, 1, 2, 3], 12)

    p_value = month_p_value(Observations.build(days, values, days, days))

    assert p_value == 1.0


def test_prophet_never_policy_has_no_candidates():
    assert prophet_candidates(observations(np.arange(100)), ProphetPolicy.NEVER) == ([], "Prophet is turned off for this run")


def test_prophet_wins_on_steady_trend():
    # The supplier slips a further day every ten lines: 0 days late at first, 11 days late at the end.
    delays = np.arange(120) // 10

    fit = fit_series(task_for(delays))

    scores = {r.model: r.mae_p50 for r in fit.backtests if r.target is Target.DELAY}
    assert fit.forecast.delay.model == "prophet_linear"
    assert scores["prophet_linear"] < scores["empirical"] < scores["promise"]
    # Ten lines later the trend reaches 12 days; Prophet's optimiser is allowed half a day either way.
    _, p50, _ = fit.forecast.delay.curve.quantiles(np.array([DAY0 + 14 + 129]))
    assert p50[0] == pytest.approx(12.0, abs=0.5)


def history_frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["supplier_code", "shipment_mode", "family"])


def test_series_thresholds_per_level():
    rows = (
        [("S1", "Air", "Bolts")] * 30 + [("S1", "Ocean", "Bolts")] * 29
        + [("S2", "Air", "Nuts")] * 10
        + [("S3", "Air", "Nuts")] * 9
    )

    specs = series_specs(history_frame(rows))

    keys = {spec.key: (spec.level, len(spec.rows)) for spec in specs}
    assert keys == {
        "global": (Level.GLOBAL, 78),
        "supplier:S1": (Level.SUPPLIER, 59),
        "supplier:S1|mode:Air": (Level.SUPPLIER_MODE, 30),
        "supplier:S2": (Level.SUPPLIER, 10),
    }


def test_mode_series_repeating_supplier_skipped():
    specs = series_specs(history_frame([("S1", "Air", "Bolts")] * 40))

    assert [spec.key for spec in specs] == ["global", "supplier:S1"]


def test_line_series_order():
    assert series_keys_for_line("S1", "Air", "Bolts") == [
        "supplier:S1|mode:Air", "supplier:S1|family:Bolts", "supplier:S1", "global",
    ]
    assert series_keys_for_line("S1", "", None) == ["supplier:S1", "global"]


@pytest.mark.parametrize(
    "level, mae, expected",
    [
        (Level.SUPPLIER, 2.0, "high"),
        (Level.SUPPLIER_MODE, 2.001, "medium"),
        (Level.SUPPLIER, 5.0, "medium"),
        (Level.SUPPLIER_FAMILY, 5.5, "low"),
        (Level.SUPPLIER, None, "low"),
        (Level.GLOBAL, 0.5, "low_data"),
    ],
)
def test_confidence_class(level, mae, expected):
    assert confidence_class(level, mae) == expected


def open_lines(rows) -> pd.DataFrame:
    columns = ["po_line_id", "supplier_code", "shipment_mode", "family", "order_day", "promised_day",
               "earliest_day", "default_lead_days"]
    return pd.DataFrame(rows, columns=columns)


def series(key, level, delay_p50, lead_p50, mae=1.0):
    def target(p50):
        return TargetForecast("empirical", QuantileCurve.constant(p50, p50 - 1, p50 + 2), mae, 50)

    return SeriesForecast(key, level, 50, DAY0, target(delay_p50), target(lead_p50))


def test_forecast_lines_use_most_specific_series():
    forecasts = {
        "global": series("global", Level.GLOBAL, 9, 30),
        "supplier:S1": series("supplier:S1", Level.SUPPLIER, 3, 20),
        "supplier:S1|mode:Air": series("supplier:S1|mode:Air", Level.SUPPLIER_MODE, 1, 10),
    }
    lines = open_lines(
        [
            (1, "S1", "Air", "Bolts", DAY0, DAY0 + 14, DAY0, 7),
            (2, "S1", "Ocean", "Bolts", DAY0, DAY0 + 14, DAY0, 7),
            (3, "S1", "Air", "Bolts", DAY0, np.nan, DAY0, 7),
            (4, "S9", "Air", "Bolts", DAY0, DAY0 + 14, DAY0, 7),
        ]
    )

    eta = forecast_lines(lines, forecasts).set_index("po_line_id")

    assert eta.loc[1, ["p10_day", "p50_day", "p90_day"]].tolist() == [DAY0 + 14, DAY0 + 15, DAY0 + 17]
    assert eta.loc[1, "series_key"] == "supplier:S1|mode:Air"
    assert eta.loc[2, "p50_day"] == DAY0 + 17
    assert eta.loc[2, "series_key"] == "supplier:S1"
    assert eta.loc[3, ["p10_day", "p50_day", "p90_day"]].tolist() == [DAY0 + 9, DAY0 + 10, DAY0 + 12]
    assert eta.loc[3, "model"] == "empirical_lead_time"
    assert eta.loc[4, "p50_day"] == DAY0 + 23
    assert eta.loc[4, "confidence"] == "low_data"
    assert eta.loc[1, "p50_date"] == date(2025, 1, 21)


def test_line_without_history_keeps_promise():
    lines = open_lines(
        [
            (1, "S1", "Air", "Bolts", DAY0, DAY0 + 14, DAY0 + 3, 7),
            (2, "S1", "Air", "Bolts", DAY0, np.nan, DAY0 + 3, 7),
            (3, "S1", "Air", "Bolts", DAY0 - 30, DAY0 - 20, DAY0 + 3, 7),
        ]
    )

    eta = forecast_lines(lines, {}).set_index("po_line_id")

    assert eta.loc[1, ["p10_day", "p50_day", "p90_day"]].tolist() == [DAY0 + 14] * 3
    assert eta.loc[2, ["p10_day", "p50_day", "p90_day"]].tolist() == [DAY0 + 7] * 3
    assert eta.loc[3, ["p10_day", "p50_day", "p90_day"]].tolist() == [DAY0 + 3] * 3
    assert eta["model"].tolist() == ["promise", "supplier_lead_time", "promise"]
    assert set(eta["confidence"]) == {"low_data"}
    assert set(eta["receipts_used"]) == {0}


def test_late_line_dated_from_the_tail_of_delays():
    recent = tuple([0.0] * 10 + [12.0, 14.0, 15.0, 20.0, 30.0, 40.0])
    delay = TargetForecast("empirical", QuantileCurve.constant(0, 0, 3), 1.0, 16, recent)
    forecasts = {"supplier:S1": SeriesForecast("supplier:S1", Level.SUPPLIER, 16, DAY0, delay, None)}
    lines = open_lines(
        [
            (1, "S1", "Air", "Bolts", DAY0 - 30, DAY0 - 10, DAY0, 7),
            (2, "S1", "Air", "Bolts", DAY0 - 30, DAY0 - 35, DAY0, 7),
            (3, "S1", "Air", "Bolts", DAY0 - 30, DAY0 + 5, DAY0, 7),
        ]
    )

    eta = forecast_lines(lines, forecasts).set_index("po_line_id")

    # Line 1 is 10 days late: delays of 10 or more are 12, 14, 15, 20, 30 and 40.
    assert eta.loc[1, ["p10_day", "p50_day", "p90_day"]].tolist() == [DAY0 + 3, DAY0 + 8, DAY0 + 25]
    assert eta.loc[1, "model"] == "empirical_given_late"
    # Line 2 is 35 days late and only one delay is as long, so it keeps today.
    assert eta.loc[2, ["p10_day", "p50_day", "p90_day"]].tolist() == [DAY0] * 3
    assert eta.loc[2, "model"] == "empirical"
    # Line 3 is not due yet and keeps its unconditional dates.
    assert eta.loc[3, ["p10_day", "p50_day", "p90_day"]].tolist() == [DAY0 + 5, DAY0 + 5, DAY0 + 8]
    assert eta.loc[3, "model"] == "empirical"


def test_prophet_model_predicts_on_naive_business_dates():
    delays = np.arange(60) // 6

    curve = ProphetModel("linear").fit(observations(delays), DAY0, DAY0 + 10)

    assert len(curve.p50) == 11
    assert curve.first_day == DAY0
