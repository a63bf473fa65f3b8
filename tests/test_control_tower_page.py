"""The Control tower page and its read queries, on a real PostgreSQL database."""

from __future__ import annotations

import socket
from datetime import timedelta
from decimal import Decimal
from urllib.parse import unquote

import pandas as pd
import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from services.auth.roles import Actor, Role
from services.kpis.overview import (
    get_backlog_overview,
    get_job_freshness,
    get_source_freshness,
    has_loaded_data,
)
from services.settings import PROJECT_ROOT, load_settings
from services.web import describe_database
from tests.builders import (
    NOW,
    make_job_run,
    make_order_line,
    make_po_line,
    make_sync_run,
)
from tests.streamlit_run import run_streamlit

APP_PATH = str(PROJECT_ROOT / "app.py")

# Figures of the data set inserted by load_control_tower_data, computed by hand.
# Open order lines: 10 x 19.99 + 4 x 125.50 + 1 x 1234.56 + (12 - 5) x 7.25.
# Open PO lines: (100 - 40) x 3.10 + 25 x 12.00.
OPEN_ORDER_LINES = 4
OPEN_UNITS = Decimal(22)
OPEN_VALUE = Decimal("1987.21")
OPEN_PO_LINES = 2
UNITS_ON_ORDER = Decimal(85)
VALUE_ON_ORDER = Decimal("486.00")

DIRECT_BACKLOG_SQL = text(
    """
    select
        (select count(*) from sales_order_lines
          where status = 'open' and ordered_qty - shipped_qty - cancelled_qty > 0) as order_lines,
        (select sum(ordered_qty - shipped_qty - cancelled_qty) from sales_order_lines
          where status = 'open' and ordered_qty - shipped_qty - cancelled_qty > 0) as order_units,
        (select sum((ordered_qty - shipped_qty - cancelled_qty) * unit_price) from sales_order_lines
          where status = 'open' and ordered_qty - shipped_qty - cancelled_qty > 0) as order_value,
        (select count(*) from purchase_order_lines
          where status = 'open' and ordered_qty - received_qty - cancelled_qty > 0) as po_lines,
        (select sum(ordered_qty - received_qty - cancelled_qty) from purchase_order_lines
          where status = 'open' and ordered_qty - received_qty - cancelled_qty > 0) as po_units,
        (select sum((ordered_qty - received_qty - cancelled_qty) * unit_cost) from purchase_order_lines
          where status = 'open' and ordered_qty - received_qty - cancelled_qty > 0) as po_value
    """
)


pytestmark = pytest.mark.usefixtures("isolate_streamlit_runs")


def load_control_tower_data(engine) -> None:
    """Insert order lines, PO lines, sync runs and job runs with known figures."""
    with engine.begin() as connection:
        make_order_line(connection, ordered_qty=10, unit_price=Decimal("19.99"))
        make_order_line(connection, ordered_qty=4, unit_price=Decimal("125.50"))
        make_order_line(connection, ordered_qty=1, unit_price=Decimal("1234.56"))
        make_order_line(connection, ordered_qty=12, shipped_qty=5, unit_price=Decimal("7.25"))
        make_order_line(connection, ordered_qty=8, shipped_qty=8, status="shipped")
        make_order_line(connection, ordered_qty=6, cancelled_qty=6, status="cancelled")
        make_order_line(connection, ordered_qty=3, shipped_qty=2, cancelled_qty=1, status="open")

        make_po_line(connection, ordered_qty=100, received_qty=40, unit_cost=Decimal("3.10"))
        make_po_line(connection, ordered_qty=25, unit_cost=Decimal("12.00"))
        make_po_line(connection, ordered_qty=50, received_qty=50, status="received")

        make_sync_run(
            connection, source="erp", entity="sales_order_lines",
            started_at=NOW - timedelta(hours=3), finished_at=NOW - timedelta(hours=2), read_count=7,
            rejected_count=2,
        )
        make_sync_run(
            connection, source="supplier_edi", entity="purchase_order_lines",
            started_at=NOW - timedelta(hours=27), finished_at=NOW - timedelta(hours=26), read_count=3,
        )
        make_sync_run(
            connection, source="supplier_edi", entity="purchase_order_lines", status="failed",
            started_at=NOW - timedelta(hours=1), error="missing column promised_date in row 1",
        )

        make_job_run(
            connection, job_name="sync_inbox",
            started_at=NOW - timedelta(minutes=30), finished_at=NOW - timedelta(minutes=15),
        )
        make_job_run(
            connection, job_name="compute_exposure",
            started_at=NOW - timedelta(hours=5), finished_at=NOW - timedelta(hours=4),
        )
        make_job_run(
            connection, job_name="compute_exposure", status="failed",
            started_at=NOW - timedelta(hours=1), error="item SKU-9 has no warehouse",
        )


