"""The forecast refresh against PostgreSQL: ETAs per open line, incremental refits, records and the job."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import insert, select, text, update

from seed_data.generator import generate_demo
from services.db import schema
from services.forecast.refresh import forecast_job, refresh_forecasts
from services.sync.canonical import load_canonical_folder
from services.settings import load_settings
from services.worker.job_runs import JobStatus, run_job
from tests.builders import NOW, make_item, make_po_line, make_supplier, make_sync_run, make_warehouse

# Prophet 1.5.0 calls pandas APIs that pandas 3 deprecates; the warnings are about its code.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:prophet")

AS_OF = date(2026, 3, 2)
HISTORY_START = date(2025, 6, 2)


def receive(connection, po_line, receipt_date: date, qty: Decimal | None = None) -> None:
    """Insert a receipt of the line's whole ordered quantity, or of qty."""
    connection.execute(
        insert(schema.receipts).values(
            po_line_id=po_line["id"],
            warehouse_id=po_line["warehouse_id"],
            receipt_date=receipt_date,
            received_qty=qty if qty is not None else po_line["ordered_qty"],
            source="test",
            source_key=f"GR/{po_line['po_number']}/{receipt_date.isoformat()}",
            source_updated_at=NOW,
        )
    )


def add_history(connection, supplier, delays, *, start=HISTORY_START, lead=14, mode=None, item=None, warehouse=None):
    """Insert one received line per delay, ordered a day apart from start and promised lead days later."""
    item = item or make_item(connection)
    warehouse = warehouse or make_warehouse(connection)
    lines = []
    for number, delay in enumerate(delays):
        order_date = start + timedelta(days=number)
        line = make_po_line(
            connection,
            supplier_id=supplier["id"],
            item_id=item["id"],
            warehouse_id=warehouse["id"],
            order_date=order_date,
            promised_date=order_date + timedelta(days=lead),
            shipment_mode=mode,
            status="received",
            received_qty=Decimal(100),
        )
        receive(connection, line, order_date + timedelta(days=lead + delay))
        lines.append(line)
    return lines


def open_line(connection, supplier, *, order_date=AS_OF, promised_date=AS_OF + timedelta(days=14), mode=None, **values):
    return make_po_line(
        connection, supplier_id=supplier["id"], order_date=order_date, promised_date=promised_date,
        shipment_mode=mode, **values,
    )


def eta_rows(engine) -> dict[int, dict]:
    with engine.connect() as connection:
        rows = connection.execute(select(schema.eta_forecasts)).mappings().all()
    return {row["po_line_id"]: dict(row) for row in rows}


def dates(row) -> tuple[date, date, date]:
    return row["p10_date"], row["p50_date"], row["p90_date"]


def test_late_supplier_eta_adds_its_delay(engine):
    with engine.begin() as connection:
        late = make_supplier(connection, supplier_code="LATE")
        add_history(connection, late, [5] * 40)
        line = open_line(connection, late)

    result = refresh_forecasts(engine, as_of=AS_OF, workers=1)

    row = eta_rows(engine)[line["id"]]
    assert dates(row) == (date(2026, 3, 21), date(2026, 3, 21), date(2026, 3, 21))
    assert row["model"] == "empirical"
    assert row["series_key"] == "supplier:LATE"
    assert row["backtest_mae_days"] == Decimal("0.000")
    assert row["receipts_used"] == 40
    assert row["confidence"] == "high"
    assert result.partial is False
    assert (result.series_total, result.series_fitted, result.lines_forecast) == (2, 2, 1)


def test_reliable_supplier_keeps_the_promise(engine):
    with engine.begin() as connection:
        reliable = make_supplier(connection, supplier_code="ONTIME")
        add_history(connection, reliable, [0, 0, 0, 1, 0, -1, 0, 0, 0, 0] * 4)
        line = open_line(connection, reliable)

    refresh_forecasts(engine, as_of=AS_OF, workers=1)

    row = eta_rows(engine)[line["id"]]
    assert row["p50_date"] == date(2026, 3, 16)
    assert row["model"] == "promise"
    assert row["confidence"] == "high"


