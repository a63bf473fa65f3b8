"""Bad receipt history: each kind is left out with its reason or falls back, and the run goes on."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
import pandas as pd
import prophet
import pytest
from sqlalchemy import select

from services.db import schema
from services.forecast import refresh
from services.forecast.backtest import fit_series, series_tasks
from services.forecast.evaluate import history_from_records
from services.forecast.history import build_history
from services.forecast.models import Observations, ProphetModel, ProphetPolicy, day_number, forecast_lines
from services.forecast.refresh import refresh_forecasts
from services.worker.job_runs import JobStatus, run_job
from tests.builders import make_po_line, make_supplier
from tests.test_forecast_refresh import AS_OF, add_history, dates, eta_rows, open_line, receive

# Prophet 1.5.0 calls pandas APIs that pandas 3 deprecates; the warnings are about its code.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:prophet")

CHICAGO = "America/Chicago"


def record(number, receipt_date, *, order_date="2025-03-01", promised_date="2025-03-15", supplier="S1"):
    return {
        "po_line_id": number, "supplier_code": supplier, "shipment_mode": "Truck", "family": "Bolts",
        "order_date": order_date, "promised_date": promised_date, "receipt_date": receipt_date,
    }


def test_series_with_one_receipt_falls_back_to_global(engine):
    with engine.begin() as connection:
        deep = make_supplier(connection, supplier_code="DEEP")
        add_history(connection, deep, [3] * 40)
        once = make_supplier(connection, supplier_code="ONCE")
        add_history(connection, once, [10], start=date(2025, 5, 1))
        line = open_line(connection, once)

    result = refresh_forecasts(engine, as_of=AS_OF, workers=1)

    row = eta_rows(engine)[line["id"]]
    assert dates(row) == (date(2026, 3, 19), date(2026, 3, 19), date(2026, 3, 19))
    assert (row["series_key"], row["model"], row["receipts_used"], row["confidence"]) == ("global", "empirical", 41, "low_data")
    assert result.lines_low_data == 1
    with engine.connect() as connection:
        keys = set(connection.execute(select(schema.forecast_series.c.series_key)).scalars())
    assert keys == {"global", "supplier:DEEP"}


def test_missing_receipt_date_is_left_out_with_reason():
    history = history_from_records([record(1, "2025-03-18"), record(2, None)])

    assert history.read == 2
    assert history.lines["po_line_id"].tolist() == [1]
    assert history.excluded.to_dict("records") == [
        {
            "po_line_id": 2,
            "kind": "missing_receipt_date",
            "reason": "receipt_date is missing; the line counts as received only once its receipt has a date",
        }
    ]


def test_one_dated_receipt_keeps_promise():
    history = history_from_records([record(1, "2025-03-18"), record(2, "")])
    tasks = series_tasks(history.lines, day_number(date(2026, 3, 2)), day_number(date(2026, 6, 1)), ProphetPolicy.SCREENED)
    forecasts = {task.key: fit_series(task).forecast for task in tasks}
    lines = pd.DataFrame(
        [(7, "S1", "Truck", "Bolts", day_number(date(2026, 3, 2)), day_number(date(2026, 3, 16)), day_number(date(2026, 3, 3)), 14)],
        columns=["po_line_id", "supplier_code", "shipment_mode", "family", "order_day", "promised_day", "earliest_day",
                 "default_lead_days"],
    )

    eta = forecast_lines(lines, forecasts).iloc[0]

    assert [task.key for task in tasks] == ["global"]
    assert (eta["p10_date"], eta["p50_date"], eta["p90_date"]) == (date(2026, 3, 16), date(2026, 3, 16), date(2026, 3, 19))
    assert (eta["model"], eta["receipts_used"], eta["confidence"]) == ("promise", 1, "low_data")
    assert eta["backtest_mae_days"] is None


def test_receipt_before_its_order_is_left_out(engine, caplog):
    with engine.begin() as connection:
        supplier = make_supplier(connection, supplier_code="BACKDATED")
        add_history(connection, supplier, [2] * 40)
        backdated = make_po_line(
            connection, supplier_id=supplier["id"], order_date=date(2025, 9, 10), promised_date=date(2025, 9, 24),
            status="received", received_qty=Decimal(100),
        )
        receive(connection, backdated, date(2025, 9, 3))
    caplog.set_level(logging.WARNING, logger="services.forecast.history")

    result = refresh_forecasts(engine, as_of=AS_OF, workers=1)

    assert (result.history_read, result.history_used, result.history_excluded) == (41, 40, 1)
    assert result.excluded_by_kind == {"received_before_order": 1}
    assert caplog.messages == [
        f"1 of 41 received lines left out of the forecast history, for example line {backdated['id']}: "
        "receipt_date 2025-09-03 is before order_date 2025-09-10; correct whichever date is wrong in the source"
    ]
    with engine.connect() as connection:
        counted = connection.execute(
            select(schema.forecast_series.c.receipts_count).where(schema.forecast_series.c.series_key == "global")
        ).scalar_one()
    assert counted == 40


def test_text_date_left_out_naming_value():
    history = history_from_records(
        [record(1, "2025-03-18"), record(2, "2025-03-20", promised_date="Date Not Captured")]
    )

    assert history.lines["po_line_id"].tolist() == [1]
    assert history.excluded["reason"].tolist() == [
        "promised_date 'Date Not Captured' is not a date; write it as YYYY-MM-DD or as an ISO 8601 timestamp, "
        "or leave the line out of the history"
    ]
    assert history.reason_counts() == {"not_a_date": 1}


def test_offset_timestamps_across_spring_forward():
    # Daylight saving time began in Chicago at 02:00 on 10 March 2024.
    history = history_from_records(
        [
            record(1, "2024-03-09T23:30:00-06:00", order_date="2024-03-01", promised_date="2024-03-08"),
            record(2, "2024-03-10T23:30:00-05:00", order_date="2024-03-01", promised_date="2024-03-08"),
            record(3, "2024-03-11T04:30:00+00:00", order_date="2024-03-01", promised_date="2024-03-08"),
        ],
        CHICAGO,
    )

    assert [value.date() for value in history.lines["receipt_date"]] == [
        date(2024, 3, 9), date(2024, 3, 10), date(2024, 3, 10),
    ]
    assert history.lines["receipt_date"].dt.tz is None
    assert history.lines["receipt_day"].tolist() == [day_number(date(2024, 3, 9)), day_number(date(2024, 3, 10))] + [
        day_number(date(2024, 3, 10))
    ]


def test_aware_timestamps_across_fall_back():
    # Daylight saving time ended in Chicago at 02:00 on 3 November 2024: both instants are 23:30 local.
    frame = pd.DataFrame(
        {
            "po_line_id": [1, 2],
            "supplier_code": ["S1", "S1"],
            "shipment_mode": ["Truck", "Truck"],
            "family": ["Bolts", "Bolts"],
            "order_date": pd.to_datetime(["2024-10-20", "2024-10-20"]),
            "promised_date": pd.to_datetime(["2024-11-01", "2024-11-01"]),
            "receipt_date": pd.to_datetime(["2024-11-03T04:30:00Z", "2024-11-04T05:30:00Z"]),
        }
    )

    history = build_history(frame, CHICAGO)

    assert [value.date() for value in history.lines["receipt_date"]] == [date(2024, 11, 2), date(2024, 11, 3)]


def test_prophet_fits_history_read_from_aware_timestamps():
    start = datetime(2024, 1, 1, 22, 0, tzinfo=timezone.utc)
    records = [
        record(
            number,
            (start + timedelta(days=number * 3 + 14 + number // 8)).isoformat(),
            order_date=(start + timedelta(days=number * 3)).isoformat(),
            promised_date=(start + timedelta(days=number * 3 + 14)).isoformat(),
        )
        for number in range(60)
    ]
    lines = history_from_records(records, CHICAGO).lines
    promised = lines["promised_day"].to_numpy(dtype=np.int64)
    observations = Observations.build(
        promised, lines["receipt_day"] - promised, lines["receipt_day"], lines["order_day"]
    )

    curve = ProphetModel("linear").fit(observations, int(promised.max()), int(promised.max()) + 30)

    assert len(curve.p50) == 31
    assert curve.p50[0] == pytest.approx(7.0, abs=0.5)


def test_lead_time_toward_zero_keeps_one_day(engine):
    with engine.begin() as connection:
        shrinking = make_supplier(connection, supplier_code="SHRINKING")
        # Promised 20 days after order; delivered a day sooner every fifth line, on the order day from line 100 on.
        add_history(connection, shrinking, [max(0, 20 - number // 5) - 20 for number in range(120)], lead=20)
        promised = open_line(connection, shrinking, order_date=AS_OF, promised_date=AS_OF + timedelta(days=20))
        unpromised = open_line(connection, shrinking, order_date=AS_OF, promised_date=None)

    result = refresh_forecasts(engine, as_of=AS_OF, workers=1)

    rows = eta_rows(engine)
    assert rows[promised["id"]]["model"] == "prophet_linear"
    assert dates(rows[promised["id"]])[:2] == (AS_OF + timedelta(days=1), AS_OF + timedelta(days=1))
    assert rows[promised["id"]]["p90_date"] >= AS_OF + timedelta(days=1)
    # Without a promise: the recent lead times run from 20 days down to 0, so P10 meets the one-day floor.
    assert dates(rows[unpromised["id"]]) == (AS_OF + timedelta(days=1), date(2026, 3, 11), date(2026, 3, 11))
    assert result.partial is False


def test_prophet_failure_makes_run_partial(engine, monkeypatch):
    with engine.begin() as connection:
        slipping = make_supplier(connection, supplier_code="SLIPPING")
        add_history(connection, slipping, [number // 10 for number in range(120)])
        line = open_line(connection, slipping)

    def failing_fit(self, *args, **kwargs):
        raise RuntimeError("Stan optimizer failed")

    monkeypatch.setattr(prophet.Prophet, "fit", failing_fit)

    finished = run_job(
        engine, "forecast",
        lambda engine, job_run_id: refresh_forecasts(engine, as_of=AS_OF, workers=1, job_run_id=job_run_id).outcome(),
    )

    assert finished.status is JobStatus.PARTIAL
    assert finished.error == (
        "series global: prophet_linear failed in the delay backtest (RuntimeError: Stan optimizer failed); "
        "used empirical instead; "
        "series supplier:SLIPPING: prophet_linear failed in the delay backtest (RuntimeError: Stan optimizer failed); "
        "used empirical instead"
    )
    assert finished.counts["lines_forecast"] == 1
    row = eta_rows(engine)[line["id"]]
    assert (row["model"], row["series_key"]) == ("empirical", "supplier:SLIPPING")
    with engine.connect() as connection:
        job_run = connection.execute(select(schema.job_runs).where(schema.job_runs.c.id == finished.job_run_id)).mappings().one()
        prophet_rows = connection.execute(
            select(schema.forecast_backtests.c.chosen, schema.forecast_backtests.c.mae_p50_days)
            .where(schema.forecast_backtests.c.model == "prophet_linear")
        ).all()
    assert job_run["status"] == "partial"
    assert job_run["error"] == finished.error
    assert prophet_rows == [(False, None), (False, None)]


def test_unfittable_series_falls_back_a_level(engine, monkeypatch):
    with engine.begin() as connection:
        broken = make_supplier(connection, supplier_code="BROKEN")
        add_history(connection, broken, [6] * 40)
        line = open_line(connection, broken)
    fit = refresh.fit_series

    def fit_or_raise(task):
        if task.key == "supplier:BROKEN":
            raise ValueError("array of sample points is empty")
        return fit(task)

    monkeypatch.setattr(refresh, "fit_series", fit_or_raise)

    result = refresh_forecasts(engine, as_of=AS_OF, workers=1)

    assert result.partial is True
    assert result.series_failed == 1
    assert result.failures == [
        "series supplier:BROKEN could not be fitted (ValueError: array of sample points is empty); "
        "its lines use the level above"
    ]
    row = eta_rows(engine)[line["id"]]
    assert (row["series_key"], row["confidence"], row["p50_date"]) == ("global", "low_data", date(2026, 3, 22))
