"""Exposure recompute against PostgreSQL: loading the picture, writing rows, events, the job and the demo distributor."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import insert, select, text, update

from seed_data.generator import generate_demo
from services.db import schema
from services.exposure.recompute import (
    EXPOSURE_JOB_NAME,
    ExposureBusy,
    exposure_job,
    recompute_exposure,
    recompute_exposure_for_supplier_events,
)
from services.exposure.queries import root_cause_pareto
from services.exposure.repository import business_dates
from services.exposure.settings import InvalidPriorityWeights
from services.settings import load_settings
from services.sync.canonical import load_canonical_folder
from services.worker.job_runs import run_job
from tests.builders import (
    NOW,
    make_customer,
    make_item,
    make_order_line,
    make_po_line,
    make_supplier,
    make_sync_run,
    make_warehouse,
)

AS_OF = date(2026, 3, 2)
ORDER_DATE = date(2026, 3, 1)
EXPOSURE_COLUMNS = [
    column.name for column in schema.exposure.c if column.name not in ("id", "computed_at", "job_run_id")
]


def _lineage(key: str) -> dict:
    return {"source": "test", "source_key": key, "source_updated_at": NOW}


def make_inventory(connection, item_id, warehouse_id, on_hand, *, hold=0, allocated=0):
    connection.execute(insert(schema.inventory).values(
        item_id=item_id, warehouse_id=warehouse_id, on_hand_qty=Decimal(on_hand), quality_hold_qty=Decimal(hold),
        allocated_qty=Decimal(allocated), as_of=NOW, **_lineage(f"inv/{item_id}/{warehouse_id}"),
    ))


def make_shipment(connection, number, kind, item_id, qty, expected, *, to_warehouse_id, po_line_id=None, from_warehouse_id=None):
    connection.execute(insert(schema.shipments).values(
        shipment_number=number, kind=kind, item_id=item_id, qty=Decimal(qty), ship_date=ORDER_DATE, expected_date=expected,
        to_warehouse_id=to_warehouse_id, from_warehouse_id=from_warehouse_id, po_line_id=po_line_id, **_lineage(f"sh/{number}"),
    ))


def make_forecast(connection, po_line_id, p50, p90, confidence="medium"):
    connection.execute(insert(schema.eta_forecasts).values(
        po_line_id=po_line_id, p10_date=p50, p50_date=p50, p90_date=p90, model="empirical", series_key="test",
        receipts_used=30, confidence=confidence,
    ))


def make_supplier_event(connection, po_line, key, old_date, new_date, *, event_type="date_change"):
    connection.execute(insert(schema.supplier_events).values(
        po_line_id=po_line["id"], supplier_id=po_line["supplier_id"], event_type=event_type,
        event_at=NOW, old_date=old_date, new_date=new_date, **_lineage(key),
    ))


def exposure_rows(engine) -> list[dict]:
    with engine.connect() as connection:
        rows = connection.execute(select(*[schema.exposure.c[name] for name in EXPOSURE_COLUMNS]).order_by(schema.exposure.c.so_line_id))
        return [dict(row._mapping) for row in rows]


@pytest.fixture
def place(engine):
    """One customer, item, warehouse and supplier, committed, as ids."""
    with engine.begin() as connection:
        return {
            "customer_id": make_customer(connection, tier="standard", late_penalty_per_day=Decimal("25.00"))["id"],
            "item_id": make_item(connection)["id"],
            "warehouse_id": make_warehouse(connection, time_zone="America/Chicago")["id"],
            "supplier_id": make_supplier(connection)["id"],
        }


def line(connection, place, **values):
    keys = {name: place[name] for name in ("customer_id", "item_id", "warehouse_id")}
    return make_order_line(connection, **keys, **values)


def po_line(connection, place, **values):
    keys = {name: place[name] for name in ("supplier_id", "item_id", "warehouse_id")}
    return make_po_line(connection, **keys, **values)


def test_split_lines_fully_shipped_leave_no_backlog(engine, place):
    with engine.begin() as connection:
        for number, ordered in ((1, 3), (2, 5), (3, 6)):
            line(connection, place, order_number="SO-SPLIT", line_number=number, ordered_qty=Decimal(ordered), shipped_qty=Decimal(ordered))

    result = recompute_exposure(engine, as_of=AS_OF)

    assert (result.lines_netted, result.rows_exposed) == (0, 0)
    assert exposure_rows(engine) == []


def test_partial_shipment_and_cancellation_net(engine, place):
    with engine.begin() as connection:
        partial = line(connection, place, order_number="SO-PART", line_number=1, ordered_qty=Decimal(10),
                       shipped_qty=Decimal(4), cancelled_qty=Decimal(3), current_promised_date=date(2026, 3, 2))
        line(connection, place, order_number="SO-PART", line_number=2, ordered_qty=Decimal(5), shipped_qty=Decimal(5))
        make_inventory(connection, place["item_id"], place["warehouse_id"], 2)

    result = recompute_exposure(engine, as_of=AS_OF)

    rows = exposure_rows(engine)
    assert result.lines_netted == 1
    assert [(row["so_line_id"], row["status"], row["shortage_qty"], row["revenue_at_risk"]) for row in rows] == [
        (partial["id"], "no_supply", Decimal("1.000000"), Decimal("10.0000")),
    ]


def test_rejected_acknowledgement_removes_purchase_supply(engine, place):
    with engine.begin() as connection:
        order = line(connection, place, ordered_qty=Decimal(10), current_promised_date=date(2026, 3, 20), requested_date=date(2026, 3, 20))
        po_line(connection, place, ordered_qty=Decimal(10), acknowledged_qty=Decimal(0), ack_status="rejected",
                promised_date=date(2026, 3, 10))

    recompute_exposure(engine, as_of=AS_OF)

    rows = exposure_rows(engine)
    assert [(row["so_line_id"], row["status"], row["root_cause"]) for row in rows] == [(order["id"], "no_supply", "no_supply_ordered")]
    assert rows[0]["root_cause_detail"] == {"location_supply_qty": "0", "unsupplied_qty": "10"}


def test_acknowledged_quantity_limits_purchase_supply(engine, place):
    with engine.begin() as connection:
        order = line(connection, place, ordered_qty=Decimal(10), current_promised_date=date(2026, 3, 20), requested_date=date(2026, 3, 20))
        po_line(connection, place, ordered_qty=Decimal(10), acknowledged_qty=Decimal(6), received_qty=Decimal(1),
                ack_status="changed", promised_date=date(2026, 3, 10))

    recompute_exposure(engine, as_of=AS_OF)

    rows = exposure_rows(engine)
    assert [(row["so_line_id"], row["status"]) for row in rows] == [(order["id"], "no_supply")]
    assert rows[0]["root_cause_detail"] == {"location_supply_qty": "5", "unsupplied_qty": "5"}


def test_acknowledged_delivery_date_replaces_the_promise(engine, place):
    with engine.begin() as connection:
        order = line(connection, place, ordered_qty=Decimal(10), current_promised_date=date(2026, 3, 12), requested_date=date(2026, 3, 12))
        po = po_line(connection, place, ordered_qty=Decimal(10), promised_date=date(2026, 3, 10), ack_status="changed",
                     acknowledged_qty=Decimal(10), acknowledged_date=date(2026, 3, 17))

    recompute_exposure(engine, as_of=AS_OF)

    rows = exposure_rows(engine)
    assert [(row["so_line_id"], row["status"], row["projected_date_p50"], row["root_cause"], row["cause_po_line_id"]) for row in rows] == [
        (order["id"], "at_risk", date(2026, 3, 17), "supplier_delay", po["id"]),
    ]
    assert rows[0]["root_cause_detail"] == {
        "po_line_id": po["id"], "slip_days": 7, "original_date": "2026-03-10", "expected_date": "2026-03-17",
        "date_source": "acknowledged",
    }


def test_acknowledgement_day_is_not_delivery_date(engine, place):
    with engine.begin() as connection:
        line(connection, place, ordered_qty=Decimal(10), current_promised_date=date(2026, 3, 12), requested_date=date(2026, 3, 12))
        po_line(connection, place, ordered_qty=Decimal(10), promised_date=date(2026, 3, 10), acknowledged_date=date(2026, 2, 27),
                acknowledged_qty=Decimal(10))

    result = recompute_exposure(engine, as_of=AS_OF)

    assert result.rows_exposed == 0


def test_eta_forecast_sets_p50_and_p90(engine, place):
    with engine.begin() as connection:
        order = line(connection, place, ordered_qty=Decimal(4), current_promised_date=date(2026, 3, 13), requested_date=date(2026, 3, 13))
        po = po_line(connection, place, ordered_qty=Decimal(4), promised_date=date(2026, 3, 9))
        make_forecast(connection, po["id"], date(2026, 3, 11), date(2026, 3, 16))

    recompute_exposure(engine, as_of=AS_OF)

    rows = exposure_rows(engine)
    assert [(row["so_line_id"], row["status"], row["projected_date_p50"], row["projected_date_p90"], row["days_late_promise"]) for row in rows] == [
        (order["id"], "at_risk", date(2026, 3, 11), date(2026, 3, 16), 0),
    ]
    assert rows[0]["root_cause_detail"]["date_source"] == "forecast"
    assert rows[0]["root_cause_detail"]["slip_days"] == 2


def test_asn_and_transfer_arrive_when_expected(engine, place):
    with engine.begin() as connection:
        other = make_warehouse(connection)["id"]
        strategic = {**place, "customer_id": make_customer(connection, tier="strategic")["id"]}
        first = line(connection, strategic, order_number="SO-A", ordered_qty=Decimal(6), current_promised_date=date(2026, 3, 3), requested_date=date(2026, 3, 3))
        second = line(connection, place, order_number="SO-B", ordered_qty=Decimal(5), current_promised_date=date(2026, 3, 4), requested_date=date(2026, 3, 4))
        po = po_line(connection, place, ordered_qty=Decimal(10), promised_date=date(2026, 3, 25))
        make_shipment(connection, "ASN-1", "asn", place["item_id"], 4, date(2026, 3, 5), to_warehouse_id=None, po_line_id=po["id"])
        make_shipment(connection, "TR-1", "transfer", place["item_id"], 2, date(2026, 3, 6), to_warehouse_id=place["warehouse_id"], from_warehouse_id=other)

    recompute_exposure(engine, as_of=AS_OF)

    rows = exposure_rows(engine)
    assert [(row["so_line_id"], row["projected_date_p50"], row["days_late_promise"]) for row in rows] == [
        (first["id"], date(2026, 3, 6), 3),
        (second["id"], date(2026, 3, 25), 21),
    ]


def test_money_sums_exactly_in_the_database(engine, place):
    with engine.begin() as connection:
        for number in range(3):
            line(connection, place, order_number=f"SO-DIME-{number}", ordered_qty=Decimal(1), unit_price=Decimal("0.10"), unit_cost=Decimal("0.04"))
            line(connection, place, order_number=f"SO-199-{number}", ordered_qty=Decimal(1), unit_price=Decimal("19.99"), unit_cost=Decimal("12.50"))

    recompute_exposure(engine, as_of=AS_OF)

    with engine.connect() as connection:
        sums = connection.execute(text(
            "select l.unit_price, sum(e.revenue_at_risk) as revenue, sum(e.margin_at_risk) as margin"
            " from exposure e join sales_order_lines l on l.id = e.so_line_id group by l.unit_price order by l.unit_price"
        )).all()
    assert [tuple(row) for row in sums] == [
        (Decimal("0.1000"), Decimal("0.3000"), Decimal("0.1800")),
        (Decimal("19.9900"), Decimal("59.9700"), Decimal("22.4700")),
    ]


def test_business_dates_follow_each_warehouse_time_zone():
    import pandas as pd

    warehouses = pd.DataFrame({"time_zone": ["America/Los_Angeles", "Asia/Tokyo", "UTC"]})
    now = datetime(2024, 3, 10, 3, 0, tzinfo=timezone.utc)

    days = business_dates(warehouses, None, now)
    fixed = business_dates(warehouses, date(2024, 3, 10), now)

    assert [date(1970, 1, 1) + timedelta(days=int(day)) for day in days] == [date(2024, 3, 9), date(2024, 3, 10), date(2024, 3, 10)]
    assert len(set(fixed.tolist())) == 1


def test_full_recompute_removes_stale_rows(engine, place):
    with engine.begin() as connection:
        order = line(connection, place, ordered_qty=Decimal(5))
    first = recompute_exposure(engine, as_of=AS_OF)
    with engine.begin() as connection:
        make_inventory(connection, place["item_id"], place["warehouse_id"], 5)

    second = recompute_exposure(engine, as_of=AS_OF)

    assert (first.rows_inserted, second.rows_deleted, second.rows_exposed) == (1, 1, 0)
    assert exposure_rows(engine) == []
    assert first.by_status == {"no_supply": 1}
    assert first.revenue_at_risk == {"USD": Decimal("50.0000")}
    assert order["id"] > 0


def test_recompute_changes_only_rows_whose_values_changed(engine, place):
    with engine.begin() as connection:
        kept = line(connection, place, order_number="SO-KEEP", ordered_qty=Decimal(5))
        line(connection, place, order_number="SO-OLD", ordered_qty=Decimal(3), order_date=date(2026, 2, 20))
        make_inventory(connection, place["item_id"], place["warehouse_id"], 2)
    first = recompute_exposure(engine, as_of=AS_OF)
    with engine.begin() as connection:
        connection.execute(update(schema.inventory).values(on_hand_qty=Decimal(4)))

    second = recompute_exposure(engine, as_of=AS_OF)
    third = recompute_exposure(engine, as_of=AS_OF)

    assert (first.rows_inserted, first.rows_updated, first.rows_deleted) == (2, 0, 0)
    assert (second.rows_exposed, second.rows_inserted, second.rows_updated, second.rows_deleted) == (1, 0, 1, 1)
    assert (third.rows_exposed, third.rows_inserted, third.rows_updated, third.rows_deleted) == (1, 0, 0, 0)
    assert [(row["so_line_id"], row["shortage_qty"]) for row in exposure_rows(engine)] == [(kept["id"], Decimal("4.000000"))]


def test_item_recompute_reuses_stored_customer_facts(engine, place):
    with engine.begin() as connection:
        exposed = line(connection, place, ordered_qty=Decimal(5), order_date=date(2026, 2, 15), requested_date=date(2026, 2, 20))
    recompute_exposure(engine, as_of=AS_OF)
    before = exposure_rows(engine)[0]
    with engine.begin() as connection:
        # A recent line of the customer shipped in full on its first promise: the late share falls from 1 to 1/2.
        line(connection, place, ordered_qty=Decimal(4), shipped_qty=Decimal(4), status="shipped",
             order_date=date(2026, 2, 1), requested_date=date(2026, 2, 5),
             first_promised_date=date(2026, 2, 5), current_promised_date=date(2026, 2, 5))

    recompute_exposure(engine, as_of=AS_OF, item_ids=[place["item_id"]])
    reused = exposure_rows(engine)[0]
    with engine.begin() as connection:
        started = datetime.now(timezone.utc)
        make_sync_run(connection, read_count=1, started_at=started, finished_at=started + timedelta(seconds=1))
    recompute_exposure(engine, as_of=AS_OF, item_ids=[place["item_id"]])
    refreshed = exposure_rows(engine)[0]
    recompute_exposure(engine, as_of=AS_OF)

    assert reused["so_line_id"] == exposed["id"]
    assert reused == before
    # Churn: 10 points x share / (share + 0.2).
    assert (before["score_churn"], refreshed["score_churn"]) == (Decimal("8.3333"), Decimal("7.1429"))
    assert exposure_rows(engine) == [refreshed]


def test_exposure_row_stores_line_supplier(engine, place):
    with engine.begin() as connection:
        preferred = make_supplier(connection)["id"]
        other_warehouse = make_warehouse(connection)["id"]
        for key, supplier, warehouse in (("si/here", preferred, place["warehouse_id"]), ("si/any", place["supplier_id"], None)):
            connection.execute(insert(schema.supplier_items).values(
                supplier_id=supplier, item_id=place["item_id"], warehouse_id=warehouse, lead_days=10, priority=1,
                **_lineage(key),
            ))
        waiting = line(connection, place, ordered_qty=Decimal(5), requested_date=date(2026, 3, 3))
        slipped = po_line(connection, place, ordered_qty=Decimal(5), promised_date=date(2026, 3, 20))
        make_supplier_event(connection, slipped, "ev/slip", date(2026, 3, 2), date(2026, 3, 20))
        uncovered = line(connection, place, ordered_qty=Decimal(2), requested_date=date(2026, 3, 10))
        elsewhere = make_order_line(
            connection, customer_id=place["customer_id"], item_id=place["item_id"], warehouse_id=other_warehouse,
            ordered_qty=Decimal(2), requested_date=date(2026, 3, 3),
        )

    recompute_exposure(engine, as_of=AS_OF)

    suppliers = {row["so_line_id"]: row["supplier_id"] for row in exposure_rows(engine)}
    # The slipped PO's supplier for the line it covers; else the warehouse's own offer before the every-warehouse one.
    assert suppliers[waiting["id"]] == place["supplier_id"]
    assert suppliers[uncovered["id"]] == preferred
    assert suppliers[elsewhere["id"]] == place["supplier_id"]


def test_weights_from_business_settings_change_the_score(engine, place):
    with engine.begin() as connection:
        line(connection, place, ordered_qty=Decimal(5), order_date=date(2026, 2, 15), requested_date=date(2026, 2, 20))
        connection.execute(insert(schema.business_settings).values(key="priority_weights", value={"tier": 0, "age": 100}))

    recompute_exposure(engine, as_of=AS_OF)

    row = exposure_rows(engine)[0]
    # Age 15 days: 15 / (15 + 14) of 100 points. The other components keep their default weights.
    assert row["score_age"] == Decimal("51.7241")
    assert row["score_tier"] == Decimal("0.0000")
    assert row["priority_score"] == row["score_tier"] + row["score_sla"] + row["score_margin"] + row["score_fill_gap"] + row["score_age"] + row["score_churn"]


def test_invalid_weights_stop_recompute(engine, place):
    with engine.begin() as connection:
        line(connection, place, ordered_qty=Decimal(5))
    recompute_exposure(engine, as_of=AS_OF)
    with engine.begin() as connection:
        connection.execute(insert(schema.business_settings).values(key="priority_weights", value={"tier": "high"}))

    with pytest.raises(InvalidPriorityWeights) as raised:
        recompute_exposure(engine, as_of=AS_OF)

    assert str(raised.value) == "priority_weights.tier 'high' is not a number; store a number of 0 or more"
    assert len(exposure_rows(engine)) == 1


def test_second_recompute_at_once_is_rejected(engine, place):
    holding = threading.Event()
    release = threading.Event()

    def hold_lock():
        with engine.begin() as connection:
            connection.execute(text("select pg_advisory_xact_lock(hashtext('exposure'))"))
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    holding.wait(10)
    try:
        with pytest.raises(ExposureBusy) as raised:
            recompute_exposure(engine, as_of=AS_OF)
    finally:
        release.set()
        holder.join()

    assert str(raised.value) == "another exposure recompute is writing the exposure table; run again when it has finished"


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exposure-demo")
    summary = generate_demo(folder, seed=7, lines=2_000, as_of=AS_OF)
    return folder, summary


@pytest.fixture
def demo(engine, demo_folder):
    folder, summary = demo_folder
    load_canonical_folder(engine, folder, source="demo")
    return summary


def _ids(connection, summary):
    po = connection.execute(
        text("select id, item_id, warehouse_id, supplier_id from purchase_order_lines where po_number = :number and line_number = :line"),
        {"number": summary.supplier_delay.po_number, "line": summary.supplier_delay.po_line_number},
    ).one()
    return po


def test_seeded_supplier_delay_tops_supplier_delays_by_revenue(engine, demo):
    delay = demo.supplier_delay

    recompute_exposure(engine, as_of=AS_OF)

    with engine.connect() as connection:
        po = _ids(connection, demo)
        by_po_line = connection.execute(text(
            "select cause_po_line_id, sum(revenue_at_risk) as revenue from exposure"
            " where root_cause = 'supplier_delay' group by cause_po_line_id order by revenue desc, cause_po_line_id"
        )).all()
        waiting = connection.execute(text(
            "select e.root_cause, e.projected_date_p50, e.root_cause_detail, e.status from exposure e"
            " join sales_order_lines l on l.id = e.so_line_id where l.item_id = :item and l.warehouse_id = :warehouse"
        ), {"item": po.item_id, "warehouse": po.warehouse_id}).all()
    assert by_po_line[0].cause_po_line_id == po.id
    assert by_po_line[0].revenue > by_po_line[1].revenue
    assert {row.root_cause for row in waiting} == {"supplier_delay"}
    assert {row.projected_date_p50 for row in waiting} == {delay.new_date}
    assert {row.root_cause_detail["slip_days"] for row in waiting} == {(delay.new_date - delay.old_date).days}
    assert {row.root_cause_detail["original_date"] for row in waiting} == {delay.old_date.isoformat()}
    assert {row.status for row in waiting} <= {"at_risk", "backordered"}


def test_demo_top_root_cause_is_supplier_delay(engine, demo):
    recompute_exposure(engine, as_of=AS_OF)

    pareto = root_cause_pareto(engine)

    assert pareto.iloc[0]["root_cause"] == "supplier_delay"
    assert pareto.iloc[0]["revenue_at_risk"] > pareto.iloc[1]["revenue_at_risk"]


def test_strategic_customers_top_the_demo_priority_list(engine, demo):
    recompute_exposure(engine, as_of=AS_OF)

    with engine.connect() as connection:
        po = _ids(connection, demo)
        ranked = connection.execute(text(
            "select c.tier, e.cause_po_line_id, e.score_tier from exposure e"
            " join sales_order_lines l on l.id = e.so_line_id join customers c on c.id = l.customer_id"
            " order by e.priority_score desc, e.so_line_id"
        )).all()
    waiting_tiers = [row.tier for row in ranked if row.cause_po_line_id == po.id]
    tier_order = {"strategic": 0, "key": 1, "standard": 2}
    assert [row.tier for row in ranked[:10]] == ["strategic"] * 10
    assert {row.score_tier for row in ranked if row.tier == "strategic"} == {Decimal("35.0000")}
    assert waiting_tiers == sorted(waiting_tiers, key=tier_order.get)
    assert waiting_tiers[0] == "strategic"


def test_seeded_hold_and_misplaced_stock_show_their_causes(engine, demo):
    recompute_exposure(engine, as_of=AS_OF)

    with engine.connect() as connection:
        def causes(sku, warehouse_code):
            return connection.execute(text(
                "select e.root_cause, e.root_cause_detail from exposure e join sales_order_lines l on l.id = e.so_line_id"
                " join items i on i.id = l.item_id join warehouses w on w.id = l.warehouse_id"
                " where i.sku = :sku and w.warehouse_code = :code"
            ), {"sku": sku, "code": warehouse_code}).all()

        held = causes(demo.quality_hold.sku, demo.quality_hold.warehouse_code)
        misplaced = causes(demo.stock_in_other_warehouse.sku, demo.stock_in_other_warehouse.short_warehouse_code)
        hold_qty = connection.execute(text(
            "select v.quality_hold_qty from inventory v join items i on i.id = v.item_id join warehouses w on w.id = v.warehouse_id"
            " where i.sku = :sku and w.warehouse_code = :code"
        ), {"sku": demo.quality_hold.sku, "code": demo.quality_hold.warehouse_code}).scalar_one()
    assert held
    assert {row.root_cause for row in held} == {"quality_hold"}
    assert {row.root_cause_detail["hold_qty"] for row in held} == {f"{hold_qty.normalize():f}"}
    assert misplaced
    assert {row.root_cause for row in misplaced} == {"stock_in_other_warehouse"}


def test_never_confirmed_demo_lines_are_included(engine, demo):
    recompute_exposure(engine, as_of=AS_OF)

    with engine.connect() as connection:
        rows = connection.execute(text(
            "select e.status, l.current_promised_date, l.order_number, l.line_number from exposure e"
            " join sales_order_lines l on l.id = e.so_line_id where e.status = 'never_confirmed'"
        )).all()
    seeded = {(key.order_number, key.line_number) for key in demo.never_confirmed_lines}
    assert rows
    assert {row.current_promised_date for row in rows} == {None}
    assert {(row.order_number, row.line_number) for row in rows} <= seeded


def test_supplier_event_recompute_equals_full_recompute(engine, demo):
    recompute_exposure(engine, as_of=AS_OF)
    since = datetime.now(timezone.utc)
    with engine.begin() as connection:
        seeded = _ids(connection, demo)
        po = connection.execute(text("select * from purchase_order_lines where id = :id"), {"id": seeded.id}).mappings().one()
        moved = po["promised_date"] + timedelta(days=30)
        connection.execute(update(schema.purchase_order_lines).where(schema.purchase_order_lines.c.id == po["id"]).values(promised_date=moved))
        make_supplier_event(connection, po, "event-push-30", po["promised_date"], moved)
    before_event = exposure_rows(engine)

    by_event = recompute_exposure_for_supplier_events(engine, since=since, as_of=AS_OF)
    after_event = exposure_rows(engine)
    full = recompute_exposure(engine, as_of=AS_OF)
    after_full = exposure_rows(engine)

    changed = {row["so_line_id"]: row["projected_date_p50"] for row in after_event if row["cause_po_line_id"] == po["id"]}
    assert by_event.item_count == 1
    assert by_event.lines_netted < full.lines_netted
    assert after_event == after_full
    assert set(changed.values()) == {moved}
    assert len(before_event) <= len(after_event)


def test_exposure_job_full_then_events(engine, demo):
    settings = load_settings({"CONTROL_TOWER_TIMEZONE": "UTC"})

    def job(job_engine, job_run_id):
        return exposure_job(job_engine, job_run_id, settings)

    first = run_job(engine, EXPOSURE_JOB_NAME, job)
    with engine.begin() as connection:
        po = connection.execute(text("select * from purchase_order_lines where status = 'open' order by id limit 1")).mappings().one()
        make_supplier_event(connection, po, "event-job", po["promised_date"], po["promised_date"] + timedelta(days=3))
    second = run_job(engine, EXPOSURE_JOB_NAME, job)
    third = run_job(engine, EXPOSURE_JOB_NAME, job)

    assert first.status == "succeeded"
    assert (first.counts["full"], first.counts["items"]) == (1, -1)
    assert (second.counts["full"], second.counts["items"]) == (0, 1)
    assert (third.counts["full"], third.counts["items"], third.counts["rows_exposed"]) == (0, 0, 0)
    with engine.connect() as connection:
        written_by = connection.execute(text("select distinct job_run_id from exposure")).scalars().all()
    assert first.job_run_id in written_by


FREPPLE_AS_OF = date(2020, 11, 2)


def frepple_expected(path) -> dict[tuple[str, str], tuple[int, Decimal, Decimal]]:
    """Derive, straight from the fixture, the exposure of each (location, root cause) at FREPPLE_AS_OF.

    The replay has no purchase orders, so a demand due after the as-of date
    takes the location's on-hand stock in due-date order and the rest of it
    has no supply at all. The regional DC has no demands, so its whole stock
    is spare for the shops, and explains a shop's shortage while the
    shortage summed in netting order stays within it. Money is at item cost.
    """
    import json
    from collections import defaultdict

    records = json.loads(path.read_text())
    cost = {r["fields"]["name"]: Decimal(str(r["fields"].get("cost", 0))) for r in records if r["model"] == "input.item"}
    on_hand = defaultdict(Decimal)
    for record in (r["fields"] for r in records if r["model"] == "input.buffer"):
        on_hand[(record["item_id"], record["location_id"])] += Decimal(str(record["onhand"]))
    demands = defaultdict(list)
    for number, record in enumerate(r["fields"] for r in records if r["model"] == "input.demand"):
        if date.fromisoformat(record["due"][:10]) > FREPPLE_AS_OF:
            demands[(record["item_id"], record["location_id"])].append((record["due"], number, Decimal(str(record["quantity"]))))

    expected = defaultdict(lambda: (0, Decimal(0), Decimal(0)))
    for (item, location), lines in demands.items():
        taken, shortage_so_far = Decimal(0), Decimal(0)
        spare = on_hand[(item, "RDC")]
        for _, _, quantity in sorted(lines):
            covered = min(quantity, max(on_hand[(item, location)] - taken, Decimal(0)))
            taken += quantity
            shortage = quantity - covered
            if shortage == 0:
                continue
            shortage_so_far += shortage
            cause = "stock_in_other_warehouse" if shortage_so_far <= spare else "no_supply_ordered"
            count, short, revenue = expected[(location, cause)]
            expected[(location, cause)] = (count + 1, short + shortage, revenue + shortage * cost[item])
    return dict(expected)


def test_frepple_replay_exposure_at_item_cost(engine, realdata_dir):
    from services.sync.frepple import sync_frepple

    path = realdata_dir / "erp" / "frepple_distribution_demo.json"
    sync_frepple(engine, path, as_of=FREPPLE_AS_OF, business_timezone="Europe/Brussels")

    result = recompute_exposure(engine, as_of=FREPPLE_AS_OF)

    with engine.connect() as connection:
        found = connection.execute(text(
            "select w.warehouse_code, e.status, e.root_cause, count(*) as lines, sum(e.shortage_qty) as shortage,"
            " sum(e.revenue_at_risk) as revenue, sum(e.margin_at_risk) as margin,"
            " count(*) filter (where e.root_cause = 'stock_in_other_warehouse' and e.root_cause_detail->>'warehouse_code' = 'RDC') as from_rdc"
            " from exposure e join sales_order_lines l on l.id = e.so_line_id join warehouses w on w.id = l.warehouse_id"
            " group by 1, 2, 3 order by 1, 2, 3"
        )).all()
        warehouses = set(connection.execute(text("select warehouse_code from warehouses")).scalars())
    expected = frepple_expected(path)
    assert warehouses == {"RDC", "Tennis shop Brussels", "Tennis shop Paris"}
    assert result.lines_netted == 248
    assert {row.status for row in found} == {"no_supply"}
    assert {row.warehouse_code for row in found} == {"Tennis shop Brussels", "Tennis shop Paris"}
    assert {(row.warehouse_code, row.root_cause): (row.lines, row.shortage, row.revenue) for row in found} == expected
    assert {row.margin for row in found} == {Decimal(0)}
    assert sum(row.from_rdc for row in found) == sum(count for (_, cause), (count, _, _) in expected.items() if cause == "stock_in_other_warehouse")
