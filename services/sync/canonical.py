"""Load canonical CSV files into PostgreSQL: validate, quarantine, COPY, upsert, count.

Each file is one sync run and one transaction. Valid records are copied into
a temporary staging table and merged by one set-based upsert keyed on
(source, source_key). A record never overwrites a row whose source timestamp
is newer. Rejected records go to quarantine with their reason and line.
Counts balance: read = inserted + updated + unchanged + rejected.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator

import psycopg
from psycopg import sql
from sqlalchemy import Connection, Engine, text

from services.db import schema
from services.sync.layout import ENTITIES, LINEAGE_COLUMNS, Entity
from services.sync.checks import CHECKED, RAW, build_check_statement
from services.sync.fingerprints import fingerprint_context, fingerprint_sql, skip_unchanged_records
from services.sync.runs import fail_sync_run, finish_sync_run, start_sync_run, write_quarantine

logger = logging.getLogger(__name__)

STAGE = "sync_stage"
# Memory per sort or hash of a load's statements, so that joining a file of
# a million records against its table does not spill to disk.
LOAD_WORK_MEM = "64MB"


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
    # Records counted as unchanged because their fingerprint matched, without being checked.
    skipped_unchanged: int = 0
    reasons: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)
    seconds: float = 0.0
    # Seconds per loader step (copy, skip, check, stage, upsert, ...), for benchmarks and logs.
    step_seconds: dict = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return self.read == self.inserted + self.updated + self.unchanged + self.rejected


class _StepClock:
    """Store the seconds since the previous lap under each lap's step name."""

    def __init__(self, into: dict):
        self.into = into
        self.last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.into[step] = round(self.into.get(step, 0.0) + now - self.last, 4)
        self.last = now


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
    return columns + list(SOURCE_COLUMNS)


# Lineage columns the loader writes on every row, beside the entity's own.
SOURCE_COLUMNS = ("source", "source_key", "source_updated_at", "source_fingerprint")


def _raw_text(value) -> str | None:
    """Raw text of a reader's value: readers may hand over numbers or dates as well as strings."""
    if value is None:
        return None
    if isinstance(value, list):
        return "|".join(str(part) for part in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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


def _upsert(connection: Connection, entity: Entity, columns: list[str], sync_run_id: int, given: set[str] | None) -> tuple[int, int]:
    """Merge the staging table into the entity's table; return (inserted, updated).

    An existing row keeps the values of layout columns the source did not
    give (given names the columns it did; None means all), so an ERP export
    without acknowledgement columns leaves a supplier's acknowledgement alone.
    """
    layout_columns = {column.name for column in entity.columns}
    data_columns = [
        c for c in columns
        if c not in SOURCE_COLUMNS
        and (given is None or c not in layout_columns or c in given)
    ]
    target = entity.table
    assignments = ", ".join(
        f"{c} = excluded.{c}" for c in data_columns + ["source_updated_at", "source_fingerprint"]
    )
    changed = " or ".join(f"{target}.{c} is distinct from excluded.{c}" for c in data_columns) or "false"
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
    # Rows the upsert left alone because their values did not change still
    # take the new fingerprint, so the next load of the same record skips it.
    staged = connection.exec_driver_sql(f"select count(*) from {STAGE}").scalar_one()
    if counts[0] + counts[1] < staged:
        connection.exec_driver_sql(
            f"update {target} t set source_fingerprint = s.source_fingerprint from {STAGE} s"
            f" where t.source = s.source and t.source_key = s.source_key"
            f" and t.source_fingerprint is distinct from s.source_fingerprint"
        )
    return counts[0], counts[1]


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
            raise _not_utf8(path.name, f"0x{error.object[error.start]:02x}", f"at offset {error.start}") from None
        except csv.Error as error:
            raise FileRejected(f"{path.name} is not a readable CSV file at line {reader.line_num}: {error}") from None


def _not_utf8(file_name: str, byte: str, where: str) -> FileRejected:
    return FileRejected(
        f"{file_name} is not UTF-8 (byte {byte} {where}); "
        "save it as UTF-8, or load it through a mapping file that names its encoding"
    )


def _create_raw(connection: Connection, columns: list[str], *, numbered_by_server: bool) -> None:
    """Create the raw table: every column text, plus the record's number, position and reader's reason."""
    seq = "_seq bigint generated always as identity" if numbered_by_server else "_seq bigint not null"
    columns_sql = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(name)) for name in columns)
    connection.exec_driver_sql(f"drop table if exists {RAW}")
    statement = sql.SQL(
        "create temp table {raw} ({seq}, _position text, _reader_reason text, {columns}) on commit drop"
    ).format(raw=sql.Identifier(RAW), seq=sql.SQL(seq), columns=columns_sql)
    connection.exec_driver_sql(statement.as_string(connection.connection.driver_connection))