def run_app(monkeypatch, database_url: str) -> AppTest:
    """Run the app signed in as a planner, who may open the Control tower."""
    return run_streamlit(monkeypatch, database_url, APP_PATH, Actor(username="planner", role=Role.PLANNER))


def metric_value(app: AppTest, label: str) -> str:
    values = [metric.value for metric in app.metric if metric.label == label]
    assert len(values) == 1, f"expected one metric labelled {label!r}, found {len(values)}"
    return values[0]


def dataframe_under(app: AppTest, heading: str) -> pd.DataFrame:
    """Return the dataframe drawn after the subheader with this text."""
    blocks = list(app.main)
    for position, node in enumerate(blocks):
        if node.type == "subheader" and node.value == heading:
            following = [n for n in blocks[position + 1:] if n.type == "dataframe"]
            return following[0].value
    raise AssertionError(f"no subheader {heading!r} on the page")


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- The page -----------------------------------------------------------------


def test_page_metrics_match_hand_figures(engine, database_url, monkeypatch):
    load_control_tower_data(engine)

    app = run_app(monkeypatch, database_url)

    assert metric_value(app, "Open order lines") == "4"
    assert metric_value(app, "Open units") == "22"
    assert metric_value(app, "Open value") == "$1,987.21"
    assert metric_value(app, "Open PO lines") == "2"
    assert metric_value(app, "Units on order") == "85"
    assert metric_value(app, "Value on order") == "$486.00"


def test_page_metrics_match_direct_sql(engine, database_url, monkeypatch):
    load_control_tower_data(engine)
    with engine.connect() as connection:
        expected = connection.execute(DIRECT_BACKLOG_SQL).mappings().one()

    app = run_app(monkeypatch, database_url)

    assert metric_value(app, "Open order lines") == f"{expected['order_lines']:,}"
    assert metric_value(app, "Open units") == f"{expected['order_units'].normalize():,f}"
    assert metric_value(app, "Open value") == f"${expected['order_value']:,.2f}"
    assert metric_value(app, "Open PO lines") == f"{expected['po_lines']:,}"
    assert metric_value(app, "Units on order") == f"{expected['po_units'].normalize():,f}"
    assert metric_value(app, "Value on order") == f"${expected['po_value']:,.2f}"


def test_freshness_table_lists_sources(engine, database_url, monkeypatch):
    load_control_tower_data(engine)

    app = run_app(monkeypatch, database_url)
    sources = dataframe_under(app, "Data freshness").set_index("source")

    assert list(sources.index) == ["erp", "supplier_edi"]
    assert sources.loc["erp", "entity"] == "sales_order_lines"
    assert sources.loc["erp", "last_status"] == "succeeded"
    assert pd.isna(sources.loc["erp", "last_error"])
    assert sources.loc["erp", "rows_read"] == 7
    assert sources.loc["supplier_edi", "last_status"] == "failed"
    assert sources.loc["supplier_edi", "last_error"] == "missing column promised_date in row 1"
    assert sources.loc["supplier_edi", "rows_read"] == 3
    assert sources.loc["erp", "rows_rejected"] == 2


def test_jobs_table_lists_jobs(engine, database_url, monkeypatch):
    load_control_tower_data(engine)

    app = run_app(monkeypatch, database_url)
    jobs = dataframe_under(app, "Jobs").set_index("job_name")

    assert list(jobs.index) == ["compute_exposure", "sync_inbox"]
    assert jobs.loc["compute_exposure", "last_status"] == "failed"
    assert jobs.loc["compute_exposure", "last_error"] == "item SKU-9 has no warehouse"
    assert jobs.loc["sync_inbox", "last_status"] == "succeeded"
    assert pd.isna(jobs.loc["sync_inbox", "last_error"])


