"""The Customer updates page: drafts with their order context, approval within the template, and the delivered mail."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from streamlit.testing.v1 import AppTest

from services.approvals import approve_recommendation
from services.approvals.queries import delivered_customer_mail
from services.auth.roles import Actor, Role, RoleRefused
from services.db import schema
from services.notify.outbox import deliver_outbox
from services.settings import PROJECT_ROOT
from tests.builders import make_customer, make_inventory, make_item, make_order_line, make_recommendation, make_warehouse
from tests.streamlit_run import run_streamlit

PAGE_PATH = str(PROJECT_ROOT / "pages" / "customer_updates.py")
PLANNER = Actor("ann", Role.PLANNER, Decimal("5000"))


pytestmark = pytest.mark.usefixtures("isolate_streamlit_runs")


@pytest.fixture
def draft(engine):
    """The draft of an approved allocation of 4 SKU-T for order SO-42 line 1 of Tango Parts, 5 to 12 March 2026."""
    with engine.begin() as connection:
        item = make_item(connection, sku="SKU-T", description="Tape measure")
        warehouse = make_warehouse(connection, warehouse_code="WH-T")
        make_inventory(connection, item_id=item["id"], warehouse_id=warehouse["id"])
        customer = make_customer(connection, name="Tango Parts")
        line = make_order_line(
            connection, order_number="SO-42", customer_id=customer["id"], item_id=item["id"], warehouse_id=warehouse["id"],
            ordered_qty=Decimal(4), current_promised_date=date(2026, 3, 5),
        )
        recommendation = make_recommendation(connection, so_line_id=line["id"], expected_date=date(2026, 3, 12))
    result = approve_recommendation(engine, PLANNER, recommendation["id"])
    with engine.connect() as connection:
        return connection.execute(
            select(schema.customer_messages).where(schema.customer_messages.c.id == result.customer_message_id)
        ).mappings().one()


def run_page(monkeypatch, database_url, actor) -> AppTest:
    return run_streamlit(monkeypatch, database_url, PAGE_PATH, actor)


def open_draft(app: AppTest, message_id: int) -> AppTest:
    box = app.selectbox(key="draft_pick")
    (label,) = [option for option in box.options if option.startswith(f"#{message_id} ")]
    box.select(label).run()
    assert not app.exception, [exception.value for exception in app.exception]
    return app


def test_draft_shows_its_order_context(database_url, monkeypatch, draft):
    app = run_page(monkeypatch, database_url, PLANNER)

    shown = app.dataframe[0].value
    open_draft(app, draft["id"])

    assert list(shown["message_id"]) == [draft["id"]]
    assert list(shown["order_line"]) == ["SO-42/1"]
    assert list(shown["customer"]) == ["Tango Parts"]
    assert list(shown["item"]) == ["SKU-T"]
    assert list(shown["old_promise_date"]) == ["2026-03-05"]
    assert list(shown["new_promise_date"]) == ["2026-03-12"]
    assert app.text_input(key=f"message_subject_{draft['id']}").value == draft["subject"]
    assert app.text_area(key=f"message_body_{draft['id']}").value == draft["body"]


def test_note_within_template_is_approved_and_delivered(engine, database_url, monkeypatch, tmp_path, draft):
    app = open_draft(run_page(monkeypatch, database_url, PLANNER), draft["id"])
    body = draft["body"].replace("2026-03-12.\n\n", "2026-03-12.\nThe carrier collects on Monday.\n")

    app.text_area(key=f"message_body_{draft['id']}").input(body)
    app.button(key="approve_message").click().run()

    with engine.connect() as connection:
        status, approved_by = connection.execute(text(
            "select status, approved_by from customer_messages where id = :id"
        ), {"id": draft["id"]}).one()
        outbox_id = connection.execute(text("select message_id from outbox where target = 'customer_mail'")).scalar_one()
    assert (status, approved_by) == ("approved", "ann")
    assert [toast.value for toast in app.toast] == [
        f"Customer message {draft['id']} approved; the mail {outbox_id} is queued in the outbox."
    ]

    deliver_outbox(engine, tmp_path / "outbound")
    app.button(key="refresh_mail").click().run()

    mail = app.dataframe[0].value
    expected = delivered_customer_mail(engine, PLANNER)
    assert list(mail["customer_message_id"]) == [draft["id"]]
    assert list(mail["status"]) == ["delivered"]
    assert list(mail["order_line"]) == ["SO-42/1"]
    assert expected["delivered_at"].notna().all()
    assert "No customer message waits for approval." in [caption.value for caption in app.caption]


def test_edit_outside_template_shows_refusal(engine, database_url, monkeypatch, draft):
    app = open_draft(run_page(monkeypatch, database_url, PLANNER), draft["id"])

    app.text_area(key=f"message_body_{draft['id']}").input(draft["body"].replace("2026-03-12", "2026-03-10"))
    app.button(key="approve_message").click().run()

    errors = [error.value for error in app.error]
    assert len(errors) == 1
    assert errors[0].startswith(
        f"the edited body of customer message {draft['id']} is not within its approved template: keep the "
        "template's wording and the values customer_name 'Tango Parts', qty '4', item_sku 'SKU-T'"
    )
    with engine.connect() as connection:
        assert connection.execute(text("select status from customer_messages")).scalar_one() == "draft"
        assert connection.execute(text("select count(*) from outbox where target = 'customer_mail'")).scalar_one() == 0


def test_mail_read_service_refuses_executive(engine):
    with pytest.raises(RoleRefused, match="may not read the customer mail outbox"):
        delivered_customer_mail(engine, Actor("eve", Role.EXECUTIVE))


@pytest.mark.parametrize("role", [Role.EXECUTIVE, Role.OPERATIONS_LEADER, Role.ADMINISTRATOR])
def test_other_roles_are_refused(database_url, monkeypatch, role):
    app = run_page(monkeypatch, database_url, Actor("eve", role))

    assert [error.value for error in app.error] == [
        "The Customer updates page is open to these roles: planner. You are signed in as eve "
        f"with the role {role.label}; ask an administrator if you need it."
    ]