def _copy_records(connection: Connection, entity: Entity, records: Iterable[SourceRecord]) -> set[str]:
    """Fill the raw table from a reader's records; return its column names."""
    columns = [c.name for c in entity.columns] + list(LINEAGE_COLUMNS)
    _create_raw(connection, columns, numbered_by_server=False)
    driver = connection.connection.driver_connection
    names = sql.SQL(", ").join(sql.Identifier(name) for name in ["_seq", "_position", "_reader_reason", *columns])
    statement = sql.SQL("copy {} ({}) from stdin").format(sql.Identifier(RAW), names)
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for seq, record in enumerate(records, start=1):
            values = record.values
            copy.write_row([seq, record.position, record.reason, *(_raw_text(values.get(c)) for c in columns)])
    return set(columns)


def _read_header(path: Path, entity: Entity) -> list[str]:
    """Read the header of a canonical CSV file, whatever its line ends."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    first_line = re.split(rb"\r\n|\r|\n", head, maxsplit=1)[0] if head else b""
    try:
        text_line = first_line.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _not_utf8(path.name, f"0x{error.object[error.start]:02x}", "in the header") from None
    header = next(csv.reader([text_line]), []) if text_line.strip() else []
    header = [name.strip() for name in header]
    _check_columns(entity, header, path.name)
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise FileRejected(f"{path.name} names the column {', '.join(duplicated)} twice; keep one of them")
    return header


def _copy_csv_file(connection: Connection, path: Path, header: list[str]) -> None:
    """COPY a canonical CSV file straight into the raw table; the server numbers the records."""
    _create_raw(connection, header, numbered_by_server=True)
    driver = connection.connection.driver_connection
    statement = sql.SQL("copy {} ({}) from stdin with (format csv, header true)").format(
        sql.Identifier(RAW), sql.SQL(", ").join(sql.Identifier(name) for name in header)
    )
    with driver.cursor() as cursor, cursor.copy(statement) as copy, path.open("rb") as handle:
        while block := handle.read(1 << 20):
            copy.write(block)


def _fill_from_csv(connection: Connection, entity: Entity, path: Path) -> set[str]:
    """Fill the raw table from a CSV file: COPY when the file is regular, the csv module otherwise.

    COPY rejects rows with a missing or an extra field. The csv module reads
    them, with a missing field as blank, so such a file takes the slower path.
    """
    header = _read_header(path, entity)
    savepoint = connection.begin_nested()
    try:
        _copy_csv_file(connection, path, header)
    except psycopg.errors.CharacterNotInRepertoire as error:
        savepoint.rollback()
        raise _copy_encoding_error(path.name, error) from None
    except (psycopg.errors.BadCopyFileFormat, psycopg.DataError) as error:
        savepoint.rollback()
        logger.info("%s: COPY failed (%s); reading it record by record", path.name, str(error).splitlines()[0])
        return _copy_records(connection, entity, read_canonical_csv(path, entity))
    savepoint.commit()
    return set(header)


def _copy_encoding_error(file_name: str, error: Exception) -> FileRejected:
    message = str(error)
    found = re.search(r"0x[0-9a-f]{2}", message)
    line = re.search(r"line (\d+)", getattr(error.diag, "context", "") or "")
    where = f"on line {line.group(1)}" if line else "in the file"
    return _not_utf8(file_name, found.group(0) if found else "unknown", where)


def _check(connection: Connection, entity: Entity, raw_columns: set[str]) -> None:
    """Type and check the raw records into the checked table: the fast statement, else the exact one."""
    driver = connection.connection.driver_connection
    connection.exec_driver_sql(f"drop table if exists {CHECKED}")
    savepoint = connection.begin_nested()
    try:
        # Run through the driver without parameters, so a % in a message is not read as a placeholder.
        driver.execute(build_check_statement(entity, raw_columns, fast=True))
    except psycopg.DataError as error:
        savepoint.rollback()
        logger.info("a %s value only looks well formed (%s); checking every cell exactly",
                    entity.name, str(error).splitlines()[0])
        driver.execute(build_check_statement(entity, raw_columns))
    else:
        savepoint.commit()


def _stage_valid(connection: Connection, columns: list[str], raw_columns: set[str], source: str, context: str | None) -> None:
    """Copy the checked records without a reason into the staging table, with their fingerprints."""
    selected = []
    for name in columns:
        if name == "source":
            selected.append(sql.Literal(source))
        elif name == "source_fingerprint":
            selected.append(fingerprint_sql(raw_columns, context))
        else:
            selected.append(sql.SQL("c.{}").format(sql.Identifier(name)))
    connection.connection.driver_connection.execute(
        sql.SQL(
            "insert into {stage} ({columns}, seq, position) "
            "select {selected}, c.seq, c.position from {checked} c join {raw} r on r._seq = c.seq "
            "where cardinality(c.reasons) = 0"
        ).format(
            stage=sql.Identifier(STAGE),
            columns=sql.SQL(", ").join(sql.Identifier(name) for name in columns),
            selected=sql.SQL(", ").join(selected),
            checked=sql.Identifier(CHECKED),
            raw=sql.Identifier(RAW),
        )
    )


def _quarantine_checked(connection: Connection, sync_run_id: int, source: str, entity: Entity, file_name: str) -> list[tuple[str, str]]:
    """Move the records that failed a check into quarantine; return their positions and reasons."""
    rows = connection.execute(
        text(
            f"insert into quarantine (sync_run_id, source, entity, file_name, position, record, reason) "
            f"select :run, :source, :entity, :file_name, c.position,"
            f" to_jsonb(r) - '_seq' - '_position' - '_reader_reason', array_to_string(c.reasons, '; ') "
            f"from {CHECKED} c join {RAW} r on r._seq = c.seq "
            f"where cardinality(c.reasons) > 0 order by c.seq returning position, reason"
        ),
        {"run": sync_run_id, "source": source, "entity": entity.name, "file_name": file_name},
    )
    return [(row.position, row.reason) for row in rows]


def load_records(
    engine: Engine,
    entity: Entity,
    records: Iterable[SourceRecord],
    *,
    source: str,
    file_name: str,
    checksum: str | None = None,
    business_timezone: str = "UTC",
    given_columns: Iterable[str] | None = None,
    rows_left_out: Callable[[], int] | None = None,
) -> SyncResult:
    """Load records of one entity from one source file as one sync run in one transaction.

    given_columns names the layout columns the source provides; on update the
    others keep their stored values. None treats every column as given.
    rows_left_out, called once the records are read, returns how many rows
    of the source the reader left out (filtered, or identical repeats of a
    record); they count as read and unchanged.
    A FileRejected raised while the records are read marks the run failed and
    writes nothing; so does any other error, which is re-raised.
    """
    return _load(
        engine, entity, lambda connection: _copy_records(connection, entity, records),
        source=source, file_name=file_name, checksum=checksum, business_timezone=business_timezone,
        given_columns=given_columns, rows_left_out=rows_left_out,
    )


def _load(
    engine: Engine, entity: Entity, fill, *, source, file_name, checksum, business_timezone,
    given_columns=None, rows_left_out=None,
) -> SyncResult:
    started = time.monotonic()
    run_start = datetime.now(timezone.utc)
    sync_run_id = start_sync_run(engine, source, entity.name, file_name, checksum)
    result = SyncResult(sync_run_id, source, entity.name, file_name)
    columns = _target_columns(entity)
    logger.info("sync run %d: loading %s as %s from source %s", sync_run_id, file_name, entity.name, source)

    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "select set_config('ct.business_timezone', :zone, true),"
                    " set_config('ct.run_start', :start, true), set_config('work_mem', :work_mem, true)"
                ),
                {"zone": business_timezone, "start": run_start.isoformat(), "work_mem": LOAD_WORK_MEM},
            )
            clock = _StepClock(result.step_seconds)
            raw_columns = fill(connection)
            raw_count = connection.exec_driver_sql(f"select count(*) from {RAW}").scalar_one()
            result.read = raw_count + (rows_left_out() if rows_left_out else 0)
            clock.lap("copy")
            # The raw table has a column for each header name of a CSV file, and
            # every layout column for a reader's records.
            given = raw_columns if given_columns is None else set(given_columns)
            context = fingerprint_context(connection, entity, source, raw_columns, business_timezone, given_columns)
            result.skipped_unchanged = skip_unchanged_records(
                connection, entity, source, raw_columns, context, raw_count
            )
            clock.lap("skip unchanged")
            _create_stage(connection, entity, columns)
            _check(connection, entity, raw_columns)
            clock.lap("check")
            _stage_valid(connection, columns, raw_columns, source, context)
            reasons = _quarantine_checked(connection, sync_run_id, source, entity, file_name)
            result.duplicates = _supersede_duplicates(connection)
            conflicts = _reject_natural_key_conflicts(connection, entity, source)
            write_quarantine(connection, sync_run_id, source, entity.name, file_name, conflicts)
            reasons += [(conflict.position, conflict.reason) for conflict in conflicts]
            clock.lap("stage")
            result.inserted, result.updated = _upsert(connection, entity, columns, sync_run_id, given)
            clock.lap("upsert")
            result.rejected = len(reasons)
            result.unchanged = result.read - result.inserted - result.updated - result.rejected
            result.reasons = Counter(_reason_kind(reason) for _, reason in reasons)
            for position, reason in reasons:
                result.examples.setdefault(_reason_kind(reason), f"{position}: {reason}")
            watermark = text(
                f"(select max(source_updated_at) from {entity.table} where sync_run_id = {int(sync_run_id)})"
            )
            finish_sync_run(connection, result, watermark)
            clock.lap("record")
    except Exception as error:
        logger.error("sync run %d: %s failed: %s", sync_run_id, file_name, error)
        fail_sync_run(engine, sync_run_id, error)
        raise

    result.seconds = time.monotonic() - started
    logger.info(
        "sync run %d: %s read %d, inserted %d, updated %d, unchanged %d, rejected %d in %.2f s",
        sync_run_id, file_name, result.read, result.inserted, result.updated,
        result.unchanged, result.rejected, result.seconds,
    )
    return result


def entity_for_file_name(file_name: str) -> Entity:
    """Return the entity a canonical file name names, or raise FileRejected.

    The name must end in .csv and contain exactly one entity name, bounded by
    the start or end of the name or by a character other than a letter or
    digit: 2026-03-02_sales_order_lines.csv and sales_order_lines-part2.csv
    are both sales_order_lines. An entity name found only inside a longer
    one does not count, so supplier_items.csv is supplier_items, not items.
    """
    if not file_name.lower().endswith(".csv"):
        raise FileRejected(f"{file_name} is not a .csv file; export the entity as a UTF-8 CSV file")
    outermost = _entities_named_in(file_name[: -len(".csv")].lower())

    if len(outermost) == 1:
        return next(iter(outermost.values()))
    if not outermost:
        raise FileRejected(
            f"{file_name} names no canonical entity; put one entity name in the file name, "
            f"such as 2026-03-02_sales_order_lines.csv (entities: {', '.join(e.name for e in ENTITIES)})"
        )
    raise FileRejected(
        f"{file_name} names more than one entity ({', '.join(sorted(outermost))}); "
        "put each entity in its own file, named after it"
    )


def _entities_named_in(stem: str) -> dict[str, Entity]:
    """Entities whose name the stem contains as a whole word and not only inside a longer entity name."""
    matches = [
        (match.start(), match.end(), entity)
        for entity in ENTITIES
        for match in re.finditer(rf"(?<![a-z0-9]){re.escape(entity.name)}(?![a-z0-9])", stem)
    ]

    def inside_longer_match(start: int, end: int) -> bool:
        return any(
            other_start <= start and end <= other_end and other_end - other_start > end - start
            for other_start, other_end, _ in matches
        )

    return {entity.name: entity for start, end, entity in matches if not inside_longer_match(start, end)}


def load_canonical_file(
    engine: Engine,
    path: Path,
    *,
    source: str = "erp",
    entity: Entity | None = None,
    business_timezone: str = "UTC",
) -> SyncResult:
    """Load one canonical CSV file as one sync run.

    Raises FileRejected when the file as a whole cannot be read: it is empty,
    a required column is missing, or it is not UTF-8. The run is then
    recorded as failed and nothing from the file is written.
    """
    path = Path(path)
    entity = entity or entity_for_file_name(path.name)
    return _load(
        engine, entity, lambda connection: _fill_from_csv(connection, entity, path),
        source=source, file_name=path.name, checksum=file_checksum(path),
        business_timezone=business_timezone,
    )


def _reason_kind(reason: str) -> str:
    """Return the reason's first clause with quoted values blanked, for the top-reasons summary."""
    return re.sub(r"'[^']*'", "...", reason.split(";")[0])


