"""Applying EDI files: purchase order lines, acknowledgements, ship notices, events and quarantine."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select, text

from services.db import schema
from services.sync.edi import AckLine, AckStatus, EdiRejected, MessageHeader, PoLineState, decide_acknowledgement
from services.sync.edi.apply import sync_edi_file
from services.sync.edi.edifact import read_edifact
from tests.builders import make_item, make_po_line, make_supplier, make_warehouse
from tests.test_edi_edifact import ordrsp
from tests.test_edi_x12 import SHIPMENT_OUT_OF_ORDER, interchange, transaction_set

UTC = timezone.utc

EVENTS = text(
    "select l.po_number, l.line_number, e.event_type, e.old_qty, e.new_qty, e.old_date, e.new_date"
    " from supplier_events e join purchase_order_lines l on l.id = e.po_line_id"
    " order by e.event_at, l.po_number, l.line_number, e.event_type"
)
OPEN_SUPPLY = text(
    "select greatest(coalesce(acknowledged_qty, ordered_qty) - received_qty - cancelled_qty, 0)"
    " from purchase_order_lines where po_number = :po_number and line_number = :line_number"
)


def write(folder: Path, name: str, content: str) -> Path:
    path = folder / name
    path.write_text(content, encoding="utf-8")
    return path


def counts(result) -> tuple:
    return (result.entity, result.read, result.inserted, result.updated, result.unchanged, result.rejected)


def po_line(engine, po_number: str, line_number: int):
    with engine.connect() as connection:
        return connection.execute(
            select(schema.purchase_order_lines).where(
                schema.purchase_order_lines.c.po_number == po_number,
                schema.purchase_order_lines.c.line_number == line_number,
            )
        ).one()


def events(engine) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(EVENTS)]


def quarantine(engine) -> list[tuple]:
    with engine.connect() as connection:
        rows = connection.execute(select(schema.quarantine.c.entity, schema.quarantine.c.position, schema.quarantine.c.reason).order_by(schema.quarantine.c.id))
        return [tuple(row) for row in rows]


def table_count(engine, table: str) -> int:
    with engine.connect() as connection:
        return connection.execute(text(f"select count(*) from {table}")).scalar_one()


def line_state(**overrides) -> PoLineState:
    values = dict(
        id=1, po_number="PO-1", line_number=1, sku="GLV-100", base_unit="EA", ordered_qty=Decimal(64),
        promised_date=date(2026, 3, 15), acknowledged_qty=None, acknowledged_date=None,
        acknowledged_at=None, ack_status=None,
    )
    return PoLineState(**(values | overrides))


def ack_line(status: AckStatus, confirmed: str, backordered: str = "0", new_date: date | None = None) -> AckLine:
    return AckLine(
        position="segment 5", po_number="PO-1", line_number="1", product_ids=(), unit="EA",
        ordered_qty=Decimal(64), confirmed_qty=Decimal(confirmed), backordered_qty=Decimal(backordered),
        status=status, new_date=new_date, codes="ACK test",
    )


def message_at(hour: int) -> MessageHeader:
    return MessageHeader("X12", "855", "ACME", "BUYER", f"00000000{hour}", "0001", datetime(2026, 3, 2, hour, tzinfo=UTC))


def test_same_message_time_is_not_applied_again():
    state = line_state(acknowledged_qty=Decimal(64), acknowledged_at=datetime(2026, 3, 2, 9, tzinfo=UTC), ack_status="accepted")

    decision = decide_acknowledgement(state, ack_line(AckStatus.REJECTED, "0"), message_at(9))

    assert (decision.applied, decision.state, decision.events) == (False, state, ())


def test_repeated_backorder_raises_no_second_event():
    first = decide_acknowledgement(line_state(), ack_line(AckStatus.BACKORDERED, "0", "64", date(2026, 4, 1)), message_at(9))

    second = decide_acknowledgement(first.state, ack_line(AckStatus.BACKORDERED, "0", "64", date(2026, 4, 1)), message_at(10))

    assert [event.event_type for event in first.events] == ["backorder", "date_change"]
    assert (second.applied, second.events) == (True, ())
    assert second.state.acknowledged_at == datetime(2026, 3, 2, 10, tzinfo=UTC)


def test_rejection_event_key_names_message_and_line():
    decision = decide_acknowledgement(line_state(), ack_line(AckStatus.REJECTED, "0"), message_at(9))

    event = decision.events[0]
    assert event.event_key == "X12/ACME/000000009/0001/PO-1/1/rejection"
    assert event.message_ref == "X12 855 0001 of interchange 000000009 from ACME, line 1: ACK test"
    assert (event.old_qty, event.new_qty, decision.state.acknowledged_qty, decision.state.ack_status) == (
        Decimal(64), Decimal(0), Decimal(0), "rejected",
    )


@pytest.fixture
def open_orders(engine):
    """PO-100 line 1: 64 GLV-100, and PO-200 line 2: 30 MSK-200, both promised for 2026-03-15."""
    with engine.begin() as connection:
        supplier = make_supplier(connection, supplier_code="ACME")
        warehouse = make_warehouse(connection, warehouse_code="DAL")
        gloves = make_item(connection, sku="GLV-100")
        masks = make_item(connection, sku="MSK-200")
        common = {"supplier_id": supplier["id"], "warehouse_id": warehouse["id"], "promised_date": date(2026, 3, 15)}
        make_po_line(connection, po_number="PO-100", line_number=1, item_id=gloves["id"], ordered_qty=Decimal(64), **common)
        make_po_line(connection, po_number="PO-200", line_number=2, item_id=masks["id"], ordered_qty=Decimal(30), **common)
    return engine


def acknowledgement(*line: str, time: str = "0930", control: str = "000000101", po_number: str = "PO-100") -> str:
    return interchange(
        transaction_set("855", "0001", f"BAK*00*AC*{po_number}*20260301", *line),
        gs_time=time, control=control, group=control[-3:],
    )


def test_rejection_after_acceptance_removes_supply(open_orders, tmp_path):
    accepted = write(tmp_path, "accept.edi", acknowledgement("PO1*1*64*EA", "ACK*IA*64*EA", time="0930"))
    rejected = write(tmp_path, "reject.edi", acknowledgement("PO1*1*64*EA", "ACK*IR*64*EA", time="1100", control="000000102"))
    sync_edi_file(open_orders, accepted)

    results = sync_edi_file(open_orders, rejected)

    line = po_line(open_orders, "PO-100", 1)
    assert [counts(r) for r in results] == [
        ("supplier_events", 1, 1, 0, 0, 0),
        ("purchase_order_lines", 1, 0, 1, 0, 0),
    ]
    assert (line.acknowledged_qty, line.ack_status) == (Decimal(0), "rejected")
    assert line.acknowledged_at == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    with open_orders.connect() as connection:
        assert connection.execute(OPEN_SUPPLY, {"po_number": "PO-100", "line_number": 1}).scalar_one() == Decimal(0)
    assert events(open_orders) == [
        ("PO-100", 1, "acknowledgement", Decimal(64), Decimal(64), date(2026, 3, 15), date(2026, 3, 15)),
        ("PO-100", 1, "rejection", Decimal(64), Decimal(0), date(2026, 3, 15), None),
    ]


def test_acknowledgement_clears_line_fingerprint(open_orders, tmp_path):
    with open_orders.begin() as connection:
        connection.execute(text("update purchase_order_lines set source_fingerprint = 42"))
    path = write(tmp_path, "iq.edi", acknowledgement("PO1*1*64*EA", "ACK*IQ*40*EA"))

    sync_edi_file(open_orders, path)

    assert po_line(open_orders, "PO-100", 1).source_fingerprint is None
    assert po_line(open_orders, "PO-200", 2).source_fingerprint == 42


def test_older_acknowledgement_changes_nothing(open_orders, tmp_path):
    newer = write(tmp_path, "newer.edi", acknowledgement("PO1*1*64*EA", "ACK*IR*64*EA", time="1100", control="000000102"))
    older = write(tmp_path, "older.edi", acknowledgement("PO1*1*64*EA", "ACK*IA*64*EA", time="0930"))
    sync_edi_file(open_orders, newer)

    results = sync_edi_file(open_orders, older)

    line = po_line(open_orders, "PO-100", 1)
    assert [counts(r) for r in results] == [
        ("supplier_events", 0, 0, 0, 0, 0),
        ("purchase_order_lines", 1, 0, 0, 1, 0),
    ]
    assert (line.acknowledged_qty, line.ack_status, line.acknowledged_at) == (
        Decimal(0), "rejected", datetime(2026, 3, 2, 11, 0, tzinfo=UTC),
    )
    assert [event[2] for event in events(open_orders)] == ["rejection"]


def test_date_rescheduled_raises_date_change(open_orders, tmp_path):
    path = write(tmp_path, "dr.edi", acknowledgement("PO1*1*64*EA", "ACK*DR*64*EA*067*20260329"))

    sync_edi_file(open_orders, path)

    line = po_line(open_orders, "PO-100", 1)
    assert (line.acknowledged_qty, line.acknowledged_date, line.ack_status) == (Decimal(64), date(2026, 3, 29), "changed")
    assert events(open_orders) == [("PO-100", 1, "date_change", None, None, date(2026, 3, 15), date(2026, 3, 29))]


def test_quantity_cut_raises_quantity_change(open_orders, tmp_path):
    path = write(tmp_path, "iq.edi", acknowledgement("PO1*1*64*EA", "ACK*IQ*40*EA"))

    sync_edi_file(open_orders, path)

    assert (po_line(open_orders, "PO-100", 1).acknowledged_qty, po_line(open_orders, "PO-100", 1).ack_status) == (Decimal(40), "changed")
    assert events(open_orders) == [("PO-100", 1, "quantity_change", Decimal(64), Decimal(40), None, None)]


def test_ordrsp_backordered_quantity_raises_backorder(open_orders, tmp_path):
    body = ("BGM+231+R-1+4", "RFF+ON:PO-100", "LIN+1+24", "QTY+21:64", "QTY+83:64", "DTM+44:20260420:102", "FTX+LIN++OB:8B:28")
    path = write(tmp_path, "ordrsp.edi", ordrsp(*body))

    results = sync_edi_file(open_orders, path)

    line = po_line(open_orders, "PO-100", 1)
    assert [counts(r) for r in results] == [
        ("supplier_events", 2, 2, 0, 0, 0),
        ("purchase_order_lines", 1, 0, 1, 0, 0),
    ]
    assert (line.acknowledged_qty, line.acknowledged_date, line.ack_status) == (Decimal(64), date(2026, 4, 20), "backordered")
    assert events(open_orders) == [
        ("PO-100", 1, "backorder", Decimal(64), Decimal(64), date(2026, 3, 15), date(2026, 4, 20)),
        ("PO-100", 1, "date_change", None, None, date(2026, 3, 15), date(2026, 4, 20)),
    ]


@pytest.mark.parametrize("after_terminator", ["", "\r\n", "\n"], ids=["tilde", "crlf", "lf"])
def test_855_terminator_variants_apply_the_same(open_orders, tmp_path, after_terminator):
    message = transaction_set("855", "0001", "BAK*00*AC*PO-100*20260301", "PO1*1*64*EA", "ACK*IQ*40*EA*067*20260320")
    path = write(tmp_path, "ack.edi", interchange(message, after_terminator=after_terminator))

    sync_edi_file(open_orders, path)

    line = po_line(open_orders, "PO-100", 1)
    assert (line.acknowledged_qty, line.acknowledged_date, line.ack_status) == (Decimal(40), date(2026, 3, 20), "changed")
    assert [event[2] for event in events(open_orders)] == ["date_change", "quantity_change"]


def test_856_puts_each_quantity_on_its_po_line(open_orders, tmp_path):
    path = write(tmp_path, "asn.edi", interchange(SHIPMENT_OUT_OF_ORDER, functional_id="SH"))

    results = sync_edi_file(open_orders, path)

    assert [counts(r) for r in results] == [("shipments", 2, 2, 0, 0, 0), ("supplier_events", 2, 2, 0, 0, 0)]
    with open_orders.connect() as connection:
        shipped = connection.execute(text(
            "select s.shipment_number, s.kind, l.po_number, l.line_number, s.qty, s.ship_date, s.expected_date, s.status"
            " from shipments s join purchase_order_lines l on l.id = s.po_line_id order by l.po_number"
        )).all()
    assert [tuple(row) for row in shipped] == [
        ("SHP-9", "asn", "PO-100", 1, Decimal(64), date(2026, 3, 5), date(2026, 3, 9), "in_transit"),
        ("SHP-9", "asn", "PO-200", 2, Decimal(30), date(2026, 3, 5), date(2026, 3, 9), "in_transit"),
    ]
    assert events(open_orders) == [
        ("PO-100", 1, "asn", None, Decimal(64), date(2026, 3, 15), date(2026, 3, 9)),
        ("PO-200", 2, "asn", None, Decimal(30), date(2026, 3, 15), date(2026, 3, 9)),
    ]


def test_unknown_po_line_is_quarantined(open_orders, tmp_path):
    path = write(tmp_path, "unknown.edi", acknowledgement("PO1*1*5*EA", "ACK*IA*5*EA", po_number="PO-999"))

    results = sync_edi_file(open_orders, path)

    assert [counts(r) for r in results] == [
        ("supplier_events", 0, 0, 0, 0, 0),
        ("purchase_order_lines", 1, 0, 0, 0, 1),
    ]
    assert quarantine(open_orders) == [(
        "purchase_order_lines",
        "segment 5 of X12 855 0001 of interchange 000000101 from SUPPLIER",
        "PO PO-999 line 1 is not in the database; load the purchase order (ERP export or X12 850) "
        "before its acknowledgement, then load this file again",
    )]


def test_ship_notice_for_unknown_po_line_is_quarantined(open_orders, tmp_path):
    message = transaction_set(
        "856", "0001", "BSN*00*SHP-1*20260305", "HL*1**S", "HL*2*1*O", "PRF*PO-100",
        "HL*3*2*I", "LIN*1*BP*GLV-100", "SN1*1*10*EA", "HL*4*2*I", "LIN*7*BP*CAP-300", "SN1*7*5*EA",
    )
    path = write(tmp_path, "asn.edi", interchange(message, functional_id="SH"))

    results = sync_edi_file(open_orders, path)

    assert [counts(r) for r in results] == [("shipments", 2, 1, 0, 0, 1), ("supplier_events", 1, 1, 0, 0, 0)]
    assert quarantine(open_orders) == [(
        "shipments",
        "segment 11 (item HL 4) of X12 856 0001 of interchange 000000101 from SUPPLIER",
        "PO PO-100 line 7 is not in the database; load the purchase order (ERP export or X12 850) "
        "before its ship notice, then load this file again",
    )]


def test_acknowledgement_in_undefined_unit_is_quarantined(open_orders, tmp_path):
    path = write(tmp_path, "cases.edi", acknowledgement("PO1*1*5*CA", "ACK*IA*5*CA"))

    sync_edi_file(open_orders, path)

    assert quarantine(open_orders)[0][2] == (
        "PO PO-100 line 1: unit 'CA' is not defined for item GLV-100; add it to units.csv with its base quantity"
    )
    assert po_line(open_orders, "PO-100", 1).ack_status is None


def test_acknowledgement_in_cases_converts_to_base_units(open_orders, tmp_path):
    with open_orders.begin() as connection:
        item_id = po_line(open_orders, "PO-100", 1).item_id
        connection.execute(insert(schema.units).values(
            item_id=item_id, unit_code="CA", base_qty_per_unit=Decimal(12),
            source="test", source_key="GLV-100/CA", source_updated_at=datetime(2026, 3, 1, tzinfo=UTC),
        ))
    path = write(tmp_path, "cases.edi", acknowledgement("PO1*1*5*CA", "ACK*IA*5*CA"))

    sync_edi_file(open_orders, path)

    assert po_line(open_orders, "PO-100", 1).acknowledged_qty == Decimal(60)
    assert events(open_orders) == [("PO-100", 1, "quantity_change", Decimal(64), Decimal(60), None, None)]


def test_broken_envelope_loads_nothing(open_orders, tmp_path):
    text_ = acknowledgement("PO1*1*64*EA", "ACK*IR*64*EA").replace("SE*5*0001", "SE*6*0001")
    path = write(tmp_path, "broken.edi", text_)

    with pytest.raises(EdiRejected) as raised:
        sync_edi_file(open_orders, path)

    assert "transaction set 855 0001 in group 101 of interchange 000000101 states 6 segments in SE01 but contains 5" in str(raised.value)
    with open_orders.connect() as connection:
        runs = connection.execute(select(schema.sync_runs.c.entity, schema.sync_runs.c.status, schema.sync_runs.c.error)).all()
    assert [(entity, status) for entity, status, _ in runs] == [("edi", "failed")]
    assert runs[0].error == str(raised.value)
    assert po_line(open_orders, "PO-100", 1).ack_status is None
    assert (table_count(open_orders, "supplier_events"), table_count(open_orders, "quarantine")) == (0, 0)


def test_same_files_twice_change_nothing(open_orders, tmp_path):
    ack = write(tmp_path, "ack.edi", acknowledgement("PO1*1*64*EA", "ACK*IQ*40*EA*067*20260320"))
    asn = write(tmp_path, "asn.edi", interchange(SHIPMENT_OUT_OF_ORDER, functional_id="SH", control="000000102", group="102"))
    sync_edi_file(open_orders, ack)
    sync_edi_file(open_orders, asn)
    events_before = events(open_orders)

    again = sync_edi_file(open_orders, ack) + sync_edi_file(open_orders, asn)

    assert [counts(r) for r in again] == [
        ("supplier_events", 0, 0, 0, 0, 0),
        ("purchase_order_lines", 1, 0, 0, 1, 0),
        ("shipments", 2, 0, 0, 2, 0),
        ("supplier_events", 2, 0, 0, 2, 0),
    ]
    assert events(open_orders) == events_before
    assert len(events_before) == 4


PURCHASE_ORDER = transaction_set(
    "850", "0001",
    "BEG*00*SA*PO-500**20260301",
    "DTM*002*20260320",
    "N1*SE*Acme Gloves*92*ACME",
    "N1*ST*Dallas DC*92*DAL",
    "PO1*1*64*EA*6.00**BP*GLV-100",
    "PID*F****Nitrile glove",
    "PO1*2*40*EA*2.50**BP*MSK-200",
    "PID*F****Surgical mask",
)


def test_850_on_empty_database_creates_masters_and_lines(engine, tmp_path):
    path = write(tmp_path, "po.edi", interchange(PURCHASE_ORDER, functional_id="PO", sender="BUYER", receiver="ACME"))

    first = sync_edi_file(engine, path)
    second = sync_edi_file(engine, path)

    assert [counts(r) for r in first] == [
        ("suppliers", 1, 1, 0, 0, 0),
        ("warehouses", 1, 1, 0, 0, 0),
        ("items", 2, 2, 0, 0, 0),
        ("purchase_order_lines", 2, 2, 0, 0, 0),
    ]
    assert [counts(r) for r in second] == [("purchase_order_lines", 2, 0, 0, 2, 0)]
    with engine.connect() as connection:
        items = connection.execute(text("select sku, description, base_unit, unit_cost, source from items order by sku")).all()
        supplier = connection.execute(text("select supplier_code, name, source from suppliers")).one()
    assert [tuple(row) for row in items] == [
        ("GLV-100", "Nitrile glove", "EA", Decimal("6.00"), "edi"),
        ("MSK-200", "Surgical mask", "EA", Decimal("2.50"), "edi"),
    ]
    assert tuple(supplier) == ("ACME", "Acme Gloves", "edi")
    line = po_line(engine, "PO-500", 2)
    assert (line.ordered_qty, line.order_date, line.promised_date, line.unit_cost, line.source) == (
        Decimal(40), date(2026, 3, 1), date(2026, 3, 20), Decimal("2.50"), "edi",
    )


def test_850_line_owned_by_erp_is_quarantined(open_orders, tmp_path):
    order = transaction_set("850", "0001", "BEG*00*SA*PO-100**20260301", "N1*ST*Dallas DC*92*DAL", "PO1*1*64*EA*6.00**BP*GLV-100")
    path = write(tmp_path, "po.edi", interchange(order, functional_id="PO", sender="BUYER", receiver="ACME"))

    results = sync_edi_file(open_orders, path)

    assert [counts(r) for r in results] == [("purchase_order_lines", 1, 0, 0, 0, 1)]
    assert quarantine(open_orders)[0][2] == (
        "PO PO-100 line 1 already comes from source 'test', which stays the system of record for it; "
        "the 850 copy is not loaded"
    )


def test_chain_850_855_856_on_empty_database(engine, tmp_path):
    order = write(tmp_path, "po.edi", interchange(PURCHASE_ORDER, functional_id="PO", sender="BUYER", receiver="ACME"))
    answer = transaction_set(
        "855", "0001", "BAK*00*AC*PO-500*20260302",
        "PO1*1*64*EA", "ACK*IA*64*EA", "PO1*2*40*EA", "ACK*IB*40*EA*067*20260410",
    )
    ack = write(tmp_path, "ack.edi", interchange(answer, sender="ACME", control="000000201", group="201", gs_time="1000"))
    notice = transaction_set(
        "856", "0001", "BSN*00*SHP-77*20260306", "HL*1**S", "DTM*011*20260306", "DTM*067*20260319",
        "HL*2*1*O", "PRF*PO-500", "HL*3*2*I", "LIN*1*BP*GLV-100", "SN1*1*64*EA",
    )
    asn = write(tmp_path, "asn.edi", interchange(notice, functional_id="SH", sender="ACME", control="000000202", group="202", gs_date="20260306"))

    results = sync_edi_file(engine, order) + sync_edi_file(engine, ack) + sync_edi_file(engine, asn)

    assert all(result.balanced for result in results)
    assert sum(result.rejected for result in results) == 0
    first, second = po_line(engine, "PO-500", 1), po_line(engine, "PO-500", 2)
    assert (first.ack_status, first.acknowledged_qty) == ("accepted", Decimal(64))
    assert (second.ack_status, second.acknowledged_qty, second.acknowledged_date) == ("backordered", Decimal(40), date(2026, 4, 10))
    assert events(engine) == [
        ("PO-500", 1, "acknowledgement", Decimal(64), Decimal(64), date(2026, 3, 20), date(2026, 3, 20)),
        ("PO-500", 2, "backorder", Decimal(40), Decimal(40), date(2026, 3, 20), date(2026, 4, 10)),
        ("PO-500", 2, "date_change", None, None, date(2026, 3, 20), date(2026, 4, 10)),
        ("PO-500", 1, "asn", None, Decimal(64), date(2026, 3, 20), date(2026, 3, 19)),
    ]
    with engine.connect() as connection:
        shipment = connection.execute(text("select shipment_number, qty, ship_date, expected_date from shipments")).one()
    assert tuple(shipment) == ("SHP-77", Decimal(64), date(2026, 3, 6), date(2026, 3, 19))


# --- The real files --------------------------------------------------------------


def real_file(realdata_dir: Path, name: str) -> Path:
    return realdata_dir / "edi" / name


def make_real_po(engine, po_number: str, quantities: dict[int, Decimal], base_unit: str = "EA") -> None:
    """Insert the purchase order lines a real message refers to, one item per line."""
    with engine.begin() as connection:
        supplier = make_supplier(connection)
        warehouse = make_warehouse(connection)
        for line_number, quantity in quantities.items():
            item = make_item(connection, sku=f"{po_number}-{line_number}", base_unit=base_unit)
            make_po_line(
                connection, po_number=po_number, line_number=line_number, ordered_qty=quantity,
                supplier_id=supplier["id"], warehouse_id=warehouse["id"], item_id=item["id"],
            )


def test_real_files_name_different_orders(realdata_dir):
    contents = {name: real_file(realdata_dir, name).read_text() for name in ("x12_850.edi", "x12_855.edi", "x12_856.edi")}

    assert "BEG*00*SA*08292233294" in contents["x12_850.edi"]
    assert "BAK*00*AD*POTEST1112" in contents["x12_855.edi"]
    assert "PRF*99999817" in contents["x12_856.edi"]


def test_real_chain_on_empty_database(engine, realdata_dir):
    results = [
        counts(result)
        for name in ("x12_850.edi", "x12_855.edi", "x12_856.edi")
        for result in sync_edi_file(engine, real_file(realdata_dir, name))
    ]

    assert results == [
        ("suppliers", 1, 1, 0, 0, 0),
        ("warehouses", 1, 1, 0, 0, 0),
        ("items", 6, 6, 0, 0, 0),
        ("purchase_order_lines", 6, 6, 0, 0, 0),
        ("supplier_events", 0, 0, 0, 0, 0),
        ("purchase_order_lines", 4, 0, 0, 0, 4),
        ("shipments", 2, 0, 0, 0, 2),
        ("supplier_events", 0, 0, 0, 0, 0),
    ]
    with engine.connect() as connection:
        order = connection.execute(text(
            "select count(*), sum(l.ordered_qty), sum(l.ordered_qty * l.unit_cost), min(s.supplier_code), min(w.name)"
            " from purchase_order_lines l join suppliers s on s.id = l.supplier_id join warehouses w on w.id = l.warehouse_id"
            " where l.po_number = '08292233294' and l.promised_date = '2010-12-14'"
        )).one()
    assert tuple(order) == (6, Decimal(1310), Decimal("13045.94"), "999999999", "XYZ RETAIL")
    assert Counter(reason.split(" is not in")[0] for _, _, reason in quarantine(engine)) == {
        "PO POTEST1112 line 1": 1, "PO POTEST1112 line 2": 1, "PO POTEST1112 line 3": 1, "PO POTEST1112 line 4": 1,
        "PO 99999817 line 1": 1, "PO 99999817 line 2": 1,
    }


def test_real_855_applies_to_its_order(engine, realdata_dir):
    make_real_po(engine, "POTEST1112", {1: Decimal(3), 2: Decimal(2), 3: Decimal(1), 4: Decimal(2)}, base_unit="UN")

    results = sync_edi_file(engine, real_file(realdata_dir, "x12_855.edi"))

    assert [counts(r) for r in results] == [("supplier_events", 4, 4, 0, 0, 0), ("purchase_order_lines", 4, 0, 4, 0, 0)]
    states = [(po_line(engine, "POTEST1112", n).ack_status, po_line(engine, "POTEST1112", n).acknowledged_qty) for n in (1, 2, 3, 4)]
    assert states == [("accepted", Decimal(3)), ("rejected", Decimal(0)), ("rejected", Decimal(0)), ("accepted", Decimal(2))]
    assert [(line, kind, old, new) for _, line, kind, old, new, _, _ in events(engine)] == [
        (1, "acknowledgement", Decimal(3), Decimal(3)),
        (2, "rejection", Decimal(2), Decimal(0)),
        (3, "rejection", Decimal(1), Decimal(0)),
        (4, "acknowledgement", Decimal(2), Decimal(2)),
    ]


def test_real_856_ships_against_its_order(engine, realdata_dir):
    make_real_po(engine, "99999817", {1: Decimal(24), 2: Decimal(6)})

    results = sync_edi_file(engine, real_file(realdata_dir, "x12_856.edi"))

    assert [counts(r) for r in results] == [("shipments", 2, 2, 0, 0, 0), ("supplier_events", 2, 2, 0, 0, 0)]
    with engine.connect() as connection:
        shipped = connection.execute(text("select shipment_number, qty, ship_date, expected_date from shipments order by qty desc")).all()
    assert [tuple(row) for row in shipped] == [("829716", Decimal(24), date(2011, 12, 6), None), ("829716", Decimal(6), date(2011, 12, 6), None)]


def test_real_ordrsp_applies_to_its_order(engine, realdata_dir):
    path = real_file(realdata_dir, "edifact_ordrsp_brodart.edi")
    message = read_edifact(path.read_text(), path.name, ZoneInfo("UTC"))[0]
    make_real_po(engine, "17621", {int(line.line_number): line.ordered_qty for line in message.lines})

    results = sync_edi_file(engine, path)

    assert [counts(r) for r in results] == [("supplier_events", 67, 67, 0, 0, 0), ("purchase_order_lines", 67, 0, 67, 0, 0)]
    found = events(engine)
    assert Counter(kind for _, _, kind, *_ in found) == {"acknowledgement": 34, "backorder": 33}
    assert sum(new for _, _, kind, _, new, _, _ in found if kind == "backorder") == Decimal(38)
    with engine.connect() as connection:
        statuses = connection.execute(text(
            "select ack_status, count(*), sum(acknowledged_qty) from purchase_order_lines group by ack_status order by ack_status"
        )).all()
    assert [tuple(row) for row in statuses] == [("accepted", 34, Decimal(36)), ("backordered", 33, Decimal(38))]


def test_real_ordrsp_on_empty_database_is_quarantined(engine, realdata_dir):
    results = sync_edi_file(engine, real_file(realdata_dir, "edifact_ordrsp_brodart.edi"))

    assert [counts(r) for r in results] == [("supplier_events", 0, 0, 0, 0, 0), ("purchase_order_lines", 67, 0, 0, 0, 67)]
    assert quarantine(engine)[0] == (
        "purchase_order_lines",
        "LIN 1 of EDIFACT ORDRSP 1628 of interchange 1292 from 1697684",
        "PO 17621 line 1 is not in the database; load the purchase order (ERP export or X12 850) "
        "before its acknowledgement, then load this file again",
    )
