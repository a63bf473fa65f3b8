"""Re-queue a corrected file: copy it into the inbox folder that loads its kind, under a new name, with an audit entry.

The inbox loads each content once (by sha256 checksum), so a corrected file
loads once, and a file whose content the inbox has already received is
rejected here instead of being moved to processed/ or failed/ unloaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, insert, select

from services.auth.roles import Actor, require_role
from services.db import schema
from services.operations import OPERATIONS_READERS
from services.settings import Settings
from services.sync.sources import classify, mapping_folders
from services.worker.inbox import FAILED_FOLDER, INBOX_FOLDERS, InboxFolder, inbox_folders
from services.worker.inbox import _classify_in as classify_in_folder
from services.worker.inbox import _wrong_folder_reason as wrong_folder_reason

logger = logging.getLogger(__name__)

REQUEUE_ACTION = "requeue_file"
FAILED_FILES_LIMIT = 500


class FileNotAccepted(ValueError):
    """An uploaded file that the inbox would not load: a bad name, an unknown kind, or content already received."""


@dataclass(frozen=True)
class RequeuedFile:
    """A re-queued file: its new name and path, and the kind the inbox will load it as."""

    original_name: str
    file_name: str
    folder: str
    path: Path
    kind: str
    checksum: str
    size_bytes: int
    audit_id: int


def requeue_corrected_file(
    engine: Engine, settings: Settings, actor: Actor, file_name: str, content: bytes, *,
    folder_name: str | None = None, now: datetime | None = None,
) -> RequeuedFile:
    """Write the corrected file into its inbox folder as <stem>.requeued-<UTC time><suffix>, and audit it.

    The folder is the one that loads the file's kind, or folder_name when
    given (such as the folder the failed original came from).

    Raises RoleRefused for a role other than operations leader or
    administrator, and FileNotAccepted naming the file when its name or
    content is one the inbox would not load, or its content was received
    before.
    """
    require_role(actor, "re-queue a corrected file", *OPERATIONS_READERS)
    now = now or datetime.now(timezone.utc)
    _check_name(file_name, content)
    kind, folder = _classify_upload(settings, file_name, content, folder_name)
    checksum = hashlib.sha256(content).hexdigest()

    with engine.begin() as connection:
        _check_not_received(connection, file_name, checksum)
        target = _new_path(inbox_folders(settings)[folder.name], file_name, now)
        audit_id = connection.execute(
            insert(schema.audit_log)
            .values(
                actor=actor.username,
                action=REQUEUE_ACTION,
                entity="inbox_file",
                entity_id=f"{folder.name}/{target.name}",
                after={"original_name": file_name, "file_name": target.name, "folder": folder.name, "kind": kind,
                       "checksum": checksum, "size_bytes": len(content)},
                reason=f"corrected file {file_name} re-queued for the inbox",
                source="app",
            )
            .returning(schema.audit_log.c.id)
        ).scalar_one()
        _write_atomically(target, content)

    logger.info(
        "re-queued %s as %s/%s (%s, %d bytes, checksum %s) for %s, audit entry %d",
        file_name, folder.name, target.name, kind, len(content), checksum[:12], actor.username, audit_id,
    )
    return RequeuedFile(file_name, target.name, folder.name, target, kind, checksum, len(content), audit_id)


def _check_name(file_name: str, content: bytes) -> None:
    name = Path(file_name).name
    if not file_name or name != file_name or file_name in (".", ".."):
        raise FileNotAccepted(f"file name {file_name!r} is not a plain file name; upload the file itself, without a folder")
    if name.startswith(".") or name.lower().endswith((".tmp", ".part")):
        raise FileNotAccepted(
            f"file name {file_name!r} starts with '.' or ends in .tmp or .part, which the inbox skips as still being "
            "written; rename the file"
        )
    if not content:
        raise FileNotAccepted(f"{file_name} is empty; upload the corrected file with its records")


def _classify_upload(settings: Settings, file_name: str, content: bytes, folder_name: str | None) -> tuple[str, InboxFolder]:
    """Return the kind of the upload and the inbox folder that loads it, classifying a temporary copy.

    With folder_name, the file is classified as that inbox folder would
    classify it, so an export named after an entity can go to exports/.
    """
    folders = {folder.name: folder for folder in INBOX_FOLDERS}
    if folder_name is not None and folder_name not in folders:
        raise FileNotAccepted(f"inbox folder {folder_name!r} does not exist; use one of {', '.join(folders)}")
    mappings = mapping_folders(settings)
    with tempfile.TemporaryDirectory(prefix="requeue-") as directory:
        path = Path(directory) / file_name
        path.write_bytes(content)
        if folder_name is None:
            kind, detail = classify(path, mappings)
            if kind == "skipped":
                raise FileNotAccepted(f"{file_name} is not a file the inbox loads: {detail}")
            return kind, next(folder for folder in INBOX_FOLDERS if kind in folder.kinds)
        folder = folders[folder_name]
        kind, detail = classify_in_folder(folder, path, mappings)
        if kind not in folder.kinds:
            raise FileNotAccepted(wrong_folder_reason(path, folder, kind, detail, settings))
        return kind, folder


def _check_not_received(connection, file_name: str, checksum: str) -> None:
    registered = connection.execute(
        select(schema.inbox_files).where(schema.inbox_files.c.checksum == checksum)
    ).first()
    if registered is not None:
        raise FileNotAccepted(
            f"{file_name} has the same content as {registered.folder}/{registered.file_name}, received "
            f"{registered.received_at.isoformat()} and {registered.status}; the inbox would not load it again, "
            "so correct the file before re-queuing it"
        )


def _new_path(folder: Path, file_name: str, now: datetime) -> Path:
    """Return folder/<stem>.requeued-<UTC time><suffix>, numbered when that name is taken."""
    stem, suffix = Path(file_name).stem, Path(file_name).suffix
    stamp = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    candidate, number = folder / f"{stem}.requeued-{stamp}{suffix}", 1
    while candidate.exists():
        number += 1
        candidate = folder / f"{stem}.requeued-{stamp}-{number}{suffix}"
    return candidate


def _write_atomically(target: Path, content: bytes) -> None:
    """Write under a .part name, which the inbox skips, then rename into place."""
    partial = target.with_name(f".{target.name}.part")
    partial.write_bytes(content)
    partial.rename(target)


def list_failed_inbox_files(settings: Settings, actor: Actor) -> pd.DataFrame:
    """List the files in the inbox's failed/ folders with the error from their report, newest first, at most 500."""
    require_role(actor, "read the failed inbox files", *OPERATIONS_READERS)
    rows = []
    for name, path in inbox_folders(settings).items():
        for report in (path / FAILED_FOLDER).glob("*.report.json"):
            try:
                data = json.loads(report.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                logger.warning("failed inbox file report %s cannot be read: %s", report, error)
                data = {"error": f"report unreadable: {error}"}
            rows.append({
                "folder": name,
                "file_name": report.name[: -len(".report.json")],
                "moved_at": data.get("moved_at"),
                "kind": data.get("kind"),
                "error": data.get("error"),
            })
    frame = pd.DataFrame(rows, columns=["folder", "file_name", "moved_at", "kind", "error"])
    frame["moved_at"] = pd.to_datetime(frame["moved_at"], utc=True, format="ISO8601")
    return frame.sort_values("moved_at", ascending=False, na_position="last").head(FAILED_FILES_LIMIT).reset_index(drop=True)
