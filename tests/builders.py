"""Builders that insert one row with sensible defaults and return it.

Each builder takes an open SQLAlchemy connection, accepts any column of its
table as a keyword argument and returns the inserted row as a mapping, so
tests name only the values they care about. Codes and source keys are unique
within a test session. Builders for rows with parents create the parents when
their ids are not given.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import Connection, RowMapping, Table, insert

from services.db import schema

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
ORDER_DATE = date(2026, 3, 1)

_numbers = itertools.count(1)


def _next_code(prefix: str) -> str:
    return f"{prefix}-{next(_numbers)}"


def _lineage(source_key: str) -> dict:
    return {"source": "test", "source_key": source_key, "source_updated_at": NOW}


def _insert(connection: Connection, table: Table, values: dict) -> RowMapping:
    statement = insert(table).values(**values).returning(*table.c)
    return connection.execute(statement).mappings().one()


def make_customer(connection: Connection, **overrides) -> RowMapping:
    code = overrides.get("customer_code") or _next_code("C")
    values = {"customer_code": code, "name": f"Customer {code}", **_lineage(code)}
    values.update(overrides)
    return _insert(connection, schema.customers, values)


def make_item(connection: Connection, **overrides) -> RowMapping:
    sku = overrides.get("sku") or _next_code("SKU")
    values = {
        "sku": sku,
        "description": f"Item {sku}",
        "family": "General",
        "unit_cost": Decimal("6.00"),
        "list_price": Decimal("10.00"),
        **_lineage(sku),
    }
    values.update(overrides)
    return _insert(connection, schema.items, values)


def make_warehouse(connection: Connection, **overrides) -> RowMapping:
    code = overrides.get("warehouse_code") or _next_code("WH")
    values = {
        "warehouse_code": code,
        "name": f"Warehouse {code}",
        "time_zone": "America/Chicago",
        **_lineage(code),
    }
    values.update(overrides)
    return _insert(connection, schema.warehouses, values)


def make_supplier(connection: Connection, **overrides) -> RowMapping:
    code = overrides.get("supplier_code") or _next_code("S")
    values = {"supplier_code": code, "name": f"Supplier {code}", **_lineage(code)}
    values.update(overrides)
    return _insert(connection, schema.suppliers, values)


def make_order_line(
    connection: Connection,
    *,
    customer_id: int | None = None,
    item_id: int | None = None,
    warehouse_id: int | None = None,
    **overrides,
) -> RowMapping:
    """Insert a sales order line, open by default: 10 units at 10.00, nothing shipped."""
    order_number = overrides.get("order_number") or _next_code("SO")
    line_number = overrides.get("line_number", 1)
    values = {
        "order_number": order_number,
        "line_number": line_number,
        "order_date": ORDER_DATE,
        "requested_date": ORDER_DATE + timedelta(days=7),
        "ordered_qty": Decimal(10),
        "unit_price": Decimal("10.00"),
        **_lineage(f"{order_number}/{line_number}"),
    }
    values.update(overrides)
    values["customer_id"] = customer_id or make_customer(connection)["id"]
    values["item_id"] = item_id or make_item(connection)["id"]
    values["warehouse_id"] = warehouse_id or make_warehouse(connection)["id"]
    return _insert(connection, schema.sales_order_lines, values)


def make_po_line(
    connection: Connection,
    *,
    supplier_id: int | None = None,
    item_id: int | None = None,
    warehouse_id: int | None = None,
    **overrides,
) -> RowMapping:
    """Insert a purchase order line, open by default: 100 units at 6.00, nothing received."""
    po_number = overrides.get("po_number") or _next_code("PO")
    line_number = overrides.get("line_number", 1)
    values = {
        "po_number": po_number,
        "line_number": line_number,
        "order_date": ORDER_DATE,
        "promised_date": ORDER_DATE + timedelta(days=14),
        "ordered_qty": Decimal(100),
        "unit_cost": Decimal("6.00"),
        **_lineage(f"{po_number}/{line_number}"),
    }
    values.update(overrides)
    values["supplier_id"] = supplier_id or make_supplier(connection)["id"]
    values["item_id"] = item_id or make_item(connection)["id"]
    values["warehouse_id"] = warehouse_id or make_warehouse(connection)["id"]
    return _insert(connection, schema.purchase_order_lines, values)


def make_sync_run(connection: Connection, **overrides) -> RowMapping:
    """Insert a sync run, succeeded by default, that started five minutes before NOW.

    A run that is not 'running' finishes five minutes after it started unless
    finished_at is given. When inserted_count is not given, it is set so that
    read = inserted + updated + unchanged + rejected, as the schema requires
    of a succeeded run.
    """
    values = {
        "source": "erp",
        "entity": "sales_order_lines",
        "status": "succeeded",
        "started_at": NOW - timedelta(minutes=5),
        "read_count": 0,
        "updated_count": 0,
        "unchanged_count": 0,
        "rejected_count": 0,
    }
    values.update(overrides)
    if "finished_at" not in values and values["status"] != "running":
        values["finished_at"] = values["started_at"] + timedelta(minutes=5)
    if "inserted_count" not in values:
        values["inserted_count"] = values["read_count"] - (
            values["updated_count"] + values["unchanged_count"] + values["rejected_count"]
        )
    return _insert(connection, schema.sync_runs, values)


def make_job_run(connection: Connection, **overrides) -> RowMapping:
    """Insert a job run, succeeded by default, that started five minutes before NOW.

    A run that is not 'running' finishes five minutes after it started unless
    finished_at is given.
    """
    values = {
        "job_name": "sync_inbox",
        "status": "succeeded",
        "started_at": NOW - timedelta(minutes=5),
    }
    values.update(overrides)
    if "finished_at" not in values and values["status"] != "running":
        values["finished_at"] = values["started_at"] + timedelta(minutes=5)
    return _insert(connection, schema.job_runs, values)


def make_inventory(connection: Connection, *, item_id: int | None = None, warehouse_id: int | None = None, **overrides) -> RowMapping:
    """Insert a stock row, 10 units on hand with no hold and nothing allocated by default."""
    values = {"on_hand_qty": Decimal(10), "as_of": NOW}
    values.update(overrides)
    values["item_id"] = item_id or make_item(connection)["id"]
    values["warehouse_id"] = warehouse_id or make_warehouse(connection)["id"]
    values.update(_lineage(overrides.get("source_key") or _next_code("INV")))
    return _insert(connection, schema.inventory, values)


def make_user(connection: Connection, **overrides) -> RowMapping:
    """Insert an active planner with an approval limit of 5000.00; the password hash is a placeholder."""
    username = overrides.get("username") or _next_code("user")
    values = {
        "username": username,
        "display_name": f"User {username}",
        "role": "planner",
        "password_hash": "not-a-hash",
        "approval_limit": Decimal("5000.00"),
    }
    values.update(overrides)
    return _insert(connection, schema.users, values)


def make_substitute(connection: Connection, *, item_id: int, substitute_item_id: int, **overrides) -> RowMapping:
    """Insert a substitute of ratio 1 that needs approval."""
    values = {"item_id": item_id, "substitute_item_id": substitute_item_id, **_lineage(_next_code("SUB"))}
    values.update(overrides)
    return _insert(connection, schema.substitutes, values)


def recommendation_data_version(
    connection: Connection,
    so_line_id: int,
    *,
    inventory: tuple[int, int] | None = None,
    po_line_id: int | None = None,
) -> str:
    """Return the data_version of the current rows, written as the recommending side writes it.

    inventory is (item_id, warehouse_id). A PO line's expected date is its
    promised date, which is what approval reads when no forecast and no
    acknowledgement exist.
    """
    import json

    from sqlalchemy import select

    line = connection.execute(
        select(schema.sales_order_lines).where(schema.sales_order_lines.c.id == so_line_id)
    ).mappings().one()
    version = {"so_line": {
        "id": line["id"], "ordered_qty": str(line["ordered_qty"]), "shipped_qty": str(line["shipped_qty"]),
        "cancelled_qty": str(line["cancelled_qty"]), "status": line["status"],
    }, "supply": None}
    if inventory is not None:
        table = schema.inventory
        row = connection.execute(
            select(table).where(table.c.item_id == inventory[0], table.c.warehouse_id == inventory[1])
        ).mappings().one()
        version["supply"] = {
            "kind": "inventory", "item_id": row["item_id"], "warehouse_id": row["warehouse_id"],
            "on_hand_qty": str(row["on_hand_qty"]), "quality_hold_qty": str(row["quality_hold_qty"]),
        }
    elif po_line_id is not None:
        table = schema.purchase_order_lines
        row = connection.execute(select(table).where(table.c.id == po_line_id)).mappings().one()
        version["supply"] = {
            "kind": "po_line", "id": row["id"], "ordered_qty": str(row["ordered_qty"]),
            "received_qty": str(row["received_qty"]), "cancelled_qty": str(row["cancelled_qty"]),
            "status": row["status"],
            "expected_date": row["promised_date"].isoformat() if row["promised_date"] else None,
        }
    return json.dumps(version, sort_keys=True)


def make_recommendation(connection: Connection, *, so_line_id: int | None = None, **overrides) -> RowMapping:
    """Insert a proposed 'planner' recommendation with a data version of the rows as they are now.

    By default it allocates the whole open quantity of a new order line from
    the stock of the line's item in the line's warehouse, recovering the
    line's value. Pass data_version to store another version.
    """
    from sqlalchemy import select

    if so_line_id is None:
        so_line_id = make_order_line(connection)["id"]
    line = connection.execute(
        select(schema.sales_order_lines).where(schema.sales_order_lines.c.id == so_line_id)
    ).mappings().one()
    action = overrides.get("action", "allocate")
    qty = overrides.get("qty", line["ordered_qty"] - line["shipped_qty"] - line["cancelled_qty"])
    values = {
        "so_line_id": so_line_id,
        "action": action,
        "item_id": line["item_id"],
        "qty": qty,
        "expected_date": ORDER_DATE + timedelta(days=5),
        "revenue_recovered": (qty * line["unit_price"]).quantize(Decimal("0.01")),
        "days_saved": 2,
        "explanation": f"{action} {qty} units",
        "governance_class": "planner",
    }
    values.update(overrides)
    if "data_version" not in values:
        if action == "escalate":
            supply = {}
        elif values.get("source_po_line_id"):
            supply = {"po_line_id": values["source_po_line_id"]}
        else:
            item_id = values.get("substitute_item_id") or values["item_id"]
            supply = {"inventory": (item_id, values.get("source_warehouse_id") or line["warehouse_id"])}
        values["data_version"] = recommendation_data_version(connection, so_line_id, **supply)
    return _insert(connection, schema.recommendations, values)


def make_shipment(connection: Connection, *, so_line_id: int, item_id: int | None = None, **overrides) -> RowMapping:
    """Insert a delivered customer shipment of a sales order line: 10 units shipped on ORDER_DATE."""
    number = overrides.get("shipment_number") or _next_code("SH")
    values = {
        "shipment_number": number,
        "kind": "customer",
        "so_line_id": so_line_id,
        "qty": Decimal(10),
        "ship_date": ORDER_DATE,
        "status": "delivered",
        **_lineage(number),
    }
    values.update(overrides)
    if item_id is None:
        item_id = connection.execute(
            schema.sales_order_lines.select().where(schema.sales_order_lines.c.id == so_line_id)
        ).mappings().one()["item_id"]
    values["item_id"] = item_id
    return _insert(connection, schema.shipments, values)


def make_decision(connection: Connection, *, recommendation_id: int, **overrides) -> RowMapping:
    """Insert an approval of the recommendation by 'planner' at NOW."""
    values = {"recommendation_id": recommendation_id, "decided_by": "planner", "decision": "approve", "decided_at": NOW}
    values.update(overrides)
    return _insert(connection, schema.decisions, values)


def make_exposure(connection: Connection, *, so_line_id: int, **overrides) -> RowMapping:
    """Insert an exposure row: backordered by supplier delay, 100.00 revenue at risk."""
    values = {
        "so_line_id": so_line_id,
        "status": "backordered",
        "shortage_qty": Decimal(10),
        "root_cause": "supplier_delay",
        "revenue_at_risk": Decimal("100.00"),
        "margin_at_risk": Decimal("40.00"),
        "penalty_exposure": Decimal(0),
        "backlog_age_days": 0,
        "priority_score": Decimal(1),
    }
    values.update(overrides)
    return _insert(connection, schema.exposure, values)


def make_receipt(connection: Connection, *, po_line_id: int, warehouse_id: int, **overrides) -> RowMapping:
    """Insert a receipt of 10 units of the PO line on ORDER_DATE."""
    key = _next_code("RC")
    values = {
        "po_line_id": po_line_id,
        "warehouse_id": warehouse_id,
        "receipt_date": ORDER_DATE,
        "received_qty": Decimal(10),
        **_lineage(key),
    }
    values.update(overrides)
    return _insert(connection, schema.receipts, values)


def make_transfer_lane(connection: Connection, *, from_warehouse_id: int, to_warehouse_id: int, **overrides) -> RowMapping:
    """Insert a transfer lane of 2 lead days at 1.00 a unit."""
    key = _next_code("LANE")
    values = {
        "from_warehouse_id": from_warehouse_id, "to_warehouse_id": to_warehouse_id, "lead_days": 2,
        "cost_per_unit": Decimal("1.00"), **_lineage(key),
    }
    values.update(overrides)
    return _insert(connection, schema.transfer_lanes, values)


def make_supplier_item(connection: Connection, *, supplier_id: int, item_id: int, **overrides) -> RowMapping:
    """Insert a supplier's offer of an item for every warehouse: 14 days lead time, priority 1."""
    values = {"supplier_id": supplier_id, "item_id": item_id, "lead_days": 14, **_lineage(_next_code("SI"))}
    values.update(overrides)
    return _insert(connection, schema.supplier_items, values)
