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


def make_inventory(connection: Connection, *, item_id: int, warehouse_id: int, **overrides) -> RowMapping:
    """Insert the stock of an item in a warehouse: 100 on hand, nothing held or allocated, as of NOW."""
    values = {"item_id": item_id, "warehouse_id": warehouse_id, "on_hand_qty": Decimal(100), "as_of": NOW,
              **_lineage(_next_code("INV"))}
    values.update(overrides)
    return _insert(connection, schema.inventory, values)


def make_receipt(connection: Connection, *, po_line_id: int, warehouse_id: int, **overrides) -> RowMapping:
    """Insert a receipt of 10 units against a purchase order line on ORDER_DATE."""
    values = {"po_line_id": po_line_id, "warehouse_id": warehouse_id, "receipt_date": ORDER_DATE,
              "received_qty": Decimal(10), **_lineage(_next_code("GR"))}
    values.update(overrides)
    return _insert(connection, schema.receipts, values)


def make_shipment(connection: Connection, *, item_id: int, **overrides) -> RowMapping:
    """Insert a customer shipment of 10 units leaving on ORDER_DATE, in transit."""
    number = overrides.get("shipment_number") or _next_code("SH")
    values = {"shipment_number": number, "kind": "customer", "item_id": item_id, "qty": Decimal(10),
              "ship_date": ORDER_DATE, **_lineage(number)}
    values.update(overrides)
    return _insert(connection, schema.shipments, values)


def make_supplier_item(connection: Connection, *, supplier_id: int, item_id: int, **overrides) -> RowMapping:
    """Insert a supplier's offer of an item for every warehouse: 14 days lead time, priority 1."""
    values = {"supplier_id": supplier_id, "item_id": item_id, "lead_days": 14, **_lineage(_next_code("SI"))}
    values.update(overrides)
    return _insert(connection, schema.supplier_items, values)
