"""Read ANSI X12 interchanges: delimiters, envelope checks, and the 850, 855 and 856 transaction sets.

The ISA header is fixed width, so its own characters name the delimiters:
the element separator follows "ISA", the component separator is ISA16 and
the segment terminator is the character right after it. The repetition
separator is ISA11 from version 00402 on; before that ISA11 is the
standards identifier "U". Line breaks and spaces between segments are
ignored. Element numbers in this module follow X12: BEG03 is the third
element of BEG.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from services.sync.edi import (
    Acknowledgement,
    AckLine,
    EdiRejected,
    MessageHeader,
    OrderLine,
    Party,
    PurchaseOrder,
    ShipNotice,
    ShippedItem,
    ack_status,
)

logger = logging.getLogger(__name__)

ISA_ELEMENTS = 16
REPETITION_FROM_VERSION = "00402"
WHITESPACE = " \t\r\n\ufeff"

# X12 element 668, line item status codes (ACK01), grouped by what they do to supply.
ACCEPTED_CODES = frozenset({"IA", "AC", "AR", "IE", "SP"})
CHANGED_CODES = frozenset({"IC", "IP", "IQ", "IS", "DR"})
BACKORDERED_CODES = frozenset({"IB"})
PARTIAL_BACKORDER_CODE = "BP"
REJECTED_CODES = frozenset({"IR", "ID", "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8"})
ON_HOLD_CODES = frozenset({"IH", "IF", "IW"})
# BAK02 acknowledgement types that accept lines sent without an ACK segment.
ACCEPT_WITHOUT_DETAIL = frozenset({"AD", "AK", "AT"})

# X12 element 374 date qualifiers, in the order their date becomes the line's acknowledged
# date: current schedule delivery, promised for delivery, estimated delivery, current
# schedule ship, promised for shipment, delivery requested. A ship date is taken as it is.
ACK_DATE_QUALIFIERS = ("067", "069", "017", "068", "079", "002")
ORDER_DATE_QUALIFIERS = ("002", "067", "069", "017")
SHIPPED_QUALIFIER = "011"
ARRIVAL_QUALIFIERS = ("017", "067")

# Product id qualifiers (element 235) tried in this order for the distributor's SKU:
# buyer's part number, buyer's catalog number, buyer's item number, then the
# supplier's numbers, then standard codes (UPC, GTIN, EAN, ISBN).
SKU_QUALIFIERS = ("BP", "CB", "IN", "VP", "VN", "VC", "SK", "UP", "UK", "UA", "EN", "EA", "IB", "IS")


@dataclass(frozen=True)
class Delimiters:
    element: str
    component: str
    segment: str
    repetition: str | None


@dataclass(frozen=True)
class Segment:
    tag: str
    elements: tuple[str, ...]
    number: int  # position of the segment in the file, from 1

    def element(self, index: int) -> str:
        """Return element `index` (1 for the first), stripped, or "" when the segment is shorter."""
        if 1 <= index <= len(self.elements):
            return self.elements[index - 1].strip()
        return ""


@dataclass(frozen=True)
class TransactionSet:
    """One ST..SE transaction set with the envelope data its messages need."""

    code: str
    control_number: str
    header: MessageHeader
    segments: tuple[Segment, ...]


def read_delimiters(text: str, file_name: str) -> Delimiters:
    """Read the delimiters from the ISA header; raise EdiRejected when it is not an X12 interchange."""
    if not text.startswith("ISA") or len(text) < 106:
        raise EdiRejected(f"{file_name} does not start with an X12 ISA header of 106 characters; it is not an X12 file")
    element = text[3]
    start = 0
    for _ in range(ISA_ELEMENTS):
        start = text.find(element, start) + 1
        if start == 0:
            raise EdiRejected(f"{file_name}: the ISA header has fewer than {ISA_ELEMENTS} elements separated by {element!r}")
    component, terminator = text[start], text[start + 1]
    if component.isalnum() or terminator.isalnum() or len({element, component, terminator}) < 3:
        raise EdiRejected(
            f"{file_name}: the ISA header names element separator {element!r}, component separator "
            f"{component!r} and segment terminator {terminator!r}; they must be three different "
            "non-alphanumeric characters"
        )
    fields = text[: start + 1].split(element)
    repetition = fields[11] if fields[12] >= REPETITION_FROM_VERSION and not fields[11].isalnum() else None
    return Delimiters(element, component, terminator, repetition)


def split_segments(text: str, delimiters: Delimiters) -> list[Segment]:
    """Split the text into segments, ignoring line breaks and spaces between them."""
    segments = []
    for piece in text.split(delimiters.segment):
        piece = piece.strip(WHITESPACE)
        if piece:
            tag, *elements = piece.split(delimiters.element)
            segments.append(Segment(tag.strip(), tuple(elements), len(segments) + 1))
    return segments


def read_transaction_sets(text: str, file_name: str, zone: ZoneInfo) -> list[TransactionSet]:
    """Read every transaction set of every interchange in the text, checking the envelope counts.

    Raises EdiRejected naming the control number when a trailer is missing,
    its count does not match or its control number differs from its header.
    """
    text = text.lstrip(WHITESPACE)
    segments = split_segments(text, read_delimiters(text, file_name))
    walker = _EnvelopeWalker(segments, file_name, zone)
    return walker.read()


class _EnvelopeWalker:
    """Walks ISA/GS/ST envelopes in order and checks each trailer against its header."""

    def __init__(self, segments: list[Segment], file_name: str, zone: ZoneInfo):
        self.segments = segments
        self.file_name = file_name
        self.zone = zone
        self.index = 0

    def _next(self, expected: str, inside: str) -> Segment:
        if self.index >= len(self.segments):
            raise EdiRejected(
                f"{self.file_name}: {inside} has no {expected} trailer; the file is cut short, ask the sender to send it again"
            )
        segment = self.segments[self.index]
        self.index += 1
        return segment

    def _peek(self) -> str | None:
        return self.segments[self.index].tag if self.index < len(self.segments) else None

    def read(self) -> list[TransactionSet]:
        sets: list[TransactionSet] = []
        while self.index < len(self.segments):
            isa = self._next("ISA", "the file")
            if isa.tag != "ISA":
                raise EdiRejected(f"{self.file_name}: segment {isa.number} is {isa.tag} outside an ISA/IEA interchange")
            sets += self._interchange(isa)
        return sets

    def _interchange(self, isa: Segment) -> list[TransactionSet]:
        control = isa.element(13)
        inside = f"interchange {control}"
        sets, groups = [], 0
        while self._peek() not in ("IEA", None):
            gs = self._next("GS", inside)
            if gs.tag == "ISA":
                raise EdiRejected(f"{self.file_name}: {inside} has no IEA trailer before the next ISA at segment {gs.number}")
            if gs.tag != "GS":
                raise EdiRejected(f"{self.file_name}: {inside} has {gs.tag} at segment {gs.number} where a GS group header belongs")
            sets += self._group(isa, gs)
            groups += 1
        iea = self._next("IEA", inside)
        _check_trailer(self.file_name, inside, iea, "IEA", count=groups, counted="functional groups", control=control)
        return sets

    def _group(self, isa: Segment, gs: Segment) -> list[TransactionSet]:
        control = gs.element(6)
        inside = f"functional group {control} of interchange {isa.element(13)}"
        issued_at = _group_time(gs, isa, self.zone, self.file_name, inside)
        sets = []
        while self._peek() not in ("GE", "IEA", "GS", None):
            sets.append(self._transaction_set(isa, gs, issued_at))
        ge = self._next("GE", inside)
        _check_trailer(self.file_name, inside, ge, "GE", count=len(sets), counted="transaction sets", control=control)
        return sets

    def _transaction_set(self, isa: Segment, gs: Segment, issued_at: datetime) -> TransactionSet:
        st = self._next("ST", "the group")
        if st.tag != "ST":
            raise EdiRejected(
                f"{self.file_name}: group {gs.element(6)} of interchange {isa.element(13)} has {st.tag} "
                f"at segment {st.number} where an ST header belongs"
            )
        control = st.element(2)
        inside = f"transaction set {st.element(1)} {control} in group {gs.element(6)} of interchange {isa.element(13)}"
        body = []
        while self._peek() not in ("SE", "ST", "GE", "GS", "IEA", "ISA", None):
            body.append(self._next("SE", inside))
        se = self._next("SE", inside)
        _check_trailer(self.file_name, inside, se, "SE", count=len(body) + 2, counted="segments", control=control)
        header = MessageHeader(
            standard="X12",
            message_type=st.element(1),
            sender=isa.element(6),
            receiver=isa.element(8),
            interchange_control=isa.element(13),
            message_control=control,
            issued_at=issued_at,
        )
        return TransactionSet(st.element(1), control, header, tuple(body))


def _check_trailer(
    file_name: str, inside: str, trailer: Segment, expected_tag: str, *, count: int, counted: str, control: str
) -> None:
    """Compare a trailer's count and control number with what the envelope contains."""
    if trailer.tag != expected_tag:
        raise EdiRejected(
            f"{file_name}: {inside} has {trailer.tag} at segment {trailer.number} where its "
            f"{expected_tag} trailer belongs; the file is damaged, ask the sender to send it again"
        )
    stated = trailer.element(1)
    if stated != str(count):
        raise EdiRejected(
            f"{file_name}: {inside} states {stated or 'no'} {counted} in {expected_tag}01 but contains {count}; "
            "the file is damaged or was edited by hand, ask the sender to send it again"
        )
    if trailer.element(2) != control:
        raise EdiRejected(
            f"{file_name}: {inside} ends with {expected_tag} control number {trailer.element(2)!r} "
            f"instead of {control!r}; the trailer belongs to another envelope"
        )


