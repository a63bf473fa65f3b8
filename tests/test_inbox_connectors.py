"""The inbox folders for every connector: exports, frePPLe fixtures and supplier EDI, each content loaded once."""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from services.db import schema
from services.sync.mapping import export as export_module
from services.sync.sources import sync_file
from services.worker.inbox import INBOX_JOB_NAME, FileOutcome, ingest_inbox, run_inbox_job
from services.worker.job_runs import JobStatus, run_job
from services.worker.scheduler import JOBS, run_jobs_once
from tests.builders import make_item, make_po_line, make_supplier, make_warehouse
from tests.test_edi_apply import PURCHASE_ORDER, acknowledgement
from tests.test_edi_x12 import interchange, transaction_set
from tests.test_inbox import (
    CUSTOMERS,
    ITEMS,
    NO_FILES,
    WAREHOUSES,
    count_rows,
    drop_file,
    folder_names,
    inbox_file_rows,
    inbox_folder,
    make_settings,
    read_report,
    run_counts,
    sha256,
)

STOCK_MAPPING = """\
[export]
source = "acme-erp"
delimiter = ";"
decimal_separator = ","

[target.warehouses.columns]
warehouse_code = "Lager"
name = "Lagername"
time_zone = { constant = "America/Chicago" }

[target.items.columns]
sku = "Artikel"
description = "Bezeichnung"
family = "Gruppe"
unit_cost = "EK"
list_price = "VK"
"""
STOCK_EXPORT = (
    "Lager;Lagername;Artikel;Bezeichnung;Gruppe;EK;VK\n"
    "DAL;Dallas DC;GLV-100;Nitrile glove;PPE;0,10;0,25\n"
    "DAL;Dallas DC;MSK-200;Surgical mask;PPE;0,05;0,15\n"
)
ORDERS_MAPPING = """\
[export]
source = "acme-erp"
delimiter = ";"

[target.sales_order_lines.columns]
order_number = "Auftrag"
line_number = "Pos"
customer_code = "Kunde"
sku = "Artikel"
warehouse_code = { constant = "DAL" }
order_date = "Datum"
requested_date = "Wunschdatum"
ordered_qty = "Menge"
unit_price = "Preis"
"""
ORDERS_EXPORT = (
    "Auftrag;Pos;Kunde;Artikel;Datum;Wunschdatum;Menge;Preis\n"
    "A-1;1;C1;GLV-100;2026-03-01;2026-03-05;40;0.25\n"
    "A-1;2;C1;GLV-100;2026-03-01;2026-03-09;10;0.25\n"
)
ORDER_850 = interchange(PURCHASE_ORDER, functional_id="PO", sender="BUYER", receiver="ACME")
ACK_FOR_850 = interchange(
    transaction_set(
        "855", "0001", "BAK*00*AC*PO-500*20260302",
        "PO1*1*64*EA", "ACK*IA*64*EA", "PO1*2*40*EA", "ACK*IB*40*EA*067*20260410",
    ),
    sender="ACME", control="000000201", group="201", gs_time="1000",
)
ACK_PO_100 = acknowledgement("PO1*1*64*EA", "ACK*IA*64*EA")


def fixture_record(model: str, **fields) -> dict:
    return {"model": model, "fields": fields}


def frepple_fixture(current_date: str | None = "2020-11-02 00:00:00") -> str:
    """A one-shop network: a DC, a customer, one item with stock, and three demands around 2020-11-02."""
    records = [
        fixture_record("input.location", name="DC", description="Central warehouse"),
        fixture_record("input.customer", name="Walk-in"),
        fixture_record("input.item", name="Ball", description="Ball pack", cost="7.5"),
        fixture_record("input.buffer", id=1, onhand=25, item_id="Ball", location_id="DC"),
        *(
            fixture_record(
                "input.demand", name=name, due=f"{due} 00:00:00", status=status, quantity=quantity, priority=10,
                customer_id="Walk-in", item_id="Ball", location_id="DC",
            )
            for name, due, status, quantity in (
                ("D1", "2020-10-18", "closed", 4),
                ("D2", "2020-11-08", "closed", 6),
                ("D3", "2020-11-29", "open", 3),
            )
        ),
    ]
    if current_date is not None:
        records.insert(0, fixture_record("common.parameter", name="currentdate", value=current_date))
    return json.dumps(records)


