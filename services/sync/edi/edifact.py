"""Read EDIFACT ORDRSP (order response) messages, directory D96A, into acknowledgements.

pydifact (0.2.3) splits the interchange into segments: it takes the
delimiters from the UNA service string advice (default ``:+.? '``),
unescapes the release character ``?`` and skips line breaks after a segment
terminator. This module checks the envelope counts (UNT, UNE, UNZ),
which pydifact does not, and maps the order response codes.

Action codes on LIN (data element 1229 of the UN/EDIFACT code lists):
  5 accepted without amendment, 6 accepted with amendment, 24 accepted with
  amendment and no confirmation required, 3 changed -> accepted or changed;
  7 not accepted, 2 deleted, 10 not found -> rejected;
  4 no action -> the line is left as it is.
Quantities (6063): 21 ordered, 12 dispatched, 83 backordered.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from pydifact.exceptions import EDISyntaxError
from pydifact.parser import Parser
from pydifact.segments import Segment, SegmentFactory

from services.sync.edi import Acknowledgement, AckLine, EdiRejected, MessageHeader, ack_status

logger = logging.getLogger(__name__)

ACCEPTED_ACTIONS = frozenset({"5"})
CHANGED_ACTIONS = frozenset({"3", "6", "24"})
REJECTED_ACTIONS = frozenset({"2", "7", "10"})
NO_ACTION = "4"

ORDERED, DISPATCHED, BACKORDERED = "21", "12", "83"

# DTM qualifiers (2005), in the order their date becomes the line's acknowledged date:
# delivery promised for, delivery estimated, availability date.
ACK_DATE_QUALIFIERS = ("69", "17", "44")

WHITESPACE = " \t\r\n\ufeff"


class _UncheckedSegmentFactory(SegmentFactory):
    """Builds segments without pydifact's directory checks, which only warn when no directory is installed."""

    @staticmethod
    def create_segment(name, *elements, validate=True, version="", directory=""):
        return SegmentFactory.create_segment(name, *elements, validate=False)


def component(segment: Segment, index: int, part: int = 0) -> str:
    """Return component `part` of element `index` (both from 0), or "" when absent."""
    if index >= len(segment.elements):
        return ""
    element = segment.elements[index]
    if isinstance(element, list):
        return element[part].strip() if part < len(element) else ""
    return element.strip() if part == 0 else ""


def parse_segments(text: str, file_name: str) -> list[Segment]:
    """Split an EDIFACT interchange into segments; raise EdiRejected when it cannot be tokenized."""
    text = text.strip(WHITESPACE)
    if not (text.startswith("UNA") or text.startswith("UNB")):
        raise EdiRejected(f"{file_name} does not start with UNA or UNB; it is not an EDIFACT interchange")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            segments = list(Parser(factory=_UncheckedSegmentFactory()).parse(text))
    except EDISyntaxError as error:
        raise EdiRejected(f"{file_name} is not valid EDIFACT: {error}") from None
    return [segment for segment in segments if segment.tag != "UNA"]


@dataclass(frozen=True)
class _Message:
    header: MessageHeader
    segments: list[Segment]


def _interchange_time(unb: Segment, zone: ZoneInfo, file_name: str) -> datetime:
    """Return when the sender prepared the interchange (UNB date YYMMDD or CCYYMMDD, time HHMM)."""
    raw_date, raw_time = component(unb, 3, 0), component(unb, 3, 1)
    stamp = _parse_date(raw_date, "102" if len(raw_date) == 8 else "101")
    if stamp is None:
        raise EdiRejected(f"{file_name}: UNB of interchange {component(unb, 4)} has date {raw_date!r}, which is not YYMMDD")
    clock = time(int(raw_time[:2]), int(raw_time[2:4])) if len(raw_time) == 4 and raw_time.isdigit() else time(0, 0)
    return datetime.combine(stamp, clock, tzinfo=zone)


