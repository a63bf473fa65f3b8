"""The data version of a recommendation: the facts it was computed from, as one JSON text.

Approval compares the stored text with the text built from the rows as they
are now; any difference means the recommendation is stale. The text is
json.dumps(..., sort_keys=True) with the default separators of an object:

    {"so_line": {"cancelled_qty": "0.000000", "id": 7, "ordered_qty": "10.000000",
                 "shipped_qty": "0.000000", "status": "open"},
     "supply": <supply or null>}

(on one line). supply is one of

- {"kind": "inventory", "item_id": 3, "warehouse_id": 2, "on_hand_qty": "12.000000",
  "quality_hold_qty": "0.000000"}: the stock row the units come from; for
  a transfer the source warehouse's row, for a substitution the substitute
  item's row;
- {"kind": "po_line", "id": 5, "ordered_qty": "100.000000", "received_qty": "0.000000",
  "cancelled_qty": "0.000000", "status": "open", "expected_date": "2026-03-20"}:
  expected_date is EXPECTED_DATE_SQL, or null when it is null;
- null for an escalation, which takes no supply.

Ids are JSON numbers. Quantities are strings exactly as PostgreSQL prints
the numeric value (`value::text`), which is also str(Decimal) of the value
psycopg returns for these numeric(18,6) columns, for example "10.000000".
Dates are ISO strings. inventory.allocated_qty is deliberately left out,
because approving one recommendation raises it and must not make the
others stale: approval checks the remaining free stock itself under a row
lock.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, text

# The date a purchase order line is expected, as the exposure netting reads
# it: the ETA forecast's P50, else the acknowledged date of an acknowledgement
# that carries a delivery date, else the supplier's promise, else the order
# date plus the supplier's default lead time. Needs the aliases p
# (purchase_order_lines), f (eta_forecasts, left joined) and s (suppliers).
EXPECTED_DATE_SQL = (
    "coalesce(f.p50_date, case when p.ack_status in ('accepted', 'changed', 'backordered')"
    " then p.acknowledged_date end, p.promised_date, p.order_date + s.default_lead_days)"
)

SO_LINE_VERSION = text(
    "select id, ordered_qty::text, shipped_qty::text, cancelled_qty::text, status"
    " from sales_order_lines where id = :so_line_id"
)
INVENTORY_VERSION = text(
    "select item_id, warehouse_id, on_hand_qty::text, quality_hold_qty::text"
    " from inventory where item_id = :item_id and warehouse_id = :warehouse_id"
)
PO_LINE_VERSION = text(
    f"select p.id, p.ordered_qty::text, p.received_qty::text, p.cancelled_qty::text, p.status,"
    f" {EXPECTED_DATE_SQL} as expected_date"
    f" from purchase_order_lines p join suppliers s on s.id = p.supplier_id"
    f" left join eta_forecasts f on f.po_line_id = p.id where p.id = :po_line_id"
)


def _quantity(value: str | Decimal) -> str:
    """Return a quantity as PostgreSQL's numeric text; Decimals are printed without an exponent."""
    return value if isinstance(value, str) else format(value, "f")


def so_line_part(so_line_id: int, ordered_qty, shipped_qty, cancelled_qty, status: str) -> dict:
    return {
        "id": int(so_line_id),
        "ordered_qty": _quantity(ordered_qty),
        "shipped_qty": _quantity(shipped_qty),
        "cancelled_qty": _quantity(cancelled_qty),
        "status": status,
    }


def inventory_part(item_id: int, warehouse_id: int, on_hand_qty, quality_hold_qty) -> dict:
    return {
        "kind": "inventory",
        "item_id": int(item_id),
        "warehouse_id": int(warehouse_id),
        "on_hand_qty": _quantity(on_hand_qty),
        "quality_hold_qty": _quantity(quality_hold_qty),
    }


def po_line_part(po_line_id: int, ordered_qty, received_qty, cancelled_qty, status: str,
                 expected_date: date | str | None) -> dict:
    if isinstance(expected_date, date):
        expected_date = expected_date.isoformat()
    return {
        "kind": "po_line",
        "id": int(po_line_id),
        "ordered_qty": _quantity(ordered_qty),
        "received_qty": _quantity(received_qty),
        "cancelled_qty": _quantity(cancelled_qty),
        "status": status,
        "expected_date": expected_date or None,
    }


def data_version(so_line: dict, supply: dict | None) -> str:
    """Return the data version text of a sales order line part and a supply part (None for no supply)."""
    return json.dumps({"so_line": so_line, "supply": supply}, sort_keys=True)


def current_data_version(connection: Connection, so_line_id: int, *, item_id: int | None = None,
                         warehouse_id: int | None = None, po_line_id: int | None = None) -> str | None:
    """Build the data version from the rows as they are now; None when a row it names no longer exists.

    Name the supply as item_id and warehouse_id (an inventory row), or as
    po_line_id, or neither for an escalation.
    """
    line = connection.execute(SO_LINE_VERSION, {"so_line_id": so_line_id}).one_or_none()
    if line is None:
        return None
    supply = None
    if po_line_id is not None:
        row = connection.execute(PO_LINE_VERSION, {"po_line_id": po_line_id}).one_or_none()
        if row is None:
            return None
        supply = po_line_part(*row)
    elif item_id is not None and warehouse_id is not None:
        row = connection.execute(INVENTORY_VERSION, {"item_id": item_id, "warehouse_id": warehouse_id}).one_or_none()
        if row is None:
            return None
        supply = inventory_part(*row)
    return data_version(so_line_part(*line), supply)