def canonical_files(folder: Path) -> tuple[list[tuple[Entity, Path]], list[tuple[Path, str]]]:
    """Sort the CSV files of a folder into loadable ones, masters first, and skipped ones with the reason."""
    loadable, skipped = [], []
    for path in sorted(Path(folder).iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            loadable.append((entity_for_file_name(path.name), path))
        except FileRejected as error:
            skipped.append((path, str(error)))
    order = {entity.name: index for index, entity in enumerate(ENTITIES)}
    loadable.sort(key=lambda pair: (order[pair[0].name], pair[1].name))
    return loadable, skipped


def load_canonical_folder(engine: Engine, folder: Path, *, source: str = "erp", business_timezone: str = "UTC") -> list[SyncResult]:
    """Load every canonical file of the folder, masters before the records that reference them.

    Files whose name names no entity are skipped with a warning.
    """
    loadable, skipped = canonical_files(folder)
    for path, reason in skipped:
        logger.warning("skipped %s: %s", path, reason)
    return [
        load_canonical_file(engine, path, source=source, entity=entity, business_timezone=business_timezone)
        for entity, path in loadable
    ]


__all__ = [
    "FileRejected",
    "LINEAGE_COLUMNS",
    "SourceRecord",
    "SyncResult",
    "load_canonical_file",
    "load_canonical_folder",
    "canonical_files",
    "entity_for_file_name",
    "load_records",
    "read_canonical_csv",
]
