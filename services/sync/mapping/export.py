"""Load a foreign ERP export through its mapping file: one sync run per target, masters first."""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, text

from services.sync.canonical import FileRejected, SyncResult, file_checksum, load_records
from services.sync.mapping.convert import RowContext
from services.sync.mapping.readers import ExportFile, open_export
from services.sync.mapping.records import TargetRecords
from services.sync.mapping.rollup import roll_up_receipts, roll_up_shipments
from services.sync.mapping.spec import Mapping, load_mapping

logger = logging.getLogger(__name__)


def sync_export(engine: Engine, path: Path, mapping_path: Path, *, business_timezone: str = "UTC") -> list[SyncResult]:
    """Load every target of the mapping from one export file; return one result per target.

    The mapping and the whole file are checked first. An invalid mapping
    raises MappingError. A file that is empty, undecodable, not CSV or
    missing a mapped column raises FileRejected. Either way nothing is
    loaded. Each target is then one sync run in its own transaction, so a
    database error in a later target leaves the earlier targets loaded. In
    every result read equals the export's row count: rows a target's filter
    leaves out, and identical repeats of a master record, count as unchanged.
    """
    started = time.monotonic()
    mapping = load_mapping(mapping_path)
    export_file = open_export(Path(path), mapping.export, mapping.name)
    _check_columns(mapping, export_file)
    checksum = file_checksum(export_file.path)
    business_zone = ZoneInfo(business_timezone)
    context = RowContext(mapping.export, mapping.name)

    results = []
    for target in mapping.targets:
        zones = _warehouse_zones(engine) if target.has_time_rules else {}
        records = TargetRecords(target, context, zones, business_zone)
        result = load_records(
            engine,
            target.entity,
            records.source_records(export_file.rows()),
            source=mapping.export.source,
            file_name=export_file.path.name,
            checksum=checksum,
            business_timezone=business_timezone,
            rows_left_out=lambda: records.skipped,
        )
        if records.filtered:
            logger.info(
                "sync run %d: %d rows left out by the %s filter", result.sync_run_id, records.filtered, result.entity
            )
        results.append(result)

    _roll_up(engine, mapping)
    logger.info(
        "export %s through %s: %d targets, %d rows rejected in all, in %.2f s",
        export_file.path.name, mapping.name, len(results), sum(r.rejected for r in results),
        time.monotonic() - started,
    )
    return results


def _check_columns(mapping: Mapping, export_file: ExportFile) -> None:
    """Reject the file when a column the mapping reads is missing or appears twice in the header."""
    header = Counter(export_file.header)
    needed = dict.fromkeys(name for target in mapping.targets for name in target.foreign_columns())
    missing = [name for name in needed if name not in header]
    if missing:
        raise FileRejected(
            f"{export_file.path.name} has no column {', '.join(repr(name) for name in missing)}, which "
            f"{mapping.name} maps; correct the column name in the mapping or export the column "
            f"(the file's columns are {', '.join(repr(name) for name in export_file.header)})"
        )
    doubled = [name for name in needed if header[name] > 1]
    if doubled:
        raise FileRejected(
            f"{export_file.path.name} has more than one column named {', '.join(repr(name) for name in doubled)}, "
            f"which {mapping.name} maps; rename the columns in the export so each name is unique"
        )


def _warehouse_zones(engine: Engine) -> dict[str, ZoneInfo]:
    with engine.connect() as connection:
        rows = connection.execute(text("select warehouse_code, time_zone from warehouses")).all()
    return {row.warehouse_code: ZoneInfo(row.time_zone) for row in rows}


def _roll_up(engine: Engine, mapping: Mapping) -> None:
    """Sum receipts and shipments into their lines where this mapping gives no total itself.

    Runs after every target has loaded, in its own transaction.
    """
    # TODO: load_records writes the default 0 into received_qty or shipped_qty
    # when a mapping gives no rule for it, so reloading such lines counts them
    # as updated before this roll-up restores the totals.
    source = mapping.export.source
    po_lines = mapping.target("purchase_order_lines")
    so_lines = mapping.target("sales_order_lines")
    receipts_need_totals = mapping.target("receipts") and not (po_lines and po_lines.rule("received_qty"))
    po_lines_need_totals = po_lines and not po_lines.rule("received_qty")
    shipments_need_totals = mapping.target("shipments") and not (so_lines and so_lines.rule("shipped_qty"))
    so_lines_need_totals = so_lines and not so_lines.rule("shipped_qty")

    with engine.begin() as connection:
        if receipts_need_totals or po_lines_need_totals:
            roll_up_receipts(connection, _po_line_ids(connection, source, receipts_need_totals, po_lines_need_totals))
        if shipments_need_totals or so_lines_need_totals:
            roll_up_shipments(connection, _so_line_ids(connection, source, shipments_need_totals, so_lines_need_totals))


def _po_line_ids(connection: Connection, source: str, of_receipts: bool, of_lines: bool) -> list[int]:
    ids: list[int] = []
    if of_receipts:
        ids += connection.execute(
            text("select distinct po_line_id from receipts where source = :source"), {"source": source}
        ).scalars().all()
    if of_lines:
        ids += connection.execute(
            text("select id from purchase_order_lines where source = :source"), {"source": source}
        ).scalars().all()
    return ids


def _so_line_ids(connection: Connection, source: str, of_shipments: bool, of_lines: bool) -> list[int]:
    ids: list[int] = []
    if of_shipments:
        ids += connection.execute(
            text("select distinct so_line_id from shipments where source = :source and so_line_id is not null"),
            {"source": source},
        ).scalars().all()
    if of_lines:
        ids += connection.execute(
            text("select id from sales_order_lines where source = :source"), {"source": source}
        ).scalars().all()
    return ids
