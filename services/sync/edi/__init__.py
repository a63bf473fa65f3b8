"""Supplier EDI: the messages read from X12 and EDIFACT files, and the rules that apply them.

The readers (x12.py, edifact.py) turn a file into the plain messages below:
purchase orders (X12 850), acknowledgements (X12 855, EDIFACT ORDRSP) and
ship notices (X12 856). The rules here decide, without SQL, what an
acknowledgement changes on a purchase order line and which supplier events
it raises. apply.py loads the messages into the database.

Quantities in a message are in the message's unit; the rules take them in
the item's base unit, converted by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from services.sync.canonical import FileRejected

SOURCE = "edi"


class EdiRejected(FileRejected):
    """A whole EDI file cannot be read, such as a broken envelope; nothing from it was loaded."""


class AckStatus(StrEnum):
    """The supplier's response for one purchase order line, as stored in purchase_order_lines.ack_status."""

    ACCEPTED = "accepted"
    CHANGED = "changed"
    BACKORDERED = "backordered"
    REJECTED = "rejected"


class EventType(StrEnum):
    """The kinds of supplier_events rows a message raises."""

    ACKNOWLEDGEMENT = "acknowledgement"
    DATE_CHANGE = "date_change"
    QUANTITY_CHANGE = "quantity_change"
    BACKORDER = "backorder"
    REJECTION = "rejection"
    ASN = "asn"


@dataclass(frozen=True)
class MessageHeader:
    """The origin of a message: its standard, envelope ids and the time its sender prepared it."""

    standard: str  # "X12" or "EDIFACT"
    message_type: str  # "850", "855", "856" or "ORDRSP"
    sender: str
    receiver: str
    interchange_control: str
    message_control: str
    issued_at: datetime

    @property
    def key(self) -> str:
        """A key that is the same each time the same message is read, and differs between messages."""
        return "/".join((self.standard, self.sender, self.interchange_control, self.message_control))

    @property
    def reference(self) -> str:
        """The message named for people: type, control numbers and sender."""
        return (
            f"{self.standard} {self.message_type} {self.message_control} "
            f"of interchange {self.interchange_control} from {self.sender}"
        )


@dataclass(frozen=True)
class Party:
    """A party named in a message (X12 N1, EDIFACT NAD): its role code, name and id."""

    role: str
    name: str
    id: str


@dataclass(frozen=True)
class OrderLine:
    """One line of a purchase order (X12 PO1 and the segments after it)."""

    position: str
    line_number: str
    quantity: Decimal | None
    unit: str
    unit_price: Decimal | None
    product_ids: tuple[tuple[str, str], ...]
    description: str = ""
    dates: dict[str, date] = field(default_factory=dict)
    problem: str | None = None


@dataclass(frozen=True)
class PurchaseOrder:
    """An X12 850: the order the distributor sent to its supplier."""

    header: MessageHeader
    po_number: str
    order_date: date | None
    purpose: str
    currency: str
    parties: tuple[Party, ...]
    dates: dict[str, date]
    lines: tuple[OrderLine, ...]

    def party(self, *roles: str) -> Party | None:
        """Return the first party with one of the roles, in the order the roles are given."""
        for role in roles:
            for candidate in self.parties:
                if candidate.role == role:
                    return candidate
        return None


@dataclass(frozen=True)
class AckLine:
    """The supplier's response for one line, in the message's unit.

    confirmed_qty comes on the acknowledged date, backordered_qty later; a
    rejected quantity is in neither. new_date is the supplier's date for the
    line, or None when the message gives none.
    """

    position: str
    po_number: str
    line_number: str
    product_ids: tuple[tuple[str, str], ...]
    unit: str
    ordered_qty: Decimal | None
    confirmed_qty: Decimal
    backordered_qty: Decimal
    status: AckStatus
    new_date: date | None
    codes: str
    problem: str | None = None
    no_action: bool = False  # the supplier reports the line as not affected, so it stays as it is

    @property
    def acknowledged_qty(self) -> Decimal:
        """The quantity the supplier still means to deliver: confirmed plus backordered."""
        return self.confirmed_qty + self.backordered_qty


@dataclass(frozen=True)
class Acknowledgement:
    """An X12 855 or an EDIFACT ORDRSP: the supplier's response to a purchase order."""

    header: MessageHeader
    po_number: str
    lines: tuple[AckLine, ...]


@dataclass(frozen=True)
class ShippedItem:
    """One item level of an X12 856, with the order it belongs to found through the HL parents."""

    position: str
    hl_id: str
    po_number: str
    line_number: str
    product_ids: tuple[tuple[str, str], ...]
    quantity: Decimal | None
    unit: str
    ship_date: date | None
    expected_date: date | None
    problem: str | None = None


@dataclass(frozen=True)
class ShipNotice:
    """An X12 856: what the supplier shipped, against which order lines."""

    header: MessageHeader
    shipment_number: str
    items: tuple[ShippedItem, ...]


@dataclass(frozen=True)
class PoLineState:
    """The stored state of one purchase order line, with quantities in the item's base unit."""

    id: int
    po_number: str
    line_number: int
    sku: str
    base_unit: str
    ordered_qty: Decimal
    promised_date: date | None
    acknowledged_qty: Decimal | None
    acknowledged_date: date | None
    acknowledged_at: datetime | None
    ack_status: str | None
    warehouse_code: str = ""
    unit_factors: dict[str, Decimal] = field(default_factory=dict)

    @property
    def expected_qty(self) -> Decimal:
        """The quantity the line is expected to bring: the acknowledged one, else the ordered one."""
        return self.ordered_qty if self.acknowledged_qty is None else self.acknowledged_qty

    @property
    def expected_date(self) -> date | None:
        """The date the line is expected: the acknowledged one, else the supplier's promise."""
        return self.acknowledged_date or self.promised_date

    def base_factor(self, unit: str) -> Decimal | None:
        """Return how many base units one message unit contains, or None when the unit is not defined."""
        unit = (unit or "").upper()
        if not unit or unit == self.base_unit.upper():
            return Decimal(1)
        return self.unit_factors.get(unit)


