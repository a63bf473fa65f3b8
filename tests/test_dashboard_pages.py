"""The Control tower, Exposure and Revenue at risk pages, signed in by role, on a small demo distributor."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from decimal import ROUND_HALF_UP

import pandas as pd
import pytest
from sqlalchemy import insert, text
from streamlit.testing.v1 import AppTest

from seed_data.generator import generate_demo
from services.auth.roles import Actor, Role, RoleRefused
from services.db import schema
from services.auth.users import authenticate, ensure_demo_users
from services.exposure.backlog import (
    BacklogFilters,
    backlog_aging,
    backlog_page,
    backlog_root_causes,
    backlog_totals,
    risk_watchlist,
)
from services.exposure.recompute import recompute_exposure
from services.exposure.revenue import (
    preview_supply_change,
    revenue_by_customer,
    revenue_by_ship_week,
    revenue_by_supplier,
)
from services.exposure.whatif import SupplyChange
from services.kpis.headline import get_exposure_headline, get_top_exposures
from services.kpis.overview import get_backlog_overview
from services.settings import PROJECT_ROOT
from services.sync.canonical import load_canonical_folder
from tests.streamlit_run import run_streamlit

APP_PATH = str(PROJECT_ROOT / "app.py")
AS_OF = date(2026, 3, 2)
DEMO_LINES = 1_000
SCORE_COLUMNS = ["score_tier", "score_sla", "score_margin", "score_fill_gap", "score_age", "score_churn"]


pytestmark = pytest.mark.usefixtures("isolate_streamlit_runs")


@pytest.fixture
def demo(engine, tmp_path):
    """The demo distributor at 1,000 open lines as of 2 March 2026, its exposure and its users."""
    folder = tmp_path / "demo"
    generate_demo(folder, seed=7, lines=DEMO_LINES, as_of=AS_OF)
    load_canonical_folder(engine, folder, source="demo", business_timezone="America/Chicago")
    recompute_exposure(engine, as_of=AS_OF)
    ensure_demo_users(engine)
    return engine


def signed_in(engine, role: Role) -> Actor:
    username, password = {
        Role.EXECUTIVE: ("executive", "executive-demo"),
        Role.OPERATIONS_LEADER: ("leader", "leader-demo"),
        Role.PLANNER: ("planner", "planner-demo"),
        Role.ADMINISTRATOR: ("admin", "admin-demo"),
    }[role]
    return authenticate(engine, username, password)


def run_app(monkeypatch, database_url: str, actor: Actor | None, page: str | None = None) -> AppTest:
    app = run_streamlit(monkeypatch, database_url, APP_PATH, actor)
    if page is not None:
        app.switch_page(page)
        app.run()
    assert not app.exception, [exception.value for exception in app.exception]
    return app


def metric_value(app: AppTest, label: str) -> str:
    values = [metric.value for metric in app.metric if metric.label == label]
    assert len(values) == 1, f"expected one metric labelled {label!r}, found {len(values)}"
    return values[0]


def dataframe_under(app: AppTest, heading: str) -> pd.DataFrame:
    """Return the first dataframe drawn after the subheader with this text, searching nested blocks too."""
    found_heading = False
    for node in walk(app.main):
        if node.type == "subheader" and node.value == heading:
            found_heading = True
        elif found_heading and node.type == "dataframe":
            return node.value
    raise AssertionError(f"no dataframe under the subheader {heading!r}")


def walk(node):
    for child in getattr(node, "children", {}).values():
        yield child
        yield from walk(child)


def add_recommendation(connection, so_line_id: int, status: str) -> None:
    line = connection.execute(
        text("select item_id from sales_order_lines where id = :id"), {"id": so_line_id}
    ).one()
    connection.execute(insert(schema.recommendations).values(
        so_line_id=so_line_id, action="allocate", item_id=line.item_id, qty=Decimal(1),
        explanation="test", governance_class="planner", status=status, data_version="v1",
    ))


def usd(amount: Decimal) -> str:
    return f"${amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


# --- Sign-in ---------------------------------------------------------------------


def test_sign_in_opens_control_tower(demo, database_url, monkeypatch):
    app = run_app(monkeypatch, database_url, None)
    app.text_input(key="sign_in_username").input("leader")
    app.text_input(key="sign_in_password").input("leader-demo")

    app.button[0].click().run()

    assert not app.exception
    assert app.title[0].value == "Control tower"
    assert app.session_state["actor"].username == "leader"
    assert app.session_state["actor"].role == Role.OPERATIONS_LEADER
    assert "Signed in as Demo operations leader (operations leader)" in [c.value for c in app.sidebar.caption]


def test_wrong_password_is_rejected(demo, database_url, monkeypatch):
    app = run_app(monkeypatch, database_url, None)
    app.text_input(key="sign_in_username").input("leader")
    app.text_input(key="sign_in_password").input("leader-wrong")

    app.button[0].click().run()

    assert [error.value for error in app.error] == [
        "Unknown username or wrong password; check both and try again."
    ]
    assert "actor" not in app.session_state
    assert app.title[0].value == "Sign in"
    assert len(app.metric) == 0


def test_unknown_user_gets_same_message(demo, database_url, monkeypatch):
    app = run_app(monkeypatch, database_url, None)
    app.text_input(key="sign_in_username").input("nobody")
    app.text_input(key="sign_in_password").input("leader-demo")

    app.button[0].click().run()

    assert [error.value for error in app.error] == [
        "Unknown username or wrong password; check both and try again."
    ]


def test_menu_lists_pages_of_the_role(demo, database_url, monkeypatch):
    expected = {
        Role.OPERATIONS_LEADER: [
            "Control tower", "Exposure", "Revenue at risk", "Recommendations", "Supplier ETA", "Weekly KPIs", "Operations",
        ],
        Role.PLANNER: ["Control tower", "Recommendations", "Exposure", "Supplier ETA", "Customer updates"],
        Role.EXECUTIVE: ["Control tower", "Weekly KPIs"],
        Role.ADMINISTRATOR: ["Control tower", "Settings", "Operations", "Weekly KPIs", "Supplier ETA"],
    }
    for role, titles in expected.items():
        app = run_app(monkeypatch, database_url, signed_in(demo, role))

        links = [node for node in walk(app.sidebar) if node.type == "page_link"]

        assert [link.proto.label for link in links] == titles, role


# --- Control tower ---------------------------------------------------------------


def test_control_tower_figures_match_services(demo, database_url, monkeypatch):
    with demo.begin() as connection:
        exposed = connection.execute(text("select so_line_id from exposure order by so_line_id limit 3")).scalars().all()
        add_recommendation(connection, exposed[0], "proposed")
        add_recommendation(connection, exposed[1], "proposed")
        add_recommendation(connection, exposed[2], "approved")
    actor = signed_in(demo, Role.EXECUTIVE)
    overview = get_backlog_overview(demo)
    headline = get_exposure_headline(demo, actor)
    top = get_top_exposures(demo, actor)

    app = run_app(monkeypatch, database_url, actor)

    assert metric_value(app, "Open order lines") == f"{overview.open_order_lines:,}"
    assert overview.open_order_lines == DEMO_LINES
    assert metric_value(app, "Open value") == usd(overview.open_value["USD"])
    assert metric_value(app, "Revenue at risk") == usd(headline.revenue_at_risk["USD"])
    assert metric_value(app, "Lines late") == f"{headline.lines_late:,}"
    assert headline.lines_late > 0
    assert metric_value(app, "Recommendations waiting") == "2"
    shown = dataframe_under(app, "Top exposures")
    assert shown["order_number"].tolist() == top["order_number"].tolist()
    assert len(shown) == 5


def test_no_recommendations_waiting_is_zero(demo, database_url, monkeypatch):
    app = run_app(monkeypatch, database_url, signed_in(demo, Role.PLANNER))

    assert metric_value(app, "Recommendations waiting") == "0"


def test_stale_source_is_warned(demo, database_url, monkeypatch):
    with demo.begin() as connection:
        connection.execute(text("update sync_runs set finished_at = now() - interval '30 hours' where entity = 'items'"))

    app = run_app(monkeypatch, database_url, signed_in(demo, Role.PLANNER))

    assert len(app.warning) == 1
    assert app.warning[0].value.startswith("Stale data: demo/items had no successful sync in the last 24 hours.")


# --- Exposure --------------------------------------------------------------------


def test_exposure_figures_match_services(demo, database_url, monkeypatch):
    actor = signed_in(demo, Role.OPERATIONS_LEADER)
    totals = backlog_totals(demo, actor, BacklogFilters())
    first_page = backlog_page(demo, actor, BacklogFilters())
    aging = backlog_aging(demo, actor, BacklogFilters())

    app = run_app(monkeypatch, database_url, actor, "pages/exposure.py")

    assert metric_value(app, "Exposed lines") == f"{int(totals['lines'].sum()):,}"
    assert metric_value(app, "Revenue at risk") == f"USD {totals.loc[0, 'revenue_at_risk']:,.2f}"
    table = dataframe_under(app, "Backlog by priority")
    assert table["so_line_id"].tolist() == first_page["so_line_id"].tolist()
    assert table["priority_score"].tolist() == [float(value) for value in first_page["priority_score"]]
    assert set(SCORE_COLUMNS) <= set(table.columns)
    assert dataframe_under(app, "Aging")["lines"].tolist() == aging["lines"].tolist()


def test_exposure_lists_flagged_skus_without_a_short_line(demo, database_url, monkeypatch):
    with demo.begin() as connection:
        item_id, warehouse_id = connection.execute(text(
            "select i.item_id, i.warehouse_id from inventory i where not exists ("
            " select 1 from exposure e join sales_order_lines l on l.id = e.so_line_id"
            " where l.item_id = i.item_id and l.warehouse_id = i.warehouse_id)"
            " order by i.item_id, i.warehouse_id limit 1"
        )).one()
        connection.execute(insert(schema.risk_models).values(
            version=1, source="kaggle", features=[], training_rows=100, positive_rows=5, threshold=Decimal("0.2"),
            model_bytes=b"unused",
        ))
        connection.execute(insert(schema.risk_scores).values(
            item_id=item_id, warehouse_id=warehouse_id, model_version=1, feature_date=AS_OF,
            probability=Decimal("0.42"), flagged=True, status="scored",
            explanation="2 weeks of cover against a 6-week lead time",
        ))
    leader = signed_in(demo, Role.OPERATIONS_LEADER)

    app = run_app(monkeypatch, database_url, leader, "pages/exposure.py")

    shown = dataframe_under(app, "At risk, not yet short")
    assert shown[["sku", "warehouse_code", "explanation"]].to_dict("records") == [{
        "sku": risk_watchlist(demo, leader)["sku"].item(),
        "warehouse_code": risk_watchlist(demo, leader)["warehouse_code"].item(),
        "explanation": "2 weeks of cover against a 6-week lead time",
    }]
    assert float(shown["probability"].item()) == 0.42


def test_exposure_filter_narrows_the_backlog(demo, database_url, monkeypatch):
    actor = signed_in(demo, Role.OPERATIONS_LEADER)
    warehouse = "DFW1"
    expected = backlog_totals(demo, actor, BacklogFilters(warehouses=(warehouse,)))
    app = run_app(monkeypatch, database_url, actor, "pages/exposure.py")

    app.multiselect(key="exposure_filter_warehouses").select(warehouse).run()

    assert metric_value(app, "Exposed lines") == f"{int(expected['lines'].sum()):,}"
    assert set(dataframe_under(app, "Backlog by priority")["warehouse_code"]) == {warehouse}


def test_filters_survive_page_round_trip(demo, database_url, monkeypatch):
    actor = signed_in(demo, Role.OPERATIONS_LEADER)
    filters = BacklogFilters(warehouses=("DFW1",), aging_buckets=("0-7", "8-14"))
    expected = backlog_totals(demo, actor, filters)
    app = run_app(monkeypatch, database_url, actor, "pages/exposure.py")
    app.multiselect(key="exposure_filter_warehouses").select("DFW1").run()
    app.multiselect(key="exposure_filter_aging_buckets").select("0-7").select("8-14").run()

    app.switch_page("pages/control_tower.py").run()
    assert metric_value(app, "Open order lines") == f"{DEMO_LINES:,}"
    app.switch_page("pages/exposure.py").run()

    assert app.multiselect(key="exposure_filter_warehouses").value == ["DFW1"]
    assert app.multiselect(key="exposure_filter_aging_buckets").value == ["0-7", "8-14"]
    assert metric_value(app, "Exposed lines") == f"{int(expected['lines'].sum()):,}"


def test_drill_down_shows_supply_picture(demo, database_url, monkeypatch):
    actor = signed_in(demo, Role.PLANNER)
    first = backlog_page(demo, actor, BacklogFilters(), page_size=1).iloc[0]
    app = run_app(monkeypatch, database_url, actor, "pages/exposure.py")

    app.selectbox(key="exposure_drill_line").set_value(int(first["so_line_id"])).run()

    assert not app.exception
    headline = [node.value for node in walk(app.main) if node.type == "markdown" and node.value.startswith("**SO")]
    assert headline[0].startswith(f"**{first['order_number']} line {first['line_number']}**: {first['sku']}")


def test_root_cause_pareto_matches_service(demo, database_url, monkeypatch):
    actor = signed_in(demo, Role.OPERATIONS_LEADER)
    causes = backlog_root_causes(demo, actor, BacklogFilters())

    app = run_app(monkeypatch, database_url, actor, "pages/exposure.py")

    shown = dataframe_under(app, "Root causes")
    assert shown["root_cause"].tolist() == causes["root_cause"].tolist()
    assert shown["lines"].tolist() == causes["lines"].tolist()
    assert shown["cumulative_share"].iloc[-1] == 1.0


# --- Revenue at risk -------------------------------------------------------------


def test_revenue_figures_match_services(demo, database_url, monkeypatch):
    actor = signed_in(demo, Role.OPERATIONS_LEADER)
    weeks = revenue_by_ship_week(demo, actor)
    customers = revenue_by_customer(demo, actor)
    suppliers = revenue_by_supplier(demo, actor)

    app = run_app(monkeypatch, database_url, actor, "pages/revenue_at_risk.py")

    shown_weeks = dataframe_under(app, "By projected ship week")
    assert shown_weeks["lines"].tolist() == weeks["lines"].tolist()
    assert shown_weeks["revenue_at_risk"].tolist() == [float(value) for value in weeks["revenue_at_risk"]]
    assert shown_weeks["margin_at_risk"].tolist() == [float(value) for value in weeks["margin_at_risk"]]
    shown_customers = dataframe_under(app, "By customer (top 50)")
    assert shown_customers["customer_code"].tolist() == customers["customer_code"].tolist()
    shown_suppliers = dataframe_under(app, "By supplier (top 50)")
    assert shown_suppliers["supplier_code"].tolist() == suppliers["supplier_code"].tolist()
    assert sum(suppliers["revenue_at_risk"]) == sum(weeks["revenue_at_risk"])


def test_whatif_previews_without_writing(demo, database_url, monkeypatch):
    actor = signed_in(demo, Role.OPERATIONS_LEADER)
    with demo.connect() as connection:
        supplier_id, supplier_code = connection.execute(text(
            "select s.id, s.supplier_code from purchase_order_lines p join suppliers s on s.id = p.supplier_id"
            " where p.status = 'open' group by s.id order by count(*) desc, s.id limit 1"
        )).one()
        before = connection.execute(text("select count(*), sum(revenue_at_risk) from exposure")).one()
    expected = preview_supply_change(demo, actor, SupplyChange("delay", supplier_id=supplier_id, days=30))
    expected_all = expected.summary[expected.summary["status"] == "all"].iloc[0]
    app = run_app(monkeypatch, database_url, actor, "pages/revenue_at_risk.py")

    app.selectbox(key="whatif_supplier").select(supplier_id)
    app.number_input(key="whatif_days").set_value(30)
    app.button[0].click().run()

    assert not app.exception
    assert metric_value(app, "Exposed lines after (USD)") == f"{expected_all['lines_after']:,}"
    assert metric_value(app, "Revenue at risk after (USD)") == f"{expected_all['revenue_at_risk_after']:,.2f}"
    assert "A preview only: nothing has been written." in [caption.value for caption in app.caption]
    with demo.connect() as connection:
        assert connection.execute(text("select count(*), sum(revenue_at_risk) from exposure")).one() == before


def test_whatif_unknown_po_line_is_explained(demo, database_url, monkeypatch):
    app = run_app(monkeypatch, database_url, signed_in(demo, Role.OPERATIONS_LEADER), "pages/revenue_at_risk.py")

    app.radio(key="whatif_target").set_value("Cancel a PO line")
    app.text_input(key="whatif_po_number").input("PO-NOPE")
    app.button[0].click().run()

    assert [error.value for error in app.error] == [
        "purchase order 'PO-NOPE' has no line 1; check the number and the line"
    ]


# --- Roles -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "page", "message"),
    [
        (Role.PLANNER, "pages/revenue_at_risk.py",
         "The Revenue at risk page is open to these roles: operations leader. You are signed in as planner "
         "with the role planner; ask an administrator if you need it."),
        (Role.EXECUTIVE, "pages/exposure.py",
         "The Exposure page is open to these roles: operations leader, planner. You are signed in as executive "
         "with the role executive; ask an administrator if you need it."),
    ],
)
def test_wrong_role_gets_refusal(demo, database_url, monkeypatch, role, page, message):
    app = run_app(monkeypatch, database_url, signed_in(demo, role), page)

    assert [error.value for error in app.error] == [message]
    assert len(app.metric) == 0
    assert len(app.dataframe) == 0


def test_signed_out_user_sees_sign_in(demo, database_url, monkeypatch):
    app = run_app(monkeypatch, database_url, None)

    assert app.title[0].value == "Sign in"
    assert len(app.metric) == 0


def test_services_check_the_role_again(demo):
    executive = signed_in(demo, Role.EXECUTIVE)
    planner = signed_in(demo, Role.PLANNER)

    with pytest.raises(RoleRefused, match="executive \\(executive\\) may not open the Exposure page"):
        backlog_page(demo, executive, BacklogFilters())
    with pytest.raises(RoleRefused, match="planner \\(planner\\) may not open the Revenue at risk page"):
        revenue_by_customer(demo, planner)
    with pytest.raises(RoleRefused):
        preview_supply_change(demo, planner, SupplyChange("delay", supplier_id=1, days=3))