@pytest.fixture
def settings(database_url, tmp_path):
    return make_settings(database_url, tmp_path / "data")


def write_mapping(settings, name: str, content: str) -> None:
    folder = settings.data_dir / "mappings"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(content, encoding="utf-8")


def make_po_100(engine) -> None:
    """Insert purchase order PO-100 line 1: 64 EA of GLV-100 from ACME into DAL."""
    with engine.begin() as connection:
        supplier = make_supplier(connection, supplier_code="ACME")
        warehouse = make_warehouse(connection, warehouse_code="DAL")
        gloves = make_item(connection, sku="GLV-100")
        make_po_line(
            connection, po_number="PO-100", line_number=1, ordered_qty=Decimal(64), promised_date=date(2026, 3, 15),
            supplier_id=supplier["id"], warehouse_id=warehouse["id"], item_id=gloves["id"],
        )


def query(engine, sql: str) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def processed(settings, folder: str) -> list[str]:
    return folder_names(inbox_folder(settings, folder) / "processed")


def failed(settings, folder: str) -> list[str]:
    return folder_names(inbox_folder(settings, folder) / "failed")


# --- Each folder loads its kind once ------------------------------------------------


def test_export_loads_through_its_mapping_once(engine, settings):
    write_mapping(settings, "acme_stock.toml", STOCK_MAPPING)
    drop_file(settings, "stock_list.csv", STOCK_EXPORT, folder="exports")

    first = ingest_inbox(engine, settings)
    second = ingest_inbox(engine, settings)

    [loaded] = first.files
    assert loaded.outcome is FileOutcome.LOADED
    assert first.counts() == {
        **NO_FILES, "files_loaded": 1, "rows_read": 4, "rows_inserted": 3, "rows_unchanged": 1,
    }
    assert second.files == []
    written = read_report(inbox_folder(settings, "exports") / "processed" / "stock_list.csv")
    assert (written["folder"], written["kind"], written["outcome"]) == ("exports", "export", "loaded")
    assert written["mapping"] == str(settings.data_dir / "mappings" / "acme_stock.toml")
    assert run_counts(written) == [
        ("warehouses", "succeeded", 2, 1, 0, 1, 0),
        ("items", "succeeded", 2, 2, 0, 0, 0),
    ]
    assert [run["source"] for run in written["sync_runs"]] == ["acme-erp", "acme-erp"]
    assert written["counts"] == {"read": 4, "inserted": 3, "updated": 0, "unchanged": 1, "rejected": 0}
    assert query(engine, "select sku, unit_cost, list_price, source from items order by sku") == [
        ("GLV-100", Decimal("0.10"), Decimal("0.25"), "acme-erp"),
        ("MSK-200", Decimal("0.05"), Decimal("0.15"), "acme-erp"),
    ]
    assert [(row.file_name, row.folder, row.status) for row in inbox_file_rows(engine)] == [
        ("stock_list.csv", "exports", "processed")
    ]
    assert count_rows(engine, "sync_runs") == 2


def test_export_named_after_entity_uses_mapping(engine, settings):
    write_mapping(settings, "acme_stock.toml", STOCK_MAPPING)
    drop_file(settings, "items.csv", STOCK_EXPORT, folder="exports")

    report = ingest_inbox(engine, settings)

    [loaded] = report.files
    assert (loaded.outcome, loaded.kind) == (FileOutcome.LOADED, "export")
    assert count_rows(engine, "items") == 2


def test_edi_855_applies_to_its_po_line_once(engine, settings):
    make_po_100(engine)
    drop_file(settings, "po_100_ack.edi", ACK_PO_100, folder="edi")

    first = ingest_inbox(engine, settings)
    drop_file(settings, "po_100_ack_copy.x12", ACK_PO_100, folder="edi")
    second = ingest_inbox(engine, settings)

    [loaded] = first.files
    assert (loaded.outcome, loaded.kind) == (FileOutcome.LOADED, "edi-855")
    written = read_report(inbox_folder(settings, "edi") / "processed" / "po_100_ack.edi")
    assert run_counts(written) == [
        ("supplier_events", "succeeded", 1, 1, 0, 0, 0),
        ("purchase_order_lines", "succeeded", 1, 0, 1, 0, 0),
    ]
    assert [run["source"] for run in written["sync_runs"]] == ["edi", "edi"]
    assert query(engine, "select po_number, ack_status, acknowledged_qty from purchase_order_lines") == [
        ("PO-100", "accepted", Decimal(64))
    ]
    [again] = second.files
    assert again.outcome is FileOutcome.ALREADY_LOADED
    assert again.note.startswith("same content as po_100_ack.edi, received ")
    assert processed(settings, "edi") == [
        "po_100_ack.edi", "po_100_ack.edi.report.json", "po_100_ack_copy.x12", "po_100_ack_copy.x12.report.json",
    ]
    assert count_rows(engine, "supplier_events") == 1
    assert count_rows(engine, "sync_runs") == 2