def _parse_date(raw: str, format_code: str) -> date | None:
    """Read a DTM date in format 102 (CCYYMMDD), 101 (YYMMDD) or 203 (CCYYMMDDHHMM); None otherwise."""
    try:
        if format_code in ("102", "203", "204") and len(raw) >= 8 and raw[:8].isdigit():
            return date(int(raw[:4]), int(raw[4:6]), int(raw[6:8]))
        if format_code == "101" and len(raw) == 6 and raw.isdigit():
            return date(2000 + int(raw[:2]), int(raw[2:4]), int(raw[4:]))
    except ValueError:
        return None
    return None


def read_messages(text: str, file_name: str, zone: ZoneInfo) -> list[_Message]:
    """Split the interchanges into messages, checking the UNT, UNE and UNZ counts and references."""
    segments = parse_segments(text, file_name)
    messages: list[_Message] = []
    index = 0
    while index < len(segments):
        unb = segments[index]
        if unb.tag != "UNB":
            raise EdiRejected(f"{file_name}: segment {index + 1} is {unb.tag} outside a UNB/UNZ interchange")
        reference = component(unb, 4)
        issued_at = _interchange_time(unb, zone, file_name)
        index += 1
        # UNZ counts the functional groups (UNG..UNE) when the interchange has them, else the messages.
        counted = 0
        while index < len(segments) and segments[index].tag in ("UNH", "UNG"):
            if segments[index].tag == "UNG":
                index = _read_group(segments, index, unb, issued_at, messages, file_name)
            else:
                end = _message_end(segments, index, reference, file_name)
                messages.append(_Message(_header(unb, segments[index], issued_at), segments[index + 1:end]))
                index = end + 1
            counted += 1
        _check_unz(segments, index, reference, counted, file_name)
        index += 1
    return messages


def _read_group(
    segments: list[Segment], start: int, unb: Segment, issued_at: datetime, messages: list[_Message], file_name: str
) -> int:
    """Read the messages of the UNG group at start into messages; return the index after its UNE."""
    interchange, group = component(unb, 4), component(segments[start], 4)
    index, count = start + 1, 0
    while index < len(segments) and segments[index].tag == "UNH":
        end = _message_end(segments, index, interchange, file_name)
        messages.append(_Message(_header(unb, segments[index], issued_at), segments[index + 1:end]))
        index, count = end + 1, count + 1
    inside = f"group {group} of interchange {interchange}"
    if index >= len(segments) or segments[index].tag != "UNE":
        raise EdiRejected(f"{file_name}: {inside} has no UNE trailer after its messages; ask the sender to send it again")
    une = segments[index]
    if component(une, 0) != str(count):
        raise EdiRejected(f"{file_name}: {inside} states {component(une, 0) or 'no'} messages in UNE but contains {count}")
    if component(une, 1) != group:
        raise EdiRejected(f"{file_name}: {inside} ends with UNE reference {component(une, 1)!r} instead of {group!r}")
    return index + 1


def _message_end(segments: list[Segment], start: int, interchange: str, file_name: str) -> int:
    """Return the index of the UNT closing the message at start, checking its count and reference."""
    reference = component(segments[start], 0)
    inside = f"message {reference} of interchange {interchange}"
    end = start + 1
    while end < len(segments) and segments[end].tag not in ("UNT", "UNH", "UNE", "UNZ"):
        end += 1
    if end >= len(segments) or segments[end].tag != "UNT":
        raise EdiRejected(f"{file_name}: {inside} has no UNT trailer; the file is cut short, ask the sender to send it again")
    unt = segments[end]
    stated, counted = component(unt, 0), end - start + 1
    if stated != str(counted):
        raise EdiRejected(
            f"{file_name}: {inside} states {stated or 'no'} segments in UNT but contains {counted}; "
            "the file is damaged or was edited by hand, ask the sender to send it again"
        )
    if component(unt, 1) != reference:
        raise EdiRejected(f"{file_name}: {inside} ends with UNT reference {component(unt, 1)!r} instead of {reference!r}")
    return end