def _group_time(gs: Segment, isa: Segment, zone: ZoneInfo, file_name: str, inside: str) -> datetime:
    """Return when the sender prepared the group: GS04 and GS05, else ISA09 and ISA10, in the zone."""
    for day, clock in ((gs.element(4), gs.element(5)), (isa.element(9), isa.element(10))):
        stamp = parse_date(day)
        if stamp is not None:
            return datetime.combine(stamp, parse_time(clock), tzinfo=zone)
    raise EdiRejected(
        f"{file_name}: {inside} has no valid date in GS04 ({gs.element(4)!r}) or ISA09 ({isa.element(9)!r}); "
        "write CCYYMMDD in GS04"
    )


def parse_date(raw: str) -> date | None:
    """Read CCYYMMDD or YYMMDD (years 00-49 are 20xx), or return None when the text is no date."""
    raw = raw.strip()
    try:
        if len(raw) == 8 and raw.isdigit():
            return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        if len(raw) == 6 and raw.isdigit():
            year = int(raw[:2])
            return date(2000 + year if year < 50 else 1900 + year, int(raw[2:4]), int(raw[4:]))
    except ValueError:
        return None
    return None


def parse_time(raw: str) -> time:
    """Read HHMM, HHMMSS or HHMMSS with decimal seconds; midnight when the text is missing or no time."""
    raw = raw.strip()
    try:
        if len(raw) >= 4 and raw[:4].isdigit():
            seconds = int(raw[4:6]) if len(raw) >= 6 and raw[4:6].isdigit() else 0
            return time(int(raw[:2]), int(raw[2:4]), seconds)
    except ValueError:
        pass
    return time(0, 0)


