"""The EDIFACT ORDRSP reader: service string advice, release characters, envelope counts and line codes."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from services.sync.edi import AckStatus, EdiRejected
from services.sync.edi.edifact import parse_segments, read_edifact

UTC = ZoneInfo("UTC")


def ordrsp(*body: str, una: str = "UNA:+.? '", reference: str = "77", message: str = "1", after_terminator: str = "") -> str:
    """Return an interchange with one ORDRSP whose UNT counts its segments."""
    segments = [
        f"UNB+UNOC:3+SUPPLIER:14+BUYER:14+260302:0930+{reference}",
        f"UNH+{message}+ORDRSP:D:96A:UN",
        *body,
        f"UNT+{len(body) + 2}+{message}",
        f"UNZ+1+{reference}",
    ]
    return una + after_terminator + "".join(segment + "'" + after_terminator for segment in segments)


HEADER = ("BGM+231+R-1+4", "DTM+137:20260302:102", "RFF+ON:PO-100")


def test_release_characters_are_literal():
    text = ordrsp("BGM+231+R?+1?'A+4", "FTX+LIN+++Delay?: plant closed ?? see?+notes")

    segments = parse_segments(text, "escaped.edi")

    assert segments[2].elements == ["231", "R+1'A", "4"]
    assert segments[3].elements[3] == "Delay: plant closed ? see+notes"


def test_service_string_advice_sets_delimiters():
    default = ordrsp(*HEADER, "LIN+1+5", "QTY+21:64", "FTX+LIN+++a#!b", una="")
    custom = "UNA|*.# !" + default.translate(str.maketrans({"+": "*", ":": "|", "'": "!"}))

    acknowledgement = read_edifact(custom, "custom.edi", UTC)[0]

    assert (acknowledgement.po_number, acknowledgement.lines[0].confirmed_qty) == ("PO-100", Decimal("64"))
    assert parse_segments(custom, "custom.edi")[-3].elements[3] == "a!b"


@pytest.mark.parametrize("after_terminator", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_line_breaks_after_terminators_read_the_same(after_terminator):
    body = (*HEADER, "LIN+1+5", "QTY+21:64")

    plain = read_edifact(ordrsp(*body), "plain.edi", UTC)

    assert read_edifact(ordrsp(*body, after_terminator=after_terminator), "lines.edi", UTC) == plain


def test_default_delimiters_without_una():
    acknowledgement = read_edifact(ordrsp(*HEADER, "LIN+1+5", "QTY+21:64", una=""), "no-una.edi", UTC)[0]

    assert acknowledgement.header.issued_at == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert acknowledgement.header.key == "EDIFACT/SUPPLIER/77/1"


@pytest.mark.parametrize(
    ("line", "status", "confirmed", "backordered"),
    [
        (("LIN+1+5", "QTY+21:64", "QTY+12:64"), AckStatus.ACCEPTED, "64", "0"),
        (("LIN+1+24", "QTY+21:64", "QTY+83:64"), AckStatus.BACKORDERED, "0", "64"),
        (("LIN+1+24", "QTY+21:64", "QTY+12:40", "QTY+83:24"), AckStatus.BACKORDERED, "40", "24"),
        (("LIN+1+6", "QTY+21:64", "QTY+12:50"), AckStatus.CHANGED, "50", "0"),
        (("LIN+1+7", "QTY+21:64"), AckStatus.REJECTED, "0", "0"),
        (("LIN+1+2", "QTY+21:64"), AckStatus.REJECTED, "0", "0"),
        (("LIN+1+5", "QTY+21:6,5"), AckStatus.ACCEPTED, "6.5", "0"),
    ],
    ids=["5-dispatched", "24-backordered", "24-split", "6-cut", "7-not-accepted", "2-deleted", "decimal-comma"],
)
def test_action_codes_and_quantities_map_to_status(line, status, confirmed, backordered):
    acknowledgement = read_edifact(ordrsp(*HEADER, *line), "codes.edi", UTC)[0]

    answer = acknowledgement.lines[0]
    assert (answer.status, answer.confirmed_qty, answer.backordered_qty, answer.problem) == (
        status, Decimal(confirmed), Decimal(backordered), None,
    )


def test_no_action_line_is_marked():
    answer = read_edifact(ordrsp(*HEADER, "LIN+1+4", "QTY+21:64"), "codes.edi", UTC)[0].lines[0]

    assert answer.no_action is True


def test_unknown_action_code_carries_problem():
    answer = read_edifact(ordrsp(*HEADER, "LIN+1+99", "QTY+21:64"), "codes.edi", UTC)[0].lines[0]

    assert answer.problem == (
        "LIN 1 has action code '99', which this connector does not apply; it applies 5, 6, 24 and 3 "
        "(accepted or changed), 2, 7 and 10 (rejected) and 4 (no action)"
    )


def test_availability_date_and_line_reference():
    body = ("BGM+231+R-1+4", "LIN+3+24", "QTY+21:10", "QTY+83:10", "DTM+44:20260415:102", "FTX+LIN++OB:8B:28", "RFF+LI:PO-300/7")

    answer = read_edifact(ordrsp(*body), "dated.edi", UTC)[0].lines[0]

    assert (answer.po_number, answer.line_number, answer.new_date) == ("PO-300", "7", date(2026, 4, 15))
    assert answer.codes == "LIN action 24, FTX OB"


def test_unt_count_wrong_is_rejected_naming_references():
    text = ordrsp(*HEADER, "LIN+1+5", "QTY+21:64").replace("UNT+7+1", "UNT+6+1")

    with pytest.raises(EdiRejected) as raised:
        read_edifact(text, "broken.edi", UTC)

    assert str(raised.value) == (
        "broken.edi: message 1 of interchange 77 states 6 segments in UNT but contains 7; "
        "the file is damaged or was edited by hand, ask the sender to send it again"
    )


def test_unz_reference_wrong_is_rejected():
    text = ordrsp(*HEADER).replace("UNZ+1+77", "UNZ+1+78")

    with pytest.raises(EdiRejected) as raised:
        read_edifact(text, "broken.edi", UTC)

    assert str(raised.value) == "broken.edi: interchange 77 ends with UNZ reference '78' instead of '77'"


def test_functional_group_counts_are_checked():
    body = (*HEADER, "LIN+1+5", "QTY+21:64")
    grouped = ordrsp(*body).replace("UNH+1", "UNG+ORDRSP+SUPPLIER+BUYER+260302:0930+9+UN+D:96A'UNH+1")
    grouped = grouped.replace("UNZ+1+77", "UNE+1+9'UNZ+1+77")

    acknowledgement = read_edifact(grouped, "grouped.edi", UTC)[0]

    assert acknowledgement.lines[0].confirmed_qty == Decimal("64")
    with pytest.raises(EdiRejected) as raised:
        read_edifact(grouped.replace("UNE+1+9", "UNE+2+9"), "grouped.edi", UTC)
    assert str(raised.value) == "grouped.edi: group 9 of interchange 77 states 2 messages in UNE but contains 1"


def test_other_message_type_is_rejected():
    text = ordrsp(*HEADER).replace("ORDRSP:D:96A", "INVOIC:D:96A")

    with pytest.raises(EdiRejected) as raised:
        read_edifact(text, "invoice.edi", UTC)

    assert str(raised.value) == (
        "invoice.edi contains INVOIC messages; the control tower reads ORDRSP only, "
        "so send the other messages to the system that handles them"
    )


def test_real_brodart_ordrsp(realdata_dir):
    text = (realdata_dir / "edi" / "edifact_ordrsp_brodart.edi").read_text()

    acknowledgement = read_edifact(text, "edifact_ordrsp_brodart.edi", UTC)[0]

    lines = acknowledgement.lines
    assert (acknowledgement.po_number, acknowledgement.header.message_control, len(lines)) == ("17621", "1628", 67)
    assert acknowledgement.header.issued_at == datetime(2009, 12, 18, 5, 30, tzinfo=UTC)
    assert sorted(int(line.line_number) for line in lines) == list(range(1, 68))
    assert Counter((line.codes, line.status) for line in lines) == {
        ("LIN action 5, FTX IB", AckStatus.ACCEPTED): 34,
        ("LIN action 24, FTX OB", AckStatus.BACKORDERED): 28,
        ("LIN action 24, FTX NP", AckStatus.BACKORDERED): 5,
    }
    assert sum(line.ordered_qty for line in lines) == Decimal("74")
    assert sum(line.confirmed_qty for line in lines) == Decimal("36")
    assert sum(line.backordered_qty for line in lines) == Decimal("38")
    assert [line.problem for line in lines if line.problem] == []