def test_po_lines_without_cost_are_named(engine, database_url, monkeypatch):
    with engine.begin() as connection:
        make_po_line(connection, ordered_qty=10, unit_cost=None)
        make_po_line(connection, ordered_qty=5, unit_cost=Decimal("2.00"))

    app = run_app(monkeypatch, database_url)

    assert metric_value(app, "Open PO lines") == "2"
    assert metric_value(app, "Value on order") == "$10.00"
    assert [caption.value for caption in app.main.caption] == [
        "1 open PO line has no unit cost and is left out of the value on order.",
        "No open order line is exposed.",
        "No source has been synced yet.",
        "No job has run yet.",
    ]


def test_empty_database_shows_info(database_url, monkeypatch):
    app = run_app(monkeypatch, database_url)

    assert len(app.info) == 1
    assert app.info[0].value.startswith("No data has been loaded yet")
    assert len(app.metric) == 0
    assert len(app.error) == 0


def test_frame_shows_title_and_database(engine, database_url, monkeypatch):
    app = run_app(monkeypatch, database_url)

    assert app.title[0].value == "Control tower"
    assert app.sidebar.caption[0].value == f"Database: {unquote(database_url)}"


def test_unreachable_database_shows_error(monkeypatch):
    url = f"postgresql://tower:secret@127.0.0.1:{free_loopback_port()}/control_tower"

    app = run_app(monkeypatch, url)

    assert len(app.error) == 1
    assert app.error[0].value.startswith(
        "cannot connect to PostgreSQL at postgresql+psycopg://tower:***@127.0.0.1:"
    )
    assert "secret" not in app.error[0].value
    assert len(app.metric) == 0


def test_sidebar_masks_database_password(monkeypatch):
    port = free_loopback_port()
    url = f"postgresql://tower:secret@127.0.0.1:{port}/control_tower"

    app = run_app(monkeypatch, url)

    assert app.sidebar.caption[0].value == (
        f"Database: postgresql+psycopg://tower:***@127.0.0.1:{port}/control_tower"
    )