def parse_quantity(raw: str) -> Decimal | None:
    """Read an X12 decimal such as 12, 12.5 or .5; None when it is empty; raise ValueError otherwise."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{raw!r} is not a finite number")
    return value


def product_ids(segment: Segment, first: int, last: int) -> tuple[tuple[str, str], ...]:
    """Return the (qualifier, id) pairs in elements first..last of a segment, skipping empty ones."""
    pairs = []
    for index in range(first, last, 2):
        qualifier, value = segment.element(index), segment.element(index + 1)
        if qualifier and value:
            pairs.append((qualifier, value))
    return tuple(pairs)


def preferred_sku(ids: tuple[tuple[str, str], ...]) -> str | None:
    """Return the id that stands for the distributor's SKU, by SKU_QUALIFIERS order, else the first id."""
    by_qualifier = dict(ids)
    for qualifier in SKU_QUALIFIERS:
        if qualifier in by_qualifier:
            return by_qualifier[qualifier]
    return ids[0][1] if ids else None


def _dated(segment: Segment, qualifier_index: int, dates: dict[str, date]) -> None:
    """Add the date of a qualifier/date element pair to dates, keeping a date already read."""
    qualifier, stamp = segment.element(qualifier_index), parse_date(segment.element(qualifier_index + 1))
    if qualifier and stamp is not None:
        dates.setdefault(qualifier, stamp)


def first_date(qualifiers: tuple[str, ...], *sources: dict[str, date]) -> date | None:
    """Return the date of the first qualifier found, looking through the sources in order."""
    for source in sources:
        for qualifier in qualifiers:
            if qualifier in source:
                return source[qualifier]
    return None


