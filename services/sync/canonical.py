"""Load canonical CSV files into PostgreSQL: validate, quarantine, COPY, upsert, count.

Each file is one sync run and one transaction. Valid records are copied into
a temporary staging table and merged by one set-based upsert keyed on
(source, source_key); a record never overwrites a row whose source timestamp
is newer. Rejected records go to quarantine with their reason and line.
Counts balance: read = inserted + updated + unchanged + rejected.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, insert, text, update

from services.db import schema
from services.sync.layout import ENTITIES, LINEAGE_COLUMNS, Entity, entity_for_file
from services.sync.lookups import Lookups
from services.sync.rules import check_record
from services.sync.values import InvalidValue, parse_cell, parse_timestamp

logger = logging.getLogger(__name__)

STAGE = "sync_stage"


class FileRejected(ValueError):
    """A whole file cannot be loaded; nothing from it was written."""


@dataclass
class SyncResult:
    sync_run_id: int
    source: str
    entity: str
    file_name: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    duplicates: int = 0
    reasons: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def balanced(self) -> bool:
        return self.read == self.inserted + self.updated + self.unchanged + self.rejected


@dataclass
class _Rejection:
    position: str
    record: dict
    reason: str


@dataclass
class SourceRecord:
    """One record read from a source, as raw text keyed by canonical column name.

    A reader that has already found the record bad, for example a value its
    mapping cannot convert, sets reason, and the loader quarantines the record.
    """

    position: str
    values: dict
    reason: str | None = None


def _strip(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _target_columns(entity: Entity) -> list[str]:
    """Table columns a record of this entity fills, in a fixed order."""
    table = schema.metadata.tables[entity.table]
    referenced = {name for reference in entity.references for name in reference.columns}
    columns = [
        column.name
        for column in entity.columns
        if column.name not in referenced and column.name in table.c
    ]
    columns += [reference.target for reference in entity.references]
    if "supplier_id" in table.c and "supplier_id" not in columns:
        columns.append("supplier_id")
    return columns + ["source", "source_key", "source_updated_at"]


def _record_from_row(entity: Entity, row: dict, lookups: Lookups, zone: ZoneInfo, run_start: datetime, source: str):
    """Return (record, reasons) for one CSV row; record is None when the row is rejected."""
    record: dict = {}
    reasons: list[str] = []

    for column in entity.columns:
        raw = _strip(row.get(column.name))
        if not raw:
            if column.required:
                reasons.append(f"{column.name}: a value is required")
            value = column.default
            record[column.name] = list(value) if isinstance(value, tuple) else value
            if column.kind == "decimal" and value is not None:
                record[column.name] = parse_cell(column.name, "decimal", str(value), zone)
            continue
        try:
            value = parse_cell(column.name, column.kind, raw, zone)
        except InvalidValue as error:
            reasons.append(str(error))
            continue
        if column.non_negative and value < 0:
            reasons.append(f"{column.name}: {raw!r} is negative; quantities and prices must be 0 or more")
            continue
        if column.choices and value not in column.choices:
            reasons.append(f"{column.name}: {raw!r} is not one of {', '.join(column.choices)}")
            continue
        record[column.name] = value
    if reasons:
        return None, reasons

    reasons += lookups.resolve(entity, record)
    if reasons:
        return None, reasons

    if entity.has_unit:
        reasons += lookups.convert_units(entity, record)
    reasons += check_record(entity.name, record)
    if reasons:
        return None, reasons

    key = _strip(row.get("source_key")) or "/".join(str(row.get(name, "")).strip() for name in entity.key)
    updated_raw = _strip(row.get("source_updated_at"))
    try:
        updated_at = parse_timestamp("source_updated_at", updated_raw, zone) if updated_raw else run_start
    except InvalidValue as error:
        return None, [str(error)]
    record.update(source=source, source_key=key, source_updated_at=updated_at)
    return record, []


def _copy_value(value):
    if isinstance(value, list):
        return json.dumps(value)
    return value


def _create_stage(connection: Connection, entity: Entity, columns: list[str]) -> None:
    connection.exec_driver_sql(f"drop table if exists {STAGE}")
    connection.exec_driver_sql(
        f"create temp table {STAGE} on commit drop as "
        f"select {', '.join(columns)} from {entity.table} with no data"
    )
    connection.exec_driver_sql(
        f"alter table {STAGE} add column seq bigint not null, add column position text not null"
    )


def _supersede_duplicates(connection: Connection) -> int:
    """Keep the last record of each source key in the staging table; return how many were dropped."""
    dropped = connection.exec_driver_sql(
        f"delete from {STAGE} earlier using {STAGE} later "
        "where earlier.source_key = later.source_key and earlier.seq < later.seq "
        "returning earlier.source_key, earlier.position"
    ).fetchall()
    if dropped:
        sample = ", ".join(f"{key} ({position})" for key, position in dropped[:5])
        logger.warning("%d duplicate source keys superseded by a later line: %s", len(dropped), sample)
    return len(dropped)


def _reject_natural_key_conflicts(connection: Connection, entity: Entity, source: str) -> list[_Rejection]:
    """Remove staged records whose business key already belongs to another source record."""
    if not entity.natural_key:
        return []
    match = " and ".join(f"t.{name} = s.{name}" for name in entity.natural_key)
    rows = connection.exec_driver_sql(
        f"delete from {STAGE} s using {entity.table} t where {match} "
        "and (t.source, t.source_key) is distinct from (s.source, s.source_key) "
        "returning s.position, row_to_json(s.*) as record, t.source, t.source_key"
    ).fetchall()
    key_names = ", ".join(entity.natural_key)
    return [
        _Rejection(
            position=row.position,
            record=row.record,
            reason=(
                f"{key_names} already belongs to record {row.source_key!r} of source {row.source!r}; "
                "give the record that source's key or remove one of them"
            ),
        )
        for row in rows
    ]


def _upsert(connection: Connection, entity: Entity, columns: list[str], sync_run_id: int) -> tuple[int, int]:
    """Merge the staging table into the entity's table; return (inserted, updated)."""
    data_columns = [c for c in columns if c not in ("source", "source_key", "source_updated_at")]
    target = entity.table
    assignments = ", ".join(f"{c} = excluded.{c}" for c in data_columns + ["source_updated_at"])
    changed = " or ".join(f"{target}.{c} is distinct from excluded.{c}" for c in data_columns)
    counts = connection.exec_driver_sql(
        f"with merged as ("
        f" insert into {target} ({', '.join(columns)}, sync_run_id)"
        f" select {', '.join(columns)}, {int(sync_run_id)} from {STAGE}"
        f" on conflict (source, source_key) do update set {assignments},"
        f" sync_run_id = excluded.sync_run_id, loaded_at = now()"
        f" where ({changed}) and {target}.source_updated_at <= excluded.source_updated_at"
        f" returning (xmax = 0) as inserted"
        f") select count(*) filter (where inserted), count(*) filter (where not inserted) from merged"
    ).one()
    return counts[0], counts[1]


