"""SQL of the approval use cases: row locks, sums of active allocations, and the rows an approval writes.

Locks are always taken in one order, recommendation, then order line, then
supply row, so two approvals never wait for each other in a cycle.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, Mapping, Sequence

from sqlalchemy import Connection, RowMapping, insert, text, update

from services.approvals.audit import jsonable
from services.db import schema

LOCK_RECOMMENDATION = text("select * from recommendations where id = :id for update")

DECISION = text(
    "select id, decision, decided_by, decided_at, comment from decisions where recommendation_id = :id"
)

USER_LIMIT = text("select approval_limit, active from users where id = :id")

# The order line with what a draft, a task and an ERP message name.
LOCK_ORDER_LINE = text("""
    select l.id, l.order_number, l.line_number, l.customer_id, l.item_id, l.warehouse_id,
           l.ordered_qty, l.shipped_qty, l.cancelled_qty, l.allocated_qty, l.status,
           l.current_promised_date, l.requested_date, l.unit_price, l.currency,
           c.customer_code, c.name as customer_name, i.sku as item_sku, i.description as item_description,
           w.warehouse_code
    from sales_order_lines l
    join customers c on c.id = l.customer_id
    join items i on i.id = l.item_id
    join warehouses w on w.id = l.warehouse_id
    where l.id = :id
    for update of l
""")

LOCK_INVENTORY = text("""
    select inv.id, inv.item_id, inv.warehouse_id, inv.on_hand_qty, inv.quality_hold_qty, inv.allocated_qty,
           i.sku as item_sku, i.description as item_description, w.warehouse_code
    from inventory inv
    join items i on i.id = inv.item_id
    join warehouses w on w.id = inv.warehouse_id
    where inv.item_id = :item_id and inv.warehouse_id = :warehouse_id
    for update of inv
""")

# A PO line's open quantity is what the supplier still owes: the acknowledged
# quantity where there is one, else the ordered one, less received and
# cancelled, and nothing for a rejected line. Its expected date is the ETA
# forecast's P50, else the acknowledged delivery date, else the supplier's
# promise, else the order date plus the supplier's lead time, as in exposure.
LOCK_PO_LINE = text("""
    select p.id, p.po_number, p.line_number, p.item_id, p.warehouse_id, p.supplier_id,
           p.ordered_qty, p.received_qty, p.cancelled_qty, p.status,
           case when p.ack_status = 'rejected' then 0
                else greatest(coalesce(p.acknowledged_qty, p.ordered_qty) - p.received_qty - p.cancelled_qty, 0)
           end as open_qty,
           coalesce(f.p50_date,
                    case when p.ack_status in ('accepted', 'changed', 'backordered') then p.acknowledged_date end,
                    p.promised_date,
                    p.order_date + s.default_lead_days) as expected_date,
           s.name as supplier_name, s.supplier_code, i.sku as item_sku, i.description as item_description,
           w.warehouse_code
    from purchase_order_lines p
    join suppliers s on s.id = p.supplier_id
    join items i on i.id = p.item_id
    join warehouses w on w.id = p.warehouse_id
    left join eta_forecasts f on f.po_line_id = p.id
    where p.id = :id
    for update of p
""")

PO_LINE_ALLOCATED = text(
    "select coalesce(sum(qty), 0) from allocations where po_line_id = :id and status = 'active'"
)

# Quantity of the ordered item that approved allocations already cover on an
# order line. allocations.qty is in the supplied item's unit, so the covered
# quantity is read from the recommendation each allocation came from.
LINE_COVERED = text("""
    select coalesce(sum(r.qty), 0)
    from allocations a join recommendations r on r.id = a.recommendation_id
    where a.so_line_id = :id and a.status = 'active'
""")

SUBSTITUTE = text("""
    select s.ratio, i.sku as substitute_sku, i.description as substitute_description
    from substitutes s join items i on i.id = s.substitute_item_id
    where s.item_id = :item_id and s.substitute_item_id = :substitute_item_id
