"""The data version of a recommendation: which rows it was computed from, and what changed in them since.

A recommendation stores the values of its order line and supply row as JSON
(quantities as decimal strings, dates ISO). Values are compared as Decimal,
so "10.000000" and "10" are the same quantity. allocated_qty is not part of
the version: the approval checks what remains available itself, under a row
lock, so an approval by someone else never makes a recommendation stale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from services.approvals.errors import format_qty

INVENTORY = "inventory"
PO_LINE = "po_line"

SO_LINE_FIELDS = {
    "ordered_qty": "ordered quantity",
    "shipped_qty": "shipped quantity",
    "cancelled_qty": "cancelled quantity",
    "status": "status",
}
INVENTORY_FIELDS = {"on_hand_qty": "on hand", "quality_hold_qty": "quality hold"}
PO_LINE_FIELDS = {
    "ordered_qty": "ordered quantity",
    "received_qty": "received quantity",
    "cancelled_qty": "cancelled quantity",
    "status": "status",
    "expected_date": "expected date",
}


class DataVersionUnreadable(ValueError):
    """The stored data_version is not the JSON object the recommending side writes."""


@dataclass(frozen=True)
class SupplyRef:
    """The supply row a recommendation draws on: an inventory row by item and warehouse, or a PO line by id."""

    kind: str
    item_id: int | None = None
    warehouse_id: int | None = None
    po_line_id: int | None = None


@dataclass(frozen=True)
class DataVersion:
    so_line: Mapping[str, Any]
    supply: Mapping[str, Any] | None

    @property
    def supply_ref(self) -> SupplyRef | None:
        if self.supply is None:
            return None
        if self.supply.get("kind") == INVENTORY:
            return SupplyRef(INVENTORY, item_id=self.supply.get("item_id"), warehouse_id=self.supply.get("warehouse_id"))
        return SupplyRef(PO_LINE, po_line_id=self.supply.get("id"))


def parse_data_version(text: str) -> DataVersion:
    """Read a stored data_version; raise DataVersionUnreadable for text that is not the agreed JSON."""
    try:
        value = json.loads(text)
    except (TypeError, json.JSONDecodeError) as error:
        raise DataVersionUnreadable(f"data_version is not JSON ({error})") from None
    if not isinstance(value, dict) or not isinstance(value.get("so_line"), dict):
        raise DataVersionUnreadable("data_version has no so_line object")
    supply = value.get("supply")
    if supply is not None and (not isinstance(supply, dict) or supply.get("kind") not in (INVENTORY, PO_LINE)):
        raise DataVersionUnreadable(f"data_version has a supply of unknown kind: {supply!r}")
    return DataVersion(so_line=value["so_line"], supply=supply)


def supply_of_recommendation(
    action: str,
    item_id: int,
    substitute_item_id: int | None,
    source_warehouse_id: int | None,
    source_po_line_id: int | None,
    line_warehouse_id: int,
) -> SupplyRef | None:
    """Return the supply a recommendation's columns name; None for an escalation, which draws on none.

    A PO line, when named, is the supply. Otherwise the supply is the stock of
    the substitute item (when one is named) or of the ordered item, in the
    source warehouse or else the order line's own warehouse.
    """
    if action == "escalate":
        return None
    if source_po_line_id is not None:
        return SupplyRef(PO_LINE, po_line_id=source_po_line_id)
    if action == "expedite":
        raise ValueError("an expedite recommendation must name the PO line to expedite (source_po_line_id)")
    if action == "substitute" and substitute_item_id is None:
        raise ValueError("a substitute recommendation must name the substitute item (substitute_item_id)")
    # A split may take one of its parts from a substitute; the substitute item is then the supply.
    supplied_item = substitute_item_id if substitute_item_id is not None else item_id
    return SupplyRef(INVENTORY, item_id=supplied_item, warehouse_id=source_warehouse_id or line_warehouse_id)


def describe_changes(
    fields: Mapping[str, str], versioned: Mapping[str, Any], current: Mapping[str, Any], subject: str
) -> list[str]:
    """Return one sentence per field whose current value differs from the versioned one.

    Each sentence reads like "on hand of SKU-001 at WH-EAST changed from 10 to 4".
    """
    changes = []
    for field, words in fields.items():
        if field not in versioned:
            continue
        before, after = _normalise(versioned[field]), _normalise(current.get(field))
        if before != after:
            changes.append(f"{words} of {subject} changed from {_show(before)} to {_show(after)}")
    return changes


def _normalise(value: Any) -> Any:
    """Turn decimal strings and numbers into Decimal and dates into ISO text, so equal values compare equal."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return value
    return value


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, Decimal):
        return format_qty(value)
    return str(value)
