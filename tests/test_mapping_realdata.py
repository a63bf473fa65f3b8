"""The SCMS delivery history and the DataCo order export, loaded through their mapping files.

The exports are public files kept beside the project; the tests skip when
they are absent.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text

from services.db import schema
from services.sync.mapping import sync_export

MAPPINGS = Path(__file__).resolve().parent.parent / "seed_data" / "mappings"
SCMS_MAPPING = MAPPINGS / "scms_delivery_history.toml"
DATACO_MAPPING = MAPPINGS / "dataco_orders.toml"
SCMS_ROWS = 10_324
DATACO_ROWS = 1_000


def counts(results) -> dict[str, tuple[int, int, int, int, int]]:
    return {r.entity: (r.read, r.inserted, r.updated, r.unchanged, r.rejected) for r in results}


def quarantine_counts(engine, entity: str, patterns: dict[str, str]) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(
                text("select count(*) from quarantine where entity = :entity and reason like :pattern"),
                {"entity": entity, "pattern": pattern},
            ).scalar_one()
            for name, pattern in patterns.items()
        }


@pytest.fixture
def scms_export(realdata_dir) -> Path:
    return realdata_dir / "supplier" / "SCMS_Delivery_History_Dataset.csv"


@pytest.fixture
def dataco_export(realdata_dir) -> Path:
    return realdata_dir / "erp" / "DataCoSupplyChainDataset_sample.csv"


@pytest.fixture
def scms_loaded(engine, scms_export):
    return engine, sync_export(engine, scms_export, SCMS_MAPPING)


@pytest.fixture
def dataco_loaded(engine, dataco_export):
    return engine, sync_export(engine, dataco_export, DATACO_MAPPING)


def test_scms_accounts_for_every_row_in_every_target(scms_loaded):
    engine, results = scms_loaded

    assert counts(results) == {
        "warehouses": (SCMS_ROWS, 43, 0, 10_281, 0),
        "suppliers": (SCMS_ROWS, 73, 0, 10_251, 0),
        "items": (SCMS_ROWS, 184, 0, 10_140, 0),
        "purchase_order_lines": (SCMS_ROWS, 4_588, 0, 0, 5_736),
        "receipts": (SCMS_ROWS, 4_588, 0, 0, 5_736),
    }
    assert [r.balanced for r in results] == [True] * 5


def test_scms_sync_runs_balance_with_every_row(scms_loaded):
    engine, results = scms_loaded

    with engine.connect() as connection:
        runs = connection.execute(
            select(schema.sync_runs).where(schema.sync_runs.c.id.in_([r.sync_run_id for r in results]))
        ).all()

    assert {run.read_count for run in runs} == {SCMS_ROWS}
    assert {run.status for run in runs} == {"succeeded"}
    assert all(
        run.read_count == run.inserted_count + run.updated_count + run.unchanged_count + run.rejected_count
        for run in runs
    )


def test_scms_rejections_name_their_reasons(scms_loaded):
    engine, _ = scms_loaded

    po_reasons = quarantine_counts(
        engine,
        "purchase_order_lines",
        {
            "shipped from a regional centre": "order_date: column 'PO Sent to Vendor Date' has 'N/A - From RDC', %",
            "order date not captured": "order_date: column 'PO Sent to Vendor Date' has 'Date Not Captured', %",
            "promise before order": "promised_date % is before order_date %",
            "all": "%",
        },
    )
    receipt_reasons = quarantine_counts(
        engine, "receipts", {"unknown line": "po_number/po_line_number: % is unknown%", "all": "%"}
    )

    assert po_reasons == {
        "shipped from a regional centre": 5_404,
        "order date not captured": 328,
        "promise before order": 4,
        "all": 5_736,
    }
    assert receipt_reasons == {"unknown line": 5_736, "all": 5_736}


def test_scms_line_and_receipt_values(scms_loaded):
    engine, _ = scms_loaded

    with engine.connect() as connection:
        line = connection.execute(
            text(
                "select p.*, s.supplier_code, i.sku, w.warehouse_code from purchase_order_lines p "
                "join suppliers s on s.id = p.supplier_id join items i on i.id = p.item_id "
                "join warehouses w on w.id = p.warehouse_id where p.po_number = 'SCMS-165' and p.line_number = 47"
            )
        ).one()
        receipt = connection.execute(select(schema.receipts).where(schema.receipts.c.po_line_id == line.id)).one()
        zone = connection.execute(text("select time_zone from warehouses where warehouse_code = 'ZM'")).scalar_one()

    assert (line.supplier_code, line.sku, line.warehouse_code) == (
        "ABBVIE LOGISTICS (FORMERLY ABBOTT LOGISTICS BV)",
        "Lopinavir/Ritonavir 200/50mg [Aluvia], tablets, 120 Tabs",
        "ZM",
    )
    assert (line.order_date, line.promised_date) == (date(2006, 11, 13), date(2007, 1, 30))
    assert (line.ordered_qty, line.received_qty, line.unit_cost) == (Decimal("2800"), Decimal("2800"), Decimal("41.1000"))
    assert (line.shipment_mode, line.status, line.source) == ("Air", "received", "scms")
    assert (receipt.source_key, receipt.receipt_date, receipt.received_qty, receipt.asn_number) == (
        "ASN-199/47",
        date(2007, 1, 30),
        Decimal("2800"),
        "ASN-199",
    )
    assert zone == "Africa/Lusaka"


def test_scms_long_item_descriptions_get_unique_skus(scms_loaded):
    engine, _ = scms_loaded

    with engine.connect() as connection:
        skus = connection.execute(text("select sku, description, family, base_unit from items")).all()

    assert len(skus) == 184
    assert len({row.sku for row in skus}) == 184
    assert sum(1 for row in skus if "~" in row.sku) == 30
    assert max(len(row.description) for row in skus) == 113
    assert {row.base_unit for row in skus} == {"PACK"}
    assert sorted({row.family for row in skus}) == [
        "ACT ACT", "ANTM Malaria", "ARV Adult", "ARV Pediatric", "HRDT HIV test", "HRDT HIV test - Ancillary",
        "MRDT Malaria",
    ]


def test_scms_second_load_changes_nothing(scms_loaded, scms_export):
    engine, _ = scms_loaded

    second = sync_export(engine, scms_export, SCMS_MAPPING)

    assert counts(second) == {
        "warehouses": (SCMS_ROWS, 0, 0, SCMS_ROWS, 0),
        "suppliers": (SCMS_ROWS, 0, 0, SCMS_ROWS, 0),
        "items": (SCMS_ROWS, 0, 0, SCMS_ROWS, 0),
        "purchase_order_lines": (SCMS_ROWS, 0, 0, 4_588, 5_736),
        "receipts": (SCMS_ROWS, 0, 0, 4_588, 5_736),
    }


def test_dataco_loads_every_row(dataco_loaded):
    engine, results = dataco_loaded

    assert counts(results) == {
        "warehouses": (DATACO_ROWS, 1, 0, 999, 0),
        "customers": (DATACO_ROWS, 967, 0, 33, 0),
        "items": (DATACO_ROWS, 72, 0, 928, 0),
        "sales_order_lines": (DATACO_ROWS, 1_000, 0, 0, 0),
    }
    assert {r.entity: r.duplicates for r in results} == {
        "warehouses": 0, "customers": 0, "items": 889, "sales_order_lines": 0,
    }


def test_dataco_statuses_map_to_canonical_statuses(dataco_loaded):
    engine, _ = dataco_loaded

    with engine.connect() as connection:
        by_status = connection.execute(
            text(
                "select status, count(*) as lines, sum(ordered_qty) as ordered, sum(shipped_qty) as shipped, "
                "sum(cancelled_qty) as cancelled from sales_order_lines group by status order by status"
            )
        ).all()

    assert [tuple(row) for row in by_status] == [
        ("cancelled", 33, Decimal("66"), Decimal("0"), Decimal("66")),
        ("open", 553, Decimal("1183"), Decimal("0"), Decimal("0")),
        ("shipped", 414, Decimal("850"), Decimal("850"), Decimal("0")),
    ]


def test_dataco_line_keeps_price_cost_profit_and_discount(dataco_loaded):
    engine, _ = dataco_loaded

    with engine.connect() as connection:
        line = connection.execute(
            text(
                "select o.*, c.customer_code, c.name as customer_name, c.segment, i.sku, i.description, i.family, "
                "i.list_price from sales_order_lines o join customers c on c.id = o.customer_id "
                "join items i on i.id = o.item_id where o.order_number = '75905' and o.line_number = 179220"
            )
        ).one()

    assert (line.customer_code, line.customer_name, line.segment) == ("DC-19458", "Aurora Sharp", "Corporate")
    assert (line.sku, line.description, line.family) == ("DC-1360", "Smart watch", "Sporting Goods")
    assert (line.order_date, line.requested_date) == (date(2018, 1, 13), date(2018, 1, 14))
    assert (line.ordered_qty, line.unit_price, line.unit_cost) == (Decimal("1"), Decimal("317.9200"), Decimal("165.3200"))
    assert (line.unit_price - line.unit_cost) * line.ordered_qty == Decimal("152.6000")
    assert (line.list_price - line.unit_price) * line.ordered_qty == Decimal("9.8300")
    assert line.status == "open"


def test_dataco_cancelled_line_is_cancelled_in_full(dataco_loaded):
    engine, _ = dataco_loaded

    with engine.connect() as connection:
        line = connection.execute(
            select(schema.sales_order_lines).where(
                schema.sales_order_lines.c.order_number == "65161", schema.sales_order_lines.c.line_number == 162854
            )
        ).one()

    assert (line.status, line.ordered_qty, line.shipped_qty, line.cancelled_qty) == (
        "cancelled", Decimal("2"), Decimal("0"), Decimal("2"),
    )
    assert (line.unit_price, line.unit_cost) == (Decimal("49.4800"), Decimal("115.0400"))


def test_dataco_second_load_changes_nothing(dataco_loaded, dataco_export):
    engine, _ = dataco_loaded

    second = sync_export(engine, dataco_export, DATACO_MAPPING)

    assert counts(second) == {
        "warehouses": (DATACO_ROWS, 0, 0, DATACO_ROWS, 0),
        "customers": (DATACO_ROWS, 0, 0, DATACO_ROWS, 0),
        "items": (DATACO_ROWS, 0, 0, DATACO_ROWS, 0),
        "sales_order_lines": (DATACO_ROWS, 0, 0, DATACO_ROWS, 0),
    }


def test_dataco_second_load_skips_unchanged_records(dataco_loaded, dataco_export):
    engine, _ = dataco_loaded

    second = sync_export(engine, dataco_export, DATACO_MAPPING)

    skipped = {r.entity: r.skipped_unchanged for r in second}
    assert skipped["warehouses"] == 1
    assert skipped["customers"] == 967
    assert skipped["sales_order_lines"] == DATACO_ROWS
    with engine.connect() as connection:
        runs = connection.execute(
            text("select entity, read_count, unchanged_count from sync_runs where id = any(:ids) order by id"),
            {"ids": [r.sync_run_id for r in second]},
        ).all()
    assert [tuple(run) for run in runs] == [
        ("warehouses", DATACO_ROWS, DATACO_ROWS),
        ("customers", DATACO_ROWS, DATACO_ROWS),
        ("items", DATACO_ROWS, DATACO_ROWS),
        ("sales_order_lines", DATACO_ROWS, DATACO_ROWS),
    ]