def _write_quarantine(connection, rejections, sync_run_id, source, entity_name, file_name) -> None:
    if not rejections:
        return
    connection.execute(
        insert(schema.quarantine),
        [
            {
                "sync_run_id": sync_run_id,
                "source": source,
                "entity": entity_name,
                "file_name": file_name,
                "position": rejection.position,
                "record": rejection.record,
                "reason": rejection.reason,
            }
            for rejection in rejections
        ],
    )


def _check_columns(entity: Entity, columns: list[str] | None, file_name: str) -> None:
    if not columns:
        raise FileRejected(f"{file_name} is empty; export it again with a header row and its records")
    present = {name.strip() for name in columns}
    missing = [name for name in entity.required_columns if name not in present]
    if missing:
        raise FileRejected(
            f"{file_name} has no column {', '.join(missing)}; add it to the header "
            f"(expected columns: {', '.join(c.name for c in entity.columns)})"
        )


def read_canonical_csv(path: Path, entity: Entity) -> Iterator[SourceRecord]:
    """Yield the records of a canonical CSV file; raise FileRejected for a file that cannot be read."""
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        try:
            _check_columns(entity, reader.fieldnames, path.name)
            reader.fieldnames = [name.strip() for name in reader.fieldnames]
            for row in reader:
                row.pop(None, None)
                yield SourceRecord(f"line {reader.line_num}", row)
        except UnicodeDecodeError as error:
            raise FileRejected(
                f"{path.name} is not UTF-8 (byte 0x{error.object[error.start]:02x} at offset {error.start}); "
                "save it as UTF-8, or load it through a mapping file that names its encoding"
            ) from None
        except csv.Error as error:
            raise FileRejected(f"{path.name} is not a readable CSV file at line {reader.line_num}: {error}") from None


def _stage_records(connection: Connection, entity: Entity, records: Iterable[SourceRecord], columns: list[str], lookups: Lookups, zone, run_start, source, result: SyncResult):
    """Validate the records and COPY the valid ones into staging; return the rejected ones."""
    rejections: list[_Rejection] = []
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor:
        with cursor.copy(f"copy {STAGE} ({', '.join(columns)}, seq, position) from stdin") as copy:
            for seq, source_record in enumerate(records):
                result.read += 1
                if source_record.reason:
                    rejections.append(_Rejection(source_record.position, source_record.values, source_record.reason))
                    continue
                record, reasons = _record_from_row(entity, source_record.values, lookups, zone, run_start, source)
                if record is None:
                    rejections.append(_Rejection(source_record.position, source_record.values, "; ".join(reasons)))
                    continue
                copy.write_row([_copy_value(record[c]) for c in columns] + [seq, source_record.position])
    return rejections


