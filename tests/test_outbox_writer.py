"""The outbox writer against real PostgreSQL and a real folder: once-only delivery, backoff, and the files it writes."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from services.approvals import approve_customer_message, approve_recommendation
from services.auth.roles import Actor, Role
from services.db import schema
from services.notify.outbox import deliver_outbox, outbox_job, retry_delay
from services.settings import load_settings
from services.worker.job_runs import run_job
from tests.builders import make_customer, make_inventory, make_item, make_order_line, make_recommendation, make_warehouse

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
PLANNER = Actor("ann", Role.PLANNER, Decimal("5000"))


def _queue(engine, count: int, target: str = "erp") -> list[uuid.UUID]:
    ids = [uuid.UUID(int=index + 1) for index in range(count)]
    with engine.begin() as connection:
        connection.execute(insert(schema.outbox), [
            {"message_id": message_id, "target": target, "kind": "allocation", "payload": {"allocation_id": index},
             "next_attempt_at": T0, "created_at": T0}
            for index, message_id in enumerate(ids)
        ])
    return ids


def _outbox(engine):
    with engine.connect() as connection:
        return connection.execute(select(schema.outbox).order_by(schema.outbox.c.id)).mappings().all()


def test_two_writers_deliver_each_message_once(engine, tmp_path):
    ids = _queue(engine, 60)
    barrier = threading.Barrier(2)
    results = []

    def write() -> None:
        barrier.wait()
        results.append(deliver_outbox(engine, tmp_path, now=T0, batch_size=5))

    threads = [threading.Thread(target=write) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(result.written for result in results) == 60
    assert sum(result.already_present for result in results) == 0
    assert sorted(path.name for path in (tmp_path / "erp").iterdir()) == sorted(f"{message_id}.json" for message_id in ids)
    rows = _outbox(engine)
    assert {(row["status"], row["attempts"], row["delivered_at"]) for row in rows} == {("delivered", 1, T0)}
    document = json.loads((tmp_path / "erp" / f"{ids[7]}.json").read_text())
    assert document == {
        "message_id": str(ids[7]), "target": "erp", "kind": "allocation",
        "created_at": "2026-03-02T12:00:00+00:00", "payload": {"allocation_id": 7},
    }


def test_existing_file_is_marked_delivered_without_rewriting(engine, tmp_path):
    [message_id] = _queue(engine, 1)
    (tmp_path / "erp").mkdir()
    (tmp_path / "erp" / f"{message_id}.json").write_text("written before a crash\n")

    result = deliver_outbox(engine, tmp_path, now=T0)

    assert result.counts() == {"written": 0, "already_present": 1, "retried": 0, "failed": 0}
    assert (tmp_path / "erp" / f"{message_id}.json").read_text() == "written before a crash\n"
    assert [row["status"] for row in _outbox(engine)] == ["delivered"]


def test_failing_target_is_retried_with_backoff_then_failed(engine, tmp_path):
    _queue(engine, 1)
    (tmp_path / "erp").write_text("a file where the folder should be")

    first = deliver_outbox(engine, tmp_path, now=T0, max_attempts=3)
    [after_first] = _outbox(engine)
    early = deliver_outbox(engine, tmp_path, now=T0 + timedelta(seconds=29), max_attempts=3)
    second = deliver_outbox(engine, tmp_path, now=T0 + timedelta(seconds=30), max_attempts=3)
    [after_second] = _outbox(engine)
    third = deliver_outbox(engine, tmp_path, now=T0 + timedelta(seconds=90), max_attempts=3)
    [after_third] = _outbox(engine)

    assert first.counts() == {"written": 0, "already_present": 0, "retried": 1, "failed": 0}
    assert (after_first["status"], after_first["attempts"], after_first["next_attempt_at"]) == (
        "pending", 1, T0 + timedelta(seconds=30),
    )
    assert after_first["last_error"].startswith("FileExistsError: [Errno 17] File exists: ")
    assert early.counts() == {"written": 0, "already_present": 0, "retried": 0, "failed": 0}
    assert (after_second["attempts"], after_second["next_attempt_at"]) == (2, T0 + timedelta(seconds=90))
    assert second.retried == 1
    assert third.failed == 1
    assert (after_third["status"], after_third["attempts"]) == ("failed", 3)


def test_retry_delay_doubles_up_to_an_hour():
    assert [retry_delay(attempts).total_seconds() for attempts in (1, 2, 3, 7, 8)] == [30, 60, 120, 1920, 3600]


def test_customer_mail_eml_has_message_id(engine, tmp_path):
    with engine.begin() as connection:
        item = make_item(connection, sku="SKU-M", description="Cable tie")
        warehouse = make_warehouse(connection)
        make_inventory(connection, item_id=item["id"], warehouse_id=warehouse["id"])
        customer = make_customer(connection, customer_code="C-9", name="Delta Supply")
        line = make_order_line(connection, order_number="SO-9", customer_id=customer["id"], item_id=item["id"],
                               warehouse_id=warehouse["id"], ordered_qty=Decimal(3))
        recommendation = make_recommendation(connection, so_line_id=line["id"])
    approved = approve_recommendation(engine, PLANNER, recommendation["id"])
    with engine.connect() as connection:
        draft = connection.execute(select(schema.customer_messages)).mappings().one()
    body = draft["body"].replace("\n\nKind regards", "\nWe apologise for the delay.\nKind regards")
    message = approve_customer_message(engine, PLANNER, approved.customer_message_id, subject=draft["subject"], body=body)

    result = deliver_outbox(engine, tmp_path, mail_from="service@example.com")

    assert result.written == 3
    path = tmp_path / "customer_mail" / f"{message.outbox_message_id}.eml"
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert parsed["Message-ID"] == f"<{message.outbox_message_id}@example.com>"
    assert parsed["X-Outbox-Message-ID"] == str(message.outbox_message_id)
    assert parsed["From"] == "service@example.com"
    assert parsed["To"] == "Delta Supply:;"
    assert parsed["X-Customer-Code"] == "C-9"
    assert parsed["Subject"] == "Order SO-9 line 1: new delivery date for SKU-M"
    assert "We apologise for the delay.\nKind regards" in parsed.get_content()
    with engine.connect() as connection:
        assert connection.execute(select(schema.customer_messages.c.status)).scalar_one() == "sent"


def test_outbox_job_writes_into_data_folder(engine, database_url, tmp_path):
    [message_id] = _queue(engine, 1, target="tasks")
    settings = load_settings({"DATABASE_URL": database_url, "CONTROL_TOWER_DATA_DIR": str(tmp_path)})

    finished = run_job(engine, "outbox", lambda engine, job_run_id: outbox_job(engine, job_run_id, settings))

    assert finished.counts == {"written": 1, "already_present": 0, "retried": 0, "failed": 0}
    assert (tmp_path / "outbound" / "tasks" / f"{message_id}.json").is_file()


def test_unknown_target_is_retried_with_its_name(engine, tmp_path):
    _queue(engine, 1, target="fax")

    deliver_outbox(engine, tmp_path, now=T0)

    [row] = _outbox(engine)
    assert row["last_error"] == "UnknownTarget: outbox target 'fax' has no writer; use one of erp, tasks, customer_mail"


@pytest.mark.parametrize("value", ["no-at-sign", "two words@example.com", "@example.com"])
def test_invalid_mail_from_is_rejected(value):
    with pytest.raises(ValueError, match="CONTROL_TOWER_MAIL_FROM"):
        load_settings({"CONTROL_TOWER_MAIL_FROM": value})