def _split_lines(segments: tuple[Segment, ...], line_tag: str) -> tuple[list[Segment], list[list[Segment]]]:
    """Split a transaction set into its header segments and one group per line segment.

    The summary from CTT on (CTT, AMT) belongs to no line and is left out.
    """
    header: list[Segment] = []
    lines: list[list[Segment]] = []
    for segment in segments:
        if segment.tag == "CTT":
            break
        if segment.tag == line_tag:
            lines.append([segment])
        elif lines:
            lines[-1].append(segment)
        else:
            header.append(segment)
    return header, lines


def _parties(segments: list[Segment]) -> tuple[Party, ...]:
    return tuple(Party(s.element(1), s.element(2), s.element(4)) for s in segments if s.tag == "N1")


def _header_dates(segments: list[Segment]) -> dict[str, date]:
    dates: dict[str, date] = {}
    for segment in segments:
        if segment.tag == "DTM":
            _dated(segment, 1, dates)
    return dates


def read_850(transaction: TransactionSet) -> PurchaseOrder:
    """Read a purchase order: BEG, N1 parties, CUR, DTM dates and PO1 lines with PID and DTM."""
    header_segments, line_groups = _split_lines(transaction.segments, "PO1")
    beg = next((s for s in header_segments if s.tag == "BEG"), None)
    if beg is None:
        raise EdiRejected(f"{transaction.header.reference} has no BEG segment, so its PO number is unknown")
    currency = next((s.element(2) for s in header_segments if s.tag == "CUR" and s.element(2)), "USD")
    lines = tuple(_order_line(group, number) for number, group in enumerate(line_groups, start=1))
    return PurchaseOrder(
        header=transaction.header,
        po_number=beg.element(3),
        order_date=parse_date(beg.element(5)),
        purpose=beg.element(1),
        currency=currency,
        parties=_parties(header_segments),
        dates=_header_dates(header_segments),
        lines=lines,
    )


def _order_line(group: list[Segment], ordinal: int) -> OrderLine:
    po1 = group[0]
    problem = None
    try:
        quantity = parse_quantity(po1.element(2))
        price = parse_quantity(po1.element(4))
    except ValueError as error:
        quantity, price, problem = None, None, f"PO1 at segment {po1.number}: {error}"
    if quantity is None and problem is None:
        problem = f"PO1 at segment {po1.number} has no quantity in PO102"
    dates: dict[str, date] = {}
    description = ""
    for segment in group[1:]:
        if segment.tag == "DTM":
            _dated(segment, 1, dates)
        elif segment.tag == "PID" and not description:
            description = segment.element(5)
    return OrderLine(
        position=f"segment {po1.number}",
        # PO101 is optional in X12; a line without it is numbered by its place in the order.
        line_number=po1.element(1) or str(ordinal),
        quantity=quantity,
        unit=po1.element(3),
        unit_price=price,
        product_ids=product_ids(po1, 6, 25),
        description=description,
        dates=dates,
        problem=problem,
    )


def read_855(transaction: TransactionSet) -> Acknowledgement:
    """Read a purchase order acknowledgement: BAK, DTM, and PO1 lines with ACK, DTM and SCH."""
    header_segments, line_groups = _split_lines(transaction.segments, "PO1")
    bak = next((s for s in header_segments if s.tag == "BAK"), None)
    if bak is None:
        raise EdiRejected(f"{transaction.header.reference} has no BAK segment, so its PO number is unknown")
    po_number = bak.element(3)
    header_dates = _header_dates(header_segments)
    if not line_groups:
        # TODO: an 855 without PO1 lines acknowledges the whole order (BAK02 AK, AT or RJ).
        # It is read as no lines, so it changes nothing.
        logger.warning("%s for PO %s has no PO1 lines; nothing is applied", transaction.header.reference, po_number)
    lines = tuple(
        _ack_line(group, po_number, bak.element(2), header_dates, number)
        for number, group in enumerate(line_groups, start=1)
    )
    return Acknowledgement(transaction.header, po_number, lines)


@dataclass
class _AckTally:
    """The quantities and flags gathered from the ACK segments of one line."""

    confirmed: Decimal = Decimal(0)
    backordered: Decimal = Decimal(0)
    rejected: bool = False
    changed: bool = False
    problem: str | None = None