def test_stopped_embedded_database_shows_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("CONTROL_TOWER_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)

    app = AppTest.from_file(APP_PATH, default_timeout=60)
    app.run()

    assert not app.exception
    assert len(app.error) == 1
    assert f"embedded PostgreSQL in {tmp_path / 'postgres'} is not running" in app.error[0].value
    assert "control-tower up" in app.error[0].value
    assert app.sidebar.caption[0].value == f"Database: embedded PostgreSQL in {tmp_path / 'postgres'}"


def test_invalid_setting_shown_in_sidebar(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://tower@127.0.0.1/control_tower")

    app = AppTest.from_file(APP_PATH, default_timeout=60)
    app.run()

    assert not app.exception
    assert len(app.sidebar.error) == 1
    assert "invalid setting DATABASE_URL" in app.sidebar.error[0].value
    assert len(app.metric) == 0


def test_describe_database_masks_password():
    settings = load_settings({"DATABASE_URL": "postgresql://tower:secret@db.internal:5432/ct"})

    assert describe_database(settings) == "postgresql+psycopg://tower:***@db.internal:5432/ct"


# --- Backlog overview ---------------------------------------------------------


def test_open_value_sums_cents_exactly(engine):
    with engine.begin() as connection:
        for _ in range(3):
            make_order_line(connection, ordered_qty=1, unit_price=Decimal("19.99"))

    overview = get_backlog_overview(engine)

    assert overview.open_order_lines == 3
    assert overview.open_units == Decimal(3)
    assert overview.open_value == {"USD": Decimal("59.97")}


def test_overview_matches_hand_figures(engine):
    load_control_tower_data(engine)

    overview = get_backlog_overview(engine)

    assert overview.open_order_lines == OPEN_ORDER_LINES
    assert overview.open_units == OPEN_UNITS
    assert overview.open_value == {"USD": OPEN_VALUE}
    assert overview.open_po_lines == OPEN_PO_LINES
    assert overview.units_on_order == UNITS_ON_ORDER
    assert overview.value_on_order == {"USD": VALUE_ON_ORDER}
    assert overview.po_lines_without_cost == 0


def test_open_qty_nets_shipped_and_cancelled(engine):
    with engine.begin() as connection:
        make_order_line(
            connection, ordered_qty=Decimal("10.5"), shipped_qty=Decimal("2.25"),
            cancelled_qty=Decimal("0.25"), unit_price=Decimal("3.3333"),
        )

    overview = get_backlog_overview(engine)

    assert overview.open_order_lines == 1
    assert overview.open_units == Decimal("8")
    assert overview.open_value == {"USD": Decimal("26.6664")}


def test_fully_settled_open_line_excluded(engine):
    with engine.begin() as connection:
        make_order_line(connection, ordered_qty=3, shipped_qty=2, cancelled_qty=1, status="open")
        make_order_line(connection, ordered_qty=5, status="closed")

    overview = get_backlog_overview(engine)

    assert overview.open_order_lines == 0
    assert overview.open_units == Decimal(0)
    assert overview.open_value == {}


def test_values_are_kept_per_currency(engine):
    with engine.begin() as connection:
        make_order_line(connection, ordered_qty=2, unit_price=Decimal("10.00"), currency="USD")
        make_order_line(connection, ordered_qty=3, unit_price=Decimal("5.00"), currency="EUR")
        make_po_line(connection, ordered_qty=4, unit_cost=Decimal("2.50"), currency="EUR")

    overview = get_backlog_overview(engine)

    assert overview.open_order_lines == 2
    assert overview.open_units == Decimal(5)
    assert overview.open_value == {"EUR": Decimal("15.00"), "USD": Decimal("20.00")}
    assert overview.value_on_order == {"EUR": Decimal("10.00")}


def test_po_line_without_cost_not_valued(engine):
    with engine.begin() as connection:
        make_po_line(connection, ordered_qty=10, unit_cost=None)
        make_po_line(connection, ordered_qty=5, unit_cost=Decimal("2.00"))

    overview = get_backlog_overview(engine)

    assert overview.open_po_lines == 2
    assert overview.units_on_order == Decimal(15)
    assert overview.value_on_order == {"USD": Decimal("10.00")}
    assert overview.po_lines_without_cost == 1


def test_po_on_order_nets_received_and_cancelled(engine):
    with engine.begin() as connection:
        make_po_line(connection, ordered_qty=100, received_qty=30, cancelled_qty=20, unit_cost=Decimal("1.10"))
        make_po_line(connection, ordered_qty=10, received_qty=10, status="open")
        make_po_line(connection, ordered_qty=10, status="cancelled", cancelled_qty=10)

    overview = get_backlog_overview(engine)

    assert overview.open_po_lines == 1
    assert overview.units_on_order == Decimal(50)
    assert overview.value_on_order == {"USD": Decimal("55.00")}


def test_has_loaded_data_is_false_when_empty(engine):
    assert has_loaded_data(engine) is False


def test_has_loaded_data_after_a_sync_run(engine):
    with engine.begin() as connection:
        make_sync_run(connection)

    assert has_loaded_data(engine) is True


# --- Source and job freshness ---------------------------------------------------


def test_source_freshness_ages_and_statuses(engine):
    load_control_tower_data(engine)

    sources = get_source_freshness(engine, now=NOW).set_index("source")

    assert list(sources.columns) == [
        "entity", "last_success_at", "age_hours", "last_status", "last_error", "rows_read",
        "rows_rejected",
    ]
    assert sources.loc["erp", "last_success_at"] == pd.Timestamp(NOW - timedelta(hours=2))
    assert sources.loc["erp", "age_hours"] == 2.0
    assert sources.loc["supplier_edi", "last_success_at"] == pd.Timestamp(NOW - timedelta(hours=26))
    assert sources.loc["supplier_edi", "age_hours"] == 26.0
    assert sources.loc["supplier_edi", "last_status"] == "failed"
    assert sources.loc["supplier_edi", "rows_read"] == 3


def test_never_succeeded_source_has_no_age(engine):
    with engine.begin() as connection:
        make_sync_run(connection, source="wms", entity="inventory", status="failed", error="timed out")
        make_sync_run(connection, source="wms", entity="shipments", status="running")

    sources = get_source_freshness(engine, now=NOW).set_index("entity")

    assert sources.loc["inventory", "last_status"] == "failed"
    assert sources.loc["inventory", "last_error"] == "timed out"
    assert pd.isna(sources.loc["inventory", "last_success_at"])
    assert pd.isna(sources.loc["inventory", "age_hours"])
    assert pd.isna(sources.loc["inventory", "rows_read"])
    assert sources.loc["shipments", "last_status"] == "running"
    assert pd.isna(sources.loc["shipments", "last_error"])


def test_older_failure_error_is_hidden(engine):
    with engine.begin() as connection:
        make_sync_run(
            connection, status="failed", error="file locked", started_at=NOW - timedelta(hours=4),
        )
        make_sync_run(
            connection, read_count=12,
            started_at=NOW - timedelta(hours=2), finished_at=NOW - timedelta(hours=1, minutes=15),
        )

    sources = get_source_freshness(engine, now=NOW)

    assert len(sources) == 1
    assert sources.loc[0, "last_status"] == "succeeded"
    assert pd.isna(sources.loc[0, "last_error"])
    assert sources.loc[0, "rows_read"] == 12
    assert sources.loc[0, "age_hours"] == 1.25


def test_job_freshness_ages_and_statuses(engine):
    load_control_tower_data(engine)

    jobs = get_job_freshness(engine, now=NOW).set_index("job_name")

    assert list(jobs.columns) == ["last_success_at", "age_hours", "last_status", "last_error"]
    assert jobs.loc["sync_inbox", "age_hours"] == 0.25
    assert jobs.loc["sync_inbox", "last_status"] == "succeeded"
    assert jobs.loc["compute_exposure", "last_success_at"] == pd.Timestamp(NOW - timedelta(hours=4))
    assert jobs.loc["compute_exposure", "age_hours"] == 4.0
    assert jobs.loc["compute_exposure", "last_status"] == "failed"
    assert jobs.loc["compute_exposure", "last_error"] == "item SKU-9 has no warehouse"


def test_partial_job_shows_its_error(engine):
    with engine.begin() as connection:
        make_job_run(connection, job_name="outbox_retry", status="partial", error="2 of 9 messages failed")

    jobs = get_job_freshness(engine, now=NOW)

    assert jobs.loc[0, "last_status"] == "partial"
    assert jobs.loc[0, "last_error"] == "2 of 9 messages failed"
    assert pd.isna(jobs.loc[0, "age_hours"])


def test_freshness_empty_without_runs(engine):
    sources = get_source_freshness(engine, now=NOW)
    jobs = get_job_freshness(engine, now=NOW)

    assert sources.empty
    assert jobs.empty
    assert "rows_read" in sources.columns
    assert "job_name" in jobs.columns


def test_lines_late_without_promise_uses_request(engine):
    from services.kpis.headline import get_exposure_headline
    from tests.builders import make_exposure, make_order_line

    with engine.begin() as connection:
        lines = [make_order_line(connection, line_number=number) for number in range(1, 6)]
        # Late against the promise; late against the requested date without a promise;
        # on time against its promise though late against the request; backordered; on time.
        make_exposure(connection, so_line_id=lines[0]["id"], status="at_risk", days_late_promise=3, days_late_request=5)
        make_exposure(connection, so_line_id=lines[1]["id"], status="no_supply", days_late_promise=None, days_late_request=2129)
        make_exposure(connection, so_line_id=lines[2]["id"], status="at_risk", days_late_promise=0, days_late_request=4)
        make_exposure(connection, so_line_id=lines[3]["id"], status="backordered", days_late_promise=0, days_late_request=0)
        make_exposure(connection, so_line_id=lines[4]["id"], status="on_track", days_late_promise=None, days_late_request=0)

    headline = get_exposure_headline(engine, Actor("leader", Role.OPERATIONS_LEADER))

    assert headline.lines_late == 3
