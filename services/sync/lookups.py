"""Resolve business codes in a record to row ids, and convert units to the base unit."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Connection, text

from services.sync.layout import Entity, Reference


class Lookups:
    """Caches code-to-id maps of referenced tables for the length of one sync run."""

    def __init__(self, connection: Connection):
        self._connection = connection
        self._maps: dict[tuple, dict] = {}
        self._unit_factors: dict[tuple[int, str], Decimal] | None = None
        self._base_units: dict[int, str] | None = None
        self._po_lines: dict[tuple, tuple[int, int, int]] | None = None

    def _map(self, reference: Reference) -> dict:
        cache_key = (reference.table, reference.key_columns)
        if cache_key not in self._maps:
            columns = ", ".join(reference.key_columns)
            rows = self._connection.execute(text(f"select {columns}, id from {reference.table}"))
            self._maps[cache_key] = {tuple(str(v) for v in row[:-1]): row[-1] for row in rows}
        return self._maps[cache_key]

    def _po_line_map(self) -> dict[tuple, tuple[int, int, int]]:
        if self._po_lines is None:
            rows = self._connection.execute(
                text("select po_number, line_number, id, item_id, supplier_id from purchase_order_lines")
            )
            self._po_lines = {(row.po_number, str(row.line_number)): (row.id, row.item_id, row.supplier_id) for row in rows}
        return self._po_lines

    def preload(self, entity: Entity) -> None:
        """Read every map the entity needs now, because no query can run while a COPY is open."""
        for reference in entity.references:
            if reference.target == "po_line_id":
                self._po_line_map()
            else:
                self._map(reference)
        if entity.has_unit:
            self._factors()

    def resolve(self, entity: Entity, record: dict) -> list[str]:
        """Replace reference codes by ids in the record; return a reason per code not found."""
        problems = []
        for reference in entity.references:
            values = [record.get(name) for name in reference.columns]
            if all(value is None for value in values):
                if reference.required:
                    problems.append(f"{' and '.join(reference.columns)}: a value is required")
                record[reference.target] = None
                continue
            key = tuple(str(value) for value in values)
            if reference.target == "po_line_id":
                found = self._po_line_map().get(key)
                if found:
                    record["po_line_id"], record["_item_id"], record["supplier_id"] = found
            else:
                found = self._map(reference).get(key)
                record[reference.target] = found
            if found is None:
                shown = "/".join(key)
                problems.append(
                    f"{'/'.join(reference.columns)}: {shown!r} is unknown; "
                    f"load it in {reference.table}.csv first or correct the code"
                )
        return problems

    def _factors(self) -> dict[tuple[int, str], Decimal]:
        if self._unit_factors is None:
            rows = self._connection.execute(text("select item_id, unit_code, base_qty_per_unit from units"))
            self._unit_factors = {(row.item_id, row.unit_code.upper()): row.base_qty_per_unit for row in rows}
            items = self._connection.execute(text("select id, base_unit from items"))
            self._base_units = {row.id: row.base_unit.upper() for row in items}
        return self._unit_factors

    def convert_units(self, entity: Entity, record: dict) -> list[str]:
        """Convert quantities to the item's base unit and prices to a base-unit price, exactly."""
        unit = record.get("unit")
        item_id = record.get("item_id") or record.get("_item_id")
        record.pop("_item_id", None)
        if not unit or item_id is None:
            return []
        factors = self._factors()
        unit = unit.upper()
        if unit == self._base_units.get(item_id):
            return []
        factor = factors.get((item_id, unit))
        if factor is None:
            return [f"unit: {unit!r} is not defined for this item; add it to units.csv with its base quantity"]
        for column in entity.columns:
            value = record.get(column.name)
            if value is None:
                continue
            if column.qty:
                record[column.name] = value * factor
            elif column.price:
                record[column.name] = value / factor
        return []