def _ack_line(group: list[Segment], po_number: str, ack_type: str, header_dates: dict[str, date], ordinal: int) -> AckLine:
    po1 = group[0]
    line_number = po1.element(1) or str(ordinal)
    tally = _AckTally()
    try:
        ordered = parse_quantity(po1.element(2))
    except ValueError as error:
        ordered, tally.problem = None, f"PO102 {error}"
    dates: dict[str, date] = {}
    acks = [segment for segment in group if segment.tag == "ACK"]
    for segment in group[1:]:
        if segment.tag == "DTM":
            _dated(segment, 1, dates)
        elif segment.tag == "SCH":
            _dated(segment, 5, dates)
            _dated(segment, 8, dates)
        elif segment.tag == "ACK":
            _dated(segment, 4, dates)
            _tally_ack(segment, ordered, tally)

    if not acks and tally.problem is None:
        if ack_type in ACCEPT_WITHOUT_DETAIL and ordered is not None:
            tally.confirmed = ordered
        else:
            tally.problem = f"line {line_number} has no ACK segment and BAK02 {ack_type!r} does not accept it as ordered"
    unit = next((s.element(3) for s in acks if s.element(3)), po1.element(3))
    if po1.element(3) and unit != po1.element(3) and tally.problem is None:
        tally.problem = f"line {line_number} is ordered in {po1.element(3)} but acknowledged in {unit}; acknowledge it in the ordered unit"
    acknowledged = tally.confirmed + tally.backordered
    return AckLine(
        position=f"segment {po1.number}",
        po_number=po_number,
        line_number=line_number,
        product_ids=product_ids(po1, 6, 25),
        unit=unit,
        ordered_qty=ordered,
        confirmed_qty=tally.confirmed,
        backordered_qty=tally.backordered,
        status=ack_status(
            rejected=tally.rejected, changed=tally.changed,
            backordered_qty=tally.backordered, acknowledged_qty=acknowledged, ordered_qty=ordered,
        ),
        new_date=first_date(ACK_DATE_QUALIFIERS, dates, header_dates),
        codes="ACK " + (" ".join(s.element(1) for s in acks) or f"none, BAK02 {ack_type}"),
        problem=tally.problem,
    )


def _tally_ack(segment: Segment, ordered: Decimal | None, tally: _AckTally) -> None:
    """Add one ACK segment's status and quantity to the line's tally."""
    code = segment.element(1)
    try:
        quantity = parse_quantity(segment.element(2))
    except ValueError as error:
        tally.problem = tally.problem or f"ACK02 at segment {segment.number}: {error}"
        return
    whole = quantity if quantity is not None else ordered
    if code in REJECTED_CODES:
        tally.rejected = True
    elif code in ON_HOLD_CODES:
        tally.problem = tally.problem or (
            f"ACK01 {code} puts the line on hold, which neither confirms nor rejects it; "
            "the acknowledgement is applied when the supplier sends a confirmation or a rejection"
        )
    elif whole is None:
        tally.problem = tally.problem or f"ACK at segment {segment.number} has no quantity and the PO1 line none either"
    elif code in ACCEPTED_CODES:
        tally.confirmed += whole
    elif code in CHANGED_CODES:
        tally.changed = True
        tally.confirmed += whole
    elif code in BACKORDERED_CODES:
        tally.backordered += whole
    elif code == PARTIAL_BACKORDER_CODE:
        # BP: ACK02 ships now and the rest of the ordered quantity is backordered.
        tally.confirmed += whole
        tally.backordered += max((ordered or whole) - whole, Decimal(0))
    else:
        tally.problem = tally.problem or (
            f"ACK01 {code!r} at segment {segment.number} is not an X12 line item status code this "
            "connector reads; ask the supplier to use IA, IB, IC, IQ, DR, IR or another code of element 668"
        )


@dataclass
class _HierarchicalLevel:
    """One HL level of an 856 and the segments that follow it up to the next HL."""

    id: str
    parent: str
    code: str
    segments: list[Segment]

    def first(self, tag: str) -> Segment | None:
        return next((s for s in self.segments if s.tag == tag), None)

    def dates(self) -> dict[str, date]:
        found: dict[str, date] = {}
        for segment in self.segments:
            if segment.tag == "DTM":
                _dated(segment, 1, found)
        return found


def read_856(transaction: TransactionSet) -> ShipNotice:
    """Read a ship notice: BSN and the HL tree, placing each item under its order through HL02 parents."""
    bsn = next((s for s in transaction.segments if s.tag == "BSN"), None)
    if bsn is None:
        raise EdiRejected(f"{transaction.header.reference} has no BSN segment, so its shipment id is unknown")
    levels = _hierarchical_levels(transaction.segments)
    items = [
        _shipped_item(level, levels, parse_date(bsn.element(3)))
        for level in levels.values()
        if level.code == "I" or (not level.code and level.first("SN1"))
    ]
    if not items:
        logger.warning("%s (shipment %s) has no item level; nothing is shipped", transaction.header.reference, bsn.element(2))
    # TODO: BSN01 03 (delete) and 05 (replace) are read as an original notice.
    return ShipNotice(transaction.header, bsn.element(2), tuple(items))


