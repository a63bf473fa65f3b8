"""Load supplier EDI files as sync runs: purchase orders, acknowledgements and ship notices.

sync_edi_file reads an X12 or EDIFACT file whole before it writes anything,
so a broken envelope loads nothing. Then:

- an 850 loads its lines as purchase_order_lines of source "edi", after the
  suppliers, warehouses and items it names that the database does not hold
  yet (masters of source "edi");
- an 855 or ORDRSP raises supplier_events, then updates the acknowledgement
  of each purchase order line when the message is newer than the one
  already applied;
- an 856 loads shipments of kind asn and raises one asn event per line.

Every load is a sync run with balanced counts; a record that names a
purchase order line the database does not hold goes to quarantine.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, bindparam, text, update

from services.db import schema
from services.sync.canonical import SourceRecord, SyncResult, file_checksum, load_records
from services.sync.runs import fail_sync_run, finish_sync_run, start_sync_run, write_quarantine
from services.sync.edi import (
    SOURCE,
    Acknowledgement,
    AckLine,
    EdiRejected,
    OrderLine,
    Party,
    PoLineState,
    PurchaseOrder,
    ShipNotice,
    ShippedItem,
    SupplierEvent,
    asn_event,
    decide_acknowledgement,
)
from services.sync.edi.edifact import read_edifact
from services.sync.edi.x12 import ORDER_DATE_QUALIFIERS, SKU_QUALIFIERS, first_date, preferred_sku, read_x12
from services.sync.layout import ENTITIES_BY_NAME

logger = logging.getLogger(__name__)

# Supplier parties of an 850 (N101): selling party, vendor, supplier/manufacturer.
SUPPLIER_ROLES = ("SE", "VN", "SU")
SHIP_TO_ROLE = "ST"
# X12 BEG01 purpose code of an order that cancels the order.
CANCELLATION = "01"
NEW_ITEM_FAMILY = "unassigned"
# sync_runs.entity of a file rejected before its messages were known.
REJECTED_FILE_ENTITY = "edi"

Message = PurchaseOrder | Acknowledgement | ShipNotice


def sync_edi_file(engine: Engine, path: Path, *, business_timezone: str = "UTC") -> list[SyncResult]:
    """Load one X12 or EDIFACT file and return its sync runs in the order they ran.

    Raises EdiRejected when the file cannot be read as a whole: it is not
    EDI, an envelope is broken, or a message type is one the control tower
    does not read. A failed sync run then records the error, and nothing
    else is written.
    """
    path = Path(path)
    checksum = file_checksum(path)
    try:
        messages = read_edi_text(_read_text(path), path.name, ZoneInfo(business_timezone))
    except EdiRejected as error:
        _record_rejected_file(engine, path.name, checksum, error)
        raise

    batch = _Batch(engine, path.name, checksum, business_timezone)
    results = []
    orders = [m for m in messages if isinstance(m, PurchaseOrder)]
    acknowledgements = [m for m in messages if isinstance(m, Acknowledgement)]
    notices = [m for m in messages if isinstance(m, ShipNotice)]
    if orders:
        results += sync_purchase_orders(batch, orders)
    if acknowledgements:
        results += sync_acknowledgements(batch, acknowledgements)
    if notices:
        results += sync_ship_notices(batch, notices)
    logger.info(
        "%s: %d messages (%d orders, %d acknowledgements, %d ship notices) loaded in %d sync runs",
        path.name, len(messages), len(orders), len(acknowledgements), len(notices), len(results),
    )
    return results


def read_edi_text(text: str, file_name: str, zone: ZoneInfo) -> list[Message]:
    """Read the messages of an X12 (ISA) or EDIFACT (UNA or UNB) text."""
    start = text.lstrip(" \t\r\n\ufeff")[:3]
    if start == "ISA":
        return read_x12(text, file_name, zone)
    if start in ("UNA", "UNB"):
        return read_edifact(text, file_name, zone)
    raise EdiRejected(
        f"{file_name} starts with {start!r}, not ISA (X12) or UNA/UNB (EDIFACT); "
        "load supplier messages as they came from the EDI network"
    )


def _read_text(path: Path) -> str:
    """Return the file's text: UTF-8, else ISO 8859-1, the character set of EDIFACT UNOC."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


