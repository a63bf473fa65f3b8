"""Recognise what a file is and load it through the connector that reads it.

`control-tower sync` hands files or folders here. A canonical CSV file is
known by its name, a mapped export by a mapping whose columns its header
contains, a frePPLe fixture by its JSON records, supplier EDI by its
envelope (ISA for X12, UNA or UNB for EDIFACT).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from services.settings import PROJECT_ROOT, Settings
from services.sync.canonical import FileRejected, SyncResult, entity_for_file_name, load_canonical_file

logger = logging.getLogger(__name__)

BUILT_IN_MAPPINGS = PROJECT_ROOT / "seed_data" / "mappings"

# Load order across kinds: masters and orders first, then supplier messages
# that refer to purchase order lines, in the order a supplier sends them.
KIND_ORDER = ("canonical", "export", "frepple", "edi-850", "edi-855", "edi-ordrsp", "edi-856", "edi")


@dataclass
class SyncedFile:
    path: Path
    kind: str
    results: list[SyncResult] = field(default_factory=list)
    error: str | None = None
    detail: str = ""


def mapping_folders(settings: Settings) -> list[Path]:
    """Folders searched for mapping files: the data folder's mappings/, then the built-in ones."""
    return [settings.data_dir / "mappings", BUILT_IN_MAPPINGS]


def find_mapping(path: Path, folders: list[Path]) -> Path | None:
    """Return the first mapping file whose every mapped column is in the export's header."""
    from services.sync.mapping import MappingError, load_mapping
    from services.sync.mapping.readers import open_export

    for folder in folders:
        for mapping_path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
            try:
                mapping = load_mapping(mapping_path)
                header = set(open_export(path, mapping.export, mapping.name).header)
            except (MappingError, FileRejected, UnicodeDecodeError):
                continue
            needed = {name for target in mapping.targets for name in target.foreign_columns()}
            if needed <= header:
                return mapping_path
    return None


def _edi_kind(path: Path) -> str | None:
    head = path.read_bytes()[:4096].decode("latin-1").lstrip()
    if head.startswith("ISA"):
        found = re.search(r"ST.(\d{3})", head)
        return f"edi-{found.group(1)}" if found and found.group(1) in ("850", "855", "856") else "edi"
    if head.startswith(("UNA", "UNB")):
        return "edi-ordrsp" if "ORDRSP" in head else "edi"
    return None


def _is_frepple_fixture(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            start = handle.read(4096).decode("utf-8", errors="replace").lstrip()
    except OSError:
        return False
    return start.startswith("[") and '"model"' in start


def classify(path: Path, folders: list[Path]) -> tuple[str, str]:
    """Return the kind of a file and a detail (the mapping path, or why it is skipped)."""
    suffix = path.suffix.lower()
    edi = _edi_kind(path) if suffix not in (".csv", ".xlsx", ".xlsm", ".json", ".gz") else None
    if edi:
        return edi, ""
    if suffix == ".json":
        if _is_frepple_fixture(path):
            return "frepple", ""
        return "skipped", "a JSON file that is not a frePPLe fixture"
    if suffix in (".csv", ".xlsx", ".xlsm"):
        if suffix == ".csv":
            try:
                entity_for_file_name(path.name)
                return "canonical", ""
            except FileRejected:
                pass
        mapping = find_mapping(path, folders)
        if mapping:
            return "export", str(mapping)
        return "skipped", (
            "neither a canonical file name nor an export any mapping file matches; "
            "write a mapping (docs/mapping-files.md) into the data folder's mappings/ folder"
        )
    return "skipped", f"no connector reads {suffix or 'files without a suffix'} files"


def frepple_current_date(path: Path) -> date | None:
    """Return the fixture's own current date (frePPLe's currentdate parameter), or None."""
    for record in json.loads(path.read_text(encoding="utf-8")):
        fields = record.get("fields", {}) if isinstance(record, dict) else {}
        if record.get("model") == "common.parameter" and fields.get("name") == "currentdate":
            return date.fromisoformat(str(fields.get("value", ""))[:10])
    return None


def sync_file(engine: Engine, path: Path, settings: Settings, *, kind: str, detail: str, as_of: date | None) -> SyncedFile:
    """Load one file with its connector; a whole-file rejection is returned as the file's error."""
    synced = SyncedFile(path, kind, detail=detail)
    zone = settings.business_timezone
    try:
        if kind == "canonical":
            synced.results = [load_canonical_file(engine, path, business_timezone=zone)]
        elif kind == "export":
            from services.sync.mapping import sync_export

            synced.results = sync_export(engine, path, Path(detail), business_timezone=zone)
        elif kind == "frepple":
            from services.sync.frepple import sync_frepple

            replay = as_of or frepple_current_date(path)
            if replay is None:
                raise FileRejected(f"{path.name} has no currentdate parameter; give the replay date with --as-of")
            synced.detail = f"replayed as of {replay.isoformat()}"
            synced.results = sync_frepple(engine, path, as_of=replay, business_timezone=zone)
        elif kind.startswith("edi"):
            from services.sync.edi.apply import sync_edi_file

            synced.results = sync_edi_file(engine, path, business_timezone=zone)
    except (FileRejected, ValueError) as error:
        synced.error = str(error)
        logger.warning("sync of %s failed: %s", path, error)
    return synced


def sync_paths(engine: Engine, paths: list[Path], settings: Settings, *, as_of: date | None = None) -> list[SyncedFile]:
    """Load every file named or found in the folders named, each through its connector, in load order."""
    files = []
    for path in paths:
        files += sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")) if path.is_dir() else [path]
    folders = mapping_folders(settings)
    planned = [(path, *classify(path, folders)) for path in files]
    synced = [SyncedFile(path, kind, error=detail) for path, kind, detail in planned if kind == "skipped"]
    loadable = sorted(
        (entry for entry in planned if entry[1] != "skipped"),
        key=lambda entry: (KIND_ORDER.index(entry[1]), _canonical_rank(entry), entry[0].name),
    )
    for path, kind, detail in loadable:
        synced.append(sync_file(engine, path, settings, kind=kind, detail=detail, as_of=as_of))
    return synced


def _canonical_rank(entry) -> int:
    from services.sync.layout import ENTITIES

    path, kind, _ = entry
    if kind != "canonical":
        return 0
    return ENTITIES.index(entity_for_file_name(path.name))
