"""The canonical loader: exact loads, quarantine with reasons, balanced counts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text

from services.db import schema
from services.sync.canonical import FileRejected, load_canonical_file, load_canonical_folder

MASTER_FILES = {
    "warehouses.csv": "warehouse_code,name,time_zone\nDAL,Dallas DC,America/Chicago\nATL,Atlanta DC,America/New_York\n",
    "customers.csv": "customer_code,name,tier,segment,sla_days,fill_rate_target,late_penalty_per_day\n"
    "C1,Mercy Hospital,strategic,healthcare,2,0.98,150\n",
    "items.csv": "sku,description,family,base_unit,unit_cost,list_price,regulated\n"
    "GLV-100,Nitrile glove,PPE,EA,0.10,0.25,false\n",
    "units.csv": "sku,unit_code,base_qty_per_unit\nGLV-100,BOX,12\n",
}

ORDER_HEADER = "order_number,line_number,customer_code,sku,warehouse_code,order_date,requested_date,unit,ordered_qty,unit_price"


def write_files(folder: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")
    return folder


@pytest.fixture
def master(engine, tmp_path):
    folder = tmp_path / "master"
    folder.mkdir()
    load_canonical_folder(engine, write_files(folder, MASTER_FILES))
    return engine


def load_orders(engine, tmp_path, body: str, header: str = ORDER_HEADER, name: str = "sales_order_lines.csv"):
    path = tmp_path / name
    path.write_text(header + "\n" + body, encoding="utf-8")
    return load_canonical_file(engine, path, source="erp")


def order_lines(engine) -> list:
    with engine.connect() as connection:
        return connection.execute(
            select(schema.sales_order_lines).order_by(schema.sales_order_lines.c.order_number, schema.sales_order_lines.c.line_number)
        ).all()


def quarantine_reasons(engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(schema.quarantine.c.position, schema.quarantine.c.reason).order_by(schema.quarantine.c.id))]


def test_folder_loads_masters_before_references(master):
    with master.connect() as connection:
        counts = {table: connection.execute(text(f"select count(*) from {table}")).scalar_one() for table in ("warehouses", "customers", "items", "units")}

    assert counts == {"warehouses": 2, "customers": 1, "items": 1, "units": 1}


def test_box_order_is_converted_to_base_units_exactly(master, tmp_path):
    result = load_orders(master, tmp_path, "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,BOX,5,3.00\n")

    line = order_lines(master)[0]
    assert result.inserted == 1
    assert line.ordered_qty == Decimal("60")
    assert line.unit_price == Decimal("0.2500")


def test_same_file_twice_changes_nothing_the_second_time(master, tmp_path):
    body = "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,10,0.25\nSO-1,2,C1,GLV-100,ATL,2026-03-01,2026-03-06,EA,4,0.25\n"
    first = load_orders(master, tmp_path, body)

    second = load_orders(master, tmp_path, body)

    assert (first.read, first.inserted, first.updated, first.unchanged, first.rejected) == (2, 2, 0, 0, 0)
    assert (second.read, second.inserted, second.updated, second.unchanged, second.rejected) == (2, 0, 0, 2, 0)


def test_changed_line_is_updated_and_counted(master, tmp_path):
    load_orders(master, tmp_path, "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,10,0.25\n")

    result = load_orders(master, tmp_path, "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,12,0.25\n")

    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 0)
    assert order_lines(master)[0].ordered_qty == Decimal("12")


def test_duplicate_key_in_one_file_keeps_the_last(master, tmp_path):
    body = "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,10,0.25\nSO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,8,0.25\n"

    result = load_orders(master, tmp_path, body)

    assert order_lines(master)[0].ordered_qty == Decimal("8")
    assert (result.read, result.inserted, result.unchanged, result.duplicates) == (2, 1, 1, 1)
    assert result.balanced


def test_negative_quantity_goes_to_quarantine_with_its_line(master, tmp_path):
    body = "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,-5,0.25\nSO-1,2,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,5,0.25\n"

    result = load_orders(master, tmp_path, body)

    assert (result.read, result.inserted, result.rejected) == (2, 1, 1)
    assert quarantine_reasons(master) == [("line 2", "ordered_qty: '-5' is negative; quantities and prices must be 0 or more")]


def test_unknown_item_and_warehouse_are_named_in_quarantine(master, tmp_path):
    body = "SO-1,1,C1,NOPE-1,DAL,2026-03-01,2026-03-05,EA,5,0.25\nSO-1,2,C1,GLV-100,XXX,2026-03-01,2026-03-05,EA,5,0.25\n"

    result = load_orders(master, tmp_path, body)

    assert result.rejected == 2
    assert quarantine_reasons(master) == [
        ("line 2", "sku: 'NOPE-1' is unknown; load it in items.csv first or correct the code"),
        ("line 3", "warehouse_code: 'XXX' is unknown; load it in warehouses.csv first or correct the code"),
    ]


def test_text_in_date_column_is_quarantined(master, tmp_path):
    result = load_orders(master, tmp_path, "SO-1,1,C1,GLV-100,DAL,Date Not Captured,2026-03-05,EA,5,0.25\n")

    assert result.rejected == 1
    assert quarantine_reasons(master) == [("line 2", "order_date: 'Date Not Captured' is not a date written YYYY-MM-DD")]


def test_shipped_and_cancelled_above_ordered_is_quarantined(master, tmp_path):
    header = ORDER_HEADER + ",shipped_qty,cancelled_qty"

    result = load_orders(master, tmp_path, "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,10,0.25,8,3\n", header=header)

    assert result.rejected == 1
    assert quarantine_reasons(master) == [("line 2", "shipped_qty 8 + cancelled_qty 3 exceeds ordered_qty 10")]


def test_missing_required_column_rejects_the_whole_file(master, tmp_path):
    header = "order_number,line_number,customer_code,sku,order_date,requested_date,ordered_qty,unit_price"

    with pytest.raises(FileRejected, match="sales_order_lines.csv has no column warehouse_code"):
        load_orders(master, tmp_path, "SO-1,1,C1,GLV-100,2026-03-01,2026-03-05,5,0.25\n", header=header)

    assert order_lines(master) == []
    with master.connect() as connection:
        run = connection.execute(select(schema.sync_runs).where(schema.sync_runs.c.entity == "sales_order_lines")).one()
    assert run.status == "failed"
    assert "has no column warehouse_code" in run.error


def test_empty_file_is_rejected_with_its_name(master, tmp_path):
    path = tmp_path / "sales_order_lines.csv"
    path.write_text("", encoding="utf-8")

    with pytest.raises(FileRejected, match="sales_order_lines.csv is empty"):
        load_canonical_file(master, path)


def test_latin1_file_is_rejected_naming_the_byte(master, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes("customer_code,name\nC2,Café Central\n".encode("latin-1"))

    with pytest.raises(FileRejected, match=r"customers.csv is not UTF-8 \(byte 0xe9"):
        load_canonical_file(master, path)


def test_utf8_bom_and_carriage_return_line_ends_load(master, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes("\ufeffcustomer_code,name\rC2,Café Central\rC3,Plant 3\r".encode("utf-8"))

    result = load_canonical_file(master, path)

    assert (result.read, result.inserted, result.rejected) == (2, 2, 0)


def test_older_source_timestamp_never_overwrites_newer(master, tmp_path):
    header = ORDER_HEADER + ",source_updated_at"
    load_orders(master, tmp_path, "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,10,0.25,2026-03-02T10:00:00+00:00\n", header=header)

    result = load_orders(master, tmp_path, "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,7,0.25,2026-03-02T09:00:00+00:00\n", header=header)

    assert (result.updated, result.unchanged) == (0, 1)
    assert order_lines(master)[0].ordered_qty == Decimal("10")


def test_sync_run_records_balanced_counts(master, tmp_path):
    body = "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,10,0.25\nSO-1,2,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,-1,0.25\n"

    result = load_orders(master, tmp_path, body)

    with master.connect() as connection:
        run = connection.execute(select(schema.sync_runs).where(schema.sync_runs.c.id == result.sync_run_id)).one()
    assert (run.status, run.read_count, run.inserted_count, run.updated_count, run.unchanged_count, run.rejected_count) == ("succeeded", 2, 1, 0, 0, 1)


def test_row_lists_every_column_and_code_problem(master, tmp_path):
    result = load_orders(master, tmp_path, "SO-1,1,C404,GLV-100,DAL,2026-03-01,2026-03-05,EA,-2,0.25\n")

    assert result.rejected == 1
    assert quarantine_reasons(master) == [
        (
            "line 2",
            "ordered_qty: '-2' is negative; quantities and prices must be 0 or more; "
            "customer_code: 'C404' is unknown; load it in customers.csv first or correct the code",
        )
    ]


def test_ragged_row_takes_the_record_by_record_path(master, tmp_path):
    body = "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,10,0.25\nSO-1,2,C1,GLV-100,DAL,2026-03-01\n"

    result = load_orders(master, tmp_path, body)

    assert (result.read, result.inserted, result.rejected) == (2, 1, 1)
    assert quarantine_reasons(master) == [
        ("line 3", "requested_date: a value is required; ordered_qty: a value is required; unit_price: a value is required")
    ]


def test_update_keeps_columns_the_file_does_not_carry(master, tmp_path):
    header = ORDER_HEADER + ",first_promised_date"
    load_orders(master, tmp_path, "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,10,0.25,2026-03-06\n", header=header)

    result = load_orders(master, tmp_path, "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,12,0.25\n")

    line = order_lines(master)[0]
    assert (result.updated, line.ordered_qty) == (1, Decimal("12"))
    assert line.first_promised_date.isoformat() == "2026-03-06"


def test_resync_skips_unchanged_records_by_fingerprint(master, tmp_path):
    body = "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,10,0.25\nSO-1,2,C1,GLV-100,ATL,2026-03-01,2026-03-06,EA,4,0.25\n"
    first = load_orders(master, tmp_path, body)

    second = load_orders(master, tmp_path, body.replace(",4,0.25", ",6,0.25"))

    assert (second.read, second.inserted, second.updated, second.unchanged, second.rejected) == (2, 0, 1, 1, 0)
    assert second.skipped_unchanged == 1
    lines = order_lines(master)
    assert [line.ordered_qty for line in lines] == [Decimal("10"), Decimal("6")]
    assert [line.sync_run_id for line in lines] == [first.sync_run_id, second.sync_run_id]


def test_duplicate_key_never_skipped_by_fingerprint(master, tmp_path):
    load_orders(master, tmp_path, "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,8,0.25\n")
    body = "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,10,0.25\nSO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,8,0.25\n"

    result = load_orders(master, tmp_path, body)

    assert order_lines(master)[0].ordered_qty == Decimal("8")
    assert (result.read, result.unchanged, result.duplicates, result.skipped_unchanged) == (2, 2, 1, 0)
    assert result.balanced


def test_unit_factor_change_converts_again(master, tmp_path):
    body = "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,BOX,5,3.00\n"
    load_orders(master, tmp_path, body)
    units = tmp_path / "units.csv"
    units.write_text("sku,unit_code,base_qty_per_unit\nGLV-100,BOX,10\n", encoding="utf-8")
    load_canonical_file(master, units)

    result = load_orders(master, tmp_path, body)

    assert (result.updated, result.skipped_unchanged) == (1, 0)
    assert order_lines(master)[0].ordered_qty == Decimal("50")
    assert order_lines(master)[0].unit_price == Decimal("0.3000")


def test_roll_up_clears_line_fingerprint(master, tmp_path):
    from services.sync.mapping.rollup import roll_up_shipments

    header = ORDER_HEADER + ",shipped_qty"
    body = "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,10,0.25,0\n"
    load_orders(master, tmp_path, body, header=header)
    shipments = tmp_path / "shipments.csv"
    shipments.write_text(
        "shipment_number,kind,sku,order_number,order_line_number,from_warehouse_code,qty,ship_date,status\n"
        "SH-1,customer,GLV-100,SO-1,1,DAL,4,2026-03-04,delivered\n",
        encoding="utf-8",
    )
    load_canonical_file(master, shipments)
    with master.begin() as connection:
        roll_up_shipments(connection, [order_lines(master)[0].id])
    assert order_lines(master)[0].shipped_qty == Decimal("4")

    result = load_orders(master, tmp_path, body, header=header)

    assert (result.updated, result.skipped_unchanged) == (1, 0)
    assert order_lines(master)[0].shipped_qty == Decimal("0")


def test_impossible_date_and_number_get_exact_reasons(master, tmp_path):
    body = (
        "SO-1,1,C1,GLV-100,DAL,2026-02-30,2026-03-05,EA,5,0.25\n"
        "SO-1,2,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,1-2,0.25\n"
        "SO-1,3,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,5,0.25\n"
    )

    result = load_orders(master, tmp_path, body)

    assert (result.read, result.inserted, result.rejected) == (3, 1, 2)
    assert quarantine_reasons(master) == [
        ("line 2", "order_date: '2026-02-30' is not a date written YYYY-MM-DD"),
        ("line 3", "ordered_qty: '1-2' is not a number (write 12.5, not 12,5 or text)"),
    ]


def test_killed_backend_mid_load_keeps_previous_state(master, tmp_path, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from services.sync import canonical

    body = "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,10,0.25\n"
    first = load_orders(master, tmp_path, body)
    changed = body.replace(",10,", ",12,") + "SO-1,2,C1,GLV-100,ATL,2026-03-01,2026-03-06,EA,4,0.25\n"
    upsert = canonical._upsert

    def terminate_own_backend_then_upsert(connection, *args):
        pid = connection.exec_driver_sql("select pg_backend_pid()").scalar_one()
        with master.connect() as other:
            other.exec_driver_sql(f"select pg_terminate_backend({pid})")
        return upsert(connection, *args)

    monkeypatch.setattr(canonical, "_upsert", terminate_own_backend_then_upsert)
    with pytest.raises(OperationalError):
        load_orders(master, tmp_path, changed)
    monkeypatch.setattr(canonical, "_upsert", upsert)

    assert [(line.line_number, line.ordered_qty, line.sync_run_id) for line in order_lines(master)] == [
        (1, Decimal("10"), first.sync_run_id),
    ]
    with master.connect() as connection:
        statuses = connection.execute(text("select status from sync_runs order by id")).scalars().all()
    assert statuses[-2:] == ["succeeded", "failed"]

    rerun = load_orders(master, tmp_path, changed)

    assert (rerun.read, rerun.inserted, rerun.updated, rerun.unchanged, rerun.rejected) == (2, 1, 1, 0, 0)
    assert [(line.line_number, line.ordered_qty) for line in order_lines(master)] == [
        (1, Decimal("12")), (2, Decimal("4")),
    ]