@dataclass(frozen=True)
class _Batch:
    """The file being loaded: where its sync runs go and how they are named."""

    engine: Engine
    file_name: str
    checksum: str
    business_timezone: str

    def load(self, entity_name: str, records: Iterable[SourceRecord]) -> SyncResult:
        return load_records(
            self.engine, ENTITIES_BY_NAME[entity_name], records,
            source=SOURCE, file_name=self.file_name, checksum=self.checksum,
            business_timezone=self.business_timezone,
        )


def _text(value) -> str | None:
    """Return a value as the raw text load_records reads, or None when it is missing."""
    if value is None or value == "":
        return None
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def _whole_number(raw: str) -> int | None:
    """Return a line number such as "1" or "001" as an int, or None when it is not a whole number."""
    raw = raw.strip()
    return int(raw) if raw.isdigit() else None


# --- Purchase orders (850) ---------------------------------------------------


@dataclass
class _Masters:
    """Codes already in the database, and the masters an 850 has to create."""

    supplier_codes: set[str]
    warehouse_codes: set[str]
    warehouse_names: dict[str, str]
    skus: set[str]
    po_line_sources: dict[tuple[str, int], str]
    new_suppliers: dict[str, dict] = field(default_factory=dict)
    new_warehouses: dict[str, dict] = field(default_factory=dict)
    new_items: dict[str, dict] = field(default_factory=dict)


def sync_purchase_orders(batch: _Batch, orders: list[PurchaseOrder]) -> list[SyncResult]:
    """Load 850 lines as purchase order lines, creating the suppliers, warehouses and items they name."""
    with batch.engine.connect() as connection:
        masters = _load_masters(connection, {order.po_number for order in orders})

    line_records = [
        record
        for order in orders
        for record in _order_line_records(order, masters, batch.business_timezone)
    ]

    results = []
    for entity_name, new in (
        ("suppliers", masters.new_suppliers),
        ("warehouses", masters.new_warehouses),
        ("items", masters.new_items),
    ):
        if new:
            records = [SourceRecord(f"new {entity_name[:-1]} {key}", values) for key, values in new.items()]
            results.append(batch.load(entity_name, records))
    results.append(batch.load("purchase_order_lines", line_records))
    return results


def _load_masters(connection: Connection, po_numbers: set[str]) -> _Masters:
    warehouses = connection.execute(text("select warehouse_code, name from warehouses")).all()
    po_lines = connection.execute(
        text("select po_number, line_number, source from purchase_order_lines where po_number = any(:po_numbers)"),
        {"po_numbers": sorted(po_numbers)},
    ).all()
    return _Masters(
        supplier_codes=set(connection.execute(text("select supplier_code from suppliers")).scalars()),
        warehouse_codes={row.warehouse_code for row in warehouses},
        warehouse_names={row.name.casefold(): row.warehouse_code for row in warehouses},
        skus=set(connection.execute(text("select sku from items")).scalars()),
        po_line_sources={(row.po_number, row.line_number): row.source for row in po_lines},
    )


def _order_line_records(order: PurchaseOrder, masters: _Masters, business_timezone: str) -> list[SourceRecord]:
    """Turn the lines of one 850 into purchase order line records, noting the masters they need."""
    header = order.header
    supplier = order.party(*SUPPLIER_ROLES)
    # An 850 goes from the buyer to the supplier, so without a supplier party the
    # interchange receiver is the supplier.
    supplier_code = (supplier.id or supplier.name) if supplier else header.receiver
    ship_to = order.party(SHIP_TO_ROLE)
    cancelled = order.purpose == CANCELLATION
    records = []
    for line in order.lines:
        values = {
            "po_number": order.po_number,
            "line_number": line.line_number,
            "supplier_code": supplier_code,
            "sku": None,
            "warehouse_code": None,
            "order_date": _text(order.order_date or header.issued_at.date()),
            "promised_date": _text(first_date(ORDER_DATE_QUALIFIERS, line.dates, order.dates)),
            "unit": line.unit or None,
            "ordered_qty": _text(line.quantity),
            "cancelled_qty": _text(line.quantity) if cancelled else None,
            "unit_cost": _text(line.unit_price),
            "currency": order.currency,
            "status": "cancelled" if cancelled else "open",
            "source_updated_at": header.issued_at.isoformat(),
        }
        position = f"{line.position} of {header.reference}"
        reason = _order_line_problem(order, line, masters, ship_to)
        if reason is None:
            values["sku"] = _sku_for(line, order, masters)
            values["warehouse_code"] = _warehouse_for(ship_to, masters, business_timezone)
            _note_supplier(supplier_code, supplier.name if supplier else "", order.currency, masters)
        records.append(SourceRecord(position, values, reason))
    return records


