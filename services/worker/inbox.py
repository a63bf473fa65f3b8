"""The inbox job: load each file dropped in an inbox folder once, through the connector its folder names.

| folder of <data>/inbox | reads |
|---|---|
| erp/ | canonical CSV files, one entity per file, named after it |
| exports/ | foreign ERP exports (CSV or Excel) that a mapping file matches |
| frepple/ | frePPLe fixtures, replayed at the date in frepple/as_of.txt or else at their own current date |
| edi/ | supplier EDI: X12 850, 855 and 856, EDIFACT ORDRSP |

A file is identified by the sha256 checksum of its content, registered in
inbox_files. After its run the file moves to processed/ or failed/ inside
its folder, together with <name>.report.json: checksum, kind, each sync
run with its counts and top rejection reasons, and the error.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from enum import StrEnum
from pathlib import Path

from sqlalchemy import Connection, Engine, func, insert, select, text
from sqlalchemy.exc import OperationalError

from services.db import schema
from services.settings import Settings
from services.sync.canonical import FileRejected, entity_for_file_name, file_checksum
from services.sync.layout import ENTITIES
from services.sync.sources import KIND_ORDER, classify, find_mapping, frepple_current_date, mapping_folders, sync_file
from services.worker.job_runs import JobOutcome
from services.worker.locks import lock_for_transaction

logger = logging.getLogger(__name__)

INBOX_JOB_NAME = "sync_inbox"
PROCESSED_FOLDER = "processed"
FAILED_FOLDER = "failed"
# A file modified more recently than this is taken to be still being written.
SETTLE_SECONDS = 2.0
IN_PROGRESS_SUFFIXES = (".tmp", ".part")
TOP_REASONS = 5
# The file in frepple/ that sets the replay date of every fixture there.
AS_OF_FILE_NAME = "as_of.txt"
EXPORT_SUFFIXES = (".csv", ".xlsx", ".xlsm")
# load_canonical_file, which reads every file of erp/, records its runs under this source.
CANONICAL_SOURCE = "erp"
COUNT_NAMES = ("read", "inserted", "updated", "unchanged", "rejected")


@dataclass(frozen=True)
class InboxFolder:
    """A folder of the inbox, what it contains, and the file kinds (of sources.classify) it loads."""

    name: str
    contents: str
    kinds: tuple[str, ...]


ERP_FOLDER = InboxFolder("erp", "canonical CSV files", ("canonical",))
EXPORTS_FOLDER = InboxFolder("exports", "ERP exports read through a mapping file", ("export",))
FREPPLE_FOLDER = InboxFolder("frepple", "frePPLe fixtures", ("frepple",))
EDI_FOLDER = InboxFolder("edi", "supplier EDI files", ("edi-850", "edi-855", "edi-ordrsp", "edi-856", "edi"))
INBOX_FOLDERS = (ERP_FOLDER, EXPORTS_FOLDER, FREPPLE_FOLDER, EDI_FOLDER)

KIND_DESCRIPTIONS = {
    "canonical": "a canonical CSV file",
    "export": "an ERP export that a mapping file matches",
    "frepple": "a frePPLe fixture",
    "edi-850": "an X12 850 purchase order",
    "edi-855": "an X12 855 purchase order acknowledgement",
    "edi-ordrsp": "an EDIFACT ORDRSP order response",
    "edi-856": "an X12 856 advance ship notice",
    "edi": "an EDI interchange",
}

# Quarantined records per sync run and reason, with the reason cut to its
# first clause and quoted values blanked, as SyncResult.reasons counts them.
RUN_REASONS = text(
    """
    select sync_run_id, reason, count(*) as records
    from (
        select id, sync_run_id, regexp_replace(split_part(reason, ';', 1), '''[^'']*''', '...', 'g') as reason
        from quarantine
        where sync_run_id = any(:run_ids)
    ) blanked
    group by sync_run_id, reason
    order by sync_run_id, records desc, min(id)
    """
)


class FileOutcome(StrEnum):
    """The result of one run for one inbox file."""

    LOADED = "loaded"
    FAILED = "failed"
    ALREADY_LOADED = "already_loaded"
    ALREADY_FAILED = "already_failed"


@dataclass(frozen=True)
class SyncRunSummary:
    """One sync run that loading a file wrote, as sync_runs and quarantine record it."""

    sync_run_id: int
    source: str
    entity: str
    status: str
    counts: dict[str, int]
    top_reasons: list[tuple[str, int]]
    error: str | None


@dataclass
class InboxFile:
    """One file taken from the inbox by one run, and where it went."""

    file_name: str
    folder: str
    checksum: str
    size_bytes: int
    outcome: FileOutcome
    kind: str | None = None
    mapping: str | None = None
    as_of: date | None = None
    sync_runs: list[SyncRunSummary] = field(default_factory=list)
    earlier_sync_run_ids: list[int] = field(default_factory=list)
    error: str | None = None
    note: str | None = None
    moved_to: Path | None = None
    move_error: str | None = None

    @property
    def inbox_name(self) -> str:
        """The file's name with its inbox folder, such as erp/items.csv."""
        return f"{self.folder}/{self.file_name}"

    @property
    def destination(self) -> str:
        """The folder the file moves to: processed/ after a load, failed/ otherwise."""
        if self.outcome in (FileOutcome.LOADED, FileOutcome.ALREADY_LOADED):
            return PROCESSED_FOLDER
        return FAILED_FOLDER

    def counts(self) -> dict[str, int] | None:
        """Row counts summed over the succeeded sync runs of this load, or None when none succeeded."""
        succeeded = [run for run in self.sync_runs if run.status == "succeeded"]
        if not succeeded:
            return None
        return {name: sum(run.counts[name] for run in succeeded) for name in COUNT_NAMES}

    def top_reasons(self) -> list[tuple[str, int]]:
        """Return the most frequent rejection reasons of this load, merged from the top reasons of each sync run."""
        merged: Counter = Counter()
        for run in self.sync_runs:
            for reason, count in run.top_reasons:
                merged[reason] += count
        return merged.most_common(TOP_REASONS)


