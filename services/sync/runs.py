"""Rows of sync_runs and quarantine, written the same way by every connector."""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import Connection, Engine, insert, text, update

from services.db import schema


def start_sync_run(engine: Engine, source: str, entity: str, file_name: str, checksum: str | None) -> int:
    """Commit a sync run in status running, so a crash still leaves a record of the attempt."""
    with engine.begin() as connection:
        return connection.execute(
            insert(schema.sync_runs)
            .values(source=source, entity=entity, file_name=file_name, checksum=checksum)
            .returning(schema.sync_runs.c.id)
        ).scalar_one()


def finish_sync_run(connection: Connection, result, watermark) -> None:
    """Mark the run succeeded with its counts; watermark is a timestamp or a SQL expression."""
    connection.execute(
        update(schema.sync_runs)
        .where(schema.sync_runs.c.id == result.sync_run_id)
        .values(
            status="succeeded",
            finished_at=text("now()"),
            read_count=result.read,
            inserted_count=result.inserted,
            updated_count=result.updated,
            unchanged_count=result.unchanged,
            rejected_count=result.rejected,
            watermark=watermark,
        )
    )


def fail_sync_run(engine: Engine, sync_run_id: int, error: Exception) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(schema.sync_runs)
            .where(schema.sync_runs.c.id == sync_run_id)
            .values(status="failed", finished_at=text("now()"), error=str(error))
        )


def write_quarantine(connection: Connection, sync_run_id: int, source: str, entity: str, file_name: str, rejections: Iterable) -> None:
    """Insert rejected records; each has a position, the record as read and the reason."""
    rows = [
        {
            "sync_run_id": sync_run_id,
            "source": source,
            "entity": entity,
            "file_name": file_name,
            "position": rejection.position,
            "record": rejection.record,
            "reason": rejection.reason,
        }
        for rejection in rejections
    ]
    if rows:
        connection.execute(insert(schema.quarantine), rows)
