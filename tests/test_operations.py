"""Operations queries, re-queuing a corrected file, downloads, and the Operations page."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import insert, select, text
from streamlit.testing.v1 import AppTest

from services.auth.roles import Actor, Role, RoleRefused
from services.db import schema
from services.operations.queries import (
    InvalidPage,
    job_staleness,
    list_quarantine,
    list_sync_runs,
    outbox_status_counts,
    quarantine_reasons,
    search_audit_log,
)
from services.operations.requeue import FileNotAccepted, requeue_corrected_file
from services.reports.downloads import to_csv_bytes, to_excel_bytes
from services.settings import PROJECT_ROOT
from services.worker.inbox import FileOutcome, ingest_inbox
from tests.builders import NOW, make_job_run, make_sync_run
from tests.demo import load_small_demo
from tests.test_inbox import CUSTOMERS, make_settings
from tests.streamlit_run import run_streamlit

LEADER = Actor("lee", Role.OPERATIONS_LEADER)
PAGE_PATH = str(PROJECT_ROOT / "pages" / "operations.py")


pytestmark = pytest.mark.usefixtures("isolate_streamlit_runs")


def quarantine_record(connection, sync_run_id, entity, reason, position="line 2"):
    connection.execute(insert(schema.quarantine).values(
        sync_run_id=sync_run_id, source="erp", entity=entity, position=position, record={"sku": "X"}, reason=reason,
    ))


def audit(connection, actor, action, entity, entity_id, reason=None, after=None):
    connection.execute(insert(schema.audit_log).values(
        actor=actor, action=action, entity=entity, entity_id=entity_id, reason=reason, after=after,
    ))


def outbox_message(connection, status, attempts=0, last_error=None):
    connection.execute(insert(schema.outbox).values(
        message_id=uuid.uuid4(), target="erp", kind="allocation", payload={}, status=status, attempts=attempts,
        last_error=last_error,
    ))


# --- Sync runs and the quarantine ------------------------------------------------


def test_quarantine_filters_by_run_entity_and_reason(engine):
    with engine.begin() as c:
        first = make_sync_run(c, entity="items", read_count=3, rejected_count=3)["id"]
        second = make_sync_run(c, entity="customers", read_count=1, rejected_count=1)["id"]
        quarantine_record(c, first, "items", "unit_cost 'abc' is not a number")
        quarantine_record(c, first, "items", "unit_cost 'x' is not a number; family is missing")
        quarantine_record(c, first, "items", "sku is missing")
        quarantine_record(c, second, "customers", "tier 'gold' is unknown")

    by_run = list_quarantine(engine, LEADER, sync_run_id=first)
    by_entity = list_quarantine(engine, LEADER, entity="customers")
    by_reason = list_quarantine(engine, LEADER, reason="NOT A NUMBER")
    reasons = quarantine_reasons(engine, LEADER, sync_run_id=first)

    assert by_run.total == 3
    assert list(by_entity.rows["reason"]) == ["tier 'gold' is unknown"]
    assert by_reason.total == 2
    assert reasons.to_dict("records") == [
        {"reason": "sku is missing", "records": 1},
        {"reason": "unit_cost 'abc' is not a number", "records": 1},
        {"reason": "unit_cost 'x' is not a number", "records": 1},
    ]


def test_quarantine_reason_treats_percent_literally(engine):
    with engine.begin() as c:
        run = make_sync_run(c, entity="items", read_count=2, rejected_count=2)["id"]
        quarantine_record(c, run, "items", "discount 150% is above 100%")
        quarantine_record(c, run, "items", "discount is missing")

    assert list_quarantine(engine, LEADER, reason="%").total == 1


def test_sync_runs_page_through_newest_first(engine):
    with engine.begin() as c:
        ids = [make_sync_run(c, started_at=NOW - timedelta(hours=hours), read_count=hours)["id"] for hours in range(1, 6)]

    second_page = list_sync_runs(engine, LEADER, page=2, page_size=2)

    assert second_page.total == 5
    assert second_page.page_count == 3
    assert list(second_page.rows["id"]) == [ids[2], ids[3]]
    assert list(second_page.rows["read_count"]) == [3, 4]


def test_page_size_above_limit_is_rejected(engine):
    with pytest.raises(InvalidPage, match="page size 5001 is outside 1 to 5000"):
        list_sync_runs(engine, LEADER, page_size=5001)


# --- Jobs -----------------------------------------------------------------------


def test_jobs_stale_after_their_interval(engine, database_url, tmp_path):
    settings = make_settings(database_url, tmp_path, poll_seconds=30)
    with engine.begin() as c:
        make_job_run(c, job_name="sync_inbox", started_at=NOW - timedelta(minutes=3), finished_at=NOW - timedelta(minutes=2))
        make_job_run(c, job_name="forecast", started_at=NOW - timedelta(seconds=40), finished_at=NOW - timedelta(seconds=30))
        make_job_run(c, job_name="kpi_snapshot", started_at=NOW - timedelta(days=6), finished_at=NOW - timedelta(days=6))
        make_job_run(c, job_name="exposure", status="failed", started_at=NOW - timedelta(seconds=20), error="boom")

    jobs = job_staleness(engine, LEADER, settings, NOW).set_index("job_name")

    assert list(jobs.index) == ["sync_inbox", "forecast", "exposure", "risk", "recommend", "outbox", "kpi_snapshot"]
    # A job that never succeeded (risk, recommend, outbox) is stale.
    assert jobs["stale"].to_dict() == {
        "sync_inbox": True, "forecast": False, "exposure": True, "risk": True, "recommend": True, "outbox": True,
        "kpi_snapshot": False,
    }
    assert jobs.loc["sync_inbox", "seconds_since_success"] == 120.0
    assert jobs.loc["sync_inbox", "interval_seconds"] == 30
    assert jobs.loc["exposure", "last_error"] == "boom"
    assert pd.isna(jobs.loc["exposure", "last_success_at"])


def test_inbox_within_poll_interval_is_fresh(engine, database_url, tmp_path):
    settings = make_settings(database_url, tmp_path, poll_seconds=30)
    with engine.begin() as c:
        make_job_run(c, job_name="sync_inbox", started_at=NOW - timedelta(seconds=80), finished_at=NOW - timedelta(seconds=75))

    jobs = job_staleness(engine, LEADER, settings, NOW).set_index("job_name")

    assert bool(jobs.loc["sync_inbox", "stale"]) is False


# --- Outbox and audit log -----------------------------------------------------------


def test_outbox_counts_by_status(engine):
    with engine.begin() as c:
        for status in ("pending", "pending", "failed"):
            outbox_message(c, status, attempts=3, last_error="timed out")

    assert outbox_status_counts(engine, LEADER) == {"pending": 2, "delivered": 0, "failed": 1}


def test_audit_search_by_actor_action_and_text(engine):
    with engine.begin() as c:
        audit(c, "pat", "approve_recommendation", "recommendation", "17", reason="customer called")
        audit(c, "pat", "reject_recommendation", "recommendation", "18", after={"comment": "wrong warehouse DAL"})
        audit(c, "lee", "approve_recommendation", "recommendation", "19")

    by_pat = search_audit_log(engine, LEADER, by="pat")
    approvals = search_audit_log(engine, LEADER, action="approve_recommendation")
    found = search_audit_log(engine, LEADER, search="dal")

    assert by_pat.total == 2
    assert sorted(approvals.rows["entity_id"]) == ["17", "19"]
    assert list(found.rows["entity_id"]) == ["18"]


def test_operations_reads_need_leader_or_admin(engine):
    with pytest.raises(RoleRefused, match=r"pat \(planner\) may not read the audit log"):
        search_audit_log(engine, Actor("pat", Role.PLANNER))


# --- Re-queue ------------------------------------------------------------------------


def test_requeued_file_is_ingested_once(engine, database_url, tmp_path):
    settings = make_settings(database_url, tmp_path)
    content = CUSTOMERS.encode()

    requeued = requeue_corrected_file(engine, settings, LEADER, "customers.csv", content, now=NOW)
    first = ingest_inbox(engine, settings, settle_seconds=0)
    second = ingest_inbox(engine, settings, settle_seconds=0)

    assert (requeued.folder, requeued.file_name, requeued.kind) == ("erp", "customers.requeued-20260302T120000Z.csv", "canonical")
    assert [(f.file_name, f.outcome) for f in first.files] == [(requeued.file_name, FileOutcome.LOADED)]
    assert second.files == []
    with engine.connect() as connection:
        entry = connection.execute(select(schema.audit_log)).one()
        assert connection.execute(text("select count(*) from customers")).scalar_one() == 1
    assert (entry.actor, entry.action, entry.entity_id) == ("lee", "requeue_file", "erp/customers.requeued-20260302T120000Z.csv")
    assert entry.after["original_name"] == "customers.csv"


def test_requeue_rejects_content_already_received(engine, database_url, tmp_path):
    settings = make_settings(database_url, tmp_path)
    requeue_corrected_file(engine, settings, LEADER, "customers.csv", CUSTOMERS.encode(), now=NOW)
    ingest_inbox(engine, settings, settle_seconds=0)

    with pytest.raises(FileNotAccepted, match=r"customers.csv has the same content as erp/customers.requeued-20260302T120000Z.csv"):
        requeue_corrected_file(engine, settings, LEADER, "customers.csv", CUSTOMERS.encode(), now=NOW + timedelta(hours=1))


@pytest.mark.parametrize(
    ("file_name", "message"),
    [
        ("notes.txt", "notes.txt is not a file the inbox loads: no connector reads .txt files"),
        ("../customers.csv", "file name '../customers.csv' is not a plain file name"),
        ("customers.csv.part", "file name 'customers.csv.part' starts with '.' or ends in .tmp or .part"),
        ("orders.csv", "orders.csv is not a file the inbox loads"),
    ],
)
def test_requeue_rejects_names_the_inbox_skips(engine, database_url, tmp_path, file_name, message):
    settings = make_settings(database_url, tmp_path)

    with pytest.raises(FileNotAccepted, match=message.replace(".", r"\.").replace("(", r"\(")):
        requeue_corrected_file(engine, settings, LEADER, file_name, b"a,b\n1,2\n", now=NOW)

    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from audit_log")).scalar_one() == 0


def test_requeue_into_wrong_folder_names_the_right_one(engine, database_url, tmp_path):
    settings = make_settings(database_url, tmp_path)

    with pytest.raises(FileNotAccepted, match="customers.csv names a canonical entity and no mapping file matches its columns"):
        requeue_corrected_file(engine, settings, LEADER, "customers.csv", CUSTOMERS.encode(), folder_name="exports", now=NOW)


def test_requeue_needs_leader_or_admin(engine, database_url, tmp_path):
    settings = make_settings(database_url, tmp_path)

    with pytest.raises(RoleRefused, match=r"erin \(executive\) may not re-queue a corrected file"):
        requeue_corrected_file(engine, settings, Actor("erin", Role.EXECUTIVE), "customers.csv", CUSTOMERS.encode())


# --- Downloads --------------------------------------------------------------------------


def test_downloads_neutralise_formula_cells():
    frame = pd.DataFrame({"note": ["=HYPERLINK(1)", "+1", "-2", "@SUM(A1)", "plain"], "qty": [-1, 2, 3, 4, 5]})

    csv_text = to_csv_bytes(frame).decode("utf-8-sig")
    sheet = openpyxl.load_workbook(io.BytesIO(to_excel_bytes(frame))).active

    assert csv_text.splitlines()[1:3] == ["'=HYPERLINK(1),-1", "'+1,2"]
    assert [sheet.cell(row, 1).value for row in range(2, 7)] == ["'=HYPERLINK(1)", "'+1", "'-2", "'@SUM(A1)", "plain"]
    assert sheet.cell(2, 2).value == -1


# --- The page ----------------------------------------------------------------------------


def run_page(monkeypatch, database_url, tmp_path, actor) -> AppTest:
    monkeypatch.setenv("CONTROL_TOWER_DATA_DIR", str(tmp_path / "data"))
    return run_streamlit(monkeypatch, database_url, PAGE_PATH, actor)


def test_page_figures_match_services_on_demo(engine, database_url, tmp_path, monkeypatch):
    load_small_demo(engine, tmp_path / "demo")
    with engine.begin() as c:
        outbox_message(c, "pending")
        outbox_message(c, "failed", attempts=5, last_error="HTTP 503")

    app = run_page(monkeypatch, database_url, tmp_path, LEADER)

    runs = list_sync_runs(engine, LEADER)
    counts = outbox_status_counts(engine, LEADER)
    captions = [caption.value for caption in app.caption]
    assert f"Rows 1-{len(runs.rows):,} of {runs.total:,} (page 1 of 1)." in captions
    assert {metric.label: metric.value for metric in app.metric} == {
        f"Outbox {status}": f"{count:,}" for status, count in counts.items()
    }
    shown = app.dataframe[0].value
    assert list(shown["id"]) == list(runs.rows["id"])
    assert list(shown["read_count"]) == list(runs.rows["read_count"])
    assert len(app.error) == 0


def test_page_refuses_planner(database_url, tmp_path, monkeypatch):
    app = run_page(monkeypatch, database_url, tmp_path, Actor("pat", Role.PLANNER))

    assert [error.value for error in app.error] == [
        "The Operations page is open to these roles: operations leader, administrator. "
        "You are signed in as pat with the role planner; ask an administrator if you need it."
    ]
    assert len(app.dataframe) == 0


def test_page_refuses_without_sign_in(database_url, tmp_path, monkeypatch):
    app = run_page(monkeypatch, database_url, tmp_path, None)

    assert [warning.value for warning in app.warning] == ["Sign in to see this page."]
