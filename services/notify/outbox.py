"""The outbox writer: deliver pending outbox messages as files, one folder per target and one file per message.

| target | folder | file |
|---|---|---|
| erp | <data>/outbound/erp/ | <message_id>.json: the allocation to write back |
| tasks | <data>/outbound/tasks/ | <message_id>.json: the task feed of one decision |
| customer_mail | <data>/outbound/customer_mail/ | <message_id>.eml: the approved customer message |

Rows are claimed with FOR UPDATE SKIP LOCKED, so two writers never take the
same message. A file is written under a hidden temporary name and then
hard-linked to its final name, which fails rather than overwrite; a message
whose file already exists (written by a run that stopped before it could
commit) is marked delivered without being written again. A failed delivery
is retried after 30 s, 60 s, 120 s and so on, at most an hour apart, and the
message is marked failed after MAX_ATTEMPTS attempts. Nothing is sent over a
network.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address, Group
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Mapping

from sqlalchemy import Connection, Engine, text, update

from services.db import schema
from services.settings import Settings

logger = logging.getLogger(__name__)

OUTBOX_JOB_NAME = "outbox"
MAX_ATTEMPTS = 6
BASE_DELAY_SECONDS = 30
MAX_DELAY_SECONDS = 3600
BATCH_SIZE = 100

JSON_TARGETS = ("erp", "tasks")
MAIL_TARGET = "customer_mail"

CLAIM = text("""
    select id, message_id, target, kind, payload, attempts, created_at
    from outbox
    where status = 'pending' and next_attempt_at <= :now
    order by next_attempt_at, id
    limit :limit
    for update skip locked
""")

MARK_MESSAGE_SENT = text("""
    update customer_messages set status = 'sent'
    where id = :id and status = 'approved'
""")


class UnknownTarget(ValueError):
    """An outbox message names a target this writer has no folder format for."""


@dataclass
class DeliveryResult:
    """Counts of one writer run: files written, files found already written, retries scheduled, messages failed."""

    written: int = 0
    already_present: int = 0
    retried: int = 0
    failed: int = 0

    def counts(self) -> dict[str, int]:
        return {"written": self.written, "already_present": self.already_present, "retried": self.retried, "failed": self.failed}


def retry_delay(attempts: int) -> timedelta:
    """Return the wait after the given number of failed attempts: 30 s doubled per attempt, at most an hour."""
    return timedelta(seconds=min(BASE_DELAY_SECONDS * 2 ** (attempts - 1), MAX_DELAY_SECONDS))


def deliver_outbox(
    engine: Engine,
    outbound_dir: Path,
    *,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    max_attempts: int = MAX_ATTEMPTS,
    mail_from: str = "control-tower@localhost",
) -> DeliveryResult:
    """Deliver every message due at now (the database's clock when None), one transaction per batch."""
    result = DeliveryResult()
    while True:
        with engine.begin() as connection:
            instant = now or connection.execute(text("select now()")).scalar_one()
            rows = connection.execute(CLAIM, {"now": instant, "limit": batch_size}).mappings().all()
            for row in rows:
                _deliver_row(connection, row, outbound_dir, instant, max_attempts, mail_from, result)
        if len(rows) < batch_size:
            break
    return result


def outbox_job(engine: Engine, job_run_id: int, settings: Settings) -> dict[str, int]:
    """Worker job: deliver the due outbox messages into the outbound folders."""
    result = deliver_outbox(engine, settings.outbound_dir, mail_from=settings.mail_from)
    return result.counts()


def _deliver_row(
    connection: Connection,
    row: Mapping[str, Any],
    outbound_dir: Path,
    now: datetime,
    max_attempts: int,
    mail_from: str,
    result: DeliveryResult,
) -> None:
    attempts = row["attempts"] + 1
    try:
        written = write_message_file(outbound_dir, row, mail_from)
    except (OSError, UnknownTarget, KeyError) as error:
        _record_failure(connection, row, attempts, now, max_attempts, f"{type(error).__name__}: {error}", result)
        return

    connection.execute(
        update(schema.outbox).where(schema.outbox.c.id == row["id"]).values(
            status="delivered", attempts=attempts, delivered_at=now, last_error=None
        )
    )
    if row["target"] == MAIL_TARGET:
        connection.execute(MARK_MESSAGE_SENT, {"id": row["payload"]["customer_message_id"]})
    if written:
        result.written += 1
        logger.debug("outbox message %s delivered to %s", row["message_id"], row["target"])
    else:
        result.already_present += 1
        logger.warning("outbox message %s: its %s file already existed; marked delivered without writing", row["message_id"], row["target"])


def _record_failure(connection, row, attempts: int, now: datetime, max_attempts: int, error: str, result: DeliveryResult) -> None:
    table = schema.outbox
    if attempts >= max_attempts:
        connection.execute(update(table).where(table.c.id == row["id"]).values(status="failed", attempts=attempts, last_error=error))
        result.failed += 1
        logger.error("outbox message %s to %s failed after %d attempts: %s", row["message_id"], row["target"], attempts, error)
        return
    next_attempt = now + retry_delay(attempts)
    connection.execute(
        update(table).where(table.c.id == row["id"]).values(attempts=attempts, next_attempt_at=next_attempt, last_error=error)
    )
    result.retried += 1
    logger.warning(
        "outbox message %s to %s: attempt %d failed (%s); next attempt at %s",
        row["message_id"], row["target"], attempts, error, next_attempt.isoformat(),
    )


def write_message_file(outbound_dir: Path, row: Mapping[str, Any], mail_from: str) -> bool:
    """Write the message's file unless it exists; return whether this call wrote it."""
    target = row["target"]
    if target in JSON_TARGETS:
        suffix, content = ".json", _json_content(row)
    elif target == MAIL_TARGET:
        suffix, content = ".eml", _mail_content(row, mail_from)
    else:
        raise UnknownTarget(f"outbox target {target!r} has no writer; use one of {', '.join((*JSON_TARGETS, MAIL_TARGET))}")
    folder = outbound_dir / target
    final = folder / f"{row['message_id']}{suffix}"
    if final.exists():
        return False
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{row['message_id']}.{os.getpid()}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        # A hard link is atomic and, unlike a rename, fails when the final name exists.
        os.link(temporary, final)
    except FileExistsError:
        return False
    finally:
        temporary.unlink()
    return True


def _json_content(row: Mapping[str, Any]) -> bytes:
    document = {
        "message_id": str(row["message_id"]),
        "target": row["target"],
        "kind": row["kind"],
        "created_at": row["created_at"].isoformat(),
        "payload": row["payload"],
    }
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _mail_content(row: Mapping[str, Any], mail_from: str) -> bytes:
    payload = row["payload"]
    domain = mail_from.partition("@")[2]
    message = EmailMessage()
    message["Message-ID"] = f"<{row['message_id']}@{domain}>"
    message["Date"] = format_datetime(row["created_at"])
    message["From"] = Address(addr_spec=mail_from)
    # NOTE: the canonical customers table holds no mail address, so the mail
    # is addressed to an empty group named after the customer; the system
    # that picks up the file sets the recipient from X-Customer-Code.
    message["To"] = Group(display_name=payload["customer_name"])
    message["Subject"] = payload["subject"]
    message["X-Customer-Code"] = payload["customer_code"]
    message["X-Order-Line"] = f"{payload['order_number']}/{payload['line_number']}"
    message["X-Outbox-Message-ID"] = str(row["message_id"])
    message.set_content(payload["body"])
    return bytes(message)
