"""The inbox job: load the canonical CSV files dropped in <data>/inbox/erp/, each content once.

A file is identified by the sha256 checksum of its content, registered in
inbox_files. After its run the file moves to processed/ or failed/ beside
the inbox, together with <name>.report.json: checksum, entity, sync run,
counts, top rejection reasons and error.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import OperationalError

from services.db import schema
from services.settings import Settings
from services.sync.canonical import FileRejected, SyncResult, entity_for_file_name, file_checksum, load_canonical_file
from services.sync.layout import ENTITIES
from services.worker.job_runs import JobOutcome
from services.worker.locks import lock_for_transaction

logger = logging.getLogger(__name__)

ERP_SOURCE = "erp"
PROCESSED_FOLDER = "processed"
FAILED_FOLDER = "failed"
# A file modified more recently than this is taken to be still being written.
SETTLE_SECONDS = 2.0
IN_PROGRESS_SUFFIXES = (".tmp", ".part")
TOP_REASONS = 5


class FileOutcome(StrEnum):
    """The result of one run for one inbox file."""

    LOADED = "loaded"
    FAILED = "failed"
    ALREADY_LOADED = "already_loaded"
    ALREADY_FAILED = "already_failed"


@dataclass
class InboxFile:
    """One file taken from the inbox by one run, and where it went."""

    file_name: str
    checksum: str
    size_bytes: int
    outcome: FileOutcome
    entity: str | None = None
    sync_run_id: int | None = None
    result: SyncResult | None = None
    error: str | None = None
    note: str | None = None
    moved_to: Path | None = None
    move_error: str | None = None

    @property
    def destination(self) -> str:
        """The folder the file moves to: processed/ after a load, failed/ otherwise."""
        if self.outcome in (FileOutcome.LOADED, FileOutcome.ALREADY_LOADED):
            return PROCESSED_FOLDER
        return FAILED_FOLDER


@dataclass
class InboxReport:
    """The files one inbox run took, and the names it left for a later run."""

    files: list[InboxFile] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)

    def with_outcome(self, outcome: FileOutcome) -> list[InboxFile]:
        return [inbox_file for inbox_file in self.files if inbox_file.outcome is outcome]

    def counts(self) -> dict[str, int]:
        """File counts by outcome and row counts summed over the loaded files."""
        results = [inbox_file.result for inbox_file in self.files if inbox_file.result is not None]
        counts = {f"files_{outcome.value}": len(self.with_outcome(outcome)) for outcome in FileOutcome}
        counts["files_waiting"] = len(self.waiting)
        counts["files_not_moved"] = sum(1 for inbox_file in self.files if inbox_file.move_error)
        for name in ("read", "inserted", "updated", "unchanged", "rejected"):
            counts[f"rows_{name}"] = sum(getattr(result, name) for result in results)
        return counts


def erp_inbox_folder(settings: Settings) -> Path:
    """Return <inbox>/erp, creating it and its processed/ and failed/ folders when missing."""
    folder = settings.inbox_dir / ERP_SOURCE
    for path in (folder / PROCESSED_FOLDER, folder / FAILED_FOLDER):
        path.mkdir(parents=True, exist_ok=True)
    return folder


def ingest_inbox(
    engine: Engine,
    settings: Settings,
    *,
    job_run_id: int | None = None,
    settle_seconds: float = SETTLE_SECONDS,
) -> InboxReport:
    """Load each ready file in the ERP inbox once, masters first, and move it to processed/ or failed/.

    Files are taken in the order of their entity in the canonical layout
    (masters before the transactions that reference them), then by name.
    Names starting with '.' or ending in .tmp or .part are ignored, and
    files modified in the last `settle_seconds` are left for a later run.

    Raises sqlalchemy.exc.OperationalError when the database cannot run a
    load (connection lost, deadlock, timeout). That file and the files after
    it then stay in the inbox for the next run.
    """
    folder = erp_inbox_folder(settings)
    report = InboxReport()
    ready, report.waiting = _scan_inbox(folder, settle_seconds)

    for path in ready:
        try:
            inbox_file = _ingest_file(engine, settings, path, job_run_id)
        except FileNotFoundError:
            logger.warning("inbox: %s disappeared before it was read; it was not loaded", path.name)
            continue
        _move_with_report(path, inbox_file, job_run_id)
        _log_ingested(inbox_file)
        report.files.append(inbox_file)
    return report


def run_inbox_job(engine: Engine, job_run_id: int, settings: Settings) -> JobOutcome:
    """Run ingest_inbox as a worker job, which is partial when a file failed or could not be moved."""
    report = ingest_inbox(engine, settings, job_run_id=job_run_id)

    problems = [f"{f.file_name}: {f.error}" for f in report.with_outcome(FileOutcome.FAILED)]
    problems += [f"{f.file_name} could not be moved: {f.move_error}" for f in report.files if f.move_error]
    return JobOutcome(counts=report.counts(), partial=bool(problems), error="; ".join(problems) or None)


def _is_in_progress_name(name: str) -> bool:
    return name.startswith(".") or name.lower().endswith(IN_PROGRESS_SUFFIXES)


def _load_order(path: Path) -> tuple[int, str]:
    """Sort key: the entity's index in the canonical layout, unknown names last, then the name."""
    try:
        index = ENTITIES.index(entity_for_file_name(path.name))
    except FileRejected:
        index = len(ENTITIES)
    return index, path.name