def test_fixture_replays_at_its_current_date(engine, settings):
    drop_file(settings, "network.json", frepple_fixture(), folder="frepple")

    report = ingest_inbox(engine, settings)
    second = ingest_inbox(engine, settings)

    [loaded] = report.files
    assert (loaded.outcome, loaded.kind, loaded.as_of) == (FileOutcome.LOADED, "frepple", date(2020, 11, 2))
    assert second.files == []
    written = read_report(inbox_folder(settings, "frepple") / "processed" / "network.json")
    assert written["as_of"] == "2020-11-02"
    assert run_counts(written) == [
        ("warehouses", "succeeded", 1, 1, 0, 0, 0),
        ("customers", "succeeded", 1, 1, 0, 0, 0),
        ("suppliers", "succeeded", 0, 0, 0, 0, 0),
        ("items", "succeeded", 1, 1, 0, 0, 0),
        ("supplier_items", "succeeded", 0, 0, 0, 0, 0),
        ("transfer_lanes", "succeeded", 0, 0, 0, 0, 0),
        ("inventory", "succeeded", 1, 1, 0, 0, 0),
        ("sales_order_lines", "succeeded", 3, 3, 0, 0, 0),
    ]
    assert query(engine, "select order_number, status from sales_order_lines order by order_number") == [
        ("D1", "shipped"), ("D2", "open"), ("D3", "open"),
    ]


def test_as_of_file_overrides_the_fixture_date(engine, settings):
    drop_file(settings, "network.json", frepple_fixture(), folder="frepple")
    (inbox_folder(settings, "frepple") / "as_of.txt").write_text("2020-11-10\n", encoding="utf-8")

    report = ingest_inbox(engine, settings)

    [loaded] = report.files
    assert loaded.as_of == date(2020, 11, 10)
    assert read_report(loaded.moved_to)["as_of"] == "2020-11-10"
    assert query(engine, "select order_number, status from sales_order_lines order by order_number") == [
        ("D1", "shipped"), ("D2", "shipped"), ("D3", "open"),
    ]
    assert folder_names(inbox_folder(settings, "frepple")) == ["as_of.txt"]


def test_invalid_as_of_file_keeps_fixtures_waiting(engine, settings):
    drop_file(settings, "network.json", frepple_fixture(), folder="frepple")
    as_of_path = inbox_folder(settings, "frepple") / "as_of.txt"
    as_of_path.write_text("02/11/2020", encoding="utf-8")

    finished = run_job(engine, INBOX_JOB_NAME, lambda engine, job_run_id: run_inbox_job(engine, job_run_id, settings))

    expected = (
        f"{as_of_path} contains '02/11/2020', not a date written as YYYY-MM-DD; correct it, "
        f"and the frePPLe fixtures wait in {as_of_path.parent} until then"
    )
    assert (finished.status, finished.error) == (JobStatus.PARTIAL, expected)
    assert finished.counts == {**NO_FILES, "files_waiting": 1}
    assert folder_names(inbox_folder(settings, "frepple")) == ["as_of.txt", "network.json"]
    assert inbox_file_rows(engine) == []


def test_fixture_without_a_date_fails_unregistered(engine, settings):
    drop_file(settings, "network.json", frepple_fixture(current_date=None), folder="frepple")

    report = ingest_inbox(engine, settings)

    [rejected] = report.files
    folder = inbox_folder(settings, "frepple")
    assert rejected.outcome is FileOutcome.FAILED
    assert rejected.error == (
        f"network.json has no currentdate parameter, so its replay date is unknown; write the date "
        f"as YYYY-MM-DD into {folder / 'as_of.txt'}, then move the file back into {folder}"
    )
    assert failed(settings, "frepple") == ["network.json", "network.json.report.json"]
    assert inbox_file_rows(engine) == []
    assert count_rows(engine, "sync_runs") == 0