@dataclass
class InboxReport:
    """The files one inbox run took, the names it left for a later run, and folder-level problems."""

    files: list[InboxFile] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def with_outcome(self, outcome: FileOutcome) -> list[InboxFile]:
        return [inbox_file for inbox_file in self.files if inbox_file.outcome is outcome]

    def counts(self) -> dict[str, int]:
        """File counts by outcome, and row counts summed over the sync runs that succeeded in this run."""
        file_counts = [inbox_file.counts() for inbox_file in self.files]
        counts = {f"files_{outcome.value}": len(self.with_outcome(outcome)) for outcome in FileOutcome}
        counts["files_waiting"] = len(self.waiting)
        counts["files_not_moved"] = sum(1 for inbox_file in self.files if inbox_file.move_error)
        for name in COUNT_NAMES:
            counts[f"rows_{name}"] = sum(file_count[name] for file_count in file_counts if file_count)
        return counts


@dataclass(frozen=True)
class PlannedFile:
    """A ready file and the kind its folder loads it as, or the reason its folder cannot load it."""

    path: Path
    folder: InboxFolder
    kind: str | None
    mapping: str | None = None
    as_of: date | None = None
    rejection: str | None = None


def inbox_folders(settings: Settings) -> dict[str, Path]:
    """Return each inbox folder by name, creating it and its processed/ and failed/ folders when missing."""
    folders = {}
    for folder in INBOX_FOLDERS:
        path = settings.inbox_dir / folder.name
        for created in (path / PROCESSED_FOLDER, path / FAILED_FOLDER):
            created.mkdir(parents=True, exist_ok=True)
        folders[folder.name] = path
    return folders