def _order_line_problem(order: PurchaseOrder, line: OrderLine, masters: _Masters, ship_to: Party | None) -> str | None:
    named = f"PO {order.po_number} line {line.line_number}"
    if line.problem:
        return f"{named}: {line.problem}"
    number = _whole_number(line.line_number)
    if number is None:
        return f"{named}: PO101 {line.line_number!r} is not a whole number; the control tower numbers order lines 1, 2, 3"
    if not line.product_ids:
        return f"{named} names no product id in PO106 onwards, so its item is unknown"
    if ship_to is None:
        return f"{named}: the order names no ship-to party (N1*ST), so the receiving warehouse is unknown"
    owner = masters.po_line_sources.get((order.po_number, number))
    if owner is not None and owner != SOURCE:
        return (
            f"{named} already comes from source {owner!r}, which stays the system of record for it; "
            "the 850 copy is not loaded"
        )
    return None


def _sku_for(line: OrderLine, order: PurchaseOrder, masters: _Masters) -> str:
    """Return the line's SKU: a product id that is a SKU in the database, else a new item's SKU."""
    def rank(pair: tuple[str, str]) -> int:
        return SKU_QUALIFIERS.index(pair[0]) if pair[0] in SKU_QUALIFIERS else len(SKU_QUALIFIERS)

    for _, product_id in sorted(line.product_ids, key=rank):
        if product_id in masters.skus or product_id in masters.new_items:
            return product_id
    sku = preferred_sku(line.product_ids)
    price = _text(line.unit_price) or "0"
    masters.new_items[sku] = {
        "sku": sku,
        "description": line.description or sku,
        "family": NEW_ITEM_FAMILY,
        "base_unit": line.unit or "EA",
        # The 850 gives the purchase price only, so it is the list price until the ERP's item master loads.
        "unit_cost": price,
        "list_price": price,
        "currency": order.currency,
        "source_updated_at": order.header.issued_at.isoformat(),
    }
    return sku


def _warehouse_for(ship_to: Party, masters: _Masters, business_timezone: str) -> str:
    """Return the warehouse of the ship-to party: by code, else by name, else a new warehouse."""
    code = ship_to.id or ship_to.name
    if code in masters.warehouse_codes or code in masters.new_warehouses:
        return code
    named = masters.warehouse_names.get(ship_to.name.casefold()) if ship_to.name else None
    if named:
        return named
    masters.new_warehouses[code] = {
        "warehouse_code": code,
        "name": ship_to.name or code,
        "time_zone": business_timezone,
    }
    return code


def _note_supplier(code: str, name: str, currency: str, masters: _Masters) -> None:
    if code not in masters.supplier_codes and code not in masters.new_suppliers:
        masters.new_suppliers[code] = {"supplier_code": code, "name": name or code, "currency": currency}


# --- Purchase order lines as the acknowledgements and ship notices see them ---


_PO_LINE_STATES = text(
    "select l.id, l.po_number, l.line_number, l.ordered_qty, l.promised_date, l.acknowledged_qty,"
    " l.acknowledged_date, l.acknowledged_at, l.ack_status, l.item_id, i.sku, i.base_unit, w.warehouse_code"
    " from purchase_order_lines l join items i on i.id = l.item_id join warehouses w on w.id = l.warehouse_id"
    " where l.po_number = any(:po_numbers)"
)
_UNIT_FACTORS = text(
    "select item_id, upper(unit_code) as unit_code, base_qty_per_unit from units where item_id = any(:item_ids)"
)


