"""The frePPLe connector: fixture mapping, replay at an as-of date, bad input and the public demo fixture."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from services.sync.frepple import (
    FixtureRejected,
    InvalidFixtureValue,
    fixture_code,
    lead_days,
    read_frepple_fixture,
    replay_order_date,
    replay_status,
    sync_frepple,
)

AS_OF = date(2020, 11, 2)
ZONE = "Europe/Brussels"
ENTITY_ORDER = [
    "warehouses", "customers", "suppliers", "items", "supplier_items", "transfer_lanes", "inventory", "sales_order_lines",
]


def record(model: str, **fields) -> dict:
    return {"model": model, "fields": fields}


def demand(name: str, due: str, quantity, status: str = "closed", item: str = "Ball", location: str = "Shop") -> dict:
    return record(
        "input.demand", name=name, due=f"{due} 00:00:00", status=status, quantity=quantity, priority=10,
        customer_id="Walk-in", item_id=item, location_id=location,
    )


def network() -> list[dict]:
    """A small distribution network: a DC supplying a shop, two items, one supplier, one parameter."""
    return [
        record("common.parameter", name="currency", value="€"),
        record("input.location", name="All locations", description="Aggregate"),
        record("input.location", name="DC", description="Central warehouse", owner_id="All locations"),
        record("input.location", name="Shop", description="City shop", owner_id="All locations"),
        record("input.customer", name="Walk-in"),
        record("input.item", name="All items", description="Aggregate"),
        record("input.item", name="Ball", description="Ball pack", category="Balls", cost=Decimal("7.5"), owner_id="All items"),
        record("input.item", name="Racket", description="Racket", subcategory="Rackets", cost=180, owner_id="All items"),
        record("input.supplier", name="Acme"),
        record("input.itemsupplier", leadtime="604800.0", sizeminimum=15, sizemultiple=3, cost=5, priority=1,
               item_id="Ball", location_id="DC", supplier_id="Acme"),
        record("input.itemsupplier", leadtime="1 12:00:00", sizeminimum=1, cost=120, priority=1,
               item_id="Racket", location_id="DC", supplier_id="Racket works"),
        record("input.itemdistribution", leadtime="259200.0", sizeminimum=1, item_id="Ball", location_id="Shop", origin_id="DC"),
        record("input.itemdistribution", leadtime="4 00:00:00", sizeminimum=1, cost=Decimal("0.8"), item_id="Racket",
               location_id="Shop", origin_id="DC"),
        record("input.buffer", id=1, onhand=25, item_id="Ball", location_id="DC"),
        record("input.buffer", id=2, onhand=7, item_id="Ball", location_id="Shop"),
        record("input.buffer", id=3, onhand=2, item_id="Racket", location_id="Shop"),
        demand("D1", "2020-10-18", 4),
        demand("D2", "2020-10-25", 2, status="canceled"),
        demand("D3", "2020-11-01", 5, status="open"),
        demand("D4", "2020-11-08", 6),
        demand("D5", "2020-11-29", 3, item="Racket"),
    ]


def write_fixture(folder: Path, records, name: str = "network.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(records, default=str), encoding="utf-8")
    return path


def rows(engine, query: str) -> list:
    with engine.connect() as connection:
        return connection.execute(text(query)).all()


def order_lines(engine) -> dict[str, tuple]:
    return {
        row.order_number: (row.status, row.order_date, row.requested_date, row.ordered_qty, row.shipped_qty, row.cancelled_qty)
        for row in rows(engine, "select * from sales_order_lines")
    }


def quarantine(engine) -> list[tuple[str, str, str]]:
    return [tuple(row) for row in rows(engine, "select entity, position, reason from quarantine order by id")]


def counts(result) -> tuple[int, int, int, int, int]:
    return (result.read, result.inserted, result.updated, result.unchanged, result.rejected)


# --- Rules without a database ---------------------------------------------


@pytest.mark.parametrize(
    ("lead_time", "days"),
    [
        ("604800.0", 7),
        (604800, 7),
        (Decimal("1296000.0"), 15),
        ("259201", 4),
        ("3600", 1),
        ("0", 0),
        (None, 0),
        ("7 00:00:00", 7),
        ("1 12:00:00", 2),
        ("10 days, 0:00:00", 10),
        ("12:00:00", 1),
        ("P3D", 3),
        ("PT36H", 2),
    ],
)
def test_lead_time_rounds_up_to_whole_days(lead_time, days):
    assert lead_days(lead_time) == days


@pytest.mark.parametrize(
    ("lead_time", "message"),
    [
        ("2 weeks", "leadtime '2 weeks' is not a duration; write seconds such as 604800, a Django duration such as '7 00:00:00' or ISO 8601 such as 'P7D'"),
        ("P1M", "leadtime 'P1M' is not a duration; write seconds such as 604800, a Django duration such as '7 00:00:00' or ISO 8601 such as 'P7D'"),
        ("-86400", "leadtime '-86400' is negative; a lead time must be 0 or more"),
        ("-1 00:00:00", "leadtime '-1 00:00:00' is negative; a lead time must be 0 or more"),
    ],
)
def test_invalid_lead_time_names_its_value(lead_time, message):
    with pytest.raises(InvalidFixtureValue) as raised:
        lead_days(lead_time)

    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("status", "due", "expected"),
    [
        ("closed", date(2020, 11, 2), "shipped"),
        ("closed", date(2020, 11, 3), "open"),
        ("canceled", date(2020, 10, 1), "cancelled"),
        ("canceled", date(2020, 12, 1), "open"),
        ("open", date(2020, 10, 1), "open"),
    ],
)
def test_replay_status_at_as_of(status, due, expected):
    assert replay_status(status, due, AS_OF) == expected


def test_order_date_is_two_weeks_before_due_capped_at_as_of():
    assert replay_order_date(date(2020, 10, 1), AS_OF) == date(2020, 9, 17)
    assert replay_order_date(date(2020, 11, 10), AS_OF) == date(2020, 10, 27)
    assert replay_order_date(date(2020, 11, 30), AS_OF) == AS_OF


def test_long_name_becomes_code_within_limit():
    name = "Tennis shop at the far end of the Avenue Louise"

    code = fixture_code(name, 32)

    assert len(code) == 32
    assert code == "Tennis shop at the far ~" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    assert code != fixture_code(name + "2", 32)
    assert fixture_code("Shop", 32) == "Shop"


# --- Reading the fixture ---------------------------------------------------


def test_text_that_is_not_json_is_rejected(engine, tmp_path):
    path = tmp_path / "export.json"
    path.write_text("model,fields\ninput.item,Ball\n", encoding="utf-8")

    with pytest.raises(FixtureRejected) as raised:
        sync_frepple(engine, path, as_of=AS_OF)

    assert str(raised.value) == (
        "export.json is not JSON (Expecting value at line 1 column 1); "
        "expected a frePPLe fixture: a JSON list of records with model and fields"
    )
    assert rows(engine, "select count(*) from sync_runs")[0][0] == 0


def test_json_object_is_rejected_as_not_a_record_list(engine, tmp_path):
    path = write_fixture(tmp_path, {"input.item": [{"name": "Ball"}]}, name="object.json")

    with pytest.raises(FixtureRejected) as raised:
        sync_frepple(engine, path, as_of=AS_OF)

    assert str(raised.value) == (
        "object.json contains a JSON object, not a list of records; "
        'expected a frePPLe fixture: a JSON list of {"model": ..., "fields": {...}} records'
    )
    assert rows(engine, "select count(*) from sync_runs")[0][0] == 0


def test_list_entry_without_fields_rejects_the_file(engine, tmp_path):
    path = write_fixture(tmp_path, network()[:3] + [{"model": "input.item", "name": "Ball"}])

    with pytest.raises(FixtureRejected) as raised:
        sync_frepple(engine, path, as_of=AS_OF)

    assert str(raised.value) == (
        'record 4 of network.json is not a model record ({"model": "input.item", "name": "Ball"}); '
        'expected {"model": "input.item", "fields": {...}} with an optional "pk"'
    )
    assert rows(engine, "select count(*) from warehouses")[0][0] == 0


def test_unknown_model_is_ignored_counted_and_logged_once(tmp_path, caplog):
    calendars = [record("input.calendar", name=f"Calendar {n}") for n in range(3)]
    path = write_fixture(tmp_path, network() + calendars + [record("input.operation", name="Ship")])

    with caplog.at_level(logging.WARNING, logger="services.sync.frepple"):
        data = read_frepple_fixture(path)

    assert data.ignored_models == {"input.calendar": 3, "input.operation": 1}
    assert len(data.of("input.demand")) == 5
    assert [message for message in caplog.messages if "ignored" in message] == [
        "network.json: 3 records of model input.calendar ignored; the connector reads input.location, input.item, "
        "input.customer, input.supplier, input.itemsupplier, input.itemdistribution, input.buffer, input.demand, common.parameter",
        "network.json: 1 records of model input.operation ignored; the connector reads input.location, input.item, "
        "input.customer, input.supplier, input.itemsupplier, input.itemdistribution, input.buffer, input.demand, common.parameter",
    ]


def test_hierarchy_levels_are_the_unreferenced_owners(tmp_path):
    data = read_frepple_fixture(write_fixture(tmp_path, network()))

    assert data.hierarchy_levels("input.location") == {"All locations"}
    assert data.hierarchy_levels("input.item") == {"All items"}


# --- Loading a synthetic network -------------------------------------------


def test_network_loads_every_entity_in_dependency_order(engine, tmp_path):
    results = sync_frepple(engine, write_fixture(tmp_path, network()), as_of=AS_OF, business_timezone=ZONE)

    assert [result.entity for result in results] == ENTITY_ORDER
    assert {result.source for result in results} == {"frepple"}
    assert {result.file_name for result in results} == {"network.json"}
    assert [counts(result) for result in results] == [
        (2, 2, 0, 0, 0),
        (1, 1, 0, 0, 0),
        (2, 2, 0, 0, 0),
        (2, 2, 0, 0, 0),
        (2, 2, 0, 0, 0),
        (1, 1, 0, 0, 0),
        (3, 3, 0, 0, 0),
        (5, 5, 0, 0, 0),
    ]
    assert rows(engine, "select count(*) from sync_runs where status = 'succeeded'")[0][0] == 8


def test_locations_become_warehouses_in_business_time_zone(engine, tmp_path):
    sync_frepple(engine, write_fixture(tmp_path, network()), as_of=AS_OF, business_timezone=ZONE)

    warehouses = rows(engine, "select warehouse_code, name, time_zone, source, source_key from warehouses order by warehouse_code")
    assert [tuple(row) for row in warehouses] == [
        ("DC", "Central warehouse", ZONE, "frepple", "DC"),
        ("Shop", "City shop", ZONE, "frepple", "Shop"),
    ]


def test_items_take_cost_as_list_price_and_category_as_family(engine, tmp_path):
    sync_frepple(engine, write_fixture(tmp_path, network()), as_of=AS_OF, business_timezone=ZONE)

    items = rows(engine, "select sku, description, family, unit_cost, list_price, currency from items order by sku")
    assert [tuple(row) for row in items] == [
        ("Ball", "Ball pack", "Balls", Decimal("7.5000"), Decimal("7.5000"), "EUR"),
        ("Racket", "Racket", "Rackets", Decimal("180.0000"), Decimal("180.0000"), "EUR"),
    ]


def test_customers_and_suppliers_come_from_records_and_names(engine, tmp_path):
    sync_frepple(engine, write_fixture(tmp_path, network()), as_of=AS_OF, business_timezone=ZONE)

    customers = rows(engine, "select customer_code, tier, currency from customers")
    suppliers = rows(engine, "select supplier_code, name, default_lead_days from suppliers order by supplier_code")
    assert [tuple(row) for row in customers] == [("Walk-in", "standard", "EUR")]
    assert [tuple(row) for row in suppliers] == [("Acme", "Acme", 7), ("Racket works", "Racket works", 2)]


def test_item_suppliers_become_supplier_items_in_days(engine, tmp_path):
    sync_frepple(engine, write_fixture(tmp_path, network()), as_of=AS_OF, business_timezone=ZONE)

    supplier_items = rows(
        engine,
        "select s.supplier_code, i.sku, w.warehouse_code, si.lead_days, si.min_order_qty, si.order_multiple, si.unit_cost"
        " from supplier_items si join suppliers s on s.id = si.supplier_id join items i on i.id = si.item_id"
        " join warehouses w on w.id = si.warehouse_id order by i.sku",
    )
    assert [tuple(row) for row in supplier_items] == [
        ("Acme", "Ball", "DC", 7, Decimal("15.000000"), Decimal("3.000000"), Decimal("5.0000")),
        ("Racket works", "Racket", "DC", 2, Decimal("1.000000"), Decimal("1.000000"), Decimal("120.0000")),
    ]


def test_distributions_share_one_lane_with_longest_lead(engine, tmp_path):
    sync_frepple(engine, write_fixture(tmp_path, network()), as_of=AS_OF, business_timezone=ZONE)

    lanes = rows(
        engine,
        "select f.warehouse_code, t.warehouse_code, l.lead_days, l.cost_per_unit, l.source_key from transfer_lanes l"
        " join warehouses f on f.id = l.from_warehouse_id join warehouses t on t.id = l.to_warehouse_id",
    )
    assert [tuple(row) for row in lanes] == [("DC", "Shop", 4, Decimal("0.8000"), "DC/Shop")]


def test_buffers_become_inventory_as_of_end_of_day(engine, tmp_path):
    sync_frepple(engine, write_fixture(tmp_path, network()), as_of=AS_OF, business_timezone=ZONE)

    inventory = rows(
        engine,
        "select i.sku, w.warehouse_code, v.on_hand_qty, v.as_of, v.source_key from inventory v"
        " join items i on i.id = v.item_id join warehouses w on w.id = v.warehouse_id order by i.sku, w.warehouse_code",
    )
    end_of_day = datetime(2020, 11, 2, 22, 59, 59, tzinfo=timezone.utc)
    assert [tuple(row) for row in inventory] == [
        ("Ball", "DC", Decimal("25.000000"), end_of_day, "Ball @ DC"),
        ("Ball", "Shop", Decimal("7.000000"), end_of_day, "Ball @ Shop"),
        ("Racket", "Shop", Decimal("2.000000"), end_of_day, "Racket @ Shop"),
    ]


def test_item_without_cost_loads_at_zero(engine, tmp_path):
    fixture = network() + [record("input.item", name="Net", description="Net")]

    results = sync_frepple(engine, write_fixture(tmp_path, fixture), as_of=AS_OF)

    net = rows(engine, "select unit_cost, list_price, family from items where sku = 'Net'")
    assert counts(results[3]) == (3, 3, 0, 0, 0)
    assert tuple(net[0]) == (Decimal("0.0000"), Decimal("0.0000"), "Uncategorized")


def test_batches_of_one_buffer_sum_into_one_inventory_row(engine, tmp_path):
    batches = [record("input.buffer", id=9, onhand=4, batch="B2", item_id="Ball", location_id="Shop")]
    results = sync_frepple(engine, write_fixture(tmp_path, network() + batches), as_of=AS_OF)

    on_hand = rows(engine, "select on_hand_qty from inventory where source_key = 'Ball @ Shop'")
    assert counts(results[6]) == (3, 3, 0, 0, 0)
    assert on_hand[0][0] == Decimal("11.000000")


def test_demands_replay_at_as_of(engine, tmp_path):
    sync_frepple(engine, write_fixture(tmp_path, network()), as_of=AS_OF, business_timezone=ZONE)

    assert order_lines(engine) == {
        "D1": ("shipped", date(2020, 10, 4), date(2020, 10, 18), Decimal("4.000000"), Decimal("4.000000"), Decimal("0.000000")),
        "D2": ("cancelled", date(2020, 10, 11), date(2020, 10, 25), Decimal("2.000000"), Decimal("0.000000"), Decimal("2.000000")),
        "D3": ("open", date(2020, 10, 18), date(2020, 11, 1), Decimal("5.000000"), Decimal("0.000000"), Decimal("0.000000")),
        "D4": ("open", date(2020, 10, 25), date(2020, 11, 8), Decimal("6.000000"), Decimal("0.000000"), Decimal("0.000000")),
        "D5": ("open", AS_OF, date(2020, 11, 29), Decimal("3.000000"), Decimal("0.000000"), Decimal("0.000000")),
    }


def test_order_line_is_priced_at_item_cost_and_promised_at_due(engine, tmp_path):
    sync_frepple(engine, write_fixture(tmp_path, network()), as_of=AS_OF, business_timezone=ZONE)

    line = rows(
        engine,
        "select unit_price, unit_cost, currency, first_promised_date, current_promised_date, source, source_key"
        " from sales_order_lines where order_number = 'D5'",
    )[0]
    assert tuple(line) == (Decimal("180.0000"), Decimal("180.0000"), "EUR", date(2020, 11, 29), date(2020, 11, 29), "frepple", "D5")


def test_long_location_name_loads_under_shortened_code(engine, tmp_path):
    long_name = "Tennis shop at the far end of the Avenue Louise"
    fixture = network() + [
        record("input.location", name=long_name),
        record("input.buffer", id=7, onhand=3, item_id="Ball", location_id=long_name),
        demand("D6", "2020-11-15", 1, location=long_name),
    ]

    results = sync_frepple(engine, write_fixture(tmp_path, fixture), as_of=AS_OF)

    code = fixture_code(long_name, 32)
    assert [result.rejected for result in results] == [0] * 8
    assert rows(engine, f"select name from warehouses where warehouse_code = '{code}'")[0][0] == long_name
    assert rows(engine, "select w.warehouse_code from sales_order_lines l join warehouses w on w.id = l.warehouse_id"
                        " where l.order_number = 'D6'")[0][0] == code


# --- Bad records -------------------------------------------------------------


def test_buffer_of_unknown_item_is_quarantined(engine, tmp_path):
    fixture = network() + [record("input.buffer", id=4, onhand=5, item_id="Shuttlecock", location_id="DC")]

    results = sync_frepple(engine, write_fixture(tmp_path, fixture), as_of=AS_OF)

    assert counts(results[6]) == (4, 3, 0, 0, 1)
    assert quarantine(engine) == [
        ("inventory", "record 22", "item 'Shuttlecock' is not in the fixture; add it as an input.item record or correct the input.buffer record 22"),
    ]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"location": "Shop Rome"}, "location 'Shop Rome' is not in the fixture; add it as an input.location record or correct the input.demand record 22"),
        ({"item": "Shuttlecock"}, "item 'Shuttlecock' is not in the fixture; add it as an input.item record or correct the input.demand record 22"),
        ({"status": "shipped"}, "status 'shipped' is not a frePPLe demand status; expected one of open, closed, canceled, inquiry, quote"),
    ],
)
def test_demand_with_unknown_value_is_quarantined(engine, tmp_path, overrides, reason):
    fixture = network() + [demand("D6", "2020-11-15", 1, **overrides)]

    results = sync_frepple(engine, write_fixture(tmp_path, fixture), as_of=AS_OF)

    assert counts(results[7]) == (6, 5, 0, 0, 1)
    assert quarantine(engine) == [("sales_order_lines", "record 22", reason)]
    assert "D6" not in order_lines(engine)


def test_negative_demand_quantity_is_quarantined(engine, tmp_path):
    fixture = network() + [demand("D6", "2020-11-15", -3)]

    results = sync_frepple(engine, write_fixture(tmp_path, fixture), as_of=AS_OF)

    assert counts(results[7]) == (6, 5, 0, 0, 1)
    assert quarantine(engine) == [
        ("sales_order_lines", "record 22", "quantity -3 is negative; a demand quantity must be 0 or more"),
    ]


def test_negative_on_hand_is_quarantined(engine, tmp_path):
    fixture = network() + [record("input.buffer", id=4, onhand=-2, item_id="Racket", location_id="DC")]

    results = sync_frepple(engine, write_fixture(tmp_path, fixture), as_of=AS_OF)

    assert counts(results[6]) == (4, 3, 0, 0, 1)
    assert quarantine(engine) == [
        ("inventory", "record 22", "on_hand_qty: '-2' is negative; quantities and prices must be 0 or more"),
    ]


def test_item_supplier_lead_time_in_words_is_quarantined(engine, tmp_path):
    fixture = network() + [
        record("input.itemsupplier", leadtime="two weeks", sizeminimum=1, cost=100, item_id="Racket", location_id="DC", supplier_id="Acme"),
    ]

    results = sync_frepple(engine, write_fixture(tmp_path, fixture), as_of=AS_OF)

    assert counts(results[4]) == (3, 2, 0, 0, 1)
    assert quarantine(engine) == [
        ("supplier_items", "record 22",
         "leadtime 'two weeks' is not a duration; write seconds such as 604800, a Django duration such as '7 00:00:00' or ISO 8601 such as 'P7D'"),
    ]


def test_distribution_with_bad_lead_time_is_quarantined_and_lane_kept(engine, tmp_path):
    fixture = network() + [
        record("input.itemdistribution", leadtime="3 days", item_id="Ball", location_id="DC", origin_id="Shop"),
    ]

    results = sync_frepple(engine, write_fixture(tmp_path, fixture), as_of=AS_OF)

    assert counts(results[5]) == (2, 1, 0, 0, 1)
    assert quarantine(engine) == [
        ("transfer_lanes", "record 22",
         "leadtime '3 days' is not a duration; write seconds such as 604800, a Django duration such as '7 00:00:00' or ISO 8601 such as 'P7D'"),
    ]


def test_quote_demand_is_quarantined_as_not_firm(engine, tmp_path):
    fixture = network() + [demand("Q1", "2020-11-15", 2, status="quote")]

    results = sync_frepple(engine, write_fixture(tmp_path, fixture), as_of=AS_OF)

    assert counts(results[7]) == (6, 5, 0, 0, 1)
    assert quarantine(engine) == [
        ("sales_order_lines", "record 22", "status 'quote' is not a firm order; only open, closed and canceled demands are order lines"),
    ]


def test_item_supplier_ended_before_as_of_is_not_loaded(engine, tmp_path):
    fixture = network()
    fixture[10]["fields"]["effective_end"] = "2020-06-30 00:00:00"

    results = sync_frepple(engine, write_fixture(tmp_path, fixture), as_of=AS_OF)

    assert counts(results[4]) == (1, 1, 0, 0, 0)
    assert rows(engine, "select source_key from supplier_items")[0][0] == "Acme/Ball/DC"


# --- Replay dates -------------------------------------------------------------


def test_as_of_before_every_demand_leaves_all_open(engine, tmp_path):
    sync_frepple(engine, write_fixture(tmp_path, network()), as_of=date(2020, 1, 1))

    statuses = {number: line[0] for number, line in order_lines(engine).items()}
    assert statuses == {"D1": "open", "D2": "open", "D3": "open", "D4": "open", "D5": "open"}


def test_as_of_after_every_demand_leaves_only_frepple_open(engine, tmp_path):
    sync_frepple(engine, write_fixture(tmp_path, network()), as_of=date(2021, 6, 1))

    statuses = {number: line[0] for number, line in order_lines(engine).items()}
    assert statuses == {"D1": "shipped", "D2": "cancelled", "D3": "open", "D4": "shipped", "D5": "shipped"}


def test_as_of_after_every_closed_demand_leaves_none_open(engine, tmp_path):
    closed = [entry for entry in network() if entry["fields"].get("status") != "open"]

    sync_frepple(engine, write_fixture(tmp_path, closed), as_of=date(2021, 6, 1))

    open_lines = rows(engine, "select count(*) from sales_order_lines where status = 'open'")[0][0]
    assert open_lines == 0
    assert rows(engine, "select count(*) from sales_order_lines")[0][0] == 4


def test_later_replay_updates_lines_instead_of_adding(engine, tmp_path):
    path = write_fixture(tmp_path, network())
    sync_frepple(engine, path, as_of=AS_OF)

    results = sync_frepple(engine, path, as_of=date(2020, 11, 10))

    assert counts(results[7]) == (5, 0, 2, 3, 0)
    statuses = {number: line[0] for number, line in order_lines(engine).items()}
    assert statuses == {"D1": "shipped", "D2": "cancelled", "D3": "open", "D4": "shipped", "D5": "open"}
    assert order_lines(engine)["D5"][1] == date(2020, 11, 10)


def test_earlier_replay_changes_nothing(engine, tmp_path):
    path = write_fixture(tmp_path, network())
    sync_frepple(engine, path, as_of=AS_OF)

    results = sync_frepple(engine, path, as_of=date(2020, 10, 1))

    assert counts(results[7]) == (5, 0, 0, 5, 0)
    assert order_lines(engine)["D1"][0] == "shipped"


def test_same_replay_twice_leaves_rows_unchanged(engine, tmp_path):
    path = write_fixture(tmp_path, network())
    sync_frepple(engine, path, as_of=AS_OF)

    results = sync_frepple(engine, path, as_of=AS_OF)

    assert [result.unchanged for result in results] == [result.read for result in results]


def test_as_of_must_be_a_date(engine, tmp_path):
    with pytest.raises(TypeError) as raised:
        sync_frepple(engine, write_fixture(tmp_path, network()), as_of=datetime(2020, 11, 2))

    assert str(raised.value) == "as_of=datetime.datetime(2020, 11, 2, 0, 0) is not a date; pass a datetime.date such as date(2020, 11, 2)"


def test_unknown_time_zone_is_rejected_before_loading(engine, tmp_path):
    with pytest.raises(ValueError) as raised:
        sync_frepple(engine, write_fixture(tmp_path, network()), as_of=AS_OF, business_timezone="Europe/Atlantis")

    assert str(raised.value) == "business time zone 'Europe/Atlantis' is not an IANA time zone; pass one such as Europe/Brussels"
    assert rows(engine, "select count(*) from sync_runs")[0][0] == 0


# --- The public frePPLe distribution demo ----------------------------------------


def demo_fixture(realdata_dir: Path) -> Path:
    return realdata_dir / "erp" / "frepple_distribution_demo.json"


def open_demands(path: Path, as_of: date) -> tuple[int, Decimal]:
    """Count the demands due after the as-of date and sum their quantity, straight from the JSON."""
    demands = [entry["fields"] for entry in json.loads(path.read_text()) if entry["model"] == "input.demand"]
    later = [fields for fields in demands if date.fromisoformat(fields["due"][:10]) > as_of]
    return len(later), sum((Decimal(str(fields["quantity"])) for fields in later), Decimal(0))


def table_counts(engine) -> dict[str, int]:
    return {entity: rows(engine, f"select count(*) from {entity} where source = 'frepple'")[0][0] for entity in ENTITY_ORDER}


def test_demo_fixture_loads_exact_counts(engine, realdata_dir):
    results = sync_frepple(engine, demo_fixture(realdata_dir), as_of=AS_OF, business_timezone=ZONE)

    assert table_counts(engine) == {
        "warehouses": 3,
        "customers": 1,
        "suppliers": 2,
        "items": 11,
        "supplier_items": 11,
        "transfer_lanes": 2,
        "inventory": 33,
        "sales_order_lines": 3294,
    }
    assert [result.rejected for result in results] == [0] * 8
    assert all(result.balanced for result in results)
    assert rows(engine, "select count(*) from quarantine")[0][0] == 0


def test_demo_fixture_open_lines_at_as_of(engine, realdata_dir):
    path = demo_fixture(realdata_dir)
    expected_lines, expected_quantity = open_demands(path, AS_OF)

    sync_frepple(engine, path, as_of=AS_OF, business_timezone=ZONE)

    open_lines = rows(engine, "select count(*), sum(ordered_qty - shipped_qty - cancelled_qty) from sales_order_lines where status = 'open'")[0]
    assert (expected_lines, expected_quantity) == (248, Decimal(842))
    assert open_lines[0] == expected_lines
    assert open_lines[1] == expected_quantity


def test_demo_fixture_open_lines_per_location(engine, realdata_dir):
    sync_frepple(engine, demo_fixture(realdata_dir), as_of=AS_OF, business_timezone=ZONE)

    per_location = rows(
        engine,
        "select w.warehouse_code, count(*), sum(l.ordered_qty) from sales_order_lines l"
        " join warehouses w on w.id = l.warehouse_id where l.status = 'open' group by 1 order by 1",
    )
    assert [tuple(row) for row in per_location] == [
        ("Tennis shop Brussels", 124, Decimal("463.000000")),
        ("Tennis shop Paris", 124, Decimal("379.000000")),
    ]


def test_demo_fixture_later_replay_updates_lines(engine, realdata_dir):
    path = demo_fixture(realdata_dir)
    sync_frepple(engine, path, as_of=AS_OF, business_timezone=ZONE)
    later = date(2020, 12, 28)
    expected_lines, expected_quantity = open_demands(path, later)

    results = sync_frepple(engine, path, as_of=later, business_timezone=ZONE)

    open_lines = rows(engine, "select count(*), sum(ordered_qty) from sales_order_lines where status = 'open'")[0]
    per_location = rows(
        engine,
        "select w.warehouse_code, count(*) from sales_order_lines l"
        " join warehouses w on w.id = l.warehouse_id where l.status = 'open' group by 1 order by 1",
    )
    assert rows(engine, "select count(*) from sales_order_lines")[0][0] == 3294
    assert (expected_lines, expected_quantity) == (84, Decimal(321))
    assert open_lines[0] == expected_lines
    assert open_lines[1] == expected_quantity
    assert [tuple(row) for row in per_location] == [("Tennis shop Brussels", 44), ("Tennis shop Paris", 40)]
    # Lines shipped in between and open lines whose capped order date moved are updated.
    assert counts(results[7]) == (3294, 0, 248, 3046, 0)


def test_demo_fixture_lead_times_in_days(engine, realdata_dir):
    sync_frepple(engine, demo_fixture(realdata_dir), as_of=AS_OF, business_timezone=ZONE)

    supplier_items = rows(
        engine,
        "select i.sku, si.lead_days, si.min_order_qty, si.order_multiple from supplier_items si"
        " join items i on i.id = si.item_id order by i.sku",
    )
    lanes = rows(
        engine,
        "select f.warehouse_code, t.warehouse_code, l.lead_days from transfer_lanes l join warehouses f on f.id = l.from_warehouse_id"
        " join warehouses t on t.id = l.to_warehouse_id order by 2",
    )
    assert [(row.sku, row.lead_days) for row in supplier_items] == [
        ("All-surface tennis ball pack", 7),
        ("All-surface tennis shoes", 10),
        ("Clay tennis ball pack", 7),
        ("Clay tennis shoes", 10),
        ("Hard tennis ball pack", 7),
        ("Novak racket", 15),
        ("Socks", 15),
        ("Tennis racket", 21),
        ("Tennis short", 15),
        ("Tennis tee-shirt long sleeves", 15),
        ("Umpire chair", 21),
    ]
    assert (supplier_items[0].min_order_qty, supplier_items[0].order_multiple) == (Decimal("15.000000"), Decimal("3.000000"))
    assert [tuple(row) for row in lanes] == [("RDC", "Tennis shop Brussels", 3), ("RDC", "Tennis shop Paris", 3)]