def ingest_inbox(
    engine: Engine,
    settings: Settings,
    *,
    job_run_id: int | None = None,
    settle_seconds: float = SETTLE_SECONDS,
) -> InboxReport:
    """Load each ready file of every inbox folder once, in dependency order, and move it to processed/ or failed/.

    The files of all folders load in one order. They are sorted by kind as
    KIND_ORDER lists them: canonical files, exports, frePPLe fixtures, then
    EDI 850, 855 and ORDRSP, 856. Canonical files follow their entity's
    place in the canonical layout (masters first), and ties go by name.
    Files that their folder cannot load come last. Names starting with '.'
    or ending in .tmp or .part are ignored, and files modified in the last
    `settle_seconds` are left for a later run.

    Raises sqlalchemy.exc.OperationalError when the database cannot run a
    load (connection lost, deadlock, timeout). That file and the files after
    it then stay in the inbox for the next run.
    """
    report = InboxReport()
    planned = _plan_inbox(settings, settle_seconds, report)

    for planned_file in sorted(planned, key=_load_order):
        try:
            inbox_file = _ingest_file(engine, settings, planned_file, job_run_id)
        except FileNotFoundError:
            logger.warning("inbox: %s disappeared before it was read; it was not loaded", planned_file.path)
            continue
        _move_with_report(planned_file.path, inbox_file, job_run_id)
        _log_ingested(inbox_file)
        report.files.append(inbox_file)
    return report


def run_inbox_job(engine: Engine, job_run_id: int, settings: Settings) -> JobOutcome:
    """Run ingest_inbox as a worker job, which is partial when a file or a folder failed, or a file could not be moved."""
    report = ingest_inbox(engine, settings, job_run_id=job_run_id)

    problems = list(report.problems)
    problems += [f"{f.inbox_name}: {f.error}" for f in report.with_outcome(FileOutcome.FAILED)]
    problems += [f"{f.inbox_name} could not be moved: {f.move_error}" for f in report.files if f.move_error]
    return JobOutcome(counts=report.counts(), partial=bool(problems), error="; ".join(problems) or None)


def read_replay_date(path: Path) -> date | None:
    """Return the date written in frepple/as_of.txt, or None when the file does not exist.

    Raises ValueError naming the file and its text when the file contains
    anything but one date written as YYYY-MM-DD.
    """
    try:
        content = path.read_bytes().decode("utf-8", errors="replace").strip()
    except FileNotFoundError:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", content):
        try:
            return date.fromisoformat(content)
        except ValueError:
            pass
    raise ValueError(
        f"{path} contains {content[:40]!r}, not a date written as YYYY-MM-DD; correct it, "
        f"and the frePPLe fixtures wait in {path.parent} until then"
    )


# --- Scanning and planning ----------------------------------------------------


def _plan_inbox(settings: Settings, settle_seconds: float, report: InboxReport) -> list[PlannedFile]:
    """Find the ready files of every folder and decide how each loads; note waiting names in the report."""
    paths = inbox_folders(settings)
    mappings = mapping_folders(settings)
    planned: list[PlannedFile] = []
    for folder in INBOX_FOLDERS:
        ready, waiting = _scan_folder(paths[folder.name], folder, settle_seconds)
        report.waiting += [f"{folder.name}/{name}" for name in waiting]
        replay = None
        if folder is FREPPLE_FOLDER and ready:
            try:
                replay = read_replay_date(paths[folder.name] / AS_OF_FILE_NAME) or settings.as_of
            except ValueError as error:
                logger.warning("inbox: %s", error)
                report.problems.append(str(error))
                report.waiting += [f"{folder.name}/{path.name}" for path in ready]
                continue
        for path in ready:
            planned_file = _plan_file(path, folder, settings, mappings, replay)
            if planned_file is not None:
                planned.append(planned_file)
    report.waiting.sort()
    return planned


def _is_in_progress_name(name: str) -> bool:
    return name.startswith(".") or name.lower().endswith(IN_PROGRESS_SUFFIXES)