class _PoLines:
    """The purchase order lines a file names, found by PO number and line number or product id."""

    def __init__(self, states: Iterable[PoLineState]):
        self.by_key: dict[tuple[str, int], PoLineState] = {(s.po_number, s.line_number): s for s in states}

    def find(self, po_number: str, line_number: str, product_ids: tuple[tuple[str, str], ...]) -> PoLineState | None:
        """Return the line by its number, else the one line of the PO whose SKU is among the product ids."""
        number = _whole_number(line_number)
        if number is not None and (po_number, number) in self.by_key:
            return self.by_key[(po_number, number)]
        ids = {product_id for _, product_id in product_ids}
        matches = [s for s in self.by_key.values() if s.po_number == po_number and s.sku in ids]
        return matches[0] if len(matches) == 1 else None

    def replace(self, state: PoLineState) -> None:
        self.by_key[(state.po_number, state.line_number)] = state


def _load_po_lines(connection: Connection, po_numbers: set[str]) -> _PoLines:
    rows = connection.execute(_PO_LINE_STATES, {"po_numbers": sorted(po_numbers)}).all()
    factors: dict[int, dict[str, Decimal]] = {}
    for row in connection.execute(_UNIT_FACTORS, {"item_ids": sorted({row.item_id for row in rows})}):
        factors.setdefault(row.item_id, {})[row.unit_code] = row.base_qty_per_unit
    return _PoLines(
        PoLineState(
            id=row.id, po_number=row.po_number, line_number=row.line_number, sku=row.sku,
            base_unit=row.base_unit, ordered_qty=row.ordered_qty, promised_date=row.promised_date,
            acknowledged_qty=row.acknowledged_qty, acknowledged_date=row.acknowledged_date,
            acknowledged_at=row.acknowledged_at, ack_status=row.ack_status,
            warehouse_code=row.warehouse_code, unit_factors=factors.get(row.item_id, {}),
        )
        for row in rows
    )


def _not_found(po_number: str, line_number: str, kind: str) -> str:
    return (
        f"PO {po_number or '(none)'} line {line_number or '(none)'} is not in the database; "
        f"load the purchase order (ERP export or X12 850) before its {kind}, then load this file again"
    )


def _event_record(event: SupplierEvent) -> SourceRecord:
    values = {
        "event_key": event.event_key,
        "po_number": event.po_number,
        "po_line_number": str(event.po_line_number),
        "event_type": str(event.event_type),
        "event_at": event.event_at.isoformat(),
        "old_date": _text(event.old_date),
        "new_date": _text(event.new_date),
        "unit": event.unit or None,
        "old_qty": _text(event.old_qty),
        "new_qty": _text(event.new_qty),
        "message_ref": event.message_ref,
        "source_updated_at": event.event_at.isoformat(),
    }
    return SourceRecord(event.event_key, values)


# --- Acknowledgements (855, ORDRSP) ------------------------------------------


@dataclass
class _Rejected:
    position: str
    record: dict
    reason: str


@dataclass
class AckPlan:
    """The outcome of a file's acknowledgements: the lines' new states, the events and the rejected lines."""

    read: int = 0
    applied: int = 0
    unchanged: int = 0
    states: dict[int, PoLineState] = field(default_factory=dict)
    events: list[SupplierEvent] = field(default_factory=list)
    rejected: list[_Rejected] = field(default_factory=list)


def plan_acknowledgements(acknowledgements: list[Acknowledgement], po_lines: _PoLines) -> AckPlan:
    """Decide every acknowledgement line in the order the messages were issued, without writing."""
    plan = AckPlan()
    for acknowledgement in sorted(acknowledgements, key=lambda a: a.header.issued_at):
        for line in acknowledgement.lines:
            plan.read += 1
            _plan_line(plan, acknowledgement, line, po_lines)
    return plan


def _plan_line(plan: AckPlan, acknowledgement: Acknowledgement, line: AckLine, po_lines: _PoLines) -> None:
    header = acknowledgement.header
    named = f"PO {line.po_number} line {line.line_number}"
    state = po_lines.find(line.po_number, line.line_number, line.product_ids)
    reason = None
    if line.problem:
        reason = f"{named}: {line.problem}"
    elif state is None:
        reason = _not_found(line.po_number, line.line_number, "acknowledgement")
    elif state.base_factor(line.unit) is None:
        reason = f"{named}: unit {line.unit!r} is not defined for item {state.sku}; add it to units.csv with its base quantity"
    if reason is not None:
        plan.rejected.append(_Rejected(f"{line.position} of {header.reference}", _ack_record(header.reference, line), reason))
        return
    if line.no_action:
        plan.unchanged += 1
        return

    decision = decide_acknowledgement(state, line, header)
    if not decision.applied:
        plan.unchanged += 1
        return
    po_lines.replace(decision.state)
    plan.states[state.id] = decision.state
    plan.events += decision.events
    plan.applied += 1