def test_line_uses_its_shipment_mode_series(engine):
    with engine.begin() as connection:
        supplier = make_supplier(connection, supplier_code="MIXED")
        add_history(connection, supplier, [1] * 30, mode="Air")
        add_history(connection, supplier, [10] * 30, mode="Ocean", start=HISTORY_START + timedelta(days=60))
        by_air = open_line(connection, supplier, mode="Air")
        by_ocean = open_line(connection, supplier, mode="Ocean")
        by_rail = open_line(connection, supplier, mode="Rail")

    refresh_forecasts(engine, as_of=AS_OF, workers=1)

    rows = eta_rows(engine)
    assert rows[by_air["id"]]["p50_date"] == date(2026, 3, 17)
    assert rows[by_air["id"]]["series_key"] == "supplier:MIXED|mode:Air"
    assert rows[by_ocean["id"]]["p50_date"] == date(2026, 3, 26)
    assert rows[by_ocean["id"]]["series_key"] == "supplier:MIXED|mode:Ocean"
    assert rows[by_rail["id"]]["series_key"] == "supplier:MIXED"


def test_unpromised_line_gets_lead_time(engine):
    with engine.begin() as connection:
        supplier = make_supplier(connection, supplier_code="NOPROMISE")
        add_history(connection, supplier, [3] * 40, lead=9)
        line = open_line(connection, supplier, promised_date=None)

    refresh_forecasts(engine, as_of=AS_OF, workers=1)

    row = eta_rows(engine)[line["id"]]
    assert dates(row) == (date(2026, 3, 14), date(2026, 3, 14), date(2026, 3, 14))
    assert row["model"] == "empirical_lead_time"


def test_overdue_line_is_never_forecast_before_today(engine):
    with engine.begin() as connection:
        supplier = make_supplier(connection, supplier_code="OVERDUE")
        add_history(connection, supplier, [2] * 40)
        line = open_line(connection, supplier, order_date=date(2026, 1, 5), promised_date=date(2026, 1, 19))

    refresh_forecasts(engine, as_of=AS_OF, workers=1)

    assert dates(eta_rows(engine)[line["id"]]) == (AS_OF, AS_OF, AS_OF)


def test_refresh_refits_only_series_with_new_receipts(engine):
    with engine.begin() as connection:
        first = make_supplier(connection, supplier_code="FIRST")
        second = make_supplier(connection, supplier_code="SECOND")
        add_history(connection, first, [2] * 20)
        second_lines = add_history(connection, second, [4] * 40, start=HISTORY_START + timedelta(days=40))
        line = open_line(connection, second)

    first_run = refresh_forecasts(engine, as_of=AS_OF, workers=1)
    unchanged_run = refresh_forecasts(engine, as_of=AS_OF, workers=1)
    with engine.begin() as connection:
        late = make_po_line(
            connection, supplier_id=second["id"], order_date=date(2026, 2, 2), promised_date=date(2026, 2, 16),
            status="received", received_qty=Decimal(100),
        )
        receive(connection, late, date(2026, 2, 20))
    after_receipt = refresh_forecasts(engine, as_of=AS_OF, workers=1)

    assert (first_run.series_fitted, first_run.series_reused) == (3, 0)
    assert (unchanged_run.series_fitted, unchanged_run.series_reused) == (0, 3)
    assert (after_receipt.series_fitted, after_receipt.series_reused) == (2, 1)
    with engine.connect() as connection:
        stored = {
            row.series_key: (row.receipts_count, row.last_receipt_date)
            for row in connection.execute(select(schema.forecast_series))
        }
    assert stored == {
        "global": (61, date(2026, 2, 20)),
        "supplier:FIRST": (20, date(2025, 7, 7)),
        "supplier:SECOND": (41, date(2026, 2, 20)),
    }
    assert second_lines[0]["id"] not in eta_rows(engine)
    assert eta_rows(engine)[line["id"]]["p50_date"] == date(2026, 3, 20)