def _scan_inbox(folder: Path, settle_seconds: float) -> tuple[list[Path], list[str]]:
    """Return the files ready to load in load order, and the names still being written."""
    ready: list[Path] = []
    waiting: list[str] = []
    now = time.time()
    for path in folder.iterdir():
        if _is_in_progress_name(path.name) or not path.is_file():
            continue
        try:
            age = now - path.stat().st_mtime
        except FileNotFoundError:
            continue
        if age < settle_seconds:
            logger.info("inbox: %s was modified %.1f s ago; leaving it for the next run", path.name, age)
            waiting.append(path.name)
            continue
        ready.append(path)
    return sorted(ready, key=_load_order), sorted(waiting)


def _ingest_file(engine: Engine, settings: Settings, path: Path, job_run_id: int | None) -> InboxFile:
    """Load one file unless its checksum was seen before, and register the checksum."""
    checksum = file_checksum(path)
    size_bytes = path.stat().st_size

    # load_canonical_file commits its own transaction, so the checksum cannot
    # be registered inside it. This transaction instead holds an advisory
    # lock on the checksum from before the load until the inbox_files row
    # commits: a second caller with the same content waits, then finds the
    # row. A crash after the load commits but before the row does leaves a
    # succeeded sync run with this checksum, which the next run finds and
    # registers without loading the file again.
    with engine.begin() as connection:
        lock_for_transaction(connection, "inbox_files", checksum)
        registered = _registered_file(connection, checksum)
        if registered is not None:
            return _seen_before(connection, path, checksum, size_bytes, registered)

        loaded_run_id = _succeeded_sync_run_id(connection, checksum)
        if loaded_run_id is not None:
            inbox_file = InboxFile(
                path.name, checksum, size_bytes, FileOutcome.ALREADY_LOADED,
                sync_run_id=loaded_run_id,
                note=f"sync run {loaded_run_id} already loaded this content; it was not loaded again",
            )
        else:
            inbox_file = _load(connection, engine, settings, path, checksum, size_bytes)
        _register(connection, inbox_file, job_run_id)
    return inbox_file


def _registered_file(connection: Connection, checksum: str):
    return connection.execute(
        select(schema.inbox_files).where(schema.inbox_files.c.checksum == checksum)
    ).first()


def _seen_before(connection: Connection, path: Path, checksum: str, size_bytes: int, registered) -> InboxFile:
    if registered.status == "processed":
        outcome = FileOutcome.ALREADY_LOADED
        sync_run_id = _succeeded_sync_run_id(connection, checksum)
    else:
        outcome = FileOutcome.ALREADY_FAILED
        sync_run_id = _latest_sync_run_id(connection, checksum)
    received = registered.received_at.isoformat()
    return InboxFile(
        path.name, checksum, size_bytes, outcome,
        sync_run_id=sync_run_id,
        error=registered.error,
        note=(
            f"same content as {registered.file_name}, received {received} and {registered.status}; "
            "it was not loaded again"
        ),
    )


