"""The Recommendations page on the demo distributor's recommendations: queue, approve, reject, bulk approval, stale rows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from services.approvals.decide import approve_recommendation
from services.approvals.errors import StaleRecommendation
from services.approvals.queries import count_recommendations, recommendation_queue
from services.auth.roles import Actor, Role
from services.recommend.run import recommend
from services.settings import PROJECT_ROOT
from tests.builders import make_user
from tests.demo import DEMO_AS_OF, load_small_demo
from tests.streamlit_run import run_streamlit

PAGE_PATH = str(PROJECT_ROOT / "pages" / "recommendations.py")


pytestmark = pytest.mark.usefixtures("isolate_streamlit_runs")


@pytest.fixture
def queue(engine, tmp_path):
    """The small demo with its recommendations, a planner with a limit of 1,000,000 and an operations leader."""
    load_small_demo(engine, tmp_path / "demo")
    recommend(engine, as_of=DEMO_AS_OF)
    with engine.begin() as connection:
        planner = make_user(connection, username="pia", role="planner", approval_limit=Decimal("1000000"))
        leader = make_user(connection, username="leo", role="operations_leader", approval_limit=Decimal("0"))
    return {
        "planner": Actor("pia", Role.PLANNER, Decimal("1000000"), planner["id"]),
        "leader": Actor("leo", Role.OPERATIONS_LEADER, Decimal("0"), leader["id"]),
    }


def run_page(monkeypatch, database_url, actor) -> AppTest:
    return run_streamlit(monkeypatch, database_url, PAGE_PATH, actor, timeout=120)


def recommendation_list(app: AppTest):
    (found,) = [box for box in app.selectbox if box.label == "Recommendation"]
    return found


def pick(app: AppTest, recommendation_id: int) -> AppTest:
    box = recommendation_list(app)
    (label,) = [option for option in box.options if option.startswith(f"#{recommendation_id} ")]
    box.select(label).run()
    assert not app.exception, [exception.value for exception in app.exception]
    return app


def click(app: AppTest, key: str) -> AppTest:
    app.button(key=key).click().run()
    assert not app.exception, [exception.value for exception in app.exception]
    return app


def decisions_of(engine, recommendation_id: int) -> list[tuple]:
    with engine.connect() as connection:
        return connection.execute(text(
            "select decision, decided_by, comment from decisions where recommendation_id = :id"
        ), {"id": recommendation_id}).all()


def first_proposed(engine, governance_class: str) -> tuple[int, Decimal]:
    with engine.connect() as connection:
        return tuple(connection.execute(text(
            "select id, qty from recommendations where status = 'proposed' and governance_class = :class"
            " order by revenue_recovered desc, id limit 1"
        ), {"class": governance_class}).one())


def test_queue_figures_equal_service(engine, database_url, monkeypatch, queue):
    expected = recommendation_queue(engine, queue["planner"], limit=200)
    total = count_recommendations(engine, queue["planner"])

    app = run_page(monkeypatch, database_url, queue["planner"])

    shown = app.dataframe[0].value
    assert total > 200
    assert len(shown) == 200
    assert list(shown["recommendation_id"]) == list(expected["recommendation_id"])
    assert list(shown["qty"]) == [float(qty) for qty in expected["qty"]]
    assert list(shown["revenue_recovered"]) == [float(amount) for amount in expected["revenue_recovered"]]
    assert list(shown["cost"]) == [float(amount) for amount in expected["cost"]]
    assert list(shown["days_saved"]) == list(expected["days_saved"])
    assert list(shown["impact"]) == list(expected["impact"])
    assert list(shown["governance_class"]) == list(expected["governance_class"])
    assert f"Rows 1-200 of {total:,}. Select a row to decide it." in [caption.value for caption in app.caption]


def test_filters_by_class_and_action(engine, database_url, monkeypatch, queue):
    expected = recommendation_queue(engine, queue["planner"], governance_class="leader", action="substitute", limit=200)
    app = run_page(monkeypatch, database_url, queue["planner"])

    app.selectbox(key="recommendation_class").select("leader")
    app.selectbox(key="recommendation_action").select("substitute").run()

    shown = app.dataframe[0].value
    assert len(expected) > 0
    assert list(shown["recommendation_id"]) == list(expected["recommendation_id"])
    assert set(shown["governance_class"]) == {"leader"}
    assert set(shown["action"]) == {"substitute"}


def test_approve_click_creates_one_decision_also_when_clicked_twice(engine, database_url, monkeypatch, queue):
    recommendation_id, _ = first_proposed(engine, "planner")
    app = pick(run_page(monkeypatch, database_url, queue["planner"]), recommendation_id)

    click(app, "approve_recommendation")
    toasts = [toast.value for toast in app.toast]
    click(app, "approve_recommendation")

    assert decisions_of(engine, recommendation_id) == [("approve", "pia", None)]
    assert len(toasts) == 1
    assert toasts[0].startswith(f"Recommendation {recommendation_id} approved: allocation ")
    assert [toast.value for toast in app.toast] == []
    errors = [error.value for error in app.error]
    assert len(errors) == 1
    assert errors[0].startswith(f"recommendation {recommendation_id} was already approved by pia at ")
    assert errors[0].endswith("; nothing was changed")
    assert recommendation_id not in set(app.dataframe[0].value["recommendation_id"])


def test_quantity_changed_since_shown_is_refused(engine, database_url, monkeypatch, queue):
    recommendation_id, qty = first_proposed(engine, "planner")
    app = pick(run_page(monkeypatch, database_url, queue["planner"]), recommendation_id)
    with engine.begin() as connection:
        connection.execute(text("update recommendations set qty = qty - 1 where id = :id"), {"id": recommendation_id})

    click(app, "approve_recommendation")

    assert decisions_of(engine, recommendation_id) == []
    shown = format(qty.normalize(), "f")
    stored = format((qty - 1).normalize(), "f")
    assert [error.value for error in app.error] == [
        f"recommendation {recommendation_id} covers {stored} units, but the approval was for {shown}; an edited "
        "quantity is not approved with the stored value. Reload the recommendation and approve the quantity it shows"
    ]


def test_reject_with_reason_records_it(engine, database_url, monkeypatch, queue):
    recommendation_id, _ = first_proposed(engine, "planner")
    app = pick(run_page(monkeypatch, database_url, queue["planner"]), recommendation_id)

    app.text_input(key="recommendation_reject_reason").input("customer cancels next week")
    click(app, "reject_recommendation")

    assert decisions_of(engine, recommendation_id) == [("reject", "pia", "customer cancels next week")]
    assert [toast.value for toast in app.toast] == [
        f"Recommendation {recommendation_id} rejected: customer cancels next week"
    ]


def test_reject_without_reason_shows_refusal(engine, database_url, monkeypatch, queue):
    recommendation_id, _ = first_proposed(engine, "planner")
    app = pick(run_page(monkeypatch, database_url, queue["planner"]), recommendation_id)

    click(app, "reject_recommendation")

    assert decisions_of(engine, recommendation_id) == []
    assert [error.value for error in app.error] == [
        f"rejecting recommendation {recommendation_id} needs a reason; write why it is rejected"
    ]


def test_leader_class_is_refused_to_planner(engine, database_url, monkeypatch, queue):
    recommendation_id, _ = first_proposed(engine, "leader")
    app = pick(run_page(monkeypatch, database_url, queue["planner"]), recommendation_id)

    click(app, "approve_recommendation")

    assert decisions_of(engine, recommendation_id) == []
    assert [error.value for error in app.error] == [
        f"recommendation {recommendation_id} has governance class leader, and pia is a planner; "
        "ask an operations leader to decide it"
    ]


def test_bulk_approval_approves_exactly_the_auto_class(engine, database_url, monkeypatch, queue):
    with engine.connect() as connection:
        auto_ids = set(connection.execute(text(
            "select id from recommendations where status = 'proposed' and governance_class = 'auto'"
        )).scalars())
    app = run_page(monkeypatch, database_url, queue["leader"])

    click(app, "approve_all_auto")

    with engine.connect() as connection:
        decided = dict(connection.execute(text(
            "select d.recommendation_id, r.governance_class from decisions d join recommendations r on r.id = d.recommendation_id"
        )).all())
        still_proposed_auto = set(connection.execute(text(
            "select id from recommendations where status = 'proposed' and governance_class = 'auto'"
        )).scalars())
    refused = auto_ids - set(decided)
    assert len(auto_ids) > 0
    assert set(decided.values()) == {"auto"}
    assert set(decided) | refused == auto_ids
    assert still_proposed_auto <= refused
    assert [toast.value for toast in app.toast] == [
        f"Approved {len(decided):,} auto-approvable recommendations; {len(refused):,} refused."
    ]


def test_stale_recommendation_shows_what_changed(engine, database_url, monkeypatch, queue):
    with engine.begin() as connection:
        recommendation_id, so_line_id = connection.execute(text(
            "select id, so_line_id from recommendations where status = 'proposed' order by id limit 1"
        )).one()
        connection.execute(text(
            "update sales_order_lines set ordered_qty = ordered_qty + 5 where id = :id"
        ), {"id": so_line_id})
    with pytest.raises(StaleRecommendation) as stale:
        approve_recommendation(engine, queue["leader"], recommendation_id)
    reason = str(stale.value)
    app = run_page(monkeypatch, database_url, queue["planner"])

    app.selectbox(key="recommendation_status").select("stale").run()
    pick(app, recommendation_id)

    shown = app.dataframe[0].value
    assert list(shown["recommendation_id"]) == [recommendation_id]
    assert list(shown["stale_reason"]) == [reason]
    assert [warning.value for warning in app.warning] == [f"Stale: {reason}"]


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.ADMINISTRATOR])
def test_other_roles_are_refused(engine, database_url, monkeypatch, role):
    app = run_page(monkeypatch, database_url, Actor("eve", role))

    assert [error.value for error in app.error] == [
        "The Recommendations page is open to these roles: operations leader, planner. You are signed in as eve "
        f"with the role {role.label}; ask an administrator if you need it."
    ]
    assert len(app.dataframe) == 0