def test_files_being_written_wait_in_every_folder(engine, settings):
    drop_file(settings, "ack.edi", ACK_PO_100, age_seconds=0, folder="edi")
    drop_file(settings, "stock_list.csv.part", STOCK_EXPORT, folder="exports")
    drop_file(settings, ".network.json", frepple_fixture(), folder="frepple")
    drop_file(settings, "network.json", frepple_fixture(), age_seconds=0, folder="frepple")

    report = ingest_inbox(engine, settings)

    assert report.files == []
    assert report.waiting == ["edi/ack.edi", "frepple/network.json"]
    assert report.counts() == {**NO_FILES, "files_waiting": 2}
    assert folder_names(inbox_folder(settings, "exports")) == ["stock_list.csv.part"]
    assert folder_names(inbox_folder(settings, "frepple")) == [".network.json", "network.json"]
    assert inbox_file_rows(engine) == []


# --- Files in the wrong folder --------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "name", "content", "home", "what"),
    [
        ("exports", "ack.edi", ACK_PO_100, "edi", "an X12 855 purchase order acknowledgement"),
        ("erp", "ack.edi", ACK_PO_100, "edi", "an X12 855 purchase order acknowledgement"),
        ("edi", "network.json", frepple_fixture(), "frepple", "a frePPLe fixture"),
        ("frepple", "po.edi", ORDER_850, "edi", "an X12 850 purchase order"),
        ("edi", "warehouses.csv", WAREHOUSES, "erp", "a canonical CSV file"),
        ("erp", "stock_list.csv", STOCK_EXPORT, "exports", "an ERP export that a mapping file matches"),
    ],
)
def test_file_in_wrong_folder_names_its_folder(engine, settings, folder, name, content, home, what):
    write_mapping(settings, "acme_stock.toml", STOCK_MAPPING)
    drop_file(settings, name, content, folder=folder)

    report = ingest_inbox(engine, settings)

    [rejected] = report.files
    contents = {
        "erp": "canonical CSV files",
        "exports": "ERP exports read through a mapping file",
        "edi": "supplier EDI files",
        "frepple": "frePPLe fixtures",
    }[folder]
    expected = f"{name} is {what}, not one of the {contents} that {folder}/ loads; move it into {settings.inbox_dir / home} to load it"
    assert (rejected.outcome, rejected.error) == (FileOutcome.FAILED, expected)
    written = read_report(inbox_folder(settings, folder) / "failed" / name)
    assert (written["error"], written["kind"], written["sync_runs"]) == (expected, None, [])
    assert written["checksum"] == sha256(content)
    assert inbox_file_rows(engine) == []
    assert count_rows(engine, "sync_runs") == 0


def test_moved_to_its_folder_the_file_loads(engine, settings):
    make_po_100(engine)
    drop_file(settings, "ack.edi", ACK_PO_100, folder="exports")
    ingest_inbox(engine, settings)
    drop_file(settings, "ack.edi", ACK_PO_100, folder="edi")

    report = ingest_inbox(engine, settings)

    [loaded] = report.files
    assert loaded.outcome is FileOutcome.LOADED
    assert query(engine, "select ack_status from purchase_order_lines") == [("accepted",)]
    assert [(row.file_name, row.folder, row.status) for row in inbox_file_rows(engine)] == [("ack.edi", "edi", "processed")]


def test_canonical_name_in_exports_without_mapping(engine, settings):
    drop_file(settings, "customers.csv", CUSTOMERS, folder="exports")

    report = ingest_inbox(engine, settings)

    [rejected] = report.files
    assert rejected.error == (
        f"customers.csv names a canonical entity and no mapping file matches its columns; move it into "
        f"{settings.inbox_dir / 'erp'} if it is in the canonical layout, or write a mapping file for it "
        f"into {settings.data_dir / 'mappings'}"
    )