@dataclass(frozen=True)
class SupplierEvent:
    """One supplier_events row: a change to a purchase order line and the message that reported it."""

    event_key: str
    po_number: str
    po_line_number: int
    event_type: EventType
    event_at: datetime
    message_ref: str
    old_date: date | None = None
    new_date: date | None = None
    old_qty: Decimal | None = None
    new_qty: Decimal | None = None
    unit: str = ""  # empty when the quantities are already in the item's base unit


@dataclass(frozen=True)
class AckDecision:
    """The outcome of one acknowledgement line for its purchase order line.

    state is the line after the acknowledgement. applied is False when the
    message is not newer than the acknowledgement already applied. Then state
    is unchanged and events is empty.
    """

    applied: bool
    state: PoLineState
    events: tuple[SupplierEvent, ...] = ()


def ack_status(
    *,
    rejected: bool,
    changed: bool,
    backordered_qty: Decimal,
    acknowledged_qty: Decimal,
    ordered_qty: Decimal | None,
) -> AckStatus:
    """Classify a line from its codes and quantities.

    A line is rejected when a rejection code leaves nothing to deliver,
    backordered when any quantity comes later, changed when a change code is
    given or the supplier confirms another quantity than ordered.
    """
    if rejected and acknowledged_qty == 0:
        return AckStatus.REJECTED
    if backordered_qty > 0:
        return AckStatus.BACKORDERED
    if changed or rejected or (ordered_qty is not None and acknowledged_qty != ordered_qty):
        return AckStatus.CHANGED
    return AckStatus.ACCEPTED


def decide_acknowledgement(state: PoLineState, line: AckLine, header: MessageHeader) -> AckDecision:
    """Apply one acknowledgement line to its purchase order line when the message is newer.

    A later acknowledgement replaces an earlier one, and one that is not
    newer than the acknowledgement already applied changes nothing. The
    caller checks state.base_factor(line.unit) first, because the line's
    quantities must be convertible to the base unit.
    """
    if state.acknowledged_at is not None and header.issued_at <= state.acknowledged_at:
        return AckDecision(applied=False, state=state)

    factor = state.base_factor(line.unit)
    acknowledged_qty = line.acknowledged_qty * factor
    backordered_qty = line.backordered_qty * factor
    new_date = line.new_date or state.acknowledged_date
    after = replace(
        state,
        acknowledged_qty=acknowledged_qty,
        acknowledged_date=new_date,
        acknowledged_at=header.issued_at,
        ack_status=str(line.status),
    )
    events = _events_for(state, after, line, header, backordered_qty)
    return AckDecision(applied=True, state=after, events=events)


def _events_for(
    before: PoLineState, after: PoLineState, line: AckLine, header: MessageHeader, backordered_qty: Decimal
) -> tuple[SupplierEvent, ...]:
    """Raise one event per fact the acknowledgement changes: rejection, backorder, quantity, date."""
    def event(event_type: EventType, **values) -> SupplierEvent:
        return SupplierEvent(
            event_key=f"{header.key}/{before.po_number}/{before.line_number}/{event_type}",
            po_number=before.po_number,
            po_line_number=before.line_number,
            event_type=event_type,
            event_at=header.issued_at,
            message_ref=f"{header.reference}, line {line.line_number}: {line.codes}",
            **values,
        )

    if line.status == AckStatus.REJECTED:
        if before.ack_status == AckStatus.REJECTED:
            return ()
        return (event(EventType.REJECTION, old_qty=before.expected_qty, new_qty=Decimal(0), old_date=before.expected_date),)

    events = []
    same_backorder = (
        before.ack_status == AckStatus.BACKORDERED
        and before.acknowledged_qty == after.acknowledged_qty
        and before.acknowledged_date == after.acknowledged_date
    )
    if backordered_qty > 0 and not same_backorder:
        events.append(event(
            EventType.BACKORDER,
            old_qty=before.expected_qty, new_qty=backordered_qty,
            old_date=before.expected_date, new_date=line.new_date,
        ))
    if after.acknowledged_qty != before.expected_qty:
        events.append(event(EventType.QUANTITY_CHANGE, old_qty=before.expected_qty, new_qty=after.acknowledged_qty))
    if before.expected_date is not None and after.expected_date != before.expected_date:
        events.append(event(EventType.DATE_CHANGE, old_date=before.expected_date, new_date=after.expected_date))
    if not events and (before.acknowledged_at is None or before.ack_status != after.ack_status):
        events.append(event(
            EventType.ACKNOWLEDGEMENT,
            old_qty=before.expected_qty, new_qty=after.acknowledged_qty,
            old_date=before.expected_date, new_date=after.expected_date,
        ))
    return tuple(events)


def asn_event(state: PoLineState, notice: ShipNotice, quantity: Decimal, unit: str, expected_date: date | None) -> SupplierEvent:
    """Raise the event of a shipment against a line: shipped quantity, and the date it now arrives."""
    header = notice.header
    return SupplierEvent(
        event_key=f"{header.key}/{notice.shipment_number}/{state.po_number}/{state.line_number}/{EventType.ASN}",
        po_number=state.po_number,
        po_line_number=state.line_number,
        event_type=EventType.ASN,
        event_at=header.issued_at,
        message_ref=f"{header.reference}, shipment {notice.shipment_number}, {quantity} {unit} shipped",
        old_date=state.expected_date,
        new_date=expected_date,
        new_qty=quantity,
        unit=unit,
    )