def _check_unz(segments: list[Segment], index: int, reference: str, count: int, file_name: str) -> None:
    inside = f"interchange {reference}"
    if index >= len(segments) or segments[index].tag != "UNZ":
        raise EdiRejected(f"{file_name}: {inside} has no UNZ trailer after its messages; ask the sender to send it again")
    unz = segments[index]
    if component(unz, 0) != str(count):
        raise EdiRejected(f"{file_name}: {inside} states {component(unz, 0) or 'no'} messages or groups in UNZ but contains {count}")
    if component(unz, 1) != reference:
        raise EdiRejected(f"{file_name}: {inside} ends with UNZ reference {component(unz, 1)!r} instead of {reference!r}")


def _header(unb: Segment, unh: Segment, issued_at: datetime) -> MessageHeader:
    return MessageHeader(
        standard="EDIFACT",
        message_type=component(unh, 1, 0),
        sender=component(unb, 1, 0),
        receiver=component(unb, 2, 0),
        interchange_control=component(unb, 4),
        message_control=component(unh, 0),
        issued_at=issued_at,
    )


def _quantity(raw: str) -> Decimal:
    """Read an EDIFACT number, whose decimal mark may be a point or a comma; raise ValueError otherwise."""
    try:
        value = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{raw!r} is not a finite number")
    return value


def read_ordrsp(message: _Message) -> Acknowledgement:
    """Read an order response: RFF+ON order number, then one acknowledgement line per LIN group."""
    header_segments, groups = _split_lin_groups(message.segments)
    order_number = next((component(s, 0, 1) for s in header_segments if s.tag == "RFF" and component(s, 0) == "ON"), "")
    header_dates = _dates(header_segments)
    lines = tuple(_ack_line(group, order_number, header_dates) for group in groups)
    return Acknowledgement(message.header, order_number or _first_order(lines), lines)


def _first_order(lines: tuple[AckLine, ...]) -> str:
    return next((line.po_number for line in lines if line.po_number), "")


def _split_lin_groups(segments: list[Segment]) -> tuple[list[Segment], list[list[Segment]]]:
    """Split a message into its header and one group per LIN, stopping at the UNS summary."""
    header: list[Segment] = []
    groups: list[list[Segment]] = []
    for segment in segments:
        if segment.tag == "UNS":
            break
        if segment.tag == "LIN":
            groups.append([segment])
        elif groups:
            groups[-1].append(segment)
        else:
            header.append(segment)
    return header, groups


def _dates(segments: list[Segment]) -> dict[str, date]:
    found: dict[str, date] = {}
    for segment in segments:
        if segment.tag == "DTM":
            stamp = _parse_date(component(segment, 0, 1), component(segment, 0, 2) or "102")
            if stamp is not None:
                found.setdefault(component(segment, 0, 0), stamp)
    return found


def _line_reference(group: list[Segment], order_number: str) -> tuple[str, str]:
    """Return the order and the line that a LIN group refers to.

    RFF+ON on the line names the order. RFF+LI names the buyer's line, either
    as "order/line" (as Evergreen sends it and Brodart echoes it) or as the
    line alone. Without RFF+LI the LIN line number is the order line.
    """
    lin = group[0]
    line_order = next((component(s, 0, 1) for s in group if s.tag == "RFF" and component(s, 0) == "ON"), "")
    line_ref = next((component(s, 0, 1) for s in group if s.tag == "RFF" and component(s, 0) == "LI"), "")
    order, line = line_order or order_number, component(lin, 0)
    if "/" in line_ref:
        ref_order, line = line_ref.rsplit("/", 1)
        order = line_order or order_number or ref_order
    elif line_ref:
        line = line_ref
    return order, line


def _quantities(group: list[Segment]) -> tuple[dict[str, Decimal], str, str | None]:
    """Return the line's QTY values by qualifier, their unit, and a problem when one is no number."""
    quantities: dict[str, Decimal] = {}
    unit, problem = "", None
    for segment in group:
        if segment.tag != "QTY":
            continue
        try:
            quantities.setdefault(component(segment, 0, 0), _quantity(component(segment, 0, 1)))
        except ValueError as error:
            problem = problem or f"QTY+{component(segment, 0, 0)} of LIN {component(group[0], 0)}: {error}"
        unit = unit or component(segment, 0, 2)
    return quantities, unit, problem