def _start_run(engine: Engine, source: str, entity: str, file_name: str, checksum: str | None) -> int:
    with engine.begin() as connection:
        return connection.execute(
            insert(schema.sync_runs)
            .values(source=source, entity=entity, file_name=file_name, checksum=checksum)
            .returning(schema.sync_runs.c.id)
        ).scalar_one()


def _fail_run(engine: Engine, sync_run_id: int, error: Exception) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(schema.sync_runs)
            .where(schema.sync_runs.c.id == sync_run_id)
            .values(status="failed", finished_at=text("now()"), error=str(error))
        )


def load_records(
    engine: Engine,
    entity: Entity,
    records: Iterable[SourceRecord],
    *,
    source: str,
    file_name: str,
    checksum: str | None = None,
    business_timezone: str = "UTC",
) -> SyncResult:
    """Load records of one entity from one source file as one sync run in one transaction.

    A FileRejected raised while the records are read marks the run failed and
    writes nothing; so does any other error, which is re-raised.
    """
    started = time.monotonic()
    run_start = datetime.now(timezone.utc)
    sync_run_id = _start_run(engine, source, entity.name, file_name, checksum)
    result = SyncResult(sync_run_id, source, entity.name, file_name)
    zone = ZoneInfo(business_timezone)
    columns = _target_columns(entity)
    logger.info("sync run %d: loading %s as %s from source %s", sync_run_id, file_name, entity.name, source)

    try:
        with engine.begin() as connection:
            lookups = Lookups(connection)
            lookups.preload(entity)
            _create_stage(connection, entity, columns)
            rejections = _stage_records(connection, entity, records, columns, lookups, zone, run_start, source, result)
            result.duplicates = _supersede_duplicates(connection)
            rejections += _reject_natural_key_conflicts(connection, entity, source)
            result.inserted, result.updated = _upsert(connection, entity, columns, sync_run_id)
            result.rejected = len(rejections)
            result.unchanged = result.read - result.inserted - result.updated - result.rejected
            result.reasons = Counter(_reason_kind(r.reason) for r in rejections)
            _write_quarantine(connection, rejections, sync_run_id, source, entity.name, file_name)
            _finish_run(connection, entity, result)
    except Exception as error:
        logger.error("sync run %d: %s failed: %s", sync_run_id, file_name, error)
        _fail_run(engine, sync_run_id, error)
        raise

    result.seconds = time.monotonic() - started
    logger.info(
        "sync run %d: %s read %d, inserted %d, updated %d, unchanged %d, rejected %d in %.2f s",
        sync_run_id, file_name, result.read, result.inserted, result.updated,
        result.unchanged, result.rejected, result.seconds,
    )
    return result


def _finish_run(connection: Connection, entity: Entity, result: SyncResult) -> None:
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
            watermark=text(
                f"(select max(source_updated_at) from {entity.table} where sync_run_id = {int(result.sync_run_id)})"
            ),
        )
    )


def load_canonical_file(
    engine: Engine,
    path: Path,
    *,
    source: str = "erp",
    entity: Entity | None = None,
    business_timezone: str = "UTC",
) -> SyncResult:
    """Load one canonical CSV file as one sync run.

    Raises FileRejected when the file as a whole cannot be read (empty, a
    required column missing, not UTF-8); the run is then recorded as failed
    and nothing from the file is written.
    """
    path = Path(path)
    entity = entity or entity_for_file(path.name)
    if entity is None:
        raise FileRejected(
            f"{path.name} is not a canonical file name; name it after its entity, "
            f"one of: {', '.join(e.file_name for e in ENTITIES)}"
        )
    return load_records(
        engine,
        entity,
        read_canonical_csv(path, entity),
        source=source,
        file_name=path.name,
        checksum=file_checksum(path),
        business_timezone=business_timezone,
    )


def _reason_kind(reason: str) -> str:
    """Return the reason's first clause with quoted values blanked, for the top-reasons summary."""
    return re.sub(r"'[^']*'", "...", reason.split(";")[0])


def load_canonical_folder(engine: Engine, folder: Path, *, source: str = "erp", business_timezone: str = "UTC") -> list[SyncResult]:
    """Load every canonical file present in the folder, masters before the records that reference them."""
    folder = Path(folder)
    results = []
    for entity in ENTITIES:
        path = folder / entity.file_name
        if path.exists():
            results.append(
                load_canonical_file(engine, path, source=source, entity=entity, business_timezone=business_timezone)
            )
    return results


__all__ = [
    "FileRejected",
    "LINEAGE_COLUMNS",
    "SourceRecord",
    "SyncResult",
    "load_canonical_file",
    "load_canonical_folder",
    "load_records",
    "read_canonical_csv",
]
