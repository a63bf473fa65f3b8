"""The Weekly KPIs page on the small demo: its figures equal the snapshot service's, and other roles are refused."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from services.auth.roles import Actor, Role
from services.kpis.weekly import compare_latest_weeks, get_kpi_snapshots, snapshot_weekly_kpis
from services.settings import PROJECT_ROOT
from tests.builders import NOW
from tests.demo import load_small_demo
from tests.streamlit_run import run_streamlit

PAGE_PATH = str(PROJECT_ROOT / "pages" / "weekly_kpis.py")
EXECUTIVE = Actor("erin", Role.EXECUTIVE)
TIME_ZONE = "America/Chicago"


pytestmark = pytest.mark.usefixtures("isolate_streamlit_runs")


def run_page(monkeypatch, database_url, actor) -> AppTest:
    return run_streamlit(monkeypatch, database_url, PAGE_PATH, actor)


def test_page_metrics_match_snapshots_on_demo(engine, database_url, tmp_path, monkeypatch):
    load_small_demo(engine, tmp_path / "demo")
    for weeks_back in range(3, -1, -1):
        snapshot_weekly_kpis(engine, date(2026, 2, 23) - timedelta(days=7 * weeks_back), time_zone=TIME_ZONE, now=NOW)

    app = run_page(monkeypatch, database_url, EXECUTIVE)

    comparisons = compare_latest_weeks(get_kpi_snapshots(engine, EXECUTIVE))
    shown = {metric.label: metric for metric in app.metric}
    otif = next(item for item in comparisons if item.definition.key == "otif")
    fill = next(item for item in comparisons if item.definition.key == "fill_rate")
    revenue = next(item for item in comparisons if item.definition.key == "revenue_at_risk")
    assert otif.this_week is not None and 0 < otif.this_week < 1
    assert shown["OTIF"].value == f"{otif.this_week * 100:.1f}%"
    assert shown["OTIF"].delta == f"{otif.change * 100:+.1f} pts"
    assert shown["Fill rate"].value == f"{fill.this_week * 100:.1f}%"
    assert shown["Revenue at risk (USD)"].value == f"USD {revenue.this_week:,.2f}"
    assert app.caption[0].value.startswith("Week starting Monday 23 February 2026")
    # The demo has no decisions, so cycle time and acceptance have no trend.
    assert sorted(chart.key for chart in app.get("plotly_chart")) == [
        "backlog_buckets", "trend_backlog_aging_all", "trend_fill_rate_all", "trend_otif_all",
        "trend_promise_accuracy_current_all", "trend_promise_accuracy_first_all", "trend_promise_stability_all",
        "trend_revenue_at_risk_USD",
    ]


def test_page_without_snapshots_says_how_to_take_one(database_url, monkeypatch):
    app = run_page(monkeypatch, database_url, Actor("ada", Role.ADMINISTRATOR))

    assert app.info[0].value.startswith("No weekly KPI snapshot has been taken yet")


def test_page_refuses_planner(database_url, monkeypatch):
    app = run_page(monkeypatch, database_url, Actor("pat", Role.PLANNER))

    assert [error.value for error in app.error] == [
        "The Weekly KPIs page is open to these roles: executive, operations leader, administrator. "
        "You are signed in as pat with the role planner; ask an administrator if you need it."
    ]
    assert len(app.metric) == 0