def _confirmed(quantities: dict[str, Decimal], rejected: bool) -> Decimal | None:
    """Return the quantity confirmed for the date: dispatched, else ordered minus backordered."""
    if rejected:
        return Decimal(0)
    if DISPATCHED in quantities:
        return quantities[DISPATCHED]
    if ORDERED in quantities:
        return max(quantities[ORDERED] - quantities.get(BACKORDERED, Decimal(0)), Decimal(0))
    return None


def _line_problem(lin: Segment, action: str, po_number: str, confirmed: Decimal | None) -> str | None:
    line = component(lin, 0)
    if confirmed is None:
        return f"LIN {line} has neither QTY+21 (ordered) nor QTY+12 (dispatched)"
    if action not in ACCEPTED_ACTIONS | CHANGED_ACTIONS | REJECTED_ACTIONS | {NO_ACTION}:
        return (
            f"LIN {line} has action code {action!r}, which this connector does not apply; "
            "it applies 5, 6, 24 and 3 (accepted or changed), 2, 7 and 10 (rejected) and 4 (no action)"
        )
    if not po_number:
        return f"LIN {line} names no order: add RFF+ON to the message or RFF+LI order/line to the line"
    return None


def _ack_line(group: list[Segment], order_number: str, header_dates: dict[str, date]) -> AckLine:
    lin = group[0]
    action = component(lin, 1)
    po_number, line_number = _line_reference(group, order_number)
    quantities, unit, problem = _quantities(group)

    rejected = action in REJECTED_ACTIONS
    confirmed = _confirmed(quantities, rejected)
    backordered = Decimal(0) if rejected else quantities.get(BACKORDERED, Decimal(0))
    problem = problem or _line_problem(lin, action, po_number, confirmed)
    confirmed = confirmed or Decimal(0)

    # FTX+LIN with a C107 text reference from code list 8B (agency 28, EDItEUR) carries the
    # line's availability status, such as IB, OB or NP in Brodart's responses.
    statuses = [component(s, 2, 0) for s in group if s.tag == "FTX" and component(s, 0) == "LIN" and component(s, 2, 1) == "8B"]
    return AckLine(
        position=f"LIN {component(lin, 0)}",
        po_number=po_number,
        line_number=line_number,
        product_ids=_product_ids(group),
        unit=unit,
        ordered_qty=quantities.get(ORDERED),
        confirmed_qty=confirmed,
        backordered_qty=backordered,
        status=ack_status(
            rejected=rejected, changed=action in CHANGED_ACTIONS, backordered_qty=backordered,
            acknowledged_qty=confirmed + backordered, ordered_qty=quantities.get(ORDERED),
        ),
        new_date=_first_date(_dates(group), header_dates),
        codes=f"LIN action {action or 'none'}" + "".join(f", FTX {status}" for status in statuses),
        problem=problem,
        no_action=action == NO_ACTION,
    )


def _first_date(*sources: dict[str, date]) -> date | None:
    for source in sources:
        for qualifier in ACK_DATE_QUALIFIERS:
            if qualifier in source:
                return source[qualifier]
    return None


def _product_ids(group: list[Segment]) -> tuple[tuple[str, str], ...]:
    """Return (type, id) pairs from LIN C212 and every PIA composite, such as ("EN", "9780753462591")."""
    ids = []
    lin = group[0]
    if component(lin, 2, 0):
        ids.append((component(lin, 2, 1), component(lin, 2, 0)))
    for segment in group:
        if segment.tag == "PIA":
            for index in range(1, len(segment.elements)):
                if component(segment, index, 0):
                    ids.append((component(segment, index, 1), component(segment, index, 0)))
    return tuple(ids)


def read_edifact(text: str, file_name: str, zone: ZoneInfo) -> list[Acknowledgement]:
    """Read every ORDRSP in an EDIFACT file; raise EdiRejected for a broken envelope or another message type."""
    messages = read_messages(text, file_name, zone)
    other = sorted({m.header.message_type for m in messages if m.header.message_type != "ORDRSP"})
    if other:
        raise EdiRejected(
            f"{file_name} contains {', '.join(other)} messages; the control tower reads ORDRSP only, "
            "so send the other messages to the system that handles them"
        )
    return [read_ordrsp(message) for message in messages]