""")

ITEM = text("select sku, description from items where id = :id")
WAREHOUSE = text("select warehouse_code from warehouses where id = :id")


def lock_recommendation(connection: Connection, recommendation_id: int) -> RowMapping | None:
    return connection.execute(LOCK_RECOMMENDATION, {"id": recommendation_id}).mappings().first()


def find_decision(connection: Connection, recommendation_id: int) -> RowMapping | None:
    return connection.execute(DECISION, {"id": recommendation_id}).mappings().first()


def user_limit(connection: Connection, user_id: int) -> RowMapping | None:
    return connection.execute(USER_LIMIT, {"id": user_id}).mappings().first()


def lock_order_line(connection: Connection, so_line_id: int) -> RowMapping | None:
    return connection.execute(LOCK_ORDER_LINE, {"id": so_line_id}).mappings().first()


def lock_inventory(connection: Connection, item_id: int, warehouse_id: int) -> RowMapping | None:
    return connection.execute(LOCK_INVENTORY, {"item_id": item_id, "warehouse_id": warehouse_id}).mappings().first()


def lock_po_line(connection: Connection, po_line_id: int) -> RowMapping | None:
    return connection.execute(LOCK_PO_LINE, {"id": po_line_id}).mappings().first()


def po_line_allocated(connection: Connection, po_line_id: int) -> Decimal:
    return connection.execute(PO_LINE_ALLOCATED, {"id": po_line_id}).scalar_one()


def line_covered(connection: Connection, so_line_id: int) -> Decimal:
    return connection.execute(LINE_COVERED, {"id": so_line_id}).scalar_one()


def substitute(connection: Connection, item_id: int, substitute_item_id: int) -> RowMapping | None:
    parameters = {"item_id": item_id, "substitute_item_id": substitute_item_id}
    return connection.execute(SUBSTITUTE, parameters).mappings().first()


def item(connection: Connection, item_id: int) -> RowMapping | None:
    return connection.execute(ITEM, {"id": item_id}).mappings().first()


def warehouse_code(connection: Connection, warehouse_id: int) -> str | None:
    return connection.execute(WAREHOUSE, {"id": warehouse_id}).scalar_one_or_none()


def insert_decision(connection: Connection, recommendation_id: int, actor, decision: str, comment: str | None) -> RowMapping:
    statement = (
        insert(schema.decisions)
        .values(
            recommendation_id=recommendation_id,
            user_id=actor.user_id,
            decided_by=actor.username,
            decision=decision,
            comment=comment,
        )
        .returning(schema.decisions.c.id, schema.decisions.c.decided_at)
    )
    return connection.execute(statement).mappings().one()


def set_recommendation_status(connection: Connection, recommendation_id: int, status: str) -> None:
    table = schema.recommendations
    connection.execute(
        update(table).where(table.c.id == recommendation_id).values(status=status, updated_at=text("now()"))
    )


def insert_allocation(connection: Connection, values: Mapping[str, Any]) -> int:
    statement = insert(schema.allocations).values(**values).returning(schema.allocations.c.id)
    return connection.execute(statement).scalar_one()


def reserve_stock(connection: Connection, inventory_id: int, supply_qty: Decimal, so_line_id: int, line_qty: Decimal) -> None:
    """Add the allocation to inventory.allocated_qty and the order line's allocated_qty, so exposure nets it."""
    connection.execute(
        update(schema.inventory)
        .where(schema.inventory.c.id == inventory_id)
        .values(allocated_qty=schema.inventory.c.allocated_qty + supply_qty)
    )
    connection.execute(
        update(schema.sales_order_lines)
        .where(schema.sales_order_lines.c.id == so_line_id)
        .values(allocated_qty=schema.sales_order_lines.c.allocated_qty + line_qty)
    )


def insert_tasks(connection: Connection, recommendation_id: int, tasks: Sequence[Mapping[str, Any]]) -> list[int]:
    if not tasks:
        return []
    rows = [
        {
            "recommendation_id": recommendation_id,
            "kind": task["kind"],
            "title": task["title"],
            "detail": jsonable(task["detail"]),
            "due_date": task.get("due_date"),
        }
        for task in tasks
    ]
    statement = insert(schema.tasks).values(rows).returning(schema.tasks.c.id)
    return list(connection.execute(statement).scalars())


def insert_customer_message(connection: Connection, values: Mapping[str, Any]) -> int:
    statement = insert(schema.customer_messages).values(**values).returning(schema.customer_messages.c.id)
    return connection.execute(statement).scalar_one()


def insert_outbox(connection: Connection, target: str, kind: str, payload: Mapping[str, Any]) -> uuid.UUID:
    """Queue one message for a target; the outbox writer delivers it after the transaction commits."""
    message_id = uuid.uuid4()
    connection.execute(
        insert(schema.outbox).values(
            message_id=message_id, target=target, kind=kind, payload=jsonable({"message_id": message_id, **payload})
        )
    )
    return message_id