def _succeeded_sync_run_id(connection: Connection, checksum: str) -> int | None:
    sync_runs = schema.sync_runs
    return connection.execute(
        select(sync_runs.c.id)
        .where(sync_runs.c.checksum == checksum, sync_runs.c.source == ERP_SOURCE, sync_runs.c.status == "succeeded")
        .order_by(sync_runs.c.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _latest_sync_run_id(connection: Connection, checksum: str) -> int | None:
    sync_runs = schema.sync_runs
    return connection.execute(
        select(sync_runs.c.id)
        .where(sync_runs.c.checksum == checksum, sync_runs.c.source == ERP_SOURCE)
        .order_by(sync_runs.c.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _load(connection: Connection, engine: Engine, settings: Settings, path: Path, checksum: str, size_bytes: int) -> InboxFile:
    """Load the file as one sync run, and return a FAILED InboxFile when the load is rejected or fails."""
    try:
        entity = entity_for_file_name(path.name)
    except FileRejected as error:
        return InboxFile(path.name, checksum, size_bytes, FileOutcome.FAILED, error=str(error))

    try:
        result = load_canonical_file(
            engine, path, source=ERP_SOURCE, entity=entity, business_timezone=settings.business_timezone
        )
    except OperationalError:
        # The database could not run the load now. The file stays in the
        # inbox, because failing it for good would block a retry of its content.
        raise
    except FileRejected as error:
        return InboxFile(
            path.name, checksum, size_bytes, FileOutcome.FAILED,
            entity=entity.name, sync_run_id=_latest_sync_run_id(connection, checksum), error=str(error),
        )
    except Exception as error:
        logger.exception("inbox: loading %s as %s failed", path.name, entity.name)
        return InboxFile(
            path.name, checksum, size_bytes, FileOutcome.FAILED,
            entity=entity.name, sync_run_id=_latest_sync_run_id(connection, checksum),
            error=f"{type(error).__name__}: {error}",
        )

    return InboxFile(
        path.name, checksum, size_bytes, FileOutcome.LOADED,
        entity=entity.name, sync_run_id=result.sync_run_id, result=result,
    )


def _register(connection: Connection, inbox_file: InboxFile, job_run_id: int | None) -> None:
    connection.execute(
        insert(schema.inbox_files).values(
            checksum=inbox_file.checksum,
            file_name=inbox_file.file_name,
            folder=ERP_SOURCE,
            size_bytes=inbox_file.size_bytes,
            status="processed" if inbox_file.destination == PROCESSED_FOLDER else "failed",
            job_run_id=job_run_id,
            error=inbox_file.error,
        )
    )


def _free_path(folder: Path, name: str) -> Path:
    """Return folder/name, or a timestamped name when that file or its report already exists."""
    candidate = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    number = 1
    while candidate.exists() or _report_path(candidate).exists():
        candidate = folder / f"{stem}.{stamp}{'' if number == 1 else f'-{number}'}{suffix}"
        number += 1
    return candidate


def _report_path(moved: Path) -> Path:
    return moved.with_name(moved.name + ".report.json")


def _move_with_report(path: Path, inbox_file: InboxFile, job_run_id: int | None) -> None:
    """Move the file to its destination folder and write its report beside it.

    A file that cannot be moved stays in the inbox. Its checksum is
    registered, so the next run moves it without loading it again.
    """
    # NOTE: the check for a free name and the rename are two steps, so a
    # file renamed into place between them is overwritten. The job lock keeps
    # two workers from moving files at the same time.
    target = _free_path(path.parent / inbox_file.destination, path.name)
    try:
        path.rename(target)
        inbox_file.moved_to = target
        _report_path(target).write_text(json.dumps(_report(inbox_file, job_run_id), indent=2), encoding="utf-8")
    except OSError as error:
        inbox_file.move_error = str(error)
        logger.exception("inbox: %s could not be moved to %s with its report", path.name, target)


def _report(inbox_file: InboxFile, job_run_id: int | None) -> dict:
    result = inbox_file.result
    counts = None
    top_reasons: list[dict] = []
    if result is not None:
        counts = {name: getattr(result, name) for name in ("read", "inserted", "updated", "unchanged", "rejected")}
        top_reasons = [{"reason": reason, "count": count} for reason, count in result.reasons.most_common(TOP_REASONS)]
    return {
        "file_name": inbox_file.file_name,
        "outcome": inbox_file.outcome.value,
        "checksum": inbox_file.checksum,
        "size_bytes": inbox_file.size_bytes,
        "entity": inbox_file.entity,
        "sync_run_id": inbox_file.sync_run_id,
        "job_run_id": job_run_id,
        "counts": counts,
        "top_reasons": top_reasons,
        "error": inbox_file.error,
        "note": inbox_file.note,
        "moved_at": datetime.now(timezone.utc).isoformat(),
    }


def _log_ingested(inbox_file: InboxFile) -> None:
    name, where = inbox_file.file_name, inbox_file.moved_to or "the inbox (not moved)"
    if inbox_file.outcome is FileOutcome.LOADED:
        result = inbox_file.result
        logger.info(
            "inbox: loaded %s as %s in sync run %d (read %d, inserted %d, updated %d, unchanged %d, rejected %d); "
            "moved to %s",
            name, inbox_file.entity, inbox_file.sync_run_id, result.read, result.inserted,
            result.updated, result.unchanged, result.rejected, where,
        )
    elif inbox_file.outcome is FileOutcome.FAILED:
        logger.warning(
            "inbox: %s failed (sync run %s): %s; moved to %s", name, inbox_file.sync_run_id, inbox_file.error, where
        )
    else:
        logger.info(
            "inbox: %s has checksum %s, %s; moved to %s", name, inbox_file.checksum[:12], inbox_file.note, where
        )
