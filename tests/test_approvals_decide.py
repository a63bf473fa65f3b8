"""Approving and rejecting recommendations against real PostgreSQL: what one decision writes, and what it refuses."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, text, update

from services.approvals import (
    approve_all_auto,
    approve_recommendation,
    recommendation_queue,
    reject_recommendation,
)
from services.approvals.errors import (
    AlreadyDecided,
    LineAlreadyCovered,
    NotEnoughSupply,
    OverApprovalLimit,
    QuantityChanged,
    StaleRecommendation,
)
from services.auth.roles import Actor, Role, RoleRefused
from services.db import schema
from tests.builders import (
    make_customer,
    make_inventory,
    make_item,
    make_order_line,
    make_po_line,
    make_recommendation,
    make_substitute,
    make_supplier,
    make_user,
    make_warehouse,
)


def _actor(user) -> Actor:
    return Actor(user["username"], Role(user["role"]), user["approval_limit"], user["id"], user["display_name"])


@pytest.fixture
def stock(engine):
    """SKU-A with 10 units on hand at WH-EAST, and a planner and an operations leader."""
    with engine.begin() as connection:
        item = make_item(connection, sku="SKU-A", description="Hex bolt M8")
        warehouse = make_warehouse(connection, warehouse_code="WH-EAST")
        make_inventory(connection, item_id=item["id"], warehouse_id=warehouse["id"], on_hand_qty=Decimal(10))
        customer = make_customer(connection, customer_code="C-ACME", name="Acme Tools")
        planner = make_user(connection, username="ann", role="planner", approval_limit=Decimal("5000.00"))
        leader = make_user(connection, username="lee", role="operations_leader", approval_limit=Decimal("0"))
    return {"item": item, "warehouse": warehouse, "customer": customer, "planner": _actor(planner), "leader": _actor(leader)}


def _line(connection, stock, **overrides):
    values = {
        "order_number": overrides.pop("order_number", None) or None,
        "ordered_qty": Decimal(6),
        "unit_price": Decimal("12.50"),
        "current_promised_date": date(2026, 3, 4),
        "first_promised_date": date(2026, 3, 4),
    }
    values = {key: value for key, value in values.items() if value is not None}
    values.update(overrides)
    return make_order_line(
        connection, customer_id=stock["customer"]["id"], item_id=stock["item"]["id"],
        warehouse_id=stock["warehouse"]["id"], **values,
    )


def _allocated(engine, stock) -> tuple[Decimal, Decimal]:
    with engine.connect() as connection:
        return connection.execute(
            text("select on_hand_qty, allocated_qty from inventory where item_id = :item and warehouse_id = :warehouse"),
            {"item": stock["item"]["id"], "warehouse": stock["warehouse"]["id"]},
        ).one()


def _rows(engine, table, *where):
    with engine.connect() as connection:
        return connection.execute(select(table).where(*where).order_by(table.c.id)).mappings().all()


def _audit(engine, action):
    return _rows(engine, schema.audit_log, schema.audit_log.c.action == action)


def test_approval_writes_every_effect_in_one_transaction(engine, stock):
    with engine.begin() as connection:
        line = _line(connection, stock, order_number="SO-100")
        recommendation = make_recommendation(connection, so_line_id=line["id"], expected_date=date(2026, 3, 6))

    result = approve_recommendation(engine, stock["planner"], recommendation["id"], comment="customer called")

    assert result.decided_by == "ann"
    assert _allocated(engine, stock) == (Decimal(10), Decimal(6))
    [allocation] = _rows(engine, schema.allocations)
    assert (allocation["id"], allocation["qty"], allocation["warehouse_id"], allocation["po_line_id"]) == (
        result.allocation_id, Decimal(6), stock["warehouse"]["id"], None,
    )
    [order_line] = _rows(engine, schema.sales_order_lines)
    assert order_line["allocated_qty"] == Decimal(6)
    [decision] = _rows(engine, schema.decisions)
    assert (decision["decision"], decision["decided_by"], decision["comment"]) == ("approve", "ann", "customer called")
    [stored] = _rows(engine, schema.recommendations)
    assert stored["status"] == "approved"

    tasks = _rows(engine, schema.tasks)
    assert [(task["kind"], task["title"], task["due_date"]) for task in tasks] == [
        ("warehouse", "Pick 6 SKU-A at WH-EAST for order SO-100 line 1", date(2026, 3, 6)),
        ("finance", "Update projected shipment and billing of order SO-100 line 1: 75.00 USD on 2026-03-06", date(2026, 3, 6)),
        ("customer_service", "Review and send the update to Acme Tools about order SO-100 line 1", None),
    ]
    assert tasks[1]["detail"]["amount"] == "75"
    assert list(result.task_ids) == [task["id"] for task in tasks]

    [message] = _rows(engine, schema.customer_messages)
    assert message["status"] == "draft"
    assert message["subject"] == "Order SO-100 line 1: new delivery date for SKU-A"
    assert message["body"] == (
        "Dear Acme Tools,\n\nwe have secured 6 x SKU-A (Hex bolt M8) for your order SO-100, line 1. "
        "The delivery date moves from 2026-03-04 to 2026-03-06.\n\nKind regards,\nCustomer service\n"
    )

    [audit] = _audit(engine, "approve_recommendation")
    assert (audit["actor"], audit["entity_id"], audit["reason"]) == ("ann", str(recommendation["id"]), "customer called")
    assert audit["before"] == {"status": "proposed", "supply": "SKU-A at WH-EAST", "available_qty": "10"}
    assert audit["after"]["available_qty"] == "4"
    assert audit["rule"] == "governance class planner: planner within approval limit 5,000.00 USD (revenue recovered 75.00 USD)"

    outbox = _rows(engine, schema.outbox)
    assert [(row["target"], row["kind"]) for row in outbox] == [("erp", "allocation"), ("tasks", "task_feed")]
    assert outbox[0]["payload"]["qty"] == "6"
    assert outbox[0]["payload"]["source"] == {"kind": "inventory", "item_sku": "SKU-A", "qty": "6", "warehouse_code": "WH-EAST"}
    assert outbox[0]["payload"]["new_promise_date"] == "2026-03-06"
    assert [task["task_id"] for task in outbox[1]["payload"]["tasks"]] == list(result.task_ids)


def test_two_approvals_on_same_stock_one_is_refused(engine, stock):
    with engine.begin() as connection:
        first = make_recommendation(connection, so_line_id=_line(connection, stock)["id"])
        second = make_recommendation(connection, so_line_id=_line(connection, stock)["id"])
    barrier = threading.Barrier(2)
    outcomes: dict[int, object] = {}

    def approve(recommendation_id: int) -> None:
        barrier.wait()
        try:
            outcomes[recommendation_id] = approve_recommendation(engine, stock["planner"], recommendation_id)
        except Exception as error:  # the refusal is the outcome under test
            outcomes[recommendation_id] = error

    threads = [threading.Thread(target=approve, args=(rec["id"],)) for rec in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    refused = [outcome for outcome in outcomes.values() if isinstance(outcome, Exception)]
    assert len(refused) == 1
    assert isinstance(refused[0], NotEnoughSupply)
    assert "needs 6 units of SKU-A at WH-EAST, but only 4 remain available" in str(refused[0])
    assert (refused[0].needed, refused[0].available) == (Decimal(6), Decimal(4))
    assert _allocated(engine, stock) == (Decimal(10), Decimal(6))
    assert len(_rows(engine, schema.allocations)) == 1
    assert len(_audit(engine, "approve_recommendation_refused")) == 1


def test_double_click_yields_one_decision_and_one_allocation(engine, stock):
    with engine.begin() as connection:
        recommendation = make_recommendation(connection, so_line_id=_line(connection, stock)["id"])
    barrier = threading.Barrier(2)
    outcomes = []

    def click() -> None:
        barrier.wait()
        try:
            outcomes.append(approve_recommendation(engine, stock["planner"], recommendation["id"]))
        except Exception as error:  # the second click's AlreadyDecided is the outcome under test
            outcomes.append(error)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    [answer] = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    [approved] = [outcome for outcome in outcomes if not isinstance(outcome, Exception)]
    assert isinstance(answer, AlreadyDecided)
    assert str(answer) == (
        f"recommendation {recommendation['id']} was already approved by ann at "
        f"{approved.decided_at.isoformat(timespec='seconds')}; nothing was changed"
    )
    assert len(_rows(engine, schema.decisions)) == 1
    assert len(_rows(engine, schema.allocations)) == 1
    assert len(_rows(engine, schema.outbox)) == 2
    assert _allocated(engine, stock) == (Decimal(10), Decimal(6))


def test_stale_recommendation_is_refused_and_marked(engine, stock):
    with engine.begin() as connection:
        recommendation = make_recommendation(connection, so_line_id=_line(connection, stock)["id"])
        connection.execute(update(schema.inventory).values(on_hand_qty=Decimal(4)))

    with pytest.raises(StaleRecommendation) as raised:
        approve_recommendation(engine, stock["planner"], recommendation["id"])

    assert raised.value.changes == ["on hand of SKU-A at WH-EAST changed from 10 to 4"]
    assert "on hand of SKU-A at WH-EAST changed from 10 to 4 since the recommendation was computed" in str(raised.value)
    [stored] = _rows(engine, schema.recommendations)
    assert stored["status"] == "stale"
    [audit] = _audit(engine, "mark_stale")
    assert audit["after"] == {"status": "stale", "changes": ["on hand of SKU-A at WH-EAST changed from 10 to 4"]}
    assert _rows(engine, schema.decisions) == []
    assert _rows(engine, schema.allocations) == []
    queue = recommendation_queue(engine, stock["planner"], status="stale")
    assert queue["stale_reason"].tolist() == [str(raised.value)]


def test_equal_decimals_do_not_make_a_recommendation_stale(engine, stock):
    with engine.begin() as connection:
        line = _line(connection, stock)
        recommendation = make_recommendation(connection, so_line_id=line["id"])
        version = recommendation["data_version"].replace('"10.000000"', '"10"')
        connection.execute(update(schema.recommendations).values(data_version=version))

    result = approve_recommendation(engine, stock["planner"], recommendation["id"])

    assert '"on_hand_qty": "10"' in version
    assert result.allocation_id is not None


def test_order_line_change_is_named(engine, stock):
    with engine.begin() as connection:
        line = _line(connection, stock, order_number="SO-7", ordered_qty=Decimal(8))
        recommendation = make_recommendation(connection, so_line_id=line["id"], qty=Decimal(6))
        connection.execute(update(schema.sales_order_lines).values(cancelled_qty=Decimal(2)))

    with pytest.raises(StaleRecommendation) as raised:
        approve_recommendation(engine, stock["planner"], recommendation["id"])

    assert raised.value.changes == ["cancelled quantity of order SO-7 line 1 changed from 0 to 2"]


def test_over_limit_and_executive_refused_audited(engine, stock):
    with engine.begin() as connection:
        line = _line(connection, stock, ordered_qty=Decimal(6), unit_price=Decimal("1000.00"))
        recommendation = make_recommendation(connection, so_line_id=line["id"])
        executive = _actor(make_user(connection, username="eve", role="executive"))

    with pytest.raises(OverApprovalLimit) as over_limit:
        approve_recommendation(engine, stock["planner"], recommendation["id"])
    with pytest.raises(RoleRefused) as role_refused:
        approve_recommendation(engine, executive, recommendation["id"])

    assert str(over_limit.value) == (
        f"recommendation {recommendation['id']} recovers 6,000.00 USD, above the approval limit 5,000.00 USD of "
        "planner ann; ask an operations leader to decide it, or an administrator to raise the limit"
    )
    assert str(role_refused.value) == (
        "eve (executive) may not approve recommendations; ask a user with one of these roles: planner, operations leader"
    )
    audits = _audit(engine, "approve_recommendation_refused")
    assert [(row["actor"], row["entity_id"], row["rule"]) for row in audits] == [
        ("ann", str(recommendation["id"]), "approval limit of the governance class"),
        ("eve", str(recommendation["id"]), "role must allow the action"),
    ]
    assert [row["reason"] for row in audits] == [str(over_limit.value), str(role_refused.value)]
    assert _rows(engine, schema.decisions) == []
    assert _allocated(engine, stock) == (Decimal(10), Decimal(0))


def test_limit_is_read_from_the_user_row(engine, stock):
    with engine.begin() as connection:
        recommendation = make_recommendation(connection, so_line_id=_line(connection, stock)["id"])
        connection.execute(update(schema.users).where(schema.users.c.username == "ann").values(approval_limit=Decimal("50")))

    with pytest.raises(OverApprovalLimit, match="above the approval limit 50.00 USD of planner ann"):
        approve_recommendation(engine, stock["planner"], recommendation["id"])


def test_leader_class_needs_operations_leader(engine, stock):
    with engine.begin() as connection:
        recommendation = make_recommendation(
            connection, so_line_id=_line(connection, stock)["id"], governance_class="leader"
        )

    with pytest.raises(OverApprovalLimit, match="has governance class leader, and ann is a planner"):
        approve_recommendation(engine, stock["planner"], recommendation["id"])
    result = approve_recommendation(engine, stock["leader"], recommendation["id"])

    assert result.rule == "governance class leader: an operations leader may decide it"


def test_edited_quantity_is_refused(engine, stock):
    with engine.begin() as connection:
        recommendation = make_recommendation(connection, so_line_id=_line(connection, stock)["id"])

    with pytest.raises(QuantityChanged) as raised:
        approve_recommendation(engine, stock["planner"], recommendation["id"], expected_qty=Decimal("5"))

    assert str(raised.value).startswith(
        f"recommendation {recommendation['id']} covers 6 units, but the approval was for 5"
    )
    assert _rows(engine, schema.decisions) == []
    assert _allocated(engine, stock) == (Decimal(10), Decimal(0))
    [audit] = _audit(engine, "approve_recommendation_refused")
    assert audit["rule"] == "approve only the quantity the user saw"
    result = approve_recommendation(engine, stock["planner"], recommendation["id"], expected_qty=Decimal("6.000"))
    assert result.decision == "approve"


def test_reject_records_reason_and_allocates_nothing(engine, stock):
    with engine.begin() as connection:
        recommendation = make_recommendation(connection, so_line_id=_line(connection, stock)["id"])

    result = reject_recommendation(engine, stock["planner"], recommendation["id"], "customer accepts the delay")

    [decision] = _rows(engine, schema.decisions)
    assert (decision["id"], decision["decision"], decision["comment"]) == (result.decision_id, "reject", "customer accepts the delay")
    [stored] = _rows(engine, schema.recommendations)
    assert stored["status"] == "rejected"
    [audit] = _audit(engine, "reject_recommendation")
    assert (audit["reason"], audit["after"]["status"]) == ("customer accepts the delay", "rejected")
    assert _rows(engine, schema.allocations) == []
    assert _rows(engine, schema.tasks) == []
    assert _rows(engine, schema.outbox) == []
    assert _allocated(engine, stock) == (Decimal(10), Decimal(0))
    with pytest.raises(AlreadyDecided, match="was already rejected by ann"):
        approve_recommendation(engine, stock["leader"], recommendation["id"])


def test_line_is_never_allocated_beyond_its_open_quantity(engine, stock):
    with engine.begin() as connection:
        line = _line(connection, stock, ordered_qty=Decimal(6))
        first = make_recommendation(connection, so_line_id=line["id"], qty=Decimal(4))
        second = make_recommendation(connection, so_line_id=line["id"], qty=Decimal(4))
    approve_recommendation(engine, stock["planner"], first["id"])

    with pytest.raises(LineAlreadyCovered, match="has 6 units open and 4 already covered"):
        approve_recommendation(engine, stock["planner"], second["id"])

    assert _allocated(engine, stock) == (Decimal(10), Decimal(4))


def test_transfer_makes_warehouse_and_transport_tasks(engine, stock):
    with engine.begin() as connection:
        west = make_warehouse(connection, warehouse_code="WH-WEST")
        make_inventory(connection, item_id=stock["item"]["id"], warehouse_id=west["id"], on_hand_qty=Decimal(20), quality_hold_qty=Decimal(5))
        line = _line(connection, stock, order_number="SO-200")
        recommendation = make_recommendation(
            connection, so_line_id=line["id"], action="transfer", source_warehouse_id=west["id"], expected_date=date(2026, 3, 9),
        )

    result = approve_recommendation(engine, stock["planner"], recommendation["id"])

    with engine.connect() as connection:
        west_allocated = connection.execute(
            text("select allocated_qty from inventory where warehouse_id = :id"), {"id": west["id"]}
        ).scalar_one()
    assert west_allocated == Decimal(6)
    assert _allocated(engine, stock) == (Decimal(10), Decimal(0))
    tasks = _rows(engine, schema.tasks)
    assert [(task["kind"], task["title"]) for task in tasks[:2]] == [
        ("warehouse", "Ship a transfer of 6 SKU-A from WH-WEST to WH-EAST for order SO-200 line 1"),
        ("transport", "Book transport of 6 SKU-A from WH-WEST to WH-EAST, to arrive by 2026-03-09"),
    ]
    assert result.allocation_id is not None


def test_substitute_takes_ratio_of_substitute_stock(engine, stock):
    with engine.begin() as connection:
        half_pack = make_item(connection, sku="SKU-A-HALF", description="Hex bolt M8, half pack")
        make_substitute(connection, item_id=stock["item"]["id"], substitute_item_id=half_pack["id"], ratio=Decimal(2))
        make_inventory(connection, item_id=half_pack["id"], warehouse_id=stock["warehouse"]["id"], on_hand_qty=Decimal(15))
        line = _line(connection, stock, order_number="SO-300")
        recommendation = make_recommendation(
            connection, so_line_id=line["id"], action="substitute", substitute_item_id=half_pack["id"],
        )

    approve_recommendation(engine, stock["planner"], recommendation["id"])

    [allocation] = _rows(engine, schema.allocations)
    assert (allocation["item_id"], allocation["qty"]) == (half_pack["id"], Decimal(12))
    [order_line] = _rows(engine, schema.sales_order_lines)
    assert order_line["allocated_qty"] == Decimal(6)
    [message] = _rows(engine, schema.customer_messages)
    assert message["template_code"] == "substitute_offer"
    assert "We will ship 12 x SKU-A-HALF (Hex bolt M8, half pack) in its place for 6 x SKU-A." in message["body"]
    [warehouse_task] = [task for task in _rows(engine, schema.tasks) if task["kind"] == "warehouse"]
    assert warehouse_task["title"] == "Pick 12 SKU-A-HALF (substitute for SKU-A) at WH-EAST for order SO-300 line 1"


def test_split_part_from_a_substitute_takes_its_ratio_of_substitute_stock(engine, stock):
    with engine.begin() as connection:
        half_pack = make_item(connection, sku="SKU-A-HALF2", description="Hex bolt M8, half pack")
        make_substitute(connection, item_id=stock["item"]["id"], substitute_item_id=half_pack["id"], ratio=Decimal(2))
        make_inventory(connection, item_id=half_pack["id"], warehouse_id=stock["warehouse"]["id"], on_hand_qty=Decimal(15))
        line = _line(connection, stock, order_number="SO-310")
        recommendation = make_recommendation(
            connection, so_line_id=line["id"], action="split", qty=Decimal(3), substitute_item_id=half_pack["id"],
        )

    approve_recommendation(engine, stock["planner"], recommendation["id"])

    [allocation] = _rows(engine, schema.allocations)
    assert (allocation["item_id"], allocation["qty"]) == (half_pack["id"], Decimal(6))
    [warehouse_task] = [task for task in _rows(engine, schema.tasks) if task["kind"] == "warehouse"]
    assert warehouse_task["title"] == "Pick 6 SKU-A-HALF2 (substitute for SKU-A) at WH-EAST for order SO-310 line 1"


def test_expedite_reserves_po_line_and_asks_procurement(engine, stock):
    with engine.begin() as connection:
        supplier = make_supplier(connection, supplier_code="S-BOLT", name="Bolt Works")
        po_line = make_po_line(
            connection, supplier_id=supplier["id"], item_id=stock["item"]["id"], warehouse_id=stock["warehouse"]["id"],
            po_number="PO-9", ordered_qty=Decimal(10), received_qty=Decimal(3),
        )
        first = make_recommendation(connection, so_line_id=_line(connection, stock)["id"], action="expedite",
                                    source_po_line_id=po_line["id"], expected_date=date(2026, 3, 8))
        second = make_recommendation(connection, so_line_id=_line(connection, stock)["id"], action="allocate",
                                     source_po_line_id=po_line["id"])

    approve_recommendation(engine, stock["planner"], first["id"])
    with pytest.raises(NotEnoughSupply) as raised:
        approve_recommendation(engine, stock["planner"], second["id"])

    assert (raised.value.needed, raised.value.available) == (Decimal(6), Decimal(1))
    assert "PO PO-9 line 1 (SKU-A)" in str(raised.value)
    [allocation] = _rows(engine, schema.allocations)
    assert (allocation["po_line_id"], allocation["qty"]) == (po_line["id"], Decimal(6))
    assert _allocated(engine, stock) == (Decimal(10), Decimal(0))
    titles = [(task["kind"], task["title"]) for task in _rows(engine, schema.tasks)]
    assert titles[:2] == [
        ("procurement", "Ask Bolt Works to expedite PO PO-9 line 1 (6 SKU-A) to arrive by 2026-03-08"),
        ("warehouse", "Reserve 6 SKU-A from PO PO-9 line 1 on receipt at WH-EAST for order "
                      f"{_rows(engine, schema.sales_order_lines)[0]['order_number']} line 1"),
    ]


def test_escalation_allocates_nothing_and_drafts_delay_notice(engine, stock):
    with engine.begin() as connection:
        line = _line(connection, stock, order_number="SO-400")
        recommendation = make_recommendation(connection, so_line_id=line["id"], action="escalate", expected_date=None,
                                             governance_class="leader")

    result = approve_recommendation(engine, stock["leader"], recommendation["id"])

    assert result.allocation_id is None
    assert _rows(engine, schema.allocations) == []
    assert [(task["kind"], task["title"]) for task in _rows(engine, schema.tasks)] == [
        ("procurement", "Find supply for 6 SKU-A for order SO-400 line 1: no stock or inbound supply covers it"),
        ("customer_service", "Review and send the update to Acme Tools about order SO-400 line 1"),
    ]
    [message] = _rows(engine, schema.customer_messages)
    assert message["subject"] == "Order SO-400 line 1: SKU-A is delayed"
    assert [row["target"] for row in _rows(engine, schema.outbox)] == ["tasks"]


def test_approve_all_auto_reports_each_outcome(engine, stock):
    with engine.begin() as connection:
        first = make_recommendation(connection, so_line_id=_line(connection, stock)["id"], governance_class="auto")
        second = make_recommendation(connection, so_line_id=_line(connection, stock)["id"], governance_class="auto")
        make_recommendation(connection, so_line_id=_line(connection, stock)["id"], governance_class="planner")

    summary = approve_all_auto(engine, stock["planner"])

    assert [result.recommendation_id for result in summary.approved] == [first["id"]]
    assert [recommendation_id for recommendation_id, _ in summary.refused] == [second["id"]]
    assert "only 4 remain available" in summary.refused[0][1]
    assert summary.counts == {"approved": 1, "refused": 1}


def test_queue_lists_proposed_with_impact(engine, stock):
    with engine.begin() as connection:
        line = _line(connection, stock, order_number="SO-500")
        recommendation = make_recommendation(connection, so_line_id=line["id"], cost=Decimal("3.5"), days_saved=4)

    queue = recommendation_queue(engine, stock["planner"])

    assert queue.to_dict("records")[0] | {"created_at": None} == {
        "recommendation_id": recommendation["id"], "order_line": "SO-500/1", "customer": "Acme Tools",
        "customer_tier": "standard", "item": "SKU-A", "action": "allocate", "qty": Decimal("6.000000"),
        "source": None, "substitute": None, "expected_date": date(2026, 3, 6), "explanation": "allocate 6.000000 units",
        "impact": "recovers 75.00 USD, 4 days earlier, costs 3.50 USD",
        "revenue_recovered": Decimal("75.0000"), "days_saved": 4, "cost": Decimal("3.5000"), "currency": "USD",
        "governance_class": "planner", "status": "proposed", "stale_reason": None, "created_at": None,
    }