def test_reused_series_gives_same_eta(engine):
    with engine.begin() as connection:
        supplier = make_supplier(connection, supplier_code="STEADY")
        add_history(connection, supplier, [0, 3, 6, 2, 8, 1, 4, 9, 5, 7] * 5)
        line = open_line(connection, supplier)

    refresh_forecasts(engine, as_of=AS_OF, workers=1)
    fitted = eta_rows(engine)[line["id"]]
    refresh_forecasts(engine, as_of=AS_OF, workers=1)
    reused = eta_rows(engine)[line["id"]]

    assert dates(reused) == dates(fitted)
    assert (reused["model"], reused["backtest_mae_days"]) == (fitted["model"], fitted["backtest_mae_days"])


def test_refresh_replaces_previous_eta_rows(engine):
    with engine.begin() as connection:
        supplier = make_supplier(connection, supplier_code="CLOSING")
        add_history(connection, supplier, [1] * 20)
        staying = open_line(connection, supplier)
        leaving = open_line(connection, supplier)
    refresh_forecasts(engine, as_of=AS_OF, workers=1)
    with engine.begin() as connection:
        connection.execute(
            update(schema.purchase_order_lines).where(schema.purchase_order_lines.c.id == leaving["id"]).values(status="cancelled")
        )

    refresh_forecasts(engine, as_of=AS_OF, workers=1)

    assert set(eta_rows(engine)) == {staying["id"]}


def test_partly_received_line_is_still_forecast(engine):
    with engine.begin() as connection:
        supplier = make_supplier(connection, supplier_code="PARTLY")
        add_history(connection, supplier, [1] * 20)
        line = open_line(connection, supplier)
        receive(connection, line, date(2026, 2, 27), qty=Decimal(40))

    result = refresh_forecasts(engine, as_of=AS_OF, workers=1)

    assert line["id"] in eta_rows(engine)
    assert result.history_read == 20


def test_backtests_recorded_per_candidate(engine):
    with engine.begin() as connection:
        late = make_supplier(connection, supplier_code="RECORDED")
        add_history(connection, late, [5] * 40)
        job_run = connection.execute(
            insert(schema.job_runs).values(job_name="forecast").returning(schema.job_runs.c.id)
        ).scalar_one()

    refresh_forecasts(engine, as_of=AS_OF, workers=1, job_run_id=job_run)

    with engine.connect() as connection:
        rows = connection.execute(
            select(schema.forecast_backtests).where(schema.forecast_backtests.c.series_key == "supplier:RECORDED")
        ).mappings().all()
    recorded = {
        row["model"]: (row["chosen"], row["mae_p50_days"], row["mae_promise_days"], row["coverage_p10_p90"],
                       row["train_count"], row["test_count"], row["job_run_id"])
        for row in rows
    }
    assert recorded == {
        "promise": (False, Decimal("2.500"), Decimal("2.500"), Decimal("1.000000"), 36, 16, job_run),
        "empirical": (True, Decimal("0.000"), Decimal("2.500"), Decimal("1.000000"), 36, 16, job_run),
        "empirical_lead_time": (True, Decimal("0.000"), None, Decimal("1.000000"), 36, 16, job_run),
    }


def test_series_row_names_level_model_and_params(engine):
    with engine.begin() as connection:
        late = make_supplier(connection, supplier_code="PARAMS")
        add_history(connection, late, [5] * 40)

    refresh_forecasts(engine, as_of=AS_OF, workers=1)

    with engine.connect() as connection:
        row = connection.execute(
            select(schema.forecast_series).where(schema.forecast_series.c.series_key == "supplier:PARAMS")
        ).mappings().one()
    assert (row["level"], row["model"], row["receipts_count"], row["backtest_mae_days"]) == (
        "supplier", "empirical", 40, Decimal("0.000"),
    )
    assert row["last_receipt_date"] == date(2025, 7, 30)
    assert row["params"]["delay"]["curve"] == {"p50": [5.0], "first_day": "1970-01-01", "lower": 0.0, "upper": 0.0}
    assert row["params"]["prophet"] == "no significant trend or yearly pattern in 40 receipts over 39 days"