def _hierarchical_levels(segments: tuple[Segment, ...]) -> dict[str, _HierarchicalLevel]:
    levels: dict[str, _HierarchicalLevel] = {}
    current = None
    for segment in segments:
        if segment.tag == "HL":
            current = _HierarchicalLevel(segment.element(1), segment.element(2), segment.element(3), [segment])
            levels[current.id] = current
        elif current is not None:
            current.segments.append(segment)
    return levels


def _ancestors(level: _HierarchicalLevel, levels: dict[str, _HierarchicalLevel]) -> tuple[list[_HierarchicalLevel], str | None]:
    """Return the level and its parents, nearest first, or a problem when a parent is missing or loops."""
    chain, seen = [level], {level.id}
    while chain[-1].parent:
        parent = levels.get(chain[-1].parent)
        if parent is None:
            return chain, f"HL {chain[-1].id} names parent HL {chain[-1].parent}, which is not in the message"
        if parent.id in seen:
            return chain, f"HL {level.id} has a parent loop through HL {parent.id}"
        chain.append(parent)
        seen.add(parent.id)
    return chain, None


def _shipped_item(level: _HierarchicalLevel, levels: dict[str, _HierarchicalLevel], notice_date: date | None) -> ShippedItem:
    """Read one item level, taking its PO and dates from the nearest level above that carries them."""
    chain, problem = _ancestors(level, levels)
    prf = next((found for found in (ancestor.first("PRF") for ancestor in chain) if found is not None), None)
    dates = [ancestor.dates() for ancestor in chain]
    lin, sn1 = level.first("LIN"), level.first("SN1")

    quantity, quantity_problem = _shipped_quantity(level, sn1)
    if problem is None and prf is None:
        problem = f"item HL {level.id} has no order level with a PRF segment above it, so its PO is unknown"
    problem = problem or quantity_problem

    line_number = lin.element(1) if lin else ""
    item_prf = level.first("PRF")
    if not line_number and item_prf is not None:
        line_number = item_prf.element(5)

    return ShippedItem(
        position=f"segment {level.segments[0].number}",
        hl_id=level.id,
        po_number=prf.element(1) if prf else "",
        line_number=line_number,
        product_ids=product_ids(lin, 2, 31) if lin else (),
        quantity=quantity,
        unit=sn1.element(3) if sn1 else "",
        ship_date=first_date((SHIPPED_QUALIFIER,), *dates) or notice_date,
        expected_date=first_date(ARRIVAL_QUALIFIERS, *dates),
        problem=problem,
    )


def _shipped_quantity(level: _HierarchicalLevel, sn1: Segment | None) -> tuple[Decimal | None, str | None]:
    """Return SN102, or a problem when the item has no SN1 or its quantity is empty or no number."""
    if sn1 is None:
        return None, f"item HL {level.id} has no SN1 segment, so its shipped quantity is unknown"
    try:
        quantity = parse_quantity(sn1.element(2))
    except ValueError as error:
        return None, f"SN102 of item HL {level.id}: {error}"
    if quantity is None:
        return None, f"SN102 of item HL {level.id} is empty, so its shipped quantity is unknown"
    return quantity, None


READERS = {"850": read_850, "855": read_855, "856": read_856}


def read_x12(text: str, file_name: str, zone: ZoneInfo) -> list[PurchaseOrder | Acknowledgement | ShipNotice]:
    """Read every 850, 855 and 856 in an X12 file; raise EdiRejected for a broken envelope or another set."""
    transaction_sets = read_transaction_sets(text, file_name, zone)
    unknown = Counter(t.code for t in transaction_sets if t.code not in READERS)
    if unknown:
        named = ", ".join(f"{code} ({count})" for code, count in sorted(unknown.items()))
        raise EdiRejected(
            f"{file_name} contains transaction sets {named}; the control tower reads 850, 855 and 856 only, "
            "so send the other sets to the system that handles them"
        )
    messages = [READERS[t.code](t) for t in transaction_sets]
    logger.debug("%s: read %d X12 transaction sets", file_name, len(messages))
    return messages