@pytest.mark.parametrize(
    ("folder", "name", "content", "message"),
    [
        (
            "exports", "vendors.csv", "Vendor;City\nV1;Austin\n",
            "no mapping file matches the columns of vendors.csv; write one into {mappings} "
            "(see docs/mapping-files.md), then move the file back into {inbox}/exports",
        ),
        ("edi", "notes.txt", "call the supplier", "notes.txt is not one of the supplier EDI files that edi/ loads: no connector reads .txt files"),
        (
            "frepple", "plan.json", '{"plan": []}',
            "plan.json is not one of the frePPLe fixtures that frepple/ loads: a JSON file that is not a frePPLe fixture",
        ),
    ],
)
def test_unreadable_file_says_why(engine, settings, folder, name, content, message):
    drop_file(settings, name, content, folder=folder)

    report = ingest_inbox(engine, settings)

    [rejected] = report.files
    expected = message.format(mappings=settings.data_dir / "mappings", inbox=settings.inbox_dir)
    assert (rejected.outcome, rejected.error) == (FileOutcome.FAILED, expected)
    assert failed(settings, folder) == [name, f"{name}.report.json"]


def test_unsupported_edi_message_fails_registered(engine, settings):
    invoice = interchange(transaction_set("810", "0001", "BIG*20260302*INV-1"), functional_id="IN")
    drop_file(settings, "invoice.edi", invoice, folder="edi")

    report = ingest_inbox(engine, settings)

    [rejected] = report.files
    assert (rejected.outcome, rejected.kind) == (FileOutcome.FAILED, "edi")
    written = read_report(rejected.moved_to)
    assert [(run["entity"], run["status"]) for run in written["sync_runs"]] == [("edi", "failed")]
    assert written["sync_runs"][0]["error"] == written["error"]
    assert [(row.file_name, row.status) for row in inbox_file_rows(engine)] == [("invoice.edi", "failed")]


# --- Dependency order across folders -------------------------------------------------


def test_850_loads_before_its_855(engine, settings):
    # By name the acknowledgement would come first.
    drop_file(settings, "a_ack.edi", ACK_FOR_850, folder="edi")
    drop_file(settings, "b_order.edi", ORDER_850, folder="edi")

    report = ingest_inbox(engine, settings)

    assert [(f.file_name, f.kind, f.outcome) for f in report.files] == [
        ("b_order.edi", "edi-850", FileOutcome.LOADED),
        ("a_ack.edi", "edi-855", FileOutcome.LOADED),
    ]
    assert run_counts(read_report(inbox_folder(settings, "edi") / "processed" / "a_ack.edi")) == [
        ("supplier_events", "succeeded", 3, 3, 0, 0, 0),
        ("purchase_order_lines", "succeeded", 2, 0, 2, 0, 0),
    ]
    assert query(engine, "select line_number, ack_status, acknowledged_qty from purchase_order_lines order by line_number") == [
        (1, "accepted", Decimal(64)), (2, "backordered", Decimal(40)),
    ]
    assert count_rows(engine, "quarantine") == 0


def test_canonical_masters_load_before_an_export(engine, settings):
    write_mapping(settings, "acme_orders.toml", ORDERS_MAPPING)
    # By name the export would come first.
    drop_file(settings, "0_open_orders.csv", ORDERS_EXPORT, folder="exports")
    drop_file(settings, "warehouses.csv", WAREHOUSES)
    drop_file(settings, "customers.csv", CUSTOMERS)
    drop_file(settings, "items.csv", ITEMS)

    report = ingest_inbox(engine, settings)

    assert [(f.inbox_name, f.outcome) for f in report.files] == [
        ("erp/warehouses.csv", FileOutcome.LOADED),
        ("erp/customers.csv", FileOutcome.LOADED),
        ("erp/items.csv", FileOutcome.LOADED),
        ("exports/0_open_orders.csv", FileOutcome.LOADED),
    ]
    assert run_counts(read_report(inbox_folder(settings, "exports") / "processed" / "0_open_orders.csv")) == [
        ("sales_order_lines", "succeeded", 2, 2, 0, 0, 0),
    ]
    assert query(engine, "select order_number, line_number, ordered_qty, source from sales_order_lines order by line_number") == [
        ("A-1", 1, Decimal(40), "acme-erp"), ("A-1", 2, Decimal(10), "acme-erp"),
    ]


# --- Loads that stopped part-way -------------------------------------------------------


