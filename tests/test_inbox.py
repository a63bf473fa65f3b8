"""The inbox job: each file content loaded once, masters first, moved with a report."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from services.db import schema
from services.settings import Settings, load_settings
from services.sync.canonical import FileRejected, entity_for_file_name, load_canonical_file
from services.worker import inbox as inbox_module
from services.worker.inbox import INBOX_JOB_NAME, FileOutcome, ingest_inbox, run_inbox_job
from services.worker.job_runs import JobStatus, run_job

WAREHOUSES = "warehouse_code,name,time_zone\nDAL,Dallas DC,America/Chicago\nATL,Atlanta DC,America/New_York\n"
CUSTOMERS = "customer_code,name,tier\nC1,Mercy Hospital,strategic\n"
ITEMS = "sku,description,family,base_unit,unit_cost,list_price\nGLV-100,Nitrile glove,PPE,EA,0.10,0.25\n"
UNITS = "sku,unit_code,base_qty_per_unit\nGLV-100,BOX,12\n"
ORDER_HEADER = "order_number,line_number,customer_code,sku,warehouse_code,order_date,requested_date,unit,ordered_qty,unit_price"
ORDER_LINES = (
    ORDER_HEADER + "\n"
    "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,BOX,5,3.00\n"
    "SO-1,2,C1,GLV-100,ATL,2026-03-01,2026-03-06,EA,4,0.25\n"
)
MASTER_FILES = {"warehouses.csv": WAREHOUSES, "customers.csv": CUSTOMERS, "items.csv": ITEMS, "units.csv": UNITS}

NO_FILES = {
    "files_loaded": 0,
    "files_failed": 0,
    "files_already_loaded": 0,
    "files_already_failed": 0,
    "files_waiting": 0,
    "files_not_moved": 0,
    "rows_read": 0,
    "rows_inserted": 0,
    "rows_updated": 0,
    "rows_unchanged": 0,
    "rows_rejected": 0,
}


def make_settings(database_url: str, data_dir: Path, poll_seconds: int = 30) -> Settings:
    return load_settings(
        {
            "DATABASE_URL": database_url,
            "CONTROL_TOWER_DATA_DIR": str(data_dir),
            "CONTROL_TOWER_INBOX_POLL_SECONDS": str(poll_seconds),
        }
    )


def inbox_folder(settings: Settings, folder: str = "erp") -> Path:
    return settings.inbox_dir / folder


def drop_file(
    settings: Settings, name: str, content: str | bytes, age_seconds: float = 60, folder: str = "erp"
) -> Path:
    """Write a file into an inbox folder, dated age_seconds ago so the job takes it as finished."""
    directory = inbox_folder(settings, folder)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    modified = time.time() - age_seconds
    os.utime(path, (modified, modified))
    return path


def sha256(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def read_report(moved: Path) -> dict:
    return json.loads(moved.with_name(moved.name + ".report.json").read_text(encoding="utf-8"))


def count_rows(engine, table: str) -> int:
    with engine.connect() as connection:
        return connection.execute(text(f"select count(*) from {table}")).scalar_one()


def inbox_file_rows(engine) -> list:
    with engine.connect() as connection:
        return connection.execute(select(schema.inbox_files).order_by(schema.inbox_files.c.id)).all()


def folder_names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.is_file())


def run_counts(written: dict) -> list[tuple]:
    """Each sync run of a report as (entity, status, read, inserted, updated, unchanged, rejected)."""
    return [
        (run["entity"], run["status"], *(run["counts"] or {}).values())
        for run in written["sync_runs"]
    ]


def sync_run_ids(engine) -> list[int]:
    with engine.connect() as connection:
        return list(connection.execute(select(schema.sync_runs.c.id).order_by(schema.sync_runs.c.id)).scalars())


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return make_settings(database_url, tmp_path / "data")


def test_dropped_file_loads_into_processed(engine, settings):
    drop_file(settings, "warehouses.csv", WAREHOUSES)

    report = ingest_inbox(engine, settings)

    [loaded] = report.files
    assert loaded.outcome is FileOutcome.LOADED
    assert report.counts() == {**NO_FILES, "files_loaded": 1, "rows_read": 2, "rows_inserted": 2}
    assert count_rows(engine, "warehouses") == 2
    assert folder_names(inbox_folder(settings)) == []
    moved = inbox_folder(settings) / "processed" / "warehouses.csv"
    assert moved.read_text(encoding="utf-8") == WAREHOUSES
    written = read_report(moved)
    assert written["checksum"] == sha256(WAREHOUSES)
    assert (written["folder"], written["kind"], written["mapping"], written["as_of"]) == ("erp", "canonical", None, None)
    assert written["outcome"] == "loaded"
    assert [run["sync_run_id"] for run in written["sync_runs"]] == sync_run_ids(engine)
    assert [run["sync_run_id"] for run in written["sync_runs"]] == [run.sync_run_id for run in loaded.sync_runs]
    assert run_counts(written) == [("warehouses", "succeeded", 2, 2, 0, 0, 0)]
    assert written["sync_runs"][0]["source"] == "erp"
    assert written["counts"] == {"read": 2, "inserted": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    assert written["top_reasons"] == []
    assert written["earlier_sync_run_ids"] == []
    assert written["error"] is None
    [row] = inbox_file_rows(engine)
    assert (row.checksum, row.file_name, row.folder, row.size_bytes, row.status, row.error) == (
        sha256(WAREHOUSES), "warehouses.csv", "erp", len(WAREHOUSES), "processed", None
    )


def test_second_run_finds_nothing(engine, settings):
    drop_file(settings, "warehouses.csv", WAREHOUSES)
    ingest_inbox(engine, settings)

    second = ingest_inbox(engine, settings)

    assert second.files == []
    assert second.counts() == NO_FILES
    assert count_rows(engine, "sync_runs") == 1


def test_same_content_renamed_is_not_reloaded(engine, settings):
    drop_file(settings, "warehouses.csv", WAREHOUSES)
    ingest_inbox(engine, settings)
    drop_file(settings, "2026-03-02_warehouses.csv", WAREHOUSES)

    report = ingest_inbox(engine, settings)

    [again] = report.files
    assert again.outcome is FileOutcome.ALREADY_LOADED
    assert report.counts() == {**NO_FILES, "files_already_loaded": 1}
    assert count_rows(engine, "warehouses") == 2
    assert count_rows(engine, "sync_runs") == 1
    assert len(inbox_file_rows(engine)) == 1
    assert folder_names(inbox_folder(settings) / "processed") == [
        "2026-03-02_warehouses.csv",
        "2026-03-02_warehouses.csv.report.json",
        "warehouses.csv",
        "warehouses.csv.report.json",
    ]
    written = read_report(inbox_folder(settings) / "processed" / "2026-03-02_warehouses.csv")
    assert written["outcome"] == "already_loaded"
    assert written["counts"] is None
    assert written["sync_runs"] == []
    assert written["earlier_sync_run_ids"] == sync_run_ids(engine)
    assert written["note"].startswith("same content as warehouses.csv, received ")
    assert written["note"].endswith(" and processed; it was not loaded again")


def test_same_name_never_overwrites_older_file(engine, settings):
    drop_file(settings, "warehouses.csv", WAREHOUSES)
    ingest_inbox(engine, settings)
    newer = WAREHOUSES + "PHX,Phoenix DC,America/Phoenix\n"
    drop_file(settings, "warehouses.csv", newer)

    report = ingest_inbox(engine, settings)

    [loaded] = report.files
    processed = inbox_folder(settings) / "processed"
    assert (processed / "warehouses.csv").read_text(encoding="utf-8") == WAREHOUSES
    assert loaded.moved_to.parent == processed
    assert loaded.moved_to.name.startswith("warehouses.")
    assert loaded.moved_to.name.endswith("Z.csv")
    assert loaded.moved_to.read_text(encoding="utf-8") == newer
    assert read_report(loaded.moved_to)["counts"] == {"read": 3, "inserted": 1, "updated": 0, "unchanged": 2, "rejected": 0}
    assert len(folder_names(processed)) == 4


def test_missing_column_file_lands_in_failed(engine, settings):
    for name, content in MASTER_FILES.items():
        drop_file(settings, name, content)
    header = "order_number,line_number,customer_code,sku,order_date,requested_date,ordered_qty,unit_price"
    bad = header + "\nSO-1,1,C1,GLV-100,2026-03-01,2026-03-05,5,0.25\n"
    drop_file(settings, "sales_order_lines.csv", bad)

    finished = run_job(engine, INBOX_JOB_NAME, lambda engine, job_run_id: run_inbox_job(engine, job_run_id, settings))

    expected_error = (
        "sales_order_lines.csv has no column warehouse_code; add it to the header (expected columns: "
        "order_number, line_number, customer_code, sku, warehouse_code, order_date, requested_date, "
        "first_promised_date, current_promised_date, unit, ordered_qty, shipped_qty, cancelled_qty, "
        "allocated_qty, unit_price, unit_cost, currency, status)"
    )
    moved = inbox_folder(settings) / "failed" / "sales_order_lines.csv"
    written = read_report(moved)
    assert written["outcome"] == "failed"
    assert written["error"] == expected_error
    assert written["counts"] is None
    with engine.connect() as connection:
        failed_run = connection.execute(
            select(schema.sync_runs).where(schema.sync_runs.c.entity == "sales_order_lines")
        ).one()
        job_run = connection.execute(select(schema.job_runs)).one()
    assert [(run["sync_run_id"], run["entity"], run["status"], run["counts"], run["error"]) for run in written["sync_runs"]] == [
        (failed_run.id, "sales_order_lines", "failed", None, expected_error)
    ]
    assert failed_run.status == "failed"
    assert count_rows(engine, "sales_order_lines") == 0
    assert finished.status is JobStatus.PARTIAL
    assert (job_run.id, job_run.status, job_run.error) == (
        finished.job_run_id, "partial", f"erp/sales_order_lines.csv: {expected_error}"
    )
    assert job_run.counts == {**NO_FILES, "files_loaded": 4, "files_failed": 1, "rows_read": 5, "rows_inserted": 5}
    assert [(row.file_name, row.status, row.job_run_id) for row in inbox_file_rows(engine)][-1] == (
        "sales_order_lines.csv", "failed", job_run.id
    )


def test_failed_content_again_is_not_reloaded(engine, settings):
    bad = "customer_code,tier\nC1,strategic\n"
    drop_file(settings, "customers.csv", bad)
    ingest_inbox(engine, settings)
    drop_file(settings, "customers-retry.csv", bad)

    report = ingest_inbox(engine, settings)

    [again] = report.files
    assert again.outcome is FileOutcome.ALREADY_FAILED
    assert again.moved_to == inbox_folder(settings) / "failed" / "customers-retry.csv"
    assert read_report(again.moved_to)["error"].startswith("customers.csv has no column name;")
    assert count_rows(engine, "sync_runs") == 1
    assert len(inbox_file_rows(engine)) == 1


def test_masters_load_before_order_lines(engine, settings):
    drop_file(settings, "sales_order_lines.csv", ORDER_LINES)
    for name, content in MASTER_FILES.items():
        drop_file(settings, name, content)

    report = ingest_inbox(engine, settings)

    assert [f.file_name for f in report.files] == [
        "warehouses.csv", "customers.csv", "items.csv", "units.csv", "sales_order_lines.csv"
    ]
    assert [f.outcome for f in report.files] == [FileOutcome.LOADED] * 5
    orders = report.files[-1].counts()
    assert (orders["read"], orders["inserted"], orders["rejected"]) == (2, 2, 0)
    assert count_rows(engine, "sales_order_lines") == 2
    assert count_rows(engine, "quarantine") == 0


def test_rejected_rows_are_counted_in_the_report(engine, settings):
    for name, content in MASTER_FILES.items():
        drop_file(settings, name, content)
    body = "SO-1,1,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,-5,0.25\nSO-1,2,C1,GLV-100,DAL,2026-03-01,2026-03-05,EA,5,0.25\n"
    drop_file(settings, "sales_order_lines.csv", ORDER_HEADER + "\n" + body)

    report = ingest_inbox(engine, settings)

    orders = report.files[-1]
    assert orders.outcome is FileOutcome.LOADED
    assert orders.moved_to == inbox_folder(settings) / "processed" / "sales_order_lines.csv"
    written = read_report(orders.moved_to)
    assert written["counts"] == {"read": 2, "inserted": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    assert written["top_reasons"] == [{"reason": "ordered_qty: ... is negative", "count": 1}]
    assert written["sync_runs"][0]["top_reasons"] == [{"reason": "ordered_qty: ... is negative", "count": 1}]


@pytest.mark.parametrize(
    ("file_name", "entity"),
    [
        ("sales_order_lines.csv", "sales_order_lines"),
        ("2026-03-02_sales_order_lines.csv", "sales_order_lines"),
        ("sales_order_lines-part2.csv", "sales_order_lines"),
        ("purchase_order_lines 2026-03-02.CSV", "purchase_order_lines"),
        ("supplier_items.csv", "supplier_items"),
        ("items.20260302T101500Z.csv", "items"),
        ("ERP_ITEMS.csv", "items"),
    ],
)
def test_file_name_maps_to_the_entity_it_contains(file_name, entity):
    assert entity_for_file_name(file_name).name == entity


@pytest.mark.parametrize(
    ("file_name", "message"),
    [
        ("orders.csv", "orders.csv names no canonical entity; put one entity name in the file name"),
        ("myitems.csv", "myitems.csv names no canonical entity"),
        ("customers_and_items.csv", r"customers_and_items.csv names more than one entity \(customers, items\)"),
        ("items.xlsx", r"items.xlsx is not a .csv file; export the entity as a UTF-8 CSV file"),
    ],
)
def test_unrecognized_file_name_is_rejected(file_name, message):
    with pytest.raises(FileRejected, match=message):
        entity_for_file_name(file_name)


def test_unknown_file_name_lands_in_failed(engine, settings):
    drop_file(settings, "orders.csv", ORDER_LINES)

    report = ingest_inbox(engine, settings)

    [failed] = report.files
    assert failed.outcome is FileOutcome.FAILED
    written = read_report(inbox_folder(settings) / "failed" / "orders.csv")
    assert written["error"].startswith("orders.csv names no canonical entity;")
    assert (written["kind"], written["sync_runs"], written["checksum"]) == (None, [], sha256(ORDER_LINES))
    assert count_rows(engine, "sync_runs") == 0
    assert inbox_file_rows(engine) == []


def test_renamed_file_loads_after_unknown_name(engine, settings):
    drop_file(settings, "orders.csv", WAREHOUSES)
    ingest_inbox(engine, settings)
    drop_file(settings, "warehouses.csv", WAREHOUSES)

    report = ingest_inbox(engine, settings)

    [loaded] = report.files
    assert loaded.outcome is FileOutcome.LOADED
    assert count_rows(engine, "warehouses") == 2
    assert [(row.file_name, row.status) for row in inbox_file_rows(engine)] == [("warehouses.csv", "processed")]


def test_files_still_being_written_stay_in_the_inbox(engine, settings):
    drop_file(settings, ".items.csv", ITEMS)
    drop_file(settings, "items.csv.part", ITEMS)
    drop_file(settings, "customers.csv.tmp", CUSTOMERS)
    drop_file(settings, "customers.csv", CUSTOMERS, age_seconds=0)

    report = ingest_inbox(engine, settings)

    assert report.files == []
    assert report.waiting == ["erp/customers.csv"]
    assert report.counts() == {**NO_FILES, "files_waiting": 1}
    assert folder_names(inbox_folder(settings)) == [".items.csv", "customers.csv", "customers.csv.tmp", "items.csv.part"]
    assert inbox_file_rows(engine) == []


def test_unregistered_loaded_content_is_not_reloaded(engine, settings, tmp_path):
    # A worker that stopped after the load committed and before the
    # inbox_files row did leaves exactly this: a succeeded sync run only.
    earlier = tmp_path / "warehouses.csv"
    earlier.write_text(WAREHOUSES, encoding="utf-8")
    result = load_canonical_file(engine, earlier, source="erp")
    drop_file(settings, "warehouses.csv", WAREHOUSES)

    report = ingest_inbox(engine, settings)

    [again] = report.files
    assert again.outcome is FileOutcome.ALREADY_LOADED
    assert again.earlier_sync_run_ids == [result.sync_run_id]
    assert again.note == f"sync run {result.sync_run_id} already loaded this content; it was not loaded again"
    assert count_rows(engine, "sync_runs") == 1
    assert [(row.checksum, row.status) for row in inbox_file_rows(engine)] == [(sha256(WAREHOUSES), "processed")]


def test_database_error_leaves_the_file_in_the_inbox(engine, settings, monkeypatch):
    def lose_connection(*args, **kwargs):
        raise OperationalError("copy sync_stage", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(inbox_module, "sync_file", lose_connection)
    drop_file(settings, "warehouses.csv", WAREHOUSES)

    with pytest.raises(OperationalError, match="server closed the connection unexpectedly"):
        ingest_inbox(engine, settings)

    assert folder_names(inbox_folder(settings)) == ["warehouses.csv"]
    assert inbox_file_rows(engine) == []


def test_unexpected_load_error_moves_the_file_to_failed(engine, settings, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("disk quota exceeded")

    monkeypatch.setattr(inbox_module, "sync_file", fail)
    drop_file(settings, "warehouses.csv", WAREHOUSES)

    report = ingest_inbox(engine, settings)

    [failed] = report.files
    assert failed.outcome is FileOutcome.FAILED
    assert read_report(inbox_folder(settings) / "failed" / "warehouses.csv")["error"] == "RuntimeError: disk quota exceeded"
    assert [(row.status, row.error) for row in inbox_file_rows(engine)] == [("failed", "RuntimeError: disk quota exceeded")]


def test_inbox_job_links_files_to_job_run(engine, settings):
    drop_file(settings, "warehouses.csv", WAREHOUSES)

    finished = run_job(engine, INBOX_JOB_NAME, lambda engine, job_run_id: run_inbox_job(engine, job_run_id, settings))

    with engine.connect() as connection:
        job_run = connection.execute(select(schema.job_runs)).one()
        file_job_run_ids = connection.execute(select(func.array_agg(schema.inbox_files.c.job_run_id))).scalar_one()
    assert (job_run.status, job_run.error) == ("succeeded", None)
    assert job_run.counts == {**NO_FILES, "files_loaded": 1, "rows_read": 2, "rows_inserted": 2}
    assert file_job_run_ids == [finished.job_run_id]
    assert read_report(inbox_folder(settings) / "processed" / "warehouses.csv")["job_run_id"] == finished.job_run_id