def _scan_folder(directory: Path, folder: InboxFolder, settle_seconds: float) -> tuple[list[Path], list[str]]:
    """Return the folder's files ready to load, and the names still being written."""
    settings_files = {AS_OF_FILE_NAME} if folder is FREPPLE_FOLDER else set()
    ready: list[Path] = []
    waiting: list[str] = []
    now = time.time()
    for path in sorted(directory.iterdir()):
        if _is_in_progress_name(path.name) or path.name in settings_files or not path.is_file():
            continue
        try:
            age = now - path.stat().st_mtime
        except FileNotFoundError:
            continue
        if age < settle_seconds:
            logger.info("inbox: %s/%s was modified %.1f s ago; leaving it for the next run", folder.name, path.name, age)
            waiting.append(path.name)
            continue
        ready.append(path)
    return ready, waiting


def _plan_file(path: Path, folder: InboxFolder, settings: Settings, mappings: list[Path], replay: date | None) -> PlannedFile | None:
    """Decide how one file of the folder loads, or return None when it disappeared while being read."""
    try:
        return _plan_readable_file(path, folder, settings, mappings, replay)
    except FileNotFoundError:
        logger.warning("inbox: %s/%s disappeared before it was read; it was not loaded", folder.name, path.name)
        return None
    except Exception as error:
        logger.exception("inbox: %s/%s could not be classified", folder.name, path.name)
        return PlannedFile(path, folder, None, rejection=f"{path.name} could not be read: {type(error).__name__}: {error}")


def _plan_readable_file(path: Path, folder: InboxFolder, settings: Settings, mappings: list[Path], replay: date | None) -> PlannedFile:
    kind, detail = _classify_in(folder, path, mappings)
    if kind not in folder.kinds:
        return PlannedFile(path, folder, None, rejection=_wrong_folder_reason(path, folder, kind, detail, settings))
    if kind == "export":
        return PlannedFile(path, folder, kind, mapping=detail)
    if kind == "frepple":
        return _plan_replay(path, folder, replay)
    return PlannedFile(path, folder, kind)


def _classify_in(folder: InboxFolder, path: Path, mappings: list[Path]) -> tuple[str, str]:
    """Return the file's kind and detail, trying a mapping first for a file of exports/.

    classify takes a CSV file whose name names an entity as canonical, so an
    export named after an entity would otherwise never reach its mapping.
    """
    if folder is EXPORTS_FOLDER and path.suffix.lower() in EXPORT_SUFFIXES:
        mapping = find_mapping(path, mappings)
        if mapping is not None:
            return "export", str(mapping)
    return classify(path, mappings)


def _folder_for(kind: str) -> InboxFolder:
    return next(folder for folder in INBOX_FOLDERS if kind in folder.kinds)


def _wrong_folder_reason(path: Path, folder: InboxFolder, kind: str, detail: str, settings: Settings) -> str:
    """Explain why the folder cannot load the file, and name the folder it belongs in when there is one."""
    name = path.name
    if kind == "skipped" and folder is ERP_FOLDER:
        try:
            entity_for_file_name(name)
        except FileRejected as error:
            return str(error)
    if kind == "skipped" and folder is EXPORTS_FOLDER and path.suffix.lower() in EXPORT_SUFFIXES:
        return (
            f"no mapping file matches the columns of {name}; write one into {settings.data_dir / 'mappings'} "
            f"(see docs/mapping-files.md), then move the file back into {settings.inbox_dir / folder.name}"
        )
    if kind == "skipped":
        return f"{name} is not one of the {folder.contents} that {folder.name}/ loads: {detail}"
    if kind == "canonical" and folder is EXPORTS_FOLDER:
        return (
            f"{name} names a canonical entity and no mapping file matches its columns; move it into "
            f"{settings.inbox_dir / ERP_FOLDER.name} if it is in the canonical layout, or write a mapping "
            f"file for it into {settings.data_dir / 'mappings'}"
        )
    home = _folder_for(kind)
    return (
        f"{name} is {KIND_DESCRIPTIONS[kind]}, not one of the {folder.contents} that {folder.name}/ loads; "
        f"move it into {settings.inbox_dir / home.name} to load it"
    )