def _ack_record(reference: str, line: AckLine) -> dict:
    return {
        "message": reference,
        "po_number": line.po_number,
        "line_number": line.line_number,
        "codes": line.codes,
        "unit": line.unit,
        "ordered_qty": _text(line.ordered_qty),
        "confirmed_qty": _text(line.confirmed_qty),
        "backordered_qty": _text(line.backordered_qty),
        "new_date": _text(line.new_date),
    }


def sync_acknowledgements(batch: _Batch, acknowledgements: list[Acknowledgement]) -> list[SyncResult]:
    """Raise the events of 855 and ORDRSP lines, then update the lines' acknowledgements.

    The events load first: when the acknowledgement update fails after them,
    loading the file again raises the same events (same keys) and applies the
    acknowledgement, whereas the other order would lose the events.
    """
    with batch.engine.connect() as connection:
        po_lines = _load_po_lines(connection, {line.po_number for a in acknowledgements for line in a.lines})

    plan = plan_acknowledgements(acknowledgements, po_lines)

    events = batch.load("supplier_events", [_event_record(event) for event in plan.events])
    return [events, _record_acknowledgements(batch, plan)]


_UPDATE_ACKNOWLEDGEMENT = (
    update(schema.purchase_order_lines)
    .where(schema.purchase_order_lines.c.id == bindparam("line_id"))
    .where(
        (schema.purchase_order_lines.c.acknowledged_at.is_(None))
        | (schema.purchase_order_lines.c.acknowledged_at < bindparam("new_acknowledged_at"))
    )
    .values(
        acknowledged_qty=bindparam("new_acknowledged_qty"),
        acknowledged_date=bindparam("new_acknowledged_date"),
        acknowledged_at=bindparam("new_acknowledged_at"),
        ack_status=bindparam("new_ack_status"),
        sync_run_id=bindparam("run_id"),
        loaded_at=text("now()"),
        source_fingerprint=None,
    )
)


def _record_acknowledgements(batch: _Batch, plan: AckPlan) -> SyncResult:
    """Write the planned acknowledgements and the rejected lines as one sync run in one transaction."""
    started = time.monotonic()
    run_id = start_sync_run(batch.engine, SOURCE, "purchase_order_lines", batch.file_name, batch.checksum)
    result = SyncResult(run_id, SOURCE, "purchase_order_lines", batch.file_name, read=plan.read)
    try:
        with batch.engine.begin() as connection:
            written = _write_acknowledgements(connection, plan.states.values(), run_id)
            write_quarantine(connection, run_id, SOURCE, "purchase_order_lines", batch.file_name, plan.rejected)
            # A line whose row another load acknowledged later in the meantime is left as it is.
            skipped = sum(1 for state in plan.states.values() if state.id not in written)
            result.updated = plan.applied - skipped
            result.unchanged = plan.unchanged + skipped
            result.rejected = len(plan.rejected)
            watermark = max((s.acknowledged_at for s in plan.states.values() if s.id in written), default=None)
            finish_sync_run(connection, result, watermark)
    except Exception as error:
        logger.error("sync run %d: acknowledgements of %s failed: %s", run_id, batch.file_name, error)
        fail_sync_run(batch.engine, run_id, error)
        raise
    result.seconds = time.monotonic() - started
    logger.info(
        "sync run %d: %s acknowledgements read %d, updated %d, unchanged %d, rejected %d in %.2f s",
        run_id, batch.file_name, result.read, result.updated, result.unchanged, result.rejected, result.seconds,
    )
    return result


def _write_acknowledgements(connection: Connection, states: Iterable[PoLineState], run_id: int) -> set[int]:
    """Update each line whose stored acknowledgement is older; return the ids of the lines updated."""
    written = set()
    for state in states:
        changed = connection.execute(
            _UPDATE_ACKNOWLEDGEMENT,
            {
                "line_id": state.id,
                "new_acknowledged_qty": state.acknowledged_qty,
                "new_acknowledged_date": state.acknowledged_date,
                "new_acknowledged_at": state.acknowledged_at,
                "new_ack_status": state.ack_status,
                "run_id": run_id,
            },
        ).rowcount
        if changed:
            written.add(state.id)
    return written


