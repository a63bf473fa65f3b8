"""Bad and awkward input in foreign exports: each case loads to an exact result or an exact reason."""

from __future__ import annotations

import logging
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from services.db import schema
from services.sync.canonical import FileRejected
from services.sync.mapping import sync_export
from tests.builders import make_customer, make_item, make_po_line, make_supplier, make_warehouse

PO_MAPPING = """
[export]
source = "erp-x"
date_formats = ["%d-%b-%y", "%m/%d/%y", "%Y-%m-%d"]

[target.purchase_order_lines.columns]
po_number = "PO"
line_number = "Line"
supplier_code = "Vendor"
sku = "Item"
warehouse_code = "Site"
order_date = "Ordered"
promised_date = "Due"
ordered_qty = "Qty"
"""

PO_HEADER = "PO,Line,Vendor,Item,Site,Ordered,Due,Qty"

ORDER_MAPPING = """
[export]
source = "erp-x"

[target.sales_order_lines.columns]
order_number = "Order"
line_number = "Line"
customer_code = "Customer"
sku = "Item"
warehouse_code = "Site"
order_date = "Ordered"
requested_date = "Requested"
ordered_qty = "Qty"
unit_price = "Price"
"""

ORDER_HEADER = "Order,Line,Customer,Item,Site,Ordered,Requested,Qty,Price"