def _plan_replay(path: Path, folder: InboxFolder, replay: date | None) -> PlannedFile:
    """Give a fixture its replay date: as_of.txt's date, else the fixture's own current date."""
    if replay is not None:
        return PlannedFile(path, folder, "frepple", as_of=replay)
    try:
        own_date = frepple_current_date(path)
    except ValueError:
        # The load reads the fixture again and fails it with the parse error.
        return PlannedFile(path, folder, "frepple")
    if own_date is None:
        as_of_path = path.parent / AS_OF_FILE_NAME
        return PlannedFile(
            path, folder, None,
            rejection=(
                f"{path.name} has no currentdate parameter, so its replay date is unknown; write the date "
                f"as YYYY-MM-DD into {as_of_path}, then move the file back into {path.parent}"
            ),
        )
    return PlannedFile(path, folder, "frepple", as_of=own_date)


def _load_order(planned: PlannedFile) -> tuple[int, int, str, str]:
    """Sort key: the kind's place in KIND_ORDER (files not loadable last), the canonical entity, the name."""
    if planned.kind is None:
        return len(KIND_ORDER), 0, planned.path.name, planned.folder.name
    entity_rank = ENTITIES.index(entity_for_file_name(planned.path.name)) if planned.kind == "canonical" else 0
    return KIND_ORDER.index(planned.kind), entity_rank, planned.path.name, planned.folder.name


# --- Loading once per checksum ------------------------------------------------


def _ingest_file(engine: Engine, settings: Settings, planned: PlannedFile, job_run_id: int | None) -> InboxFile:
    """Load one file unless its checksum was seen before, and register the checksum."""
    path = planned.path
    checksum = file_checksum(path)
    size_bytes = path.stat().st_size

    if planned.rejection is not None:
        # Nothing was loaded, so the checksum stays unregistered: the same
        # content moved into its folder, or renamed, loads on a later run.
        return InboxFile(path.name, planned.folder.name, checksum, size_bytes, FileOutcome.FAILED, error=planned.rejection)

    # The connectors commit their own transactions, so the checksum cannot be
    # registered inside them. This transaction instead holds an advisory lock
    # on the checksum from before the load until the inbox_files row commits.
    # A second caller with the same content waits, then finds the row.
    with engine.begin() as connection:
        lock_for_transaction(connection, "inbox_files", checksum)
        registered = _registered_file(connection, checksum)
        if registered is not None:
            return _seen_before(connection, planned, checksum, size_bytes, registered)

        inbox_file = _loaded_before(connection, planned, checksum, size_bytes)
        if inbox_file is None:
            inbox_file = _load(connection, engine, settings, planned, checksum, size_bytes)
        _register(connection, inbox_file, job_run_id)
    return inbox_file


def _registered_file(connection: Connection, checksum: str):
    return connection.execute(
        select(schema.inbox_files).where(schema.inbox_files.c.checksum == checksum)
    ).first()


def _seen_before(connection: Connection, planned: PlannedFile, checksum: str, size_bytes: int, registered) -> InboxFile:
    processed = registered.status == "processed"
    received = registered.received_at.isoformat()
    return InboxFile(
        planned.path.name, planned.folder.name, checksum, size_bytes,
        FileOutcome.ALREADY_LOADED if processed else FileOutcome.ALREADY_FAILED,
        kind=planned.kind,
        earlier_sync_run_ids=_sync_run_ids(connection, checksum, succeeded_only=processed),
        error=registered.error,
        note=(
            f"same content as {registered.file_name}, received {received} and {registered.status}; "
            "it was not loaded again"
        ),
    )


