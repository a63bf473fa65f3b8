"""Supplier ETA queries with exact figures on hand-built rows, and the Supplier ETA page on the forecast demo."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import insert
from streamlit.testing.v1 import AppTest

from services.auth.roles import Actor, Role, RoleRefused
from services.db import schema
from services.forecast.queries import (
    list_eta_suppliers,
    open_line_etas,
    series_accuracy,
    supplier_backtests,
    supplier_scorecard,
)
from services.settings import PROJECT_ROOT
from tests.builders import make_item, make_po_line, make_receipt, make_supplier, make_warehouse
from tests.demo import load_small_demo
from tests.streamlit_run import run_streamlit

PLANNER = Actor("pat", Role.PLANNER)
PAGE_PATH = str(PROJECT_ROOT / "pages" / "supplier_eta.py")


pytestmark = pytest.mark.usefixtures("isolate_streamlit_runs")


def eta(connection, po_line_id, p10, p50, p90, model="empirical"):
    connection.execute(insert(schema.eta_forecasts).values(
        po_line_id=po_line_id, p10_date=date.fromisoformat(p10), p50_date=date.fromisoformat(p50),
        p90_date=date.fromisoformat(p90), model=model, series_key="supplier:S1", receipts_used=12, confidence="high",
    ))


def backtest(connection, series_key, model, chosen, mae_p50, mae_promise, coverage):
    connection.execute(insert(schema.forecast_backtests).values(
        series_key=series_key, model=model, chosen=chosen, mae_p50_days=Decimal(mae_p50),
        mae_promise_days=Decimal(mae_promise), coverage_p10_p90=Decimal(coverage), train_count=20, test_count=10,
    ))


@pytest.fixture
def supplier_scene(engine):
    with engine.begin() as c:
        s1 = make_supplier(c, supplier_code="S1")["id"]
        s2 = make_supplier(c, supplier_code="S2")["id"]
        item = make_item(c)["id"]
        warehouse = make_warehouse(c)["id"]

        def po(supplier, promised, **values):
            return make_po_line(
                c, supplier_id=supplier, item_id=item, warehouse_id=warehouse, order_date=date(2025, 7, 1),
                promised_date=date.fromisoformat(promised) if promised else None, **values,
            )["id"]

        def receive(po_line_id, on):
            make_receipt(c, po_line_id=po_line_id, warehouse_id=warehouse, receipt_date=date.fromisoformat(on))

        a = po(s1, "2026-01-10", received_qty=Decimal(20), status="received")
        receive(a, "2026-01-08")
        receive(a, "2026-01-15")
        b = po(s1, "2026-02-01", received_qty=Decimal(10), status="received")
        receive(b, "2026-02-04")
        receive(po(s1, None, received_qty=Decimal(10), status="received"), "2026-02-10")
        receive(po(s1, "2025-08-10", received_qty=Decimal(10), status="received"), "2025-08-20")
        receive(po(s2, "2026-02-01", received_qty=Decimal(10), status="received"), "2026-03-01")

        late = po(s1, "2026-03-10", po_number="PO-LATE")
        early = po(s1, "2026-03-05", po_number="PO-EARLY")
        po(s1, "2026-03-20", po_number="PO-NOETA")
        eta(c, late, "2026-03-09", "2026-03-14", "2026-03-20")
        eta(c, early, "2026-03-02", "2026-03-04", "2026-03-08")

        backtest(c, "supplier:S1", "empirical", True, "2.5", "4.0", "0.8")
        backtest(c, "supplier:S1", "promise", False, "4.0", "4.0", "0.5")
        backtest(c, "supplier:S1", "empirical_lead_time", True, "3.5", "4.0", "0.7")
        backtest(c, "supplier:S1|mode:Air", "empirical", True, "1.0", "2.0", "0.9")
        backtest(c, "supplier:S10", "empirical", True, "9.0", "9.0", "0.1")
    return {"S1": s1, "S2": s2}


def test_scorecard_counts_split_receipts_in_window(engine, supplier_scene):
    scorecard = supplier_scorecard(engine, PLANNER, supplier_scene["S1"])

    # Receipts: 8 Jan (-2 days), 15 Jan (+5), 4 Feb (+3); August 2025 is before
    # the six months ending in February, and a line without a promise is left out.
    assert scorecard.receipts == 3
    assert scorecard.on_time_rate == Decimal(1) / Decimal(3)
    assert scorecard.mean_slip_days == Decimal(2)
    assert scorecard.by_month[["month", "receipts", "on_time"]].to_dict("records") == [
        {"month": pd.Timestamp("2026-01-01"), "receipts": 2, "on_time": 1},
        {"month": pd.Timestamp("2026-02-01"), "receipts": 1, "on_time": 0},
    ]
    assert list(scorecard.by_month["mean_slip_days"]) == [1.5, 3.0]


def test_open_lines_with_eta_against_promise(engine, supplier_scene):
    lines = open_line_etas(engine, PLANNER, supplier_scene["S1"])

    assert list(lines["po_number"]) == ["PO-EARLY", "PO-LATE", "PO-NOETA"]
    assert list(lines["p50_slip_days"].astype("float64").fillna(-99)) == [-1.0, 4.0, -99.0]
    assert lines.loc[1, "p90_date"] == pd.Timestamp("2026-03-20")


def test_suppliers_listed_by_lines_late_at_p50_with_history_only_suppliers_last(engine, supplier_scene):
    suppliers = list_eta_suppliers(engine, PLANNER)

    columns = ["supplier_code", "open_lines", "forecast_lines", "lines_late_p50", "received_lines"]
    assert suppliers[columns].to_dict("records") == [
        {"supplier_code": "S1", "open_lines": 3, "forecast_lines": 2, "lines_late_p50": 1, "received_lines": 4},
        {"supplier_code": "S2", "open_lines": 0, "forecast_lines": 0, "lines_late_p50": 0, "received_lines": 1},
    ]


def test_backtest_accuracy_of_supplier_series(engine, supplier_scene):
    backtests = supplier_backtests(engine, PLANNER, "S1")

    assert sorted(zip(backtests["series_key"], backtests["model"])) == [
        ("supplier:S1", "empirical"), ("supplier:S1", "empirical_lead_time"), ("supplier:S1", "promise"),
        ("supplier:S1|mode:Air", "empirical"),
    ]
    assert series_accuracy(backtests) == (2.5, 4.0, 0.8)


def test_line_limit_above_maximum_is_rejected(engine):
    with pytest.raises(ValueError, match="limit 5001 is outside 1 to 5000"):
        open_line_etas(engine, PLANNER, 1, limit=5001)


def test_eta_reads_refuse_executive(engine):
    with pytest.raises(RoleRefused, match=r"erin \(executive\) may not read supplier ETAs"):
        list_eta_suppliers(engine, Actor("erin", Role.EXECUTIVE))


# --- The page ----------------------------------------------------------------------


def run_page(monkeypatch, database_url, actor) -> AppTest:
    return run_streamlit(monkeypatch, database_url, PAGE_PATH, actor, timeout=120)


def test_page_figures_match_services_on_demo(engine, database_url, tmp_path, monkeypatch):
    load_small_demo(engine, tmp_path / "demo", forecasts=True)

    app = run_page(monkeypatch, database_url, PLANNER)

    suppliers = list_eta_suppliers(engine, PLANNER)
    first = suppliers.iloc[0]
    scorecard = supplier_scorecard(engine, PLANNER, int(first["supplier_id"]))
    mae_p50, mae_promise, coverage = series_accuracy(supplier_backtests(engine, PLANNER, first["supplier_code"]))
    lines = open_line_etas(engine, PLANNER, int(first["supplier_id"]))
    shown = {metric.label: metric.value for metric in app.metric}
    assert shown["Open PO lines"] == f"{int(first['open_lines']):,}"
    assert shown["Lines with P50 after promise"] == f"{int(first['lines_late_p50']):,}"
    assert shown["On-time rate"] == f"{float(scorecard.on_time_rate) * 100:.1f}%"
    assert shown["MAE of P50"] == ("no data" if mae_p50 is None else f"{mae_p50:.1f} days")
    assert shown["MAE of the promise"] == ("no data" if mae_promise is None else f"{mae_promise:.1f} days")
    assert shown["P10-P90 coverage"] == ("no data" if coverage is None else f"{coverage * 100:.1f}%")
    assert list(app.dataframe[0].value["po_number"]) == list(lines["po_number"])
    assert "eta_fan" in [chart.key for chart in app.get("plotly_chart")]


def test_page_refuses_executive(database_url, monkeypatch):
    app = run_page(monkeypatch, database_url, Actor("erin", Role.EXECUTIVE))

    assert [error.value for error in app.error] == [
        "The Supplier ETA page is open to these roles: operations leader, planner, administrator. "
        "You are signed in as erin with the role executive; ask an administrator if you need it."
    ]
