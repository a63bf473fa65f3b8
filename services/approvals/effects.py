"""What an approved recommendation sets in motion: the allocation, the tasks, the message values and the ERP message.

Plain functions of the rows the use case has locked and loaded; they build
values and write nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Mapping

from services.approvals.errors import format_money, format_qty
from services.approvals.versions import INVENTORY, PO_LINE


@dataclass(frozen=True)
class LockedSupply:
    """A supply row locked for update, with what remains available on it and the quantity the approval takes.

    needed_qty is in the supplied item's unit: the ordered quantity times the
    substitute's ratio for a substitution, else the ordered quantity.
    """

    kind: str
    row: Mapping[str, Any]
    label: str
    available_qty: Decimal
    needed_qty: Decimal

    @property
    def item_id(self) -> int:
        return self.row["item_id"]

    @property
    def warehouse_id(self) -> int:
        return self.row["warehouse_id"]


@dataclass(frozen=True)
class Approval:
    """Everything an approval writes is computed from these rows."""

    recommendation: Mapping[str, Any]
    line: Mapping[str, Any]
    supply: LockedSupply | None
    substitute: Mapping[str, Any] | None
    destination_code: str
    approved_by: str
    approved_at: datetime

    @property
    def action(self) -> str:
        return self.recommendation["action"]

    @property
    def qty(self) -> Decimal:
        return self.recommendation["qty"]

    @property
    def order_label(self) -> str:
        return f"order {self.line['order_number']} line {self.line['line_number']}"

    @property
    def old_promise_date(self) -> date:
        return self.line["current_promised_date"] or self.line["requested_date"]

    @property
    def new_promise_date(self) -> date | None:
        return self.recommendation["expected_date"]


def allocation_values(approval: Approval) -> dict[str, Any] | None:
    """Return the allocations row, or None for an escalation, which reserves nothing."""
    supply = approval.supply
    if supply is None:
        return None
    return {
        "so_line_id": approval.line["id"],
        "recommendation_id": approval.recommendation["id"],
        "item_id": supply.item_id,
        "warehouse_id": supply.warehouse_id,
        "po_line_id": supply.row["id"] if supply.kind == PO_LINE else None,
        "qty": supply.needed_qty,
    }


def placeholder_values(approval: Approval) -> dict[str, str]:
    """Return the values of every template placeholder except the free-text note."""
    line = approval.line
    substitute = approval.substitute or {}
    new_date = approval.new_promise_date
    return {
        "order_number": line["order_number"],
        "line_number": str(line["line_number"]),
        "customer_name": line["customer_name"],
        "item_sku": line["item_sku"],
        "item_description": line["item_description"],
        "qty": format_qty(approval.qty),
        "old_promise_date": approval.old_promise_date.isoformat(),
        "new_promise_date": new_date.isoformat() if new_date else "to be confirmed",
        "substitute_sku": substitute.get("substitute_sku", ""),
        "substitute_description": substitute.get("substitute_description", ""),
        "substitute_qty": format_qty(approval.supply.needed_qty) if approval.substitute and approval.supply else "",
    }


def plan_tasks(approval: Approval, customer_message_id: int | None) -> list[dict[str, Any]]:
    """Return the tasks for warehouse, transport, procurement, finance and customer service, in that order."""
    tasks = _supply_tasks(approval)
    if approval.supply is not None:
        tasks.append(_finance_task(approval))
    tasks.append(_customer_service_task(approval, customer_message_id))
    return tasks


def _supply_tasks(approval: Approval) -> list[dict[str, Any]]:
    supply, line, qty = approval.supply, approval.line, format_qty(approval.qty)
    due = approval.new_promise_date
    base = {"so_line_id": line["id"], "order_number": line["order_number"], "line_number": line["line_number"]}
    if supply is None:
        return [_task(
            "procurement",
            f"Find supply for {qty} {line['item_sku']} for {approval.order_label}: no stock or inbound supply covers it",
            {**base, "item_sku": line["item_sku"], "qty": approval.qty, "reason": approval.recommendation["explanation"]},
            due,
        )]
    units = format_qty(supply.needed_qty)
    sku = supply.row["item_sku"]
    if supply.kind == PO_LINE:
        return _po_line_tasks(approval, base, units, sku, due)
    if approval.action == "transfer":
        detail = {**base, "item_sku": sku, "qty": supply.needed_qty,
                  "from_warehouse": supply.row["warehouse_code"], "to_warehouse": approval.destination_code}
        return [
            _task("warehouse", f"Ship a transfer of {units} {sku} from {supply.row['warehouse_code']} to "
                  f"{approval.destination_code} for {approval.order_label}", detail, due),
            _task("transport", f"Book transport of {units} {sku} from {supply.row['warehouse_code']} to "
                  f"{approval.destination_code}, to arrive by {due.isoformat() if due else 'the promise date'}",
                  detail, due),
        ]
    substitute_note = f" (substitute for {line['item_sku']})" if approval.substitute is not None else ""
    detail = {**base, "item_sku": sku, "qty": supply.needed_qty, "warehouse": supply.row["warehouse_code"]}
    return [_task("warehouse", f"Pick {units} {sku}{substitute_note} at {supply.row['warehouse_code']} for "
                  f"{approval.order_label}", detail, due)]


def _po_line_tasks(approval: Approval, base: dict, units: str, sku: str, due: date | None) -> list[dict[str, Any]]:
    row = approval.supply.row
    po_label = f"PO {row['po_number']} line {row['line_number']}"
    detail = {**base, "item_sku": sku, "qty": approval.supply.needed_qty, "po_number": row["po_number"],
              "po_line_number": row["line_number"], "warehouse": row["warehouse_code"]}
    tasks = [_task("warehouse", f"Reserve {units} {sku} from {po_label} on receipt at {row['warehouse_code']} "
                   f"for {approval.order_label}", detail, due)]
    if approval.action == "expedite":
        tasks.insert(0, _task(
            "procurement",
            f"Ask {row['supplier_name']} to expedite {po_label} ({units} {sku}) to arrive by "
            f"{due.isoformat() if due else 'the earliest date possible'}",
            {**detail, "supplier_code": row["supplier_code"], "current_expected_date": row["expected_date"],
             "requested_date": due},
            due,
        ))
    return tasks


def _finance_task(approval: Approval) -> dict[str, Any]:
    line = approval.line
    amount = (approval.qty * line["unit_price"]).quantize(Decimal("0.01"))
    due = approval.new_promise_date
    detail = {"so_line_id": line["id"], "order_number": line["order_number"], "line_number": line["line_number"],
              "amount": amount, "currency": line["currency"], "projected_ship_date": due,
              "previous_promise_date": approval.old_promise_date}
    when = due.isoformat() if due else "a date still to be confirmed"
    return _task("finance", f"Update projected shipment and billing of {approval.order_label}: "
                 f"{format_money(amount, line['currency'])} on {when}", detail, due)


def _customer_service_task(approval: Approval, customer_message_id: int | None) -> dict[str, Any]:
    line = approval.line
    detail = {"so_line_id": line["id"], "customer_code": line["customer_code"], "customer_message_id": customer_message_id}
    if customer_message_id is None:
        title = (f"Write to {line['customer_name']} about {approval.order_label} by hand: "
                 "no approved message template fits this action")
    else:
        title = f"Review and send the update to {line['customer_name']} about {approval.order_label}"
    return _task("customer_service", title, detail, None)


def _task(kind: str, title: str, detail: dict[str, Any], due: date | None) -> dict[str, Any]:
    return {"kind": kind, "title": title, "detail": detail, "due_date": due}


def erp_allocation_payload(approval: Approval, allocation_id: int) -> dict[str, Any]:
    """Return the ERP write-back of an allocation: the order line, the supply and the new promise date."""
    line, supply = approval.line, approval.supply
    source: dict[str, Any] = {"kind": supply.kind, "item_sku": supply.row["item_sku"], "qty": supply.needed_qty}
    if supply.kind == INVENTORY:
        source["warehouse_code"] = supply.row["warehouse_code"]
    else:
        source.update(po_number=supply.row["po_number"], po_line_number=supply.row["line_number"],
                      warehouse_code=supply.row["warehouse_code"])
    return {
        "allocation_id": allocation_id,
        "recommendation_id": approval.recommendation["id"],
        "action": approval.action,
        "order_number": line["order_number"],
        "line_number": line["line_number"],
        "customer_code": line["customer_code"],
        "item_sku": line["item_sku"],
        "qty": approval.qty,
        "source": source,
        "ship_to_warehouse_code": approval.destination_code,
        "new_promise_date": approval.new_promise_date,
        "approved_by": approval.approved_by,
        "approved_at": approval.approved_at,
    }