def test_forecast_job_records_a_succeeded_run(engine):
    with engine.begin() as connection:
        supplier = make_supplier(connection, supplier_code="JOB")
        add_history(connection, supplier, [2] * 20)
        open_line(connection, supplier)

    finished = run_job(engine, "forecast", lambda engine, job_run_id: forecast_job(engine, job_run_id, load_settings({})))

    assert finished.status is JobStatus.SUCCEEDED
    assert finished.counts["lines_forecast"] == 1
    assert finished.counts["series_fitted"] == 2
    with engine.connect() as connection:
        assert connection.execute(select(schema.eta_forecasts.c.job_run_id)).scalar_one() == finished.job_run_id


def test_forecast_job_refreshes_only_after_receipts_or_purchase_orders_sync(engine):
    settings = load_settings({})
    with engine.begin() as connection:
        supplier = make_supplier(connection, supplier_code="POLL")
        add_history(connection, supplier, [2] * 20)
        open_line(connection, supplier)

    def job(engine, job_run_id):
        return forecast_job(engine, job_run_id, settings)

    first = run_job(engine, "forecast", job)
    unchanged = run_job(engine, "forecast", job)
    with engine.begin() as connection:
        started = datetime.now(timezone.utc)
        make_sync_run(connection, entity="sales_order_lines", read_count=3, started_at=started, finished_at=started)
    after_orders = run_job(engine, "forecast", job)
    with engine.begin() as connection:
        started = datetime.now(timezone.utc)
        make_sync_run(connection, entity="receipts", read_count=1, started_at=started, finished_at=started)
    after_receipts = run_job(engine, "forecast", job)

    assert first.counts["lines_forecast"] == 1
    assert unchanged.counts == {"skipped": 1}
    assert after_orders.counts == {"skipped": 1}
    assert after_receipts.counts["lines_forecast"] == 1


def test_process_pool_matches_one_process(engine):
    with engine.begin() as connection:
        slipping = make_supplier(connection, supplier_code="SLIPPING")
        add_history(connection, slipping, [number // 10 for number in range(120)])
        steady = make_supplier(connection, supplier_code="STEADYPOOL")
        add_history(connection, steady, [3] * 30)
        lines = [open_line(connection, slipping), open_line(connection, steady)]

    in_process = refresh_forecasts(engine, as_of=AS_OF, workers=1)
    one_process = eta_rows(engine)
    in_pool = refresh_forecasts(engine, as_of=AS_OF, workers=2, refit_all=True)
    pooled = eta_rows(engine)

    # The slipping supplier's series and the global series each try Prophet at 4 origins and on all receipts.
    assert in_process.prophet_fits == in_pool.prophet_fits == 10
    assert pooled[lines[0]["id"]]["model"] == "prophet_linear"
    for line in lines:
        assert dates(pooled[line["id"]]) == dates(one_process[line["id"]])
        assert pooled[line["id"]]["backtest_mae_days"] == one_process[line["id"]]["backtest_mae_days"]


@pytest.mark.slow
def test_demo_open_lines_all_get_eta(engine, tmp_path):
    summary = generate_demo(tmp_path, seed=7, lines=1000, as_of=AS_OF)
    load_canonical_folder(engine, tmp_path, source="demo")

    result = refresh_forecasts(engine, as_of=AS_OF, workers=1)

    with engine.connect() as connection:
        open_count = connection.execute(
            text(
                "select count(*) from purchase_order_lines l where status = 'open' and ordered_qty - cancelled_qty"
                " > coalesce((select sum(received_qty) from receipts r where r.po_line_id = l.id), 0)"
            )
        ).scalar_one()
        before_today = connection.execute(
            text("select count(*) from eta_forecasts where p10_date < :day"), {"day": AS_OF}
        ).scalar_one()
        suppliers = connection.execute(
            text("select series_key, params from forecast_series where level = 'supplier'")
        ).all()
    assert result.lines_forecast == len(eta_rows(engine)) == open_count
    assert before_today == 0
    assert result.partial is False
    assert result.history_excluded == 0
    p50_delay = {key.removeprefix("supplier:"): params["delay"]["curve"]["p50"][0] for key, params in suppliers}
    behaviour = summary.supplier_behaviours
    late = [p50_delay[code] for code in p50_delay if behaviour[code] == "chronically_late"]
    reliable = [p50_delay[code] for code in p50_delay if behaviour[code] == "reliable"]
    assert late and min(late) >= 5.0
    assert reliable and set(reliable) == {0.0}
