"""The Settings page: each form's change is validated with the service's message and audited; other roles are refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from services.admin.users import list_user_accounts
from services.auth.roles import Actor, Role
from services.settings import PROJECT_ROOT
from tests.builders import make_user
from tests.streamlit_run import run_streamlit

PAGE_PATH = str(PROJECT_ROOT / "pages" / "settings.py")
ADMIN = Actor("ada", Role.ADMINISTRATOR)


pytestmark = pytest.mark.usefixtures("isolate_streamlit_runs")


def run_page(monkeypatch, database_url, actor) -> AppTest:
    return run_streamlit(monkeypatch, database_url, PAGE_PATH, actor)


def submit(app: AppTest, label: str) -> AppTest:
    (button,) = [button for button in app.button if button.label == label]
    button.click().run()
    assert not app.exception, [exception.value for exception in app.exception]
    return app


def audit_rows(engine, action: str) -> list[tuple]:
    with engine.connect() as connection:
        return connection.execute(text(
            "select actor, entity_id, before, after from audit_log where action = :action order by id"
        ), {"action": action}).all()


def test_negative_weight_shows_message_and_writes_nothing(engine, database_url, monkeypatch):
    app = run_page(monkeypatch, database_url, ADMIN)

    app.number_input(key="weight_tier").set_value(-3.0)
    submit(app, "Save weights")

    assert [error.value for error in app.error] == [
        "priority_weights.tier -3 is negative or not finite; store a number of 0 or more"
    ]
    assert audit_rows(engine, "update_priority_weights") == []


def test_weight_change_is_saved_and_audited(engine, database_url, monkeypatch):
    app = run_page(monkeypatch, database_url, ADMIN)

    app.number_input(key="weight_tier").set_value(50.0)
    submit(app, "Save weights")

    defaults = {"tier": 35, "sla": 20, "margin": 15, "fill_gap": 10, "age": 10, "churn": 10}
    assert [toast.value for toast in app.toast] == ["Priority weights saved."]
    assert audit_rows(engine, "update_priority_weights") == [("ada", "priority_weights", None, {**defaults, "tier": 50})]


def test_governance_limits_are_checked_against_each_other(engine, database_url, monkeypatch):
    app = run_page(monkeypatch, database_url, ADMIN)

    app.number_input(key="policy_auto_limit").set_value(30000.0)
    submit(app, "Save governance policy")

    assert [error.value for error in app.error] == [
        "governance_policy.auto_approve_value_limit 30000 is above leader_value_limit 25000; lower it to the leader limit or below"
    ]
    assert audit_rows(engine, "update_governance_policy") == []


def test_planner_limit_change_is_saved_and_audited(engine, database_url, monkeypatch):
    with engine.begin() as connection:
        user = make_user(connection, username="pia")
    app = run_page(monkeypatch, database_url, ADMIN)

    app.selectbox(key="user_pick").select("pia").run()
    app.number_input(key=f"user_limit_{user['id']}").set_value(12000.0)
    submit(app, "Save user")

    assert [toast.value for toast in app.toast] == ["User pia: approval limit 12,000.00."]
    assert list_user_accounts(engine, ADMIN).set_index("username").loc["pia", "approval_limit"] == Decimal("12000.00")
    assert audit_rows(engine, "set_approval_limit") == [
        ("ada", str(user["id"]), {"username": "pia", "approval_limit": "5000"}, {"username": "pia", "approval_limit": "12000"})
    ]


def test_short_password_of_new_user_is_rejected(engine, database_url, monkeypatch):
    app = run_page(monkeypatch, database_url, ADMIN)

    app.text_input(key="new_username").input("pat")
    app.selectbox(key="new_role").select("planner")
    app.text_input(key="new_password").input("short")
    submit(app, "Add user")

    assert [error.value for error in app.error] == ["password has 5 characters; use at least 8"]
    assert audit_rows(engine, "add_user") == []


def test_template_with_unknown_placeholder_shows_message(engine, database_url, monkeypatch):
    app = run_page(monkeypatch, database_url, ADMIN)

    app.selectbox(key="template_pick").select("delay_notice").run()
    app.text_input(key="template_subject_delay_notice").input("Order {order} is delayed")
    submit(app, "Save template")

    errors = [error.value for error in app.error]
    assert len(errors) == 1
    assert errors[0].startswith("placeholder {order} in the template subject is unknown; use only {order_number}, ")
    assert audit_rows(engine, "update_message_template") == []


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.OPERATIONS_LEADER, Role.PLANNER])
def test_other_roles_are_refused(database_url, monkeypatch, role):
    app = run_page(monkeypatch, database_url, Actor("eve", role))

    assert [error.value for error in app.error] == [
        "The Settings page is open to these roles: administrator. You are signed in as eve "
        f"with the role {role.label}; ask an administrator if you need it."
    ]