def test_interrupted_export_loads_again(engine, settings, monkeypatch):
    write_mapping(settings, "acme_stock.toml", STOCK_MAPPING)
    drop_file(settings, "stock_list.csv", STOCK_EXPORT, folder="exports")
    load_records = export_module.load_records
    calls = []

    def lose_connection_on_second_target(*args, **kwargs):
        calls.append(args[1].name)
        if len(calls) == 2:
            raise OperationalError("insert sync_runs", {}, Exception("server closed the connection unexpectedly"))
        return load_records(*args, **kwargs)

    monkeypatch.setattr(export_module, "load_records", lose_connection_on_second_target)
    with pytest.raises(OperationalError):
        ingest_inbox(engine, settings)
    monkeypatch.setattr(export_module, "load_records", load_records)

    report = ingest_inbox(engine, settings)

    [loaded] = report.files
    [first_run] = query(engine, "select id from sync_runs where entity = 'warehouses' order by id limit 1")
    assert calls == ["warehouses", "items"]
    assert loaded.outcome is FileOutcome.LOADED
    assert loaded.earlier_sync_run_ids == [first_run[0]]
    assert loaded.note == (
        f"sync run {first_run[0]} loaded this content before, and the inbox has no record that "
        "the load finished; it was loaded again in full"
    )
    assert run_counts(read_report(loaded.moved_to)) == [
        ("warehouses", "succeeded", 2, 0, 0, 2, 0),
        ("items", "succeeded", 2, 2, 0, 0, 0),
    ]
    assert count_rows(engine, "items") == 2


def test_unregistered_edi_loads_again_unchanged(engine, settings, tmp_path):
    # A worker that stopped after the load committed and before the
    # inbox_files row did leaves exactly this: succeeded sync runs only.
    earlier = tmp_path / "po.edi"
    earlier.write_text(ORDER_850, encoding="utf-8")
    earlier_runs = sync_file(engine, earlier, settings, kind="edi-850", detail="", as_of=None).results
    drop_file(settings, "po.edi", ORDER_850, folder="edi")

    report = ingest_inbox(engine, settings)

    [loaded] = report.files
    assert loaded.outcome is FileOutcome.LOADED
    assert loaded.earlier_sync_run_ids == [result.sync_run_id for result in earlier_runs]
    assert run_counts(read_report(loaded.moved_to)) == [("purchase_order_lines", "succeeded", 2, 0, 0, 2, 0)]
    assert count_rows(engine, "purchase_order_lines") == 2


# --- The worker's registry -----------------------------------------------------------


def test_worker_registers_one_inbox_job(engine, settings):
    make_po_100(engine)
    drop_file(settings, "ack.edi", ACK_PO_100, folder="edi")

    run_jobs_once(engine, settings)

    assert [job.name for job in JOBS if job.function is run_inbox_job] == ["sync_inbox"]
    with engine.connect() as connection:
        job_run = connection.execute(
            select(schema.job_runs).where(schema.job_runs.c.job_name == "sync_inbox")
        ).one()
    assert job_run.status == "succeeded"
    assert job_run.counts == {**NO_FILES, "files_loaded": 1, "rows_read": 2, "rows_inserted": 1, "rows_updated": 1}
    assert processed(settings, "edi") == ["ack.edi", "ack.edi.report.json"]


# --- The public sample files -------------------------------------------------------------

REAL_FILES = {
    ("erp", "DataCoSupplyChainDataset_sample.csv"): "exports",
    ("erp", "frepple_distribution_demo.json"): "frepple",
    ("supplier", "SCMS_Delivery_History_Dataset.csv"): "exports",
    ("edi", "x12_850.edi"): "edi",
    ("edi", "x12_855.edi"): "edi",
    ("edi", "x12_856.edi"): "edi",
    ("edi", "edifact_ordrsp_brodart.edi"): "edi",
}


