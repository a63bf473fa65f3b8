"""Customer message drafts: approval with edits only within the approved template, and the audit trail of decisions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from services.approvals import (
    approve_customer_message,
    approve_recommendation,
    customer_message_drafts,
    decision_history,
    task_list,
)
from services.approvals.errors import InvalidMessageEdit
from services.approvals.messages import MessageNotDraft
from services.approvals.templates import DEFAULT_TEMPLATES, match_edit, seed_message_templates
from services.auth.roles import Actor, Role, RoleRefused
from services.db import schema
from tests.builders import make_customer, make_inventory, make_item, make_order_line, make_recommendation, make_warehouse

PLANNER = Actor("ann", Role.PLANNER, Decimal("5000"))
LEADER = Actor("lee", Role.OPERATIONS_LEADER)


@pytest.fixture
def approved(engine):
    """An approved allocation of 4 SKU-T for order SO-42 line 1 of Tango Parts, with its draft."""
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
        draft = connection.execute(
            select(schema.customer_messages).where(schema.customer_messages.c.id == result.customer_message_id)
        ).mappings().one()
    return draft


def test_draft_keeps_its_placeholder_values(approved):
    assert approved["placeholder_values"] == {
        "order_number": "SO-42", "line_number": "1", "customer_name": "Tango Parts", "item_sku": "SKU-T",
        "item_description": "Tape measure", "qty": "4", "old_promise_date": "2026-03-05",
        "new_promise_date": "2026-03-12", "substitute_sku": "", "substitute_description": "", "substitute_qty": "",
    }


def test_note_within_template_is_approved_and_queued(engine, approved):
    body = approved["body"].replace("2026-03-12.\n\n", "2026-03-12.\nThe carrier collects on Monday.\n")

    result = approve_customer_message(engine, LEADER, approved["id"], subject=approved["subject"], body=body)

    assert result.note == "The carrier collects on Monday."
    with engine.connect() as connection:
        stored = connection.execute(select(schema.customer_messages)).mappings().one()
        mail = connection.execute(
            select(schema.outbox).where(schema.outbox.c.target == "customer_mail")
        ).mappings().one()
        audit = connection.execute(
            select(schema.audit_log).where(schema.audit_log.c.action == "approve_customer_message")
        ).mappings().one()
    assert (stored["status"], stored["approved_by"], stored["body"]) == ("approved", "lee", body)
    assert mail["message_id"] == result.outbox_message_id
    assert mail["payload"]["body"] == body
    assert (audit["reason"], audit["rule"]) == ("The carrier collects on Monday.", "edits only within approved template promise_date_change")
    with pytest.raises(MessageNotDraft, match=f"customer message {approved['id']} is approved \\(approved by lee at "):
        approve_customer_message(engine, LEADER, approved["id"], subject=approved["subject"], body=body)


@pytest.mark.parametrize(
    "old, new",
    [
        ("4 x SKU-T", "5 x SKU-T"),
        ("2026-03-12", "2026-03-10"),
        ("Kind regards", "Best"),
    ],
)
def test_edit_outside_template_is_rejected(engine, approved, old, new):
    body = approved["body"].replace(old, new)

    with pytest.raises(InvalidMessageEdit) as raised:
        approve_customer_message(engine, PLANNER, approved["id"], subject=approved["subject"], body=body)

    assert str(raised.value).startswith(
        f"the edited body of customer message {approved['id']} is not within its approved template: keep the "
        "template's wording and the values customer_name 'Tango Parts', qty '4', item_sku 'SKU-T'"
    )
    with engine.connect() as connection:
        assert connection.execute(select(schema.customer_messages.c.status)).scalar_one() == "draft"
        assert connection.execute(text("select count(*) from outbox where target = 'customer_mail'")).scalar_one() == 0


def test_changed_subject_is_rejected(engine, approved):
    with pytest.raises(InvalidMessageEdit, match="the edited subject"):
        approve_customer_message(engine, PLANNER, approved["id"], subject="Order SO-42: all good", body=approved["body"])


def test_executive_may_not_approve_a_message(engine, approved):
    executive = Actor("eve", Role.EXECUTIVE)

    with pytest.raises(RoleRefused):
        approve_customer_message(engine, executive, approved["id"], subject=approved["subject"], body=approved["body"])

    with engine.connect() as connection:
        actors = connection.execute(
            text("select actor from audit_log where action = 'approve_customer_message_refused'")
        ).scalars().all()
    assert actors == ["eve"]


def test_crlf_and_trailing_spaces_stay_within_template():
    template = DEFAULT_TEMPLATES[0]
    values = {"order_number": "SO-1", "line_number": "2", "customer_name": "A", "item_sku": "S", "item_description": "D",
              "qty": "3", "old_promise_date": "2026-03-01", "new_promise_date": "2026-03-02"}
    rendered = template.body.format_map({**values, "note": "Thanks for waiting."})

    assert match_edit(template.body, values, rendered.replace("\n", "  \r\n")) == "Thanks for waiting."
    assert match_edit(template.body, {**values, "qty": "4"}, rendered) is None


def test_seeding_templates_is_idempotent(engine):
    with engine.begin() as connection:
        first = seed_message_templates(connection)
        connection.execute(update(schema.message_templates).where(schema.message_templates.c.code == "delay_notice").values(subject="Edited"))
        second = seed_message_templates(connection)
        subject = connection.execute(
            select(schema.message_templates.c.subject).where(schema.message_templates.c.code == "delay_notice")
        ).scalar_one()

    assert (first, second, subject) == (3, 0, "Edited")


def test_unapproved_template_asks_for_handwritten_message(engine):
    with engine.begin() as connection:
        seed_message_templates(connection)
        connection.execute(update(schema.message_templates).values(approved=False))
        item = make_item(connection, sku="SKU-U")
        warehouse = make_warehouse(connection)
        make_inventory(connection, item_id=item["id"], warehouse_id=warehouse["id"])
        customer = make_customer(connection, name="Uniform Ltd")
        line = make_order_line(connection, order_number="SO-43", customer_id=customer["id"], item_id=item["id"],
                               warehouse_id=warehouse["id"], ordered_qty=Decimal(2))
        recommendation = make_recommendation(connection, so_line_id=line["id"])

    result = approve_recommendation(engine, PLANNER, recommendation["id"])

    assert result.customer_message_id is None
    tasks = task_list(engine, PLANNER, kind="customer_service")
    assert tasks["title"].tolist() == [
        "Write to Uniform Ltd about order SO-43 line 1 by hand: no approved message template fits this action"
    ]


def test_read_services_list_decisions_and_drafts(engine, approved):
    history = decision_history(engine, PLANNER)
    drafts = customer_message_drafts(engine, PLANNER)

    assert history[["decision", "decided_by", "order_line", "item", "action"]].values.tolist() == [
        ["approve", "ann", "SO-42/1", "SKU-T", "allocate"]
    ]
    assert drafts[["message_id", "order_line", "customer", "template_code", "status"]].values.tolist() == [
        [approved["id"], "SO-42/1", "Tango Parts", "promise_date_change", "draft"]
    ]
    with pytest.raises(RoleRefused):
        decision_history(engine, Actor("eve", Role.EXECUTIVE))


def test_audit_entry_of_an_approval_cannot_change(engine, approved):
    with engine.connect() as connection:
        audit_id = connection.execute(
            text("select id from audit_log where action = 'approve_recommendation'")
        ).scalar_one()

    for statement in (
        "update audit_log set actor = 'mallory' where id = :id",
        "delete from audit_log where id = :id",
        "truncate audit_log",
    ):
        with pytest.raises(DBAPIError, match="audit_log is append-only"):
            with engine.begin() as connection:
                connection.execute(text(statement), {"id": audit_id})

    with engine.connect() as connection:
        assert connection.execute(text("select actor from audit_log where id = :id"), {"id": audit_id}).scalar_one() == "ann"
