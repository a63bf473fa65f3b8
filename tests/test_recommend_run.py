"""Recommendations against PostgreSQL: hand-solved scenarios netted by exposure, then allocated by the LP."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select, update

from services.db import schema
from services.exposure.recompute import recompute_exposure
from services.recommend.run import RECOMMEND_JOB_NAME, recommend, recommend_job
from services.recommend.settings import RECOMMENDATION_SETTINGS_KEY
from services.recommend.versions import current_data_version
from services.settings import load_settings
from services.worker.job_runs import run_job
from tests.builders import (
    make_customer,
    make_inventory,
    make_item,
    make_order_line,
    make_po_line,
    make_substitute,
    make_supplier,
    make_transfer_lane,
    make_warehouse,
)

AS_OF = date(2026, 3, 2)


def _run(engine):
    recompute_exposure(engine, as_of=AS_OF)
    return recommend(engine, as_of=AS_OF)


def _recommendations(engine, so_line_id=None) -> list[dict]:
    query = select(schema.recommendations).order_by(schema.recommendations.c.id)
    if so_line_id is not None:
        query = query.where(schema.recommendations.c.so_line_id == so_line_id)
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def _short_line(connection, *, customer, item, warehouse, qty=10, promised=AS_OF, **overrides):
    """An open line promised today, so it is backordered when nothing is in stock."""
    return make_order_line(
        connection, customer_id=customer["id"], item_id=item["id"], warehouse_id=warehouse["id"],
        ordered_qty=Decimal(qty), current_promised_date=promised, **overrides,
    )


def test_two_lines_compete_for_ten_units(engine):
    with engine.begin() as connection:
        item = make_item(connection)
        east, west, central = (make_warehouse(connection) for _ in range(3))
        key_line = _short_line(connection, customer=make_customer(connection, tier="key"), item=item, warehouse=east)
        standard_line = _short_line(connection, customer=make_customer(connection), item=item, warehouse=west)
        make_inventory(connection, item_id=item["id"], warehouse_id=central["id"], on_hand_qty=Decimal(10))
        make_transfer_lane(connection, from_warehouse_id=central["id"], to_warehouse_id=east["id"], lead_days=3)
        make_transfer_lane(connection, from_warehouse_id=central["id"], to_warehouse_id=west["id"], lead_days=1)

    result = _run(engine)

    [transfer] = _recommendations(engine, key_line["id"])
    [escalation] = _recommendations(engine, standard_line["id"])
    assert transfer["action"] == "transfer"
    assert transfer["qty"] == Decimal("10.000000")
    assert transfer["source_warehouse_id"] == central["id"]
    assert transfer["expected_date"] == AS_OF + timedelta(days=3)
    assert transfer["cost"] == Decimal("10.0000")
    assert transfer["revenue_recovered"] == Decimal("100.0000")
    assert f"line {standard_line['order_number']}/1" in transfer["explanation"]
    assert "stays 10 short" in transfer["explanation"]
    assert escalation["action"] == "escalate"
    assert escalation["qty"] == Decimal("10.000000")
    assert result.weighted_served >= result.greedy_weighted_served


def test_substitute_is_never_offered_to_an_excluded_customer(engine):
    with engine.begin() as connection:
        warehouse = make_warehouse(connection)
        item, half_pack = make_item(connection), make_item(connection, unit_cost=Decimal("2.00"))
        excluded = make_customer(connection, tier="key")
        allowed = make_customer(connection)
        make_substitute(connection, item_id=item["id"], substitute_item_id=half_pack["id"], ratio=Decimal(2),
                        excluded_customer_codes=[excluded["customer_code"]])
        excluded_line = _short_line(connection, customer=excluded, item=item, warehouse=warehouse)
        allowed_line = _short_line(connection, customer=allowed, item=item, warehouse=warehouse)
        make_inventory(connection, item_id=half_pack["id"], warehouse_id=warehouse["id"], on_hand_qty=Decimal(30))

    _run(engine)

    [escalation] = _recommendations(engine, excluded_line["id"])
    [substitution] = _recommendations(engine, allowed_line["id"])
    assert escalation["action"] == "escalate"
    assert substitution["action"] == "substitute"
    assert substitution["substitute_item_id"] == half_pack["id"]
    assert substitution["source_warehouse_id"] == warehouse["id"]
    assert substitution["qty"] == Decimal("10.000000")
    assert substitution["cost"] == Decimal("0.0000")
    assert substitution["governance_class"] == "planner"
    assert "action_needs_planner" in substitution["explanation"]


def test_transfer_arriving_after_the_purchase_order_is_not_used(engine):
    with engine.begin() as connection:
        item = make_item(connection)
        warehouse, far = make_warehouse(connection), make_warehouse(connection)
        line = _short_line(connection, customer=make_customer(connection), item=item, warehouse=warehouse,
                           promised=AS_OF + timedelta(days=2), requested_date=AS_OF + timedelta(days=2))
        po_line = make_po_line(connection, item_id=item["id"], warehouse_id=warehouse["id"], ordered_qty=Decimal(10),
                               promised_date=AS_OF + timedelta(days=4))
        make_inventory(connection, item_id=item["id"], warehouse_id=far["id"], on_hand_qty=Decimal(10))
        make_transfer_lane(connection, from_warehouse_id=far["id"], to_warehouse_id=warehouse["id"], lead_days=7)

    _run(engine)

    [expedite] = _recommendations(engine, line["id"])
    assert expedite["action"] == "expedite"
    assert expedite["source_po_line_id"] == po_line["id"]
    assert expedite["source_warehouse_id"] is None
    assert expedite["qty"] == Decimal("10.000000")
    assert expedite["expected_date"] == AS_OF + timedelta(days=4)
    assert expedite["days_saved"] == 2
    assert "2 days after the due date: ask the supplier to pull it in" in expedite["explanation"]


def test_expedite_carries_the_purchase_order_version(engine):
    with engine.begin() as connection:
        item = make_item(connection)
        warehouse = make_warehouse(connection)
        line = _short_line(connection, customer=make_customer(connection), item=item, warehouse=warehouse)
        po_line = make_po_line(connection, item_id=item["id"], warehouse_id=warehouse["id"], ordered_qty=Decimal(25),
                               received_qty=Decimal(5), promised_date=AS_OF + timedelta(days=9))

    _run(engine)

    [expedite] = _recommendations(engine, line["id"])
    assert expedite["action"] == "expedite"
    assert expedite["days_saved"] == 9
    assert json.loads(expedite["data_version"]) == {
        "so_line": {"id": line["id"], "ordered_qty": "10.000000", "shipped_qty": "0.000000",
                    "cancelled_qty": "0.000000", "status": "open"},
        "supply": {"kind": "po_line", "id": po_line["id"], "ordered_qty": "25.000000", "received_qty": "5.000000",
                   "cancelled_qty": "0.000000", "status": "open", "expected_date": "2026-03-11"},
    }
    with engine.connect() as connection:
        assert expedite["data_version"] == current_data_version(connection, line["id"], po_line_id=po_line["id"])


def test_purchase_order_by_the_due_date_is_allocated(engine):
    with engine.begin() as connection:
        item = make_item(connection)
        warehouse = make_warehouse(connection)
        line = make_order_line(connection, item_id=item["id"], warehouse_id=warehouse["id"],
                               requested_date=AS_OF + timedelta(days=20))
        po_line = make_po_line(connection, item_id=item["id"], warehouse_id=warehouse["id"], ordered_qty=Decimal(10),
                               promised_date=AS_OF + timedelta(days=8))

    _run(engine)

    [allocation] = _recommendations(engine, line["id"])
    assert allocation["action"] == "allocate"
    assert allocation["source_po_line_id"] == po_line["id"]
    assert allocation["expected_date"] == AS_OF + timedelta(days=8)
    assert allocation["governance_class"] == "auto"


def test_escalates_line_no_source_covers(engine):
    with engine.begin() as connection:
        line = _short_line(connection, customer=make_customer(connection), item=make_item(connection),
                           warehouse=make_warehouse(connection), qty=7)

    _run(engine)

    [escalation] = _recommendations(engine, line["id"])
    assert escalation["action"] == "escalate"
    assert escalation["qty"] == Decimal("7.000000")
    assert escalation["expected_date"] is None
    assert escalation["revenue_recovered"] == Decimal("0.0000")
    assert escalation["governance_class"] == "planner"
    assert escalation["status"] == "proposed"
    assert json.loads(escalation["data_version"])["supply"] is None
    assert "No free stock, transfer, inbound purchase order line or allowed substitute" in escalation["explanation"]


def test_protected_stock_is_held_back_from_lower_tiers(engine):
    with engine.begin() as connection:
        connection.execute(insert(schema.business_settings).values(
            key=RECOMMENDATION_SETTINGS_KEY, value={"strategic_protected_share": 0.5}))
        item = make_item(connection)
        short_warehouse, stock_warehouse, strategic_warehouse = (make_warehouse(connection) for _ in range(3))
        standard_line = _short_line(connection, customer=make_customer(connection), item=item, warehouse=short_warehouse)
        # A strategic customer's line covered by stock in its own warehouse: open strategic demand for the item.
        strategic = make_customer(connection, tier="strategic")
        make_order_line(connection, customer_id=strategic["id"], item_id=item["id"], warehouse_id=strategic_warehouse["id"],
                        ordered_qty=Decimal(20))
        make_inventory(connection, item_id=item["id"], warehouse_id=strategic_warehouse["id"], on_hand_qty=Decimal(20))
        make_inventory(connection, item_id=item["id"], warehouse_id=stock_warehouse["id"], on_hand_qty=Decimal(10))
        make_transfer_lane(connection, from_warehouse_id=stock_warehouse["id"], to_warehouse_id=short_warehouse["id"])

    _run(engine)

    transfer, escalation = _recommendations(engine, standard_line["id"])
    assert (transfer["action"], transfer["qty"], transfer["source_warehouse_id"]) == (
        "transfer", Decimal("5.000000"), stock_warehouse["id"])
    assert (escalation["action"], escalation["qty"]) == ("escalate", Decimal("5.000000"))


def test_line_covered_by_two_sources_is_split(engine):
    with engine.begin() as connection:
        item = make_item(connection)
        warehouse, other = make_warehouse(connection), make_warehouse(connection)
        line = _short_line(connection, customer=make_customer(connection), item=item, warehouse=warehouse)
        make_inventory(connection, item_id=item["id"], warehouse_id=other["id"], on_hand_qty=Decimal(4))
        make_transfer_lane(connection, from_warehouse_id=other["id"], to_warehouse_id=warehouse["id"], lead_days=2)
        po_line = make_po_line(connection, item_id=item["id"], warehouse_id=warehouse["id"], ordered_qty=Decimal(50),
                               promised_date=AS_OF + timedelta(days=12))

    _run(engine)

    now, later = _recommendations(engine, line["id"])
    assert (now["action"], now["qty"], now["source_warehouse_id"], now["expected_date"]) == (
        "split", Decimal("4.000000"), other["id"], AS_OF + timedelta(days=2))
    assert (later["action"], later["qty"], later["source_po_line_id"], later["expected_date"]) == (
        "split", Decimal("6.000000"), po_line["id"], AS_OF + timedelta(days=12))


def test_unchanged_recommendations_keep_their_ids_and_others_go_stale(engine):
    with engine.begin() as connection:
        item = make_item(connection)
        warehouse, other = make_warehouse(connection), make_warehouse(connection)
        kept_line = _short_line(connection, customer=make_customer(connection), item=item, warehouse=warehouse)
        approved_line = _short_line(connection, customer=make_customer(connection), item=make_item(connection),
                                    warehouse=warehouse, qty=3)
        make_inventory(connection, item_id=item["id"], warehouse_id=other["id"], on_hand_qty=Decimal(10))
        make_transfer_lane(connection, from_warehouse_id=other["id"], to_warehouse_id=warehouse["id"])
    _run(engine)
    [first] = _recommendations(engine, kept_line["id"])
    [approved] = _recommendations(engine, approved_line["id"])
    with engine.begin() as connection:
        connection.execute(update(schema.recommendations).where(schema.recommendations.c.id == approved["id"])
                           .values(status="approved"))

    again = _run(engine)
    [same] = _recommendations(engine, kept_line["id"])
    with engine.begin() as connection:
        connection.execute(update(schema.inventory).where(schema.inventory.c.warehouse_id == other["id"])
                           .values(on_hand_qty=Decimal(6)))
    _run(engine)
    stale, replacement, escalation = _recommendations(engine, kept_line["id"])
    [still_approved] = [row for row in _recommendations(engine, approved_line["id"]) if row["id"] == approved["id"]]

    assert same["id"] == first["id"]
    assert again.kept == 1
    assert again.inserted == 0
    assert again.staled == 0
    assert (stale["id"], stale["status"]) == (first["id"], "stale")
    assert "no longer proposes it" in stale["explanation"]
    assert (replacement["action"], replacement["qty"], replacement["status"]) == ("transfer", Decimal("6.000000"), "proposed")
    assert (escalation["action"], escalation["qty"]) == ("escalate", Decimal("4.000000"))
    assert still_approved["status"] == "approved"
    assert still_approved["updated_at"] == approved["updated_at"]


def test_strategic_customer_goes_to_a_leader(engine):
    with engine.begin() as connection:
        item = make_item(connection)
        warehouse, other = make_warehouse(connection), make_warehouse(connection)
        line = _short_line(connection, customer=make_customer(connection, tier="strategic"), item=item, warehouse=warehouse)
        make_inventory(connection, item_id=item["id"], warehouse_id=other["id"], on_hand_qty=Decimal(10))
        make_transfer_lane(connection, from_warehouse_id=other["id"], to_warehouse_id=warehouse["id"])

    _run(engine)

    [transfer] = _recommendations(engine, line["id"])
    assert (transfer["action"], transfer["governance_class"]) == ("transfer", "leader")
    assert "by rule strategic_customer" in transfer["explanation"]
    with engine.connect() as connection:
        policy = connection.execute(select(schema.business_settings.c.value)
                                    .where(schema.business_settings.c.key == "governance_policy")).scalar_one()
    assert policy["leader_value_limit"] == "25000"


def test_recommend_job_records_counts_and_skips_when_nothing_changed(engine):
    with engine.begin() as connection:
        _short_line(connection, customer=make_customer(connection), item=make_item(connection),
                    warehouse=make_warehouse(connection))
    recompute_exposure(engine, as_of=AS_OF)
    settings = load_settings({})

    first = run_job(engine, RECOMMEND_JOB_NAME, lambda engine, job_run_id: recommend_job(engine, job_run_id, settings))
    second = run_job(engine, RECOMMEND_JOB_NAME, lambda engine, job_run_id: recommend_job(engine, job_run_id, settings))

    assert first.counts["skipped"] == 0
    assert first.counts["action_escalate"] == 1
    assert first.counts["inserted"] == 1
    assert second.counts == {"skipped": 1}
    [row] = _recommendations(engine)
    assert row["job_run_id"] == first.job_run_id