@pytest.mark.slow
def test_real_files_load_from_their_folders(engine, settings, realdata_dir):
    real_names = {
        (folder.name, path.name)
        for folder in (realdata_dir / name for name in ("erp", "supplier", "edi"))
        for path in folder.iterdir() if path.is_file()
    }
    assert real_names == set(REAL_FILES)
    for (source_folder, name), inbox in REAL_FILES.items():
        target = inbox_folder(settings, inbox)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(realdata_dir / source_folder / name, target / name)
        settled = time.time() - 60
        os.utime(target / name, (settled, settled))

    finished = run_job(engine, INBOX_JOB_NAME, lambda engine, job_run_id: run_inbox_job(engine, job_run_id, settings))

    reports = {}
    for (_, name), inbox in REAL_FILES.items():
        assert processed(settings, inbox).count(name) == 1, f"{inbox}/{name} is not in processed/"
        reports[name] = read_report(inbox_folder(settings, inbox) / "processed" / name)
    assert finished.status is JobStatus.SUCCEEDED
    assert {name: written["kind"] for name, written in reports.items()} == {
        "DataCoSupplyChainDataset_sample.csv": "export",
        "frepple_distribution_demo.json": "frepple",
        "SCMS_Delivery_History_Dataset.csv": "export",
        "x12_850.edi": "edi-850",
        "x12_855.edi": "edi-855",
        "x12_856.edi": "edi-856",
        "edifact_ordrsp_brodart.edi": "edi-ordrsp",
    }
    assert {name: run_counts(written) for name, written in reports.items()} == {
        "DataCoSupplyChainDataset_sample.csv": [
            ("warehouses", "succeeded", 1000, 1, 0, 999, 0),
            ("customers", "succeeded", 1000, 967, 0, 33, 0),
            ("items", "succeeded", 1000, 72, 0, 928, 0),
            ("sales_order_lines", "succeeded", 1000, 1000, 0, 0, 0),
        ],
        "frepple_distribution_demo.json": [
            ("warehouses", "succeeded", 3, 3, 0, 0, 0),
            ("customers", "succeeded", 1, 1, 0, 0, 0),
            ("suppliers", "succeeded", 2, 2, 0, 0, 0),
            ("items", "succeeded", 11, 11, 0, 0, 0),
            ("supplier_items", "succeeded", 11, 11, 0, 0, 0),
            ("transfer_lanes", "succeeded", 2, 2, 0, 0, 0),
            ("inventory", "succeeded", 33, 33, 0, 0, 0),
            ("sales_order_lines", "succeeded", 3294, 3294, 0, 0, 0),
        ],
        "SCMS_Delivery_History_Dataset.csv": [
            ("warehouses", "succeeded", 10_324, 43, 0, 10_281, 0),
            ("suppliers", "succeeded", 10_324, 73, 0, 10_251, 0),
            ("items", "succeeded", 10_324, 184, 0, 10_140, 0),
            ("purchase_order_lines", "succeeded", 10_324, 4_588, 0, 0, 5_736),
            ("receipts", "succeeded", 10_324, 4_588, 0, 0, 5_736),
        ],
        "x12_850.edi": [
            ("suppliers", "succeeded", 1, 1, 0, 0, 0),
            ("warehouses", "succeeded", 1, 1, 0, 0, 0),
            ("items", "succeeded", 6, 6, 0, 0, 0),
            ("purchase_order_lines", "succeeded", 6, 6, 0, 0, 0),
        ],
        # The sample 855, 856 and ORDRSP refer to orders that no sample file
        # contains, so their lines are quarantined and the files still load.
        "x12_855.edi": [
            ("supplier_events", "succeeded", 0, 0, 0, 0, 0),
            ("purchase_order_lines", "succeeded", 4, 0, 0, 0, 4),
        ],
        "x12_856.edi": [
            ("shipments", "succeeded", 2, 0, 0, 0, 2),
            ("supplier_events", "succeeded", 0, 0, 0, 0, 0),
        ],
        "edifact_ordrsp_brodart.edi": [
            ("supplier_events", "succeeded", 0, 0, 0, 0, 0),
            ("purchase_order_lines", "succeeded", 67, 0, 0, 0, 67),
        ],
    }
    assert reports["frepple_distribution_demo.json"]["as_of"] == "2021-02-01"
    assert reports["SCMS_Delivery_History_Dataset.csv"]["mapping"].endswith("seed_data/mappings/scms_delivery_history.toml")
    assert reports["SCMS_Delivery_History_Dataset.csv"]["top_reasons"][:2] == [
        {"reason": "po_number/po_line_number: ... is unknown", "count": 5736},
        {
            "reason": "order_date: column ... has ..., which scms_delivery_history.toml lists as no value, "
            "and order_date is required",
            "count": 5732,
        },
    ]
    assert reports["x12_855.edi"]["top_reasons"] == [
        {"reason": f"PO POTEST1112 line {line} is not in the database", "count": 1} for line in (1, 2, 3, 4)
    ]
    assert finished.counts == {
        **NO_FILES, "files_loaded": 7, "rows_read": 59_064, "rows_inserted": 14_887,
        "rows_unchanged": 32_632, "rows_rejected": 11_545,
    }
    for inbox in ("exports", "frepple", "edi"):
        assert failed(settings, inbox) == []
        assert [path.name for path in inbox_folder(settings, inbox).iterdir() if path.is_file()] == []
