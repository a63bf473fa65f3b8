"""Turn the rows of an export into the canonical records of one target."""

from __future__ import annotations

from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

from services.db import schema
from services.sync.canonical import SourceRecord
from services.sync.layout import Entity
from services.sync.mapping.convert import Row, RowContext, RuleFailure, apply_rule, cell_text, condition_holds
from services.sync.mapping.spec import Target

TIME_KINDS = ("date", "timestamp")


def max_lengths(entity: Entity) -> dict[str, int]:
    """Return the character limit of each text column of the entity, read from the schema.

    A column that names a row of another table (sku, warehouse_code) takes
    the limit of that table's key column.
    """
    table = schema.metadata.tables[entity.table]
    limits: dict[str, int | None] = {}
    for reference in entity.references:
        referenced = schema.metadata.tables[reference.table]
        for name, key in zip(reference.columns, reference.key_columns):
            limits[name] = getattr(referenced.c[key].type, "length", None)
    for column in entity.columns:
        if column.name in table.c:
            limits[column.name] = getattr(table.c[column.name].type, "length", None)
    return {name: limit for name, limit in limits.items() if limit}


class TargetRecords:
    """The records one target takes from an export, with the rows that add nothing counted.

    A row the target's filter leaves out is counted in filtered. For a master
    entity, a record identical to a later one is dropped and counted in
    repeated, so a supplier named on ten thousand lines is loaded once. The
    last occurrence keeps its place in the order, so the loader's last-wins
    rule gives the same result as it would with every row.
    """

    def __init__(self, target: Target, context: RowContext, zones: dict[str, ZoneInfo], business_zone: ZoneInfo):
        self.target = target
        self.context = context
        self.zones = zones
        self.business_zone = business_zone
        self.filtered = 0
        self.repeated = 0
        self._limits = max_lengths(target.entity)
        self._plain_rules = [rule for rule in target.rules if rule.kind not in TIME_KINDS]
        self._time_rules = [rule for rule in target.rules if rule.kind in TIME_KINDS]

    @property
    def skipped(self) -> int:
        return self.filtered + self.repeated

    def source_records(self, rows: Iterable[Row]) -> Iterator[SourceRecord]:
        latest: dict[tuple, SourceRecord] = {}
        for row in rows:
            if self.target.when and not condition_holds(self.target.when, row, self.context.export):
                self.filtered += 1
                continue
            record = self.record_of(row)
            if record.reason or not self.target.repeats_records:
                yield record
                continue
            identity = tuple(sorted(record.values.items()))
            if identity in latest:
                del latest[identity]
                self.repeated += 1
            latest[identity] = record
        yield from latest.values()

    def record_of(self, row: Row) -> SourceRecord:
        """Apply every rule to the row; a row with a failed rule carries the reasons instead of values."""
        values: dict[str, str] = {}
        reasons: list[str] = []
        self._apply(self._plain_rules, row, self.business_zone, values, reasons)
        self._apply(self._time_rules, row, self._zone_of(values), values, reasons)
        if reasons:
            return SourceRecord(row.position, self._exported_cells(row), "; ".join(reasons))
        return SourceRecord(row.position, values)

    def _apply(self, rules, row: Row, zone: ZoneInfo, values: dict, reasons: list) -> None:
        for rule in rules:
            limit = self._limits.get(rule.name) if rule.kind == "text" else None
            try:
                value = apply_rule(rule, row, self.context, zone, limit)
            except RuleFailure as failure:
                reasons.append(str(failure))
                continue
            if value is not None:
                values[rule.name] = value

    def _zone_of(self, values: dict) -> ZoneInfo:
        """Return the time zone of the record's warehouse, where business dates are counted."""
        return self.zones.get(values.get("warehouse_code"), self.business_zone)

    def _exported_cells(self, row: Row) -> dict[str, str]:
        """Return the cells the target reads, as exported, for the quarantine record."""
        return {column: cell_text(row.cells.get(column)) for column in dict.fromkeys(self.target.foreign_columns())}