def write_text(folder: Path, name: str, content: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(content.encode(encoding))
    return path


@pytest.fixture
def master(engine):
    """Supplier V1, customer C1, item GLV sold in EA, warehouse DAL in Chicago."""
    with engine.begin() as connection:
        make_supplier(connection, supplier_code="V1")
        make_customer(connection, customer_code="C1")
        make_item(connection, sku="GLV", base_unit="EA")
        make_warehouse(connection, warehouse_code="DAL", time_zone="America/Chicago")
    return engine


def po_lines(engine) -> list:
    with engine.connect() as connection:
        table = schema.purchase_order_lines
        return connection.execute(select(table).order_by(table.c.po_number, table.c.line_number)).all()


def order_lines(engine) -> list:
    with engine.connect() as connection:
        table = schema.sales_order_lines
        return connection.execute(select(table).order_by(table.c.order_number, table.c.line_number)).all()


def quarantine(engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(schema.quarantine.c.position, schema.quarantine.c.reason).order_by(schema.quarantine.c.id)
        )
        return [tuple(row) for row in rows]


def sync_run_count(engine) -> int:
    with engine.connect() as connection:
        return len(connection.execute(select(schema.sync_runs.c.id)).all())


def load_po_lines(engine, tmp_path, body: str, **write_options):
    mapping = write_text(tmp_path, "po.toml", PO_MAPPING)
    export = write_text(tmp_path, "po.csv", PO_HEADER + "\n" + body, **write_options)
    [result] = sync_export(engine, export, mapping)
    return result


def test_mixed_date_formats_in_one_column_parse(master, tmp_path):
    body = (
        "PO-1,1,V1,GLV,DAL,2-Jun-06,2012-01-06,10\n"
        "PO-1,2,V1,GLV,DAL,11/13/06,14-Nov-06,10\n"
        "PO-1,3,V1,GLV,DAL,2012-01-06,1/31/12,10\n"
    )

    result = load_po_lines(master, tmp_path, body)

    assert (result.read, result.inserted, result.rejected) == (3, 3, 0)
    assert [(line.order_date, line.promised_date) for line in po_lines(master)] == [
        (date(2006, 6, 2), date(2012, 1, 6)),
        (date(2006, 11, 13), date(2006, 11, 14)),
        (date(2012, 1, 6), date(2012, 1, 31)),
    ]


def test_text_in_date_column_is_quarantined_with_reason(master, tmp_path):
    body = "PO-1,1,V1,GLV,DAL,2-Jun-06,Date Not Captured,10\nPO-1,2,V1,GLV,DAL,2-Jun-06,9-Jun-06,10\n"

    result = load_po_lines(master, tmp_path, body)

    assert (result.read, result.inserted, result.rejected) == (2, 1, 1)
    assert quarantine(master) == [
        (
            "line 2",
            "promised_date: 'Date Not Captured' in column 'Due' is not a date in the formats %d-%b-%y, %m/%d/%y, "
            "%Y-%m-%d; correct the value, or add its format to date_formats or the text to no_value in po.toml",
        )
    ]


def test_text_in_number_column_is_quarantined_with_reason(master, tmp_path):
    body = "PO-1,1,V1,GLV,DAL,2-Jun-06,9-Jun-06,Freight Included in Commodity Cost\n"

    result = load_po_lines(master, tmp_path, body)

    assert (result.read, result.inserted, result.rejected) == (1, 0, 1)
    assert quarantine(master) == [
        (
            "line 2",
            "ordered_qty: 'Freight Included in Commodity Cost' in column 'Qty' is not a number; correct the value, "
            "or add the text to no_value in po.toml",
        )
    ]


def test_byte_order_mark_is_dropped(master, tmp_path):
    result = load_po_lines(master, tmp_path, "PO-1,1,V1,GLV,DAL,2-Jun-06,9-Jun-06,10\n", encoding="utf-8-sig")

    assert (result.read, result.inserted) == (1, 1)
    assert po_lines(master)[0].po_number == "PO-1"


def test_byte_order_mark_dropped_under_utf8(master, tmp_path):
    mapping = write_text(tmp_path, "po.toml", PO_MAPPING.replace('source = "erp-x"', 'source = "erp-x"\nencoding = "utf-8"'))
    export = write_text(tmp_path, "po.csv", PO_HEADER + "\nPO-1,1,V1,GLV,DAL,2-Jun-06,9-Jun-06,10\n", encoding="utf-8-sig")

    [result] = sync_export(master, export, mapping)

    assert (result.read, result.inserted) == (1, 1)


def test_carriage_return_line_ends_split_rows(master, tmp_path):
    body = "PO-1,1,V1,GLV,DAL,2-Jun-06,9-Jun-06,10\rPO-1,2,V1,GLV,DAL,2-Jun-06,9-Jun-06,12\r"
    mapping = write_text(tmp_path, "po.toml", PO_MAPPING)
    export = write_text(tmp_path, "po.csv", PO_HEADER + "\r" + body)

    [result] = sync_export(master, export, mapping)

    assert (result.read, result.inserted) == (2, 2)
    assert [line.ordered_qty for line in po_lines(master)] == [Decimal("10"), Decimal("12")]


def test_crlf_line_ends_split_rows(master, tmp_path):
    body = "PO-1,1,V1,GLV,DAL,2-Jun-06,9-Jun-06,10\r\nPO-1,2,V1,GLV,DAL,2-Jun-06,9-Jun-06,12\r\n"
    mapping = write_text(tmp_path, "po.toml", PO_MAPPING)
    export = write_text(tmp_path, "po.csv", PO_HEADER + "\r\n" + body)

    [result] = sync_export(master, export, mapping)

    assert (result.read, result.inserted) == (2, 2)


LATIN1_CUSTOMERS = "Customer,Name\nC7,Librería México\n"

CUSTOMER_MAPPING = """
[export]
source = "erp-x"
encoding = "{encoding}"

[target.customers.columns]
customer_code = "Customer"
name = "Name"
"""


def test_latin1_export_is_read_through_a_latin1_mapping(engine, tmp_path):
    mapping = write_text(tmp_path, "customers.toml", CUSTOMER_MAPPING.format(encoding="latin-1"))
    export = write_text(tmp_path, "customers.csv", LATIN1_CUSTOMERS, encoding="latin-1")

    sync_export(engine, export, mapping)

    with engine.connect() as connection:
        names = connection.execute(select(schema.customers.c.name)).scalars().all()
    assert names == ["Librería México"]


def test_latin1_export_read_as_utf8_is_rejected(engine, tmp_path):
    mapping = write_text(tmp_path, "customers.toml", CUSTOMER_MAPPING.format(encoding="utf-8"))
    export = write_text(tmp_path, "customers.csv", LATIN1_CUSTOMERS, encoding="latin-1")

    with pytest.raises(FileRejected) as error:
        sync_export(engine, export, mapping)

    assert str(error.value) == (
        "customers.csv is not utf-8 text: byte 0xed at offset 23 (line 2) cannot be decoded; set encoding in the "
        "[export] section of customers.toml to the export's encoding, such as \"latin-1\" or \"cp1252\""
    )
    assert sync_run_count(engine) == 0


def test_empty_export_is_rejected(engine, tmp_path):
    mapping = write_text(tmp_path, "customers.toml", CUSTOMER_MAPPING.format(encoding="utf-8"))
    export = write_text(tmp_path, "customers.csv", "")

    with pytest.raises(FileRejected) as error:
        sync_export(engine, export, mapping)

    assert str(error.value) == "customers.csv is empty; export it again with a header row and its records"
    assert sync_run_count(engine) == 0


def test_header_only_export_loads_no_records(engine, tmp_path):
    mapping = write_text(tmp_path, "customers.toml", CUSTOMER_MAPPING.format(encoding="utf-8"))
    export = write_text(tmp_path, "customers.csv", "Customer,Name\n")

    [result] = sync_export(engine, export, mapping)

    assert (result.read, result.inserted, result.rejected) == (0, 0, 0)


def test_negative_quantity_is_quarantined(master, tmp_path):
    result = load_po_lines(master, tmp_path, "PO-1,1,V1,GLV,DAL,2-Jun-06,9-Jun-06,-5\n")

    assert (result.read, result.inserted, result.rejected) == (1, 0, 1)
    assert quarantine(master) == [
        ("line 2", "ordered_qty: '-5' is negative; quantities and prices must be 0 or more")
    ]


def test_unknown_item_and_warehouse_are_quarantined(master, tmp_path):
    body = "PO-1,1,V1,NOPE,DAL,2-Jun-06,9-Jun-06,5\nPO-1,2,V1,GLV,XYZ,2-Jun-06,9-Jun-06,5\n"

    result = load_po_lines(master, tmp_path, body)

    assert (result.read, result.inserted, result.rejected) == (2, 0, 2)
    assert quarantine(master) == [
        ("line 2", "sku: 'NOPE' is unknown; load it in items.csv first or correct the code"),
        ("line 3", "warehouse_code: 'XYZ' is unknown; load it in warehouses.csv first or correct the code"),
    ]


def test_repeated_po_line_keeps_last(master, tmp_path, caplog):
    body = "PO-1,1,V1,GLV,DAL,2-Jun-06,9-Jun-06,10\nPO-1,1,V1,GLV,DAL,2-Jun-06,9-Jun-06,8\n"

    with caplog.at_level(logging.WARNING, logger="services.sync.canonical"):
        result = load_po_lines(master, tmp_path, body)

    [line] = po_lines(master)
    assert line.ordered_qty == Decimal("8")
    assert (result.read, result.inserted, result.unchanged, result.duplicates) == (2, 1, 1, 1)
    assert "1 duplicate source keys superseded by a later line: PO-1/1 (line 2)" in caplog.text


BOX_MAPPING = """
[export]
source = "erp-x"

[target.units.columns]
sku = "Item"
unit_code = "Unit"
base_qty_per_unit = { column = "BOX per EA", reciprocal = true }

[target.sales_order_lines.columns]
order_number = "Order"
line_number = "Line"
customer_code = "Customer"
sku = "Item"
warehouse_code = "Site"
order_date = "Ordered"
requested_date = "Requested"
unit = "Unit"
ordered_qty = "Qty"
unit_price = "Price"
"""


def test_box_order_is_exactly_60_each(master, tmp_path):
    mapping = write_text(tmp_path, "orders.toml", BOX_MAPPING)
    export = write_text(
        tmp_path,
        "orders.csv",
        ORDER_HEADER + ",Unit,BOX per EA\nSO-1,1,C1,GLV,DAL,2026-03-01,2026-03-05,5,3.00,BOX,0.0833333\n",
    )

    units_result, orders_result = sync_export(master, export, mapping)

    with master.connect() as connection:
        factor = connection.execute(select(schema.units.c.base_qty_per_unit)).scalar_one()
    [line] = order_lines(master)
    assert factor == Decimal("12")
    assert line.ordered_qty == Decimal("60")
    assert line.unit_price == Decimal("0.25")
    assert (units_result.inserted, orders_result.inserted) == (1, 1)


RESERVED_MAPPING = ORDER_MAPPING.replace(
    'ordered_qty = "Qty"', 'ordered_qty = { formula = "{Qty} * {EA per unit}" }\nallocated_qty = "Reserved EA"'
)


def test_allocation_never_exceeds_the_ordered_quantity(master, tmp_path):
    mapping = write_text(tmp_path, "orders.toml", RESERVED_MAPPING)
    export = write_text(
        tmp_path,
        "orders.csv",
        ORDER_HEADER + ",EA per unit,Reserved EA\n"
        "SO-1,1,C1,GLV,DAL,2026-03-01,2026-03-05,6,3.00,4,24\n"
        "SO-1,2,C1,GLV,DAL,2026-03-01,2026-03-05,6,3.00,4,25\n",
    )

    [result] = sync_export(master, export, mapping)

    [line] = order_lines(master)
    assert (line.line_number, line.ordered_qty, line.allocated_qty) == (1, Decimal("24"), Decimal("24"))
    assert (result.read, result.inserted, result.rejected) == (2, 1, 1)
    assert quarantine(master) == [("line 3", "allocated_qty 25 exceeds ordered_qty 24")]


RECEIPTS_MAPPING = """
[export]
source = "wms-x"

[target.receipts.columns]
receipt_number = "Receipt"
po_number = "PO"
po_line_number = "Line"
warehouse_code = "Site"
receipt_date = "Received"
received_qty = "Qty"
"""


def test_split_receipts_roll_up_into_the_po_line(master, tmp_path):
    with master.begin() as connection:
        make_po_line(
            connection,
            po_number="PO-9",
            line_number=1,
            ordered_qty=Decimal(100),
            supplier_id=connection.execute(select(schema.suppliers.c.id)).scalar_one(),
            item_id=connection.execute(select(schema.items.c.id)).scalar_one(),
            warehouse_id=connection.execute(select(schema.warehouses.c.id)).scalar_one(),
        )
    mapping = write_text(tmp_path, "receipts.toml", RECEIPTS_MAPPING)
    export = write_text(
        tmp_path,
        "receipts.csv",
        "Receipt,PO,Line,Site,Received,Qty\nR-1,PO-9,1,DAL,2026-03-10,70\nR-2,PO-9,1,DAL,2026-03-12,30\n",
    )

    [result] = sync_export(master, export, mapping)

    [line] = po_lines(master)
    assert result.inserted == 2
    assert line.received_qty == Decimal("100")
    assert line.ordered_qty - line.received_qty - line.cancelled_qty == Decimal("0")
    assert line.status == "received"


SHIPMENTS_MAPPING = """
[export]
source = "wms-x"

[target.shipments.columns]
shipment_number = "Shipment"
kind = { constant = "customer" }
sku = "Item"
order_number = "Order"
order_line_number = "Line"
from_warehouse_code = "Site"
qty = "Qty"
ship_date = "Shipped"
status = { column = "State", map = { DONE = "delivered", VOID = "cancelled" }, default = "in_transit" }
"""


def load_orders(engine, tmp_path, body: str):
    mapping = write_text(tmp_path, "orders.toml", ORDER_MAPPING)
    export = write_text(tmp_path, "orders.csv", ORDER_HEADER + "\n" + body)
    [result] = sync_export(engine, export, mapping)
    return result


def load_shipments(engine, tmp_path, body: str):
    mapping = write_text(tmp_path, "shipments.toml", SHIPMENTS_MAPPING)
    export = write_text(tmp_path, "shipments.csv", "Shipment,Item,Order,Line,Site,Qty,Shipped,State\n" + body)
    [result] = sync_export(engine, export, mapping)
    return result


def test_cancelled_shipment_never_counts_as_shipped(master, tmp_path):
    load_orders(master, tmp_path, "SO-5,1,C1,GLV,DAL,2026-03-01,2026-03-05,1,3.00\n")
    load_shipments(master, tmp_path, "SH-1,GLV,SO-5,1,DAL,1,2026-03-02,VOID\n")

    load_orders(master, tmp_path, "SO-5,1,C1,GLV,DAL,2026-03-01,2026-03-05,3,3.00\n")

    [line] = order_lines(master)
    assert (line.ordered_qty, line.shipped_qty, line.cancelled_qty) == (Decimal("3"), Decimal("0"), Decimal("0"))
    assert line.ordered_qty - line.shipped_qty - line.cancelled_qty == Decimal("3")
    assert line.status == "open"


def test_delivered_shipment_rolls_up_as_shipped(master, tmp_path):
    load_orders(master, tmp_path, "SO-6,1,C1,GLV,DAL,2026-03-01,2026-03-05,3,3.00\n")

    load_shipments(master, tmp_path, "SH-2,GLV,SO-6,1,DAL,2,2026-03-02,DONE\nSH-3,GLV,SO-6,1,DAL,1,2026-03-03,VOID\n")

    [line] = order_lines(master)
    assert (line.shipped_qty, line.status) == (Decimal("2"), "open")


TIMESTAMP_MAPPING = """
[export]
source = "wms-x"
date_formats = ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M"]

[target.receipts.columns]
receipt_number = "Receipt"
po_number = "PO"
po_line_number = "Line"
warehouse_code = "Site"
receipt_date = "Received At"
received_qty = "Qty"
source_updated_at = "Changed At"

[target.inventory.columns]
sku = "Item"
warehouse_code = "Site"
on_hand_qty = "Qty"
as_of = "Counted At"
"""


def test_timestamps_and_warehouse_business_dates(master, tmp_path):
    with master.begin() as connection:
        make_po_line(
            connection,
            po_number="PO-7",
            line_number=1,
            supplier_id=connection.execute(select(schema.suppliers.c.id)).scalar_one(),
            item_id=connection.execute(select(schema.items.c.id)).scalar_one(),
            warehouse_id=connection.execute(select(schema.warehouses.c.id)).scalar_one(),
        )
    mapping = write_text(tmp_path, "wms.toml", TIMESTAMP_MAPPING)
    export = write_text(
        tmp_path,
        "wms.csv",
        "Receipt,PO,Line,Site,Item,Received At,Qty,Changed At,Counted At\n"
        "R-1,PO-7,1,DAL,GLV,2026-03-02T03:30:00+00:00,40,2026-03-02T09:30:00+05:30,2026-03-02 08:00\n",
    )

    sync_export(master, export, mapping)

    with master.connect() as connection:
        receipt = connection.execute(select(schema.receipts)).one()
        stock = connection.execute(select(schema.inventory)).one()
    assert receipt.receipt_date == date(2026, 3, 1)
    assert receipt.source_updated_at == datetime(2026, 3, 2, 4, 0, tzinfo=timezone.utc)
    assert stock.as_of == datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)