def _loaded_before(connection: Connection, planned: PlannedFile, checksum: str, size_bytes: int) -> InboxFile | None:
    """Return an ALREADY_LOADED file when a succeeded sync run proves that a complete load of this content committed.

    A worker that stops after a load commits but before its inbox_files row
    does leaves the file unregistered in the inbox. A canonical file is one
    sync run, so a succeeded run with its checksum is a complete load, and
    the file is registered without loading it again. The other connectors
    write several sync runs (and an export then rolls receipts and
    shipments up outside any run), so no run proves that their load
    finished, and _load loads such a file again in full. Each connector upserts
    by (source, source_key) and leaves a row alone whose stored source
    timestamp is newer, so the records of the interrupted load are written
    again with the same values.
    """
    # NOTE: an export whose mapping gives no source_updated_at is stamped with
    # the load's start time, so loading it again overwrites records that a
    # newer export of the same source changed in between.
    if planned.kind != "canonical":
        return None
    sync_runs = schema.sync_runs
    loaded_run_id = connection.execute(
        select(sync_runs.c.id)
        .where(
            sync_runs.c.checksum == checksum,
            sync_runs.c.source == CANONICAL_SOURCE,
            sync_runs.c.status == "succeeded",
        )
        .order_by(sync_runs.c.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if loaded_run_id is None:
        return None
    return InboxFile(
        planned.path.name, planned.folder.name, checksum, size_bytes, FileOutcome.ALREADY_LOADED,
        kind=planned.kind,
        earlier_sync_run_ids=[loaded_run_id],
        note=f"sync run {loaded_run_id} already loaded this content; it was not loaded again",
    )


def _sync_run_ids(connection: Connection, checksum: str, *, succeeded_only: bool) -> list[int]:
    sync_runs = schema.sync_runs
    query = select(sync_runs.c.id).where(sync_runs.c.checksum == checksum).order_by(sync_runs.c.id)
    if succeeded_only:
        query = query.where(sync_runs.c.status == "succeeded")
    return list(connection.execute(query).scalars())


def _load(connection: Connection, engine: Engine, settings: Settings, planned: PlannedFile, checksum: str, size_bytes: int) -> InboxFile:
    """Load the file through its connector, and return it FAILED when the load is rejected or fails."""
    inbox_file = InboxFile(
        planned.path.name, planned.folder.name, checksum, size_bytes, FileOutcome.LOADED,
        kind=planned.kind, mapping=planned.mapping, as_of=planned.as_of,
    )
    earlier = _sync_run_ids(connection, checksum, succeeded_only=True)
    if earlier:
        inbox_file.earlier_sync_run_ids = earlier
        inbox_file.note = (
            f"{_run_words(earlier)} loaded this content before, and the inbox has no record that "
            "the load finished; it was loaded again in full"
        )
    last_run_id = connection.execute(select(func.coalesce(func.max(schema.sync_runs.c.id), 0))).scalar_one()

    try:
        synced = sync_file(
            engine, planned.path, settings, kind=planned.kind, detail=planned.mapping or "", as_of=planned.as_of
        )
        inbox_file.error = synced.error
    except OperationalError:
        # The database could not run the load now. The file stays in the
        # inbox, because failing it for good would block a retry of its content.
        raise
    except Exception as error:
        logger.exception("inbox: loading %s as %s failed", inbox_file.inbox_name, planned.kind)
        inbox_file.error = f"{type(error).__name__}: {error}"

    if inbox_file.error is not None:
        inbox_file.outcome = FileOutcome.FAILED
    # The advisory lock on the checksum keeps any other inbox run from
    # writing sync runs with it, so the runs after last_run_id are this load's.
    inbox_file.sync_runs = _sync_runs_since(connection, checksum, last_run_id)
    return inbox_file


def _run_words(run_ids: list[int]) -> str:
    if not run_ids:
        return "no sync run"
    if len(run_ids) == 1:
        return f"sync run {run_ids[0]}"
    return f"sync runs {', '.join(str(run_id) for run_id in run_ids)}"


def _sync_runs_since(connection: Connection, checksum: str, after_id: int) -> list[SyncRunSummary]:
    """Summarize the sync runs with this checksum after after_id, with their top rejection reasons."""
    sync_runs = schema.sync_runs
    rows = connection.execute(
        select(sync_runs)
        .where(sync_runs.c.checksum == checksum, sync_runs.c.id > after_id)
        .order_by(sync_runs.c.id)
    ).all()
    reasons: dict[int, list[tuple[str, int]]] = {row.id: [] for row in rows}
    if rows:
        for reason in connection.execute(RUN_REASONS, {"run_ids": list(reasons)}):
            if len(reasons[reason.sync_run_id]) < TOP_REASONS:
                reasons[reason.sync_run_id].append((reason.reason, reason.records))
    return [
        SyncRunSummary(
            sync_run_id=row.id,
            source=row.source,
            entity=row.entity,
            status=row.status,
            counts={name: getattr(row, f"{name}_count") for name in COUNT_NAMES},
            top_reasons=reasons[row.id],
            error=row.error,
        )
        for row in rows
    ]


def _register(connection: Connection, inbox_file: InboxFile, job_run_id: int | None) -> None:
    connection.execute(
        insert(schema.inbox_files).values(
            checksum=inbox_file.checksum,
            file_name=inbox_file.file_name,
            folder=inbox_file.folder,
            size_bytes=inbox_file.size_bytes,
            status="processed" if inbox_file.destination == PROCESSED_FOLDER else "failed",
            job_run_id=job_run_id,
            error=inbox_file.error,
        )
    )


# --- Moving files and writing reports -------------------------------------------


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

    A file that cannot be moved stays in the inbox. A loaded file's checksum
    is registered, so the next run moves it without loading it again.
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
        logger.exception("inbox: %s could not be moved to %s with its report", inbox_file.inbox_name, target)


def _report(inbox_file: InboxFile, job_run_id: int | None) -> dict:
    return {
        "file_name": inbox_file.file_name,
        "folder": inbox_file.folder,
        "kind": inbox_file.kind,
        "mapping": inbox_file.mapping,
        "as_of": inbox_file.as_of.isoformat() if inbox_file.as_of else None,
        "outcome": inbox_file.outcome.value,
        "checksum": inbox_file.checksum,
        "size_bytes": inbox_file.size_bytes,
        "job_run_id": job_run_id,
        "counts": inbox_file.counts(),
        "top_reasons": _reason_entries(inbox_file.top_reasons()),
        "sync_runs": [
            {
                "sync_run_id": run.sync_run_id,
                "source": run.source,
                "entity": run.entity,
                "status": run.status,
                "counts": run.counts if run.status == "succeeded" else None,
                "top_reasons": _reason_entries(run.top_reasons),
                "error": run.error,
            }
            for run in inbox_file.sync_runs
        ],
        "earlier_sync_run_ids": inbox_file.earlier_sync_run_ids,
        "error": inbox_file.error,
        "note": inbox_file.note,
        "moved_at": datetime.now(timezone.utc).isoformat(),
    }


def _reason_entries(reasons: list[tuple[str, int]]) -> list[dict]:
    return [{"reason": reason, "count": count} for reason, count in reasons]


def _log_ingested(inbox_file: InboxFile) -> None:
    name, where = inbox_file.inbox_name, inbox_file.moved_to or "the inbox (not moved)"
    if inbox_file.outcome is FileOutcome.LOADED:
        counts = inbox_file.counts() or dict.fromkeys(COUNT_NAMES, 0)
        logger.info(
            "inbox: loaded %s as %s in %s (read %d, inserted %d, updated %d, unchanged %d, rejected %d); moved to %s",
            name, inbox_file.kind, _run_words([run.sync_run_id for run in inbox_file.sync_runs]),
            *(counts[count_name] for count_name in COUNT_NAMES), where,
        )
    elif inbox_file.outcome is FileOutcome.FAILED:
        logger.warning(
            "inbox: %s failed (%s): %s; moved to %s",
            name, _run_words([run.sync_run_id for run in inbox_file.sync_runs]), inbox_file.error, where,
        )
    else:
        logger.info(
            "inbox: %s has checksum %s, %s; moved to %s", name, inbox_file.checksum[:12], inbox_file.note, where
        )
