"""The X12 reader: delimiters from ISA, envelope checks, and the 850, 855 and 856 readers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from services.sync.edi import AckStatus, EdiRejected
from services.sync.edi.x12 import read_delimiters, read_transaction_sets, read_x12

UTC = ZoneInfo("UTC")


def isa_header(*, control="000000101", sender="SUPPLIER", receiver="BUYER", element="*", component=">",
               terminator="~", version="00501", repetition="^", day="260302", clock="0930") -> str:
    """Return a fixed-width ISA header of 106 characters, terminator included."""
    fields = [
        "ISA", "00", " " * 10, "00", " " * 10, "ZZ", sender.ljust(15), "ZZ", receiver.ljust(15),
        day, clock, repetition if version >= "00402" else "U", version, control, "0", "P", component,
    ]
    return element.join(fields) + terminator


def transaction_set(code: str, control: str, *body: str) -> list[str]:
    """Return ST, the body and an SE that counts them, as segment texts without terminators."""
    return [f"ST*{code}*{control}", *body, f"SE*{len(body) + 2}*{control}"]


def interchange(*sets: list[str], control="000000101", group="101", gs_date="20260302", gs_time="0930",
                functional_id="PR", sender="SUPPLIER", receiver="BUYER", after_terminator="") -> str:
    """Return one X12 interchange holding the transaction sets in one functional group."""
    segments = [
        f"GS*{functional_id}*{sender}*{receiver}*{gs_date}*{gs_time}*{group}*X*005010",
        *[segment for set_ in sets for segment in set_],
        f"GE*{len(sets)}*{group}",
        f"IEA*1*{control}",
    ]
    header = isa_header(control=control, sender=sender, receiver=receiver)
    return header + after_terminator + "".join(segment + "~" + after_terminator for segment in segments)


ACK_855 = transaction_set(
    "855", "0001",
    "BAK*00*AC*PO-100*20260301",
    "PO1*1*64*EA*6.00**BP*GLV-100",
    "ACK*IA*64*EA",
    "PO1*2*40*EA*2.50**BP*MSK-200",
    "ACK*IQ*30*EA*068*20260320",
    "PO1*3*10*EA*1.00**BP*CAP-300",
    "ACK*IR*0*EA",
    "CTT*3",
)


def test_delimiters_come_from_isa_positions():
    header = isa_header(element="|", component=":", terminator="\n", repetition="!")

    delimiters = read_delimiters(header + "GS|PR\n", "custom.edi")

    assert (delimiters.element, delimiters.component, delimiters.segment, delimiters.repetition) == ("|", ":", "\n", "!")
    assert header[3] == "|"
    assert header[82] == "!"
    assert header[104] == ":"
    assert header[105] == "\n"


def test_repetition_separator_absent_before_version_00402():
    header = isa_header(version="00401")

    delimiters = read_delimiters(header, "old.edi")

    assert delimiters.repetition is None


@pytest.mark.parametrize("after_terminator", ["", "\r\n", "\n", "\n  \n"], ids=["tilde", "crlf", "lf", "blank-lines"])
def test_855_terminator_variants_read_the_same(after_terminator):
    plain = read_x12(interchange(ACK_855), "plain.edi", UTC)

    variant = read_x12(interchange(ACK_855, after_terminator=after_terminator), "variant.edi", UTC)

    assert variant == plain
    assert [(line.line_number, line.status, line.acknowledged_qty) for line in variant[0].lines] == [
        ("1", AckStatus.ACCEPTED, Decimal("64")),
        ("2", AckStatus.CHANGED, Decimal("30")),
        ("3", AckStatus.REJECTED, Decimal("0")),
    ]


def test_855_line_reads_ack_date_and_message_time():
    acknowledgement = read_x12(interchange(ACK_855, gs_time="143015"), "ack.edi", ZoneInfo("America/Chicago"))[0]

    assert acknowledgement.po_number == "PO-100"
    assert acknowledgement.lines[1].new_date == date(2026, 3, 20)
    assert acknowledgement.header.issued_at == datetime(2026, 3, 2, 14, 30, 15, tzinfo=ZoneInfo("America/Chicago"))
    assert acknowledgement.header.key == "X12/SUPPLIER/000000101/0001"


@pytest.mark.parametrize(
    ("acks", "status", "confirmed", "backordered"),
    [
        (["ACK*IA*64*EA"], AckStatus.ACCEPTED, "64", "0"),
        (["ACK*IB*64*EA"], AckStatus.BACKORDERED, "0", "64"),
        (["ACK*IA*40*EA", "ACK*IB*24*EA"], AckStatus.BACKORDERED, "40", "24"),
        (["ACK*BP*40*EA"], AckStatus.BACKORDERED, "40", "24"),
        (["ACK*IA*40*EA", "ACK*IR*24*EA"], AckStatus.CHANGED, "40", "0"),
        (["ACK*IQ*64*EA"], AckStatus.CHANGED, "64", "0"),
        (["ACK*DR*64*EA*067*20260401"], AckStatus.CHANGED, "64", "0"),
        (["ACK*IR*64*EA"], AckStatus.REJECTED, "0", "0"),
        (["ACK*R2"], AckStatus.REJECTED, "0", "0"),
        (["ACK*IA"], AckStatus.ACCEPTED, "64", "0"),
    ],
    ids=["IA", "IB", "IA+IB", "BP", "IA+IR", "IQ", "DR", "IR", "R2", "IA-without-quantity"],
)
def test_ack_codes_map_to_status_and_quantities(acks, status, confirmed, backordered):
    message = transaction_set("855", "0001", "BAK*00*AC*PO-1*20260301", "PO1*1*64*EA", *acks)

    line = read_x12(interchange(message), "ack.edi", UTC)[0].lines[0]

    assert line.status == status
    assert line.confirmed_qty == Decimal(confirmed)
    assert line.backordered_qty == Decimal(backordered)
    assert line.problem is None


@pytest.mark.parametrize(
    ("ack", "problem"),
    [
        ("ACK*IH*64*EA", "ACK01 IH puts the line on hold, which neither confirms nor rejects it; "
                         "the acknowledgement is applied when the supplier sends a confirmation or a rejection"),
        ("ACK*ZZ*64*EA", "ACK01 'ZZ' at segment 6 is not an X12 line item status code this connector reads; "
                         "ask the supplier to use IA, IB, IC, IQ, DR, IR or another code of element 668"),
        ("ACK*IA*six*EA", "ACK02 at segment 6: 'six' is not a number"),
        ("ACK*IA*64*CA", "line 1 is ordered in EA but acknowledged in CA; acknowledge it in the ordered unit"),
    ],
    ids=["on-hold", "unknown-code", "bad-quantity", "other-unit"],
)
def test_unreadable_ack_line_carries_its_problem(ack, problem):
    message = transaction_set("855", "0001", "BAK*00*AC*PO-1*20260301", "PO1*1*64*EA", ack)

    line = read_x12(interchange(message), "ack.edi", UTC)[0].lines[0]

    assert line.problem == problem


def test_855_line_without_ack_accepted_by_bak():
    message = transaction_set("855", "0001", "BAK*00*AD*PO-1*20260301", "PO1*1*64*EA")

    line = read_x12(interchange(message), "ack.edi", UTC)[0].lines[0]

    assert (line.status, line.confirmed_qty, line.problem) == (AckStatus.ACCEPTED, Decimal("64"), None)


def test_ack_date_prefers_delivery_qualifiers():
    message = transaction_set(
        "855", "0001", "BAK*00*AC*PO-1*20260301", "DTM*002*20260310",
        "PO1*1*64*EA", "ACK*DR*64*EA*068*20260325", "DTM*067*20260402",
    )

    line = read_x12(interchange(message), "ack.edi", UTC)[0].lines[0]

    assert line.new_date == date(2026, 4, 2)


def test_se_count_wrong_is_rejected_naming_control_number():
    text = interchange(ACK_855).replace("SE*10*0001", "SE*9*0001")

    with pytest.raises(EdiRejected) as raised:
        read_x12(text, "broken.edi", UTC)

    assert str(raised.value) == (
        "broken.edi: transaction set 855 0001 in group 101 of interchange 000000101 states 9 segments in SE01 "
        "but contains 10; the file is damaged or was edited by hand, ask the sender to send it again"
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("GE*1*101", "GE*2*101", "broken.edi: functional group 101 of interchange 000000101 states 2 transaction sets "
                                 "in GE01 but contains 1; the file is damaged or was edited by hand, ask the sender to send it again"),
        ("IEA*1*000000101", "IEA*1*000000999", "broken.edi: interchange 000000101 ends with IEA control number "
                                                "'000000999' instead of '000000101'; the trailer belongs to another envelope"),
        ("SE*10*0001", "SE*10*0002", "broken.edi: transaction set 855 0001 in group 101 of interchange 000000101 ends "
                                     "with SE control number '0002' instead of '0001'; the trailer belongs to another envelope"),
        ("IEA*1*000000101~", "", "broken.edi: interchange 000000101 has no IEA trailer; the file is cut short, "
                                 "ask the sender to send it again"),
    ],
    ids=["ge-count", "iea-control", "se-control", "iea-missing"],
)
def test_broken_envelope_is_rejected(old, new, message):
    text = interchange(ACK_855).replace(old, new)

    with pytest.raises(EdiRejected) as raised:
        read_x12(text, "broken.edi", UTC)

    assert str(raised.value) == message


def test_not_x12_is_rejected():
    with pytest.raises(EdiRejected) as raised:
        read_transaction_sets("po_number,line\nPO-1,1\n", "orders.csv", UTC)

    assert str(raised.value) == "orders.csv does not start with an X12 ISA header of 106 characters; it is not an X12 file"


def test_other_transaction_set_is_rejected():
    invoice = transaction_set("810", "0001", "BIG*20260302*INV-1")

    with pytest.raises(EdiRejected) as raised:
        read_x12(interchange(invoice, functional_id="IN"), "invoice.edi", UTC)

    assert str(raised.value) == (
        "invoice.edi contains transaction sets 810 (1); the control tower reads 850, 855 and 856 only, "
        "so send the other sets to the system that handles them"
    )


def test_850_reads_order_parties_lines_and_dates():
    order_set = transaction_set(
        "850", "0001",
        "BEG*00*SA*PO-7**20260301",
        "CUR*BY*EUR",
        "DTM*002*20260315",
        "N1*SE*Acme Gloves*92*ACME",
        "N1*ST*Dallas DC*92*DAL",
        "PO1*1*12*CA*30.00**VN*G-100*BP*GLV-100",
        "PID*F****Nitrile glove, box of 100",
        "DTM*002*20260320",
        "PO1**5*EA*2.5**UP*012345678905",
        "CTT*2",
    )

    order = read_x12(interchange(order_set, functional_id="PO"), "po.edi", UTC)[0]

    assert (order.po_number, order.order_date, order.currency) == ("PO-7", date(2026, 3, 1), "EUR")
    assert order.party("SE").id == "ACME"
    assert order.party("ST").name == "Dallas DC"
    first, second = order.lines
    assert (first.line_number, first.quantity, first.unit, first.unit_price) == ("1", Decimal("12"), "CA", Decimal("30.00"))
    assert first.product_ids == (("VN", "G-100"), ("BP", "GLV-100"))
    assert first.description == "Nitrile glove, box of 100"
    assert first.dates == {"002": date(2026, 3, 20)}
    assert (second.line_number, second.product_ids) == ("2", (("UP", "012345678905"),))


SHIPMENT_OUT_OF_ORDER = transaction_set(
    "856", "0001",
    "BSN*00*SHP-9*20260305*1200",
    "HL*4*3*I",
    "LIN*2*BP*MSK-200",
    "SN1*2*30*EA",
    "HL*1**S",
    "DTM*011*20260305",
    "DTM*017*20260309",
    "HL*3*1*O",
    "PRF*PO-200",
    "HL*2*5*I",
    "LIN*1*BP*GLV-100",
    "SN1*1*64*EA",
    "HL*5*1*O",
    "PRF*PO-100",
)


def test_856_items_follow_hl_parents_not_appearance():
    notice = read_x12(interchange(SHIPMENT_OUT_OF_ORDER, functional_id="SH"), "asn.edi", UTC)[0]

    placed = {(item.hl_id, item.po_number, item.line_number, item.quantity) for item in notice.items}
    assert notice.shipment_number == "SHP-9"
    assert placed == {("4", "PO-200", "2", Decimal("30")), ("2", "PO-100", "1", Decimal("64"))}
    assert {(item.ship_date, item.expected_date) for item in notice.items} == {(date(2026, 3, 5), date(2026, 3, 9))}


def test_856_item_with_missing_parent_carries_problem():
    message = transaction_set("856", "0001", "BSN*00*SHP-1*20260305", "HL*1**S", "HL*3*2*I", "LIN*1*BP*GLV-100", "SN1*1*5*EA")

    item = read_x12(interchange(message, functional_id="SH"), "asn.edi", UTC)[0].items[0]

    assert item.problem == "HL 3 names parent HL 2, which is not in the message"


@pytest.mark.parametrize(
    ("levels", "problem"),
    [
        (("HL*1**S", "HL*2*1*I", "LIN*1*BP*GLV-100", "SN1*1*5*EA"),
         "item HL 2 has no order level with a PRF segment above it, so its PO is unknown"),
        (("HL*1**O", "PRF*PO-1", "HL*2*1*I", "LIN*1*BP*GLV-100"),
         "item HL 2 has no SN1 segment, so its shipped quantity is unknown"),
        (("HL*1**O", "PRF*PO-1", "HL*2*1*I", "LIN*1*BP*GLV-100", "SN1*1**EA"),
         "SN102 of item HL 2 is empty, so its shipped quantity is unknown"),
    ],
    ids=["no-prf", "no-sn1", "empty-sn102"],
)
def test_856_item_without_order_or_quantity_carries_problem(levels, problem):
    message = transaction_set("856", "0001", "BSN*00*SHP-1*20260305", *levels)

    item = read_x12(interchange(message, functional_id="SH"), "asn.edi", UTC)[0].items[0]

    assert item.problem == problem


def test_real_850_lines(realdata_dir):
    text = (realdata_dir / "edi" / "x12_850.edi").read_text()

    order = read_x12(text, "x12_850.edi", UTC)[0]

    assert (order.po_number, order.order_date, order.dates) == ("08292233294", date(2010, 11, 27), {"002": date(2010, 12, 14)})
    assert [(line.line_number, line.quantity, line.unit_price, dict(line.product_ids)["CB"]) for line in order.lines] == [
        ("1", Decimal("120"), Decimal("9.25"), "065322-117"),
        ("2", Decimal("220"), Decimal("13.79"), "066850-116"),
        ("3", Decimal("126"), Decimal("10.99"), "060733-110"),
        ("4", Decimal("76"), Decimal("4.35"), "065308-116"),
        ("5", Decimal("72"), Decimal("7.5"), "065374-118"),
        ("6", Decimal("696"), Decimal("9.55"), "067504-118"),
    ]
    assert sum(line.quantity * line.unit_price for line in order.lines) == Decimal("13045.94")


def test_real_855_ack_codes(realdata_dir):
    text = (realdata_dir / "edi" / "x12_855.edi").read_text()

    acknowledgement = read_x12(text, "x12_855.edi", UTC)[0]

    assert acknowledgement.po_number == "POTEST1112"
    assert acknowledgement.header.issued_at == datetime(2020, 10, 15, 15, 34, tzinfo=UTC)
    assert [(line.line_number, line.codes, line.status, line.ordered_qty, line.acknowledged_qty) for line in acknowledgement.lines] == [
        ("1", "ACK IA", AckStatus.ACCEPTED, Decimal("3"), Decimal("3")),
        ("2", "ACK IR", AckStatus.REJECTED, Decimal("2"), Decimal("0")),
        ("3", "ACK IR", AckStatus.REJECTED, Decimal("1"), Decimal("0")),
        ("4", "ACK IA", AckStatus.ACCEPTED, Decimal("2"), Decimal("2")),
    ]
    assert [line.new_date for line in acknowledgement.lines] == [None, None, None, None]


def test_real_856_shipped_quantities(realdata_dir):
    text = (realdata_dir / "edi" / "x12_856.edi").read_text()

    notice = read_x12(text, "x12_856.edi", UTC)[0]

    assert notice.shipment_number == "829716"
    assert [(item.po_number, item.line_number, item.quantity, item.unit, item.ship_date, item.expected_date) for item in notice.items] == [
        ("99999817", "1", Decimal("24"), "EA", date(2011, 12, 6), None),
        ("99999817", "2", Decimal("6"), "EA", date(2011, 12, 6), None),
    ]