# --- Ship notices (856) --------------------------------------------------------


@dataclass
class _Shipped:
    """The quantity one ship notice sends against one purchase order line, summed over its items."""

    notice: ShipNotice
    state: PoLineState
    item: ShippedItem
    positions: list[str]
    quantity: Decimal


def sync_ship_notices(batch: _Batch, notices: list[ShipNotice]) -> list[SyncResult]:
    """Load 856 items as in-transit shipments of kind asn, and one asn event per purchase order line."""
    with batch.engine.connect() as connection:
        po_lines = _load_po_lines(connection, {item.po_number for n in notices for item in n.items})

    shipped, rejected = _match_shipped_items(notices, po_lines)
    shipment_records = [_shipment_record(entry) for entry in shipped.values()] + rejected
    events = [
        asn_event(entry.state, entry.notice, entry.quantity, entry.item.unit, entry.item.expected_date)
        for entry in shipped.values()
    ]

    return [
        batch.load("shipments", shipment_records),
        batch.load("supplier_events", [_event_record(event) for event in events]),
    ]


def _match_shipped_items(notices: list[ShipNotice], po_lines: _PoLines) -> tuple[dict[tuple, _Shipped], list[SourceRecord]]:
    """Find each item's purchase order line and sum items of one notice that ship the same line."""
    shipped: dict[tuple, _Shipped] = {}
    rejected: list[SourceRecord] = []
    for notice in notices:
        for item in notice.items:
            position = f"{item.position} (item HL {item.hl_id}) of {notice.header.reference}"
            state = None if item.problem else po_lines.find(item.po_number, item.line_number, item.product_ids)
            key = (notice.header.key, notice.shipment_number, state.id if state else None)
            reason = None
            if item.problem:
                reason = f"shipment {notice.shipment_number}: {item.problem}"
            elif state is None:
                reason = _not_found(item.po_number, item.line_number, "ship notice")
            elif key in shipped and shipped[key].item.unit != item.unit:
                reason = (
                    f"PO {item.po_number} line {item.line_number} is shipped in {shipped[key].item.unit} "
                    f"and {item.unit} in one notice; send one unit per line"
                )
            if reason is not None:
                rejected.append(SourceRecord(position, _item_values(notice, item), reason))
            elif key in shipped:
                shipped[key].quantity += item.quantity
                shipped[key].positions.append(position)
            else:
                shipped[key] = _Shipped(notice, state, item, [position], item.quantity)
    return shipped, rejected


def _item_values(notice: ShipNotice, item: ShippedItem) -> dict:
    return {
        "shipment_number": notice.shipment_number,
        "kind": "asn",
        "po_number": item.po_number,
        "po_line_number": item.line_number,
        "unit": item.unit or None,
        "qty": _text(item.quantity),
        "ship_date": _text(item.ship_date),
        "expected_date": _text(item.expected_date),
    }


def _shipment_record(entry: _Shipped) -> SourceRecord:
    notice, state = entry.notice, entry.state
    values = _item_values(notice, entry.item) | {
        "sku": state.sku,
        "po_line_number": str(state.line_number),
        "po_number": state.po_number,
        "to_warehouse_code": state.warehouse_code,
        "qty": _text(entry.quantity),
        "status": "in_transit",
        # One row per shipment and line, so a corrected notice replaces the quantity it sent before.
        "source_key": f"{notice.header.sender}/{notice.shipment_number}/{state.po_number}/{state.line_number}",
        "source_updated_at": notice.header.issued_at.isoformat(),
    }
    return SourceRecord(", ".join(entry.positions), values)


# --- Sync runs written here rather than by load_records --------------------------


def _record_rejected_file(engine: Engine, file_name: str, checksum: str, error: EdiRejected) -> None:
    """Record a file that could not be read as a failed sync run, so the operations view shows it."""
    run_id = start_sync_run(engine, SOURCE, REJECTED_FILE_ENTITY, file_name, checksum)
    fail_sync_run(engine, run_id, error)
    logger.error("sync run %d: %s rejected: %s", run_id, file_name, error)
