"""The demo distributor generator: deterministic files, valid rows, resolved references, seeded situations."""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from statistics import mean, pstdev

import pytest

from seed_data import demo_size, generate_demo
from services.sync.layout import ENTITIES, ENTITIES_BY_NAME

AS_OF = date(2025, 6, 2)
LINES = 1_500


def read_table(folder: Path, entity_name: str) -> list[dict[str, str]]:
    with (folder / ENTITIES_BY_NAME[entity_name].file_name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def file_hashes(folder: Path) -> dict[str, str]:
    return {entity.file_name: hashlib.sha256((folder / entity.file_name).read_bytes()).hexdigest() for entity in ENTITIES}


class Demo:
    """A generated demo folder with its summary and its files read into rows."""

    def __init__(self, folder: Path, summary):
        self.folder = folder
        self.summary = summary
        self.tables = {entity.name: read_table(folder, entity.name) for entity in ENTITIES}
        self.factors = {(row["sku"], row["unit_code"]): Decimal(row["base_qty_per_unit"]) for row in self.tables["units"]}
        self.po_lines = {(row["po_number"], row["line_number"]): row for row in self.tables["purchase_order_lines"]}
        self.order_lines = {(row["order_number"], row["line_number"]): row for row in self.tables["sales_order_lines"]}
        self.customers = {row["customer_code"]: row for row in self.tables["customers"]}
        self.inventory = {(row["sku"], row["warehouse_code"]): row for row in self.tables["inventory"]}

    def eaches(self, sku: str, unit: str, qty: str) -> Decimal:
        return Decimal(qty) * self.factors[(sku, unit)]

    def open_lines(self, sku: str, warehouse_code: str | None = None) -> list[dict[str, str]]:
        return [
            row
            for row in self.tables["sales_order_lines"]
            if row["status"] == "open" and row["sku"] == sku and warehouse_code in (None, row["warehouse_code"])
        ]

    def open_eaches(self, sku: str, warehouse_code: str | None = None) -> Decimal:
        return sum(
            (
                self.eaches(row["sku"], row["unit"], row["ordered_qty"])
                - self.eaches(row["sku"], row["unit"], row["shipped_qty"])
                - self.eaches(row["sku"], row["unit"], row["cancelled_qty"])
                for row in self.open_lines(sku, warehouse_code)
            ),
            Decimal(0),
        )

    def line(self, key) -> dict[str, str]:
        return self.order_lines[(key.order_number, str(key.line_number))]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Demo:
    folder = tmp_path_factory.mktemp("demo")
    summary = generate_demo(folder, seed=7, lines=LINES, as_of=AS_OF)
    return Demo(folder, summary)


def days(value: str) -> int:
    return (date.fromisoformat(value) - AS_OF).days


# --- Determinism and size -----------------------------------------------------


def test_same_seed_writes_identical_files(tmp_path):
    first = generate_demo(tmp_path / "first", seed=11, lines=1_000, as_of=AS_OF)
    second = generate_demo(tmp_path / "second", seed=11, lines=1_000, as_of=AS_OF)

    assert file_hashes(tmp_path / "first") == file_hashes(tmp_path / "second")
    assert first.row_counts == second.row_counts
    assert first.supplier_delay == second.supplier_delay


def test_different_seed_writes_different_order_lines(tmp_path):
    generate_demo(tmp_path / "seven", seed=7, lines=1_000, as_of=AS_OF)
    generate_demo(tmp_path / "eight", seed=8, lines=1_000, as_of=AS_OF)

    seven = read_table(tmp_path / "seven", "sales_order_lines")
    eight = read_table(tmp_path / "eight", "sales_order_lines")
    assert [(r["customer_code"], r["sku"], r["ordered_qty"]) for r in seven] != [
        (r["customer_code"], r["sku"], r["ordered_qty"]) for r in eight
    ]
    assert file_hashes(tmp_path / "seven")["sales_order_lines.csv"] != file_hashes(tmp_path / "eight")["sales_order_lines.csv"]


def test_open_line_count_equals_lines(demo):
    open_lines = [row for row in demo.tables["sales_order_lines"] if row["status"] == "open"]

    assert len(open_lines) == LINES


def test_history_lines_come_on_top_of_open_lines(demo):
    history = [row for row in demo.tables["sales_order_lines"] if row["status"] != "open"]

    assert len(history) == 2_250
    assert demo.summary.size.history_lines == 2_250


@pytest.mark.parametrize("lines", [0, 999, 1_000_001, -5])
def test_lines_outside_range_raise_value_error(tmp_path, lines):
    with pytest.raises(ValueError, match=f"lines={lines} is outside 1,000 to 1,000,000"):
        generate_demo(tmp_path, lines=lines, as_of=AS_OF)

    assert list(tmp_path.iterdir()) == []


def test_as_of_must_be_a_date(tmp_path):
    with pytest.raises(TypeError, match="as_of="):
        generate_demo(tmp_path, lines=1_000, as_of=datetime(2025, 6, 2, 8, 0))


def test_size_scales_with_lines():
    assert demo_size(20_000) == demo_size()
    assert (demo_size().skus, demo_size().customers, demo_size().suppliers, demo_size().warehouses) == (2_000, 400, 40, 5)
    million = demo_size(1_000_000)
    assert (million.skus, million.warehouses) == (50_000, 10)
    assert (million.customers, million.suppliers) == (10_000, 200)
    assert million.history_lines == 1_500_000


def test_given_skus_and_warehouses_are_kept():
    size = demo_size(1_000, skus=300, warehouses=3)

    assert (size.skus, size.warehouses) == (300, 3)


@pytest.mark.parametrize(("argument", "value"), [("skus", 10), ("warehouses", 1), ("warehouses", 13)])
def test_size_outside_range_raises_value_error(argument, value):
    with pytest.raises(ValueError, match=f"{argument}={value} is outside"):
        demo_size(1_000, **{argument: value})


# --- File format ----------------------------------------------------------------


def test_every_entity_has_a_file_with_layout_header(demo):
    for entity in ENTITIES:
        raw = (demo.folder / entity.file_name).read_bytes()
        header = raw.split(b"\n", 1)[0].decode("utf-8")

        assert header == ",".join(column.name for column in entity.columns), entity.name
        assert b"\r" not in raw, entity.name
        assert raw.endswith(b"\n"), entity.name


def test_row_counts_match_files(demo):
    for entity in ENTITIES:
        assert demo.summary.row_counts[entity.file_name] == len(demo.tables[entity.name]), entity.name


def _check_cell(entity_name: str, column, raw: str) -> None:
    where = f"{entity_name}.{column.name}={raw!r}"
    if raw == "":
        assert not column.required, f"{where}: required"
        return
    if column.kind == "int":
        assert int(raw) >= 0 or not column.non_negative, where
    elif column.kind == "decimal":
        assert Decimal(raw).is_finite(), where
        assert Decimal(raw) >= 0 or not column.non_negative, where
    elif column.kind == "date":
        assert date.fromisoformat(raw).isoformat() == raw, where
    elif column.kind == "timestamp":
        assert datetime.fromisoformat(raw).utcoffset() is not None, where
    elif column.kind == "bool":
        assert raw in ("true", "false"), where
    elif column.kind == "list":
        assert all(part and part == part.strip() for part in raw.split("|")), where
    if column.choices:
        assert raw in column.choices, where


@pytest.mark.parametrize("entity_name", [entity.name for entity in ENTITIES])
def test_cells_have_layout_types(demo, entity_name):
    entity = ENTITIES_BY_NAME[entity_name]

    for row in demo.tables[entity_name]:
        for column in entity.columns:
            _check_cell(entity_name, column, row[column.name])


@pytest.mark.parametrize("entity_name", [entity.name for entity in ENTITIES])
def test_entity_keys_are_unique(demo, entity_name):
    entity = ENTITIES_BY_NAME[entity_name]

    keys = [tuple(row[name] for name in entity.key) for row in demo.tables[entity_name]]

    assert len(keys) == len(set(keys))


# --- Schema check constraints, row by row -------------------------------------


def _decimal(row, name):
    return Decimal(row[name]) if row[name] else None


def check_customers(row):
    assert row["tier"] in ("strategic", "key", "standard")
    assert Decimal(0) <= Decimal(row["fill_rate_target"]) <= Decimal(1)
    assert int(row["sla_days"]) >= 0
    assert Decimal(row["late_penalty_per_day"]) >= 0


def check_suppliers(row):
    assert int(row["default_lead_days"]) >= 0


def check_items(row):
    assert Decimal(row["unit_cost"]) >= 0
    assert Decimal(row["list_price"]) >= 0


def check_units(row):
    assert Decimal(row["base_qty_per_unit"]) > 0


def check_supplier_items(row):
    assert int(row["lead_days"]) >= 0
    assert Decimal(row["min_order_qty"]) >= 0
    assert Decimal(row["order_multiple"]) > 0


def check_substitutes(row):
    assert row["sku"] != row["substitute_sku"]
    assert Decimal(row["ratio"]) > 0


def check_transfer_lanes(row):
    assert row["from_warehouse_code"] != row["to_warehouse_code"]
    assert int(row["lead_days"]) >= 0
    assert Decimal(row["cost_per_unit"]) >= 0


def check_inventory(row):
    on_hand, hold, allocated = (Decimal(row[name]) for name in ("on_hand_qty", "quality_hold_qty", "allocated_qty"))
    assert min(on_hand, hold, allocated) >= 0
    assert hold <= on_hand


def check_sales_order_lines(row):
    ordered, shipped, cancelled, allocated = (
        Decimal(row[name]) for name in ("ordered_qty", "shipped_qty", "cancelled_qty", "allocated_qty")
    )
    assert min(ordered, shipped, cancelled, allocated, Decimal(row["unit_price"])) >= 0
    assert shipped + cancelled <= ordered
    assert allocated <= ordered
    assert row["requested_date"] >= row["order_date"]
    assert row["first_promised_date"] == "" or row["first_promised_date"] >= row["order_date"]
    assert row["status"] in ("open", "shipped", "cancelled", "closed")


def check_purchase_order_lines(row):
    ordered, received, cancelled = (Decimal(row[name]) for name in ("ordered_qty", "received_qty", "cancelled_qty"))
    assert min(ordered, received, cancelled) >= 0
    assert _decimal(row, "acknowledged_qty") is None or _decimal(row, "acknowledged_qty") >= 0
    assert cancelled <= ordered
    assert row["promised_date"] == "" or row["promised_date"] >= row["order_date"]
    assert row["status"] in ("open", "received", "cancelled", "closed")


def check_receipts(row):
    assert Decimal(row["received_qty"]) > 0


def check_supplier_events(row):
    assert row["event_type"] in ("acknowledgement", "date_change", "quantity_change", "backorder", "rejection", "asn")
    for name in ("old_qty", "new_qty"):
        assert _decimal(row, name) is None or _decimal(row, name) >= 0


def check_shipments(row):
    assert row["kind"] in ("customer", "asn", "transfer")
    assert row["status"] in ("in_transit", "delivered", "cancelled")
    assert Decimal(row["qty"]) > 0
    assert row["delivered_date"] == "" or row["delivered_date"] >= row["ship_date"]
    assert row["expected_date"] == "" or row["expected_date"] >= row["ship_date"]


SCHEMA_CHECKS = {
    "customers": check_customers,
    "suppliers": check_suppliers,
    "items": check_items,
    "units": check_units,
    "supplier_items": check_supplier_items,
    "substitutes": check_substitutes,
    "transfer_lanes": check_transfer_lanes,
    "inventory": check_inventory,
    "sales_order_lines": check_sales_order_lines,
    "purchase_order_lines": check_purchase_order_lines,
    "receipts": check_receipts,
    "supplier_events": check_supplier_events,
    "shipments": check_shipments,
}


@pytest.mark.parametrize("entity_name", sorted(SCHEMA_CHECKS))
def test_rows_meet_schema_constraints(demo, entity_name):
    rows = demo.tables[entity_name]

    assert rows
    for row in rows:
        SCHEMA_CHECKS[entity_name](row)


@pytest.mark.parametrize(
    ("entity_name", "columns"),
    [
        ("units", ("sku", "unit_code")),
        ("substitutes", ("sku", "substitute_sku")),
        ("transfer_lanes", ("from_warehouse_code", "to_warehouse_code")),
        ("inventory", ("sku", "warehouse_code")),
        ("sales_order_lines", ("order_number", "line_number")),
        ("purchase_order_lines", ("po_number", "line_number")),
    ],
)
def test_schema_unique_constraints_hold(demo, entity_name, columns):
    values = [tuple(row[name] for name in columns) for row in demo.tables[entity_name]]

    assert len(values) == len(set(values))


# --- References -----------------------------------------------------------------


@pytest.mark.parametrize("entity_name", [entity.name for entity in ENTITIES if entity.references])
def test_every_reference_resolves(demo, entity_name):
    entity = ENTITIES_BY_NAME[entity_name]

    for reference in entity.references:
        target = {tuple(row[name] for name in reference.key_columns) for row in demo.tables[reference.table]}
        for row in demo.tables[entity_name]:
            value = tuple(row[name] for name in reference.columns)
            if all(part == "" for part in value) and not reference.required:
                continue
            assert value in target, f"{entity_name} {reference.columns}={value} not in {reference.table}"


def test_units_of_rows_are_defined_for_their_item(demo):
    for entity in ENTITIES:
        if not entity.has_unit:
            continue
        for row in demo.tables[entity.name]:
            if "sku" in row:
                sku = row["sku"]
            else:
                sku = demo.po_lines[(row["po_number"], row["po_line_number"])]["sku"]
            assert row["unit"] == "" or (sku, row["unit"]) in demo.factors, f"{entity.name} {sku} {row['unit']}"


def test_excluded_customers_of_substitutes_exist(demo):
    excluded = [code for row in demo.tables["substitutes"] for code in row["excluded_customer_codes"].split("|") if code]

    assert excluded
    assert set(excluded) <= set(demo.customers)


def test_every_item_has_each_and_box_and_case_are_12_and_24(demo):
    units = defaultdict(dict)
    for row in demo.tables["units"]:
        units[row["sku"]][row["unit_code"]] = row["base_qty_per_unit"]

    assert set(units) == {row["sku"] for row in demo.tables["items"]}
    assert all(codes["EA"] == "1" for codes in units.values())
    assert {codes["BOX"] for codes in units.values() if "BOX" in codes} == {"12"}
    assert {codes["CASE"] for codes in units.values() if "CASE" in codes} == {"24"}


# --- Consistency between files ----------------------------------------------------


def test_sales_line_quantities_match_status(demo):
    for row in demo.tables["sales_order_lines"]:
        ordered, shipped, cancelled = (int(row[name]) for name in ("ordered_qty", "shipped_qty", "cancelled_qty"))
        if row["status"] == "open":
            assert shipped + cancelled < ordered
        elif row["status"] == "shipped":
            assert (shipped, cancelled) == (ordered, 0)
        elif row["status"] == "cancelled":
            assert (shipped, cancelled) == (0, ordered)
        else:
            assert shipped + cancelled == ordered
            assert shipped > 0
            assert cancelled > 0


def test_sales_dates_lie_around_as_of(demo):
    for row in demo.tables["sales_order_lines"]:
        assert -800 <= days(row["order_date"]) <= 0
        if row["status"] == "open":
            assert days(row["order_date"]) >= -125
        if row["current_promised_date"]:
            assert row["current_promised_date"] >= row["order_date"]
    open_requested = [days(row["requested_date"]) for row in demo.tables["sales_order_lines"] if row["status"] == "open"]
    assert min(open_requested) < 0 < max(open_requested)


def test_received_quantity_equals_sum_of_receipts(demo):
    received = defaultdict(int)
    for row in demo.tables["receipts"]:
        line = demo.po_lines[(row["po_number"], row["po_line_number"])]
        assert row["unit"] == line["unit"]
        assert row["warehouse_code"] == line["warehouse_code"]
        assert row["receipt_date"] > line["order_date"]
        assert days(row["receipt_date"]) <= -1
        received[(row["po_number"], row["po_line_number"])] += int(row["received_qty"])

    for key, line in demo.po_lines.items():
        assert int(line["received_qty"]) == received.get(key, 0), key


def test_purchase_line_quantities_match_status(demo):
    for line in demo.po_lines.values():
        ordered, received, cancelled = (int(line[name]) for name in ("ordered_qty", "received_qty", "cancelled_qty"))
        if line["status"] == "open":
            assert received + cancelled < ordered
        elif line["status"] == "received":
            assert received == ordered
        elif line["status"] == "cancelled":
            assert (received, cancelled) == (0, ordered)
        else:
            assert 0 < received < ordered


def test_open_purchase_lines_are_mostly_acknowledged(demo):
    open_lines = [line for line in demo.po_lines.values() if line["status"] == "open"]
    acknowledged = [line for line in open_lines if line["acknowledged_date"]]

    assert 0.75 * len(open_lines) <= len(acknowledged) < len(open_lines)
    for line in acknowledged:
        assert line["acknowledged_qty"] != ""
        assert line["order_date"] <= line["acknowledged_date"] < AS_OF.isoformat()


def test_acknowledged_open_lines_have_an_acknowledgement_event(demo):
    acknowledged = {
        key for key, line in demo.po_lines.items() if line["status"] == "open" and line["acknowledged_date"]
    }
    events = {
        (row["po_number"], row["po_line_number"])
        for row in demo.tables["supplier_events"]
        if row["event_type"] == "acknowledgement"
    }

    assert events == acknowledged


def test_date_change_events_match_current_promise(demo):
    changes = [row for row in demo.tables["supplier_events"] if row["event_type"] == "date_change"]

    assert changes
    for row in changes:
        line = demo.po_lines[(row["po_number"], row["po_line_number"])]
        assert line["status"] == "open"
        assert row["new_date"] == line["promised_date"]
        assert row["old_date"] != row["new_date"]
        assert datetime.fromisoformat(row["event_at"]).date() < AS_OF


def test_asns_travel_against_open_po_lines(demo):
    asns = [row for row in demo.tables["shipments"] if row["kind"] == "asn"]
    asn_events = {row["message_ref"] for row in demo.tables["supplier_events"] if row["event_type"] == "asn"}

    assert asns
    for row in asns:
        line = demo.po_lines[(row["po_number"], row["po_line_number"])]
        assert line["status"] == "open"
        assert row["sku"] == line["sku"]
        assert row["to_warehouse_code"] == line["warehouse_code"]
        assert int(row["qty"]) == int(line["ordered_qty"]) - int(line["received_qty"])
        assert row["status"] == "in_transit"
        assert days(row["ship_date"]) <= -1
        assert row["shipment_number"] in asn_events


def test_transfers_in_transit_follow_lanes(demo):
    lanes = {(row["from_warehouse_code"], row["to_warehouse_code"]): int(row["lead_days"]) for row in demo.tables["transfer_lanes"]}
    transfers = [row for row in demo.tables["shipments"] if row["kind"] == "transfer"]

    assert transfers
    for row in transfers:
        lead_days = lanes[(row["from_warehouse_code"], row["to_warehouse_code"])]
        assert days(row["expected_date"]) - days(row["ship_date"]) == lead_days
        assert row["status"] == "in_transit"
        assert days(row["ship_date"]) <= 0


def test_customer_shipments_carry_shipped_quantity(demo):
    shipped = defaultdict(int)
    for row in demo.tables["shipments"]:
        if row["kind"] == "customer":
            line = demo.order_lines[(row["order_number"], row["order_line_number"])]
            assert (row["sku"], row["unit"], row["from_warehouse_code"]) == (line["sku"], line["unit"], line["warehouse_code"])
            assert row["ship_date"] >= line["order_date"]
            assert days(row["ship_date"]) <= 0
            shipped[(row["order_number"], row["order_line_number"])] += int(row["qty"])

    for key, line in demo.order_lines.items():
        assert shipped.get(key, 0) == int(line["shipped_qty"]), key


def test_allocation_fits_free_stock_and_matches_lines(demo):
    allocated = defaultdict(Decimal)
    for row in demo.tables["sales_order_lines"]:
        if row["status"] == "open":
            allocated[(row["sku"], row["warehouse_code"])] += demo.eaches(row["sku"], row["unit"], row["allocated_qty"])
        else:
            assert row["allocated_qty"] == "0"

    assert sum(allocated.values()) > 0
    for key, row in demo.inventory.items():
        assert Decimal(row["allocated_qty"]) == allocated.get(key, 0), key
        assert Decimal(row["allocated_qty"]) <= Decimal(row["on_hand_qty"]) - Decimal(row["quality_hold_qty"]), key


def test_inventory_covers_every_item_in_every_warehouse(demo):
    skus = {row["sku"] for row in demo.tables["items"]}
    warehouses = {row["warehouse_code"] for row in demo.tables["warehouses"]}

    assert set(demo.inventory) == {(sku, code) for sku in skus for code in warehouses}


def test_item_margins_lie_between_15_and_45_percent(demo):
    for row in demo.tables["items"]:
        cost, price = Decimal(row["unit_cost"]), Decimal(row["list_price"])
        assert Decimal("0.15") <= 1 - cost / price <= Decimal("0.45"), row["sku"]


def test_half_pack_substitutes_have_ratio_two_and_back(demo):
    ratios = {(row["sku"], row["substitute_sku"]): row["ratio"] for row in demo.tables["substitutes"]}
    halves = [pair for pair, ratio in ratios.items() if ratio == "2"]

    assert halves
    for full, half in halves:
        assert ratios[(half, full)] == "0.5"
    assert "1" in ratios.values()


# --- Seeded situations -----------------------------------------------------------


def test_supplier_delay_pushes_promise_out(demo):
    delay = demo.summary.supplier_delay
    line = demo.po_lines[(delay.po_number, str(delay.po_line_number))]
    changes = [
        row
        for row in demo.tables["supplier_events"]
        if (row["po_number"], row["po_line_number"]) == (delay.po_number, str(delay.po_line_number))
        and row["event_type"] == "date_change"
    ]

    assert len(changes) == 1
    assert changes[0]["old_date"] == delay.old_date.isoformat()
    assert changes[0]["new_date"] == delay.new_date.isoformat()
    assert delay.new_date - delay.old_date >= timedelta(days=21)
    assert delay.old_date >= AS_OF
    assert (line["sku"], line["warehouse_code"], line["supplier_code"]) == (delay.sku, delay.warehouse_code, delay.supplier_code)
    assert line["status"] == "open"
    assert line["promised_date"] == delay.new_date.isoformat()
    assert line["acknowledged_date"] != ""


def test_supplier_delay_line_is_the_only_open_supply(demo):
    delay = demo.summary.supplier_delay

    open_po_lines = [
        key for key, line in demo.po_lines.items() if line["sku"] == delay.sku and line["status"] == "open"
    ]
    transfers = [row for row in demo.tables["shipments"] if row["sku"] == delay.sku and row["kind"] != "customer"]

    assert open_po_lines == [(delay.po_number, str(delay.po_line_number))]
    assert transfers == []


def test_supplier_delay_item_is_short_of_open_demand(demo):
    delay = demo.summary.supplier_delay

    on_hand = sum(Decimal(row["on_hand_qty"]) for key, row in demo.inventory.items() if key[0] == delay.sku)
    short_here = demo.open_eaches(delay.sku, delay.warehouse_code) - Decimal(
        demo.inventory[(delay.sku, delay.warehouse_code)]["on_hand_qty"]
    )

    assert on_hand < demo.open_eaches(delay.sku)
    assert short_here > 0


def test_supplier_delay_hits_strategic_healthcare_and_manufacturing(demo):
    delay = demo.summary.supplier_delay

    assert len(delay.strategic_lines) == 12
    segments = set()
    for key in delay.strategic_lines:
        line = demo.line(key)
        customer = demo.customers[line["customer_code"]]
        assert (line["status"], line["sku"], line["warehouse_code"]) == ("open", delay.sku, delay.warehouse_code)
        assert customer["tier"] == "strategic"
        assert customer["segment"] in ("healthcare", "manufacturing")
        segments.add(customer["segment"])
    assert segments == {"healthcare", "manufacturing"}


def test_delayed_item_is_among_five_busiest(demo):
    delay = demo.summary.supplier_delay
    lines_per_sku = defaultdict(int)
    for row in demo.tables["sales_order_lines"]:
        if row["status"] == "open":
            lines_per_sku[row["sku"]] += 1

    busiest = sorted(lines_per_sku, key=lines_per_sku.get, reverse=True)

    assert delay.sku in busiest[:5]


def test_stock_sits_in_other_warehouse_with_lane(demo):
    situation = demo.summary.stock_in_other_warehouse
    short = demo.inventory[(situation.sku, situation.short_warehouse_code)]
    stocked = demo.inventory[(situation.sku, situation.stocked_warehouse_code)]
    lanes = {(row["from_warehouse_code"], row["to_warehouse_code"]) for row in demo.tables["transfer_lanes"]}

    short_demand = demo.open_eaches(situation.sku, situation.short_warehouse_code)
    short_free = Decimal(short["on_hand_qty"]) - Decimal(short["quality_hold_qty"])
    spare = (
        Decimal(stocked["on_hand_qty"])
        - Decimal(stocked["quality_hold_qty"])
        - demo.open_eaches(situation.sku, situation.stocked_warehouse_code)
    )

    assert short_free < short_demand
    assert spare >= short_demand - short_free
    assert (situation.stocked_warehouse_code, situation.short_warehouse_code) in lanes


def test_misplaced_item_has_no_inbound_supply(demo):
    situation = demo.summary.stock_in_other_warehouse

    inbound_po = [
        line for line in demo.po_lines.values()
        if line["sku"] == situation.sku and line["status"] == "open"
        and line["warehouse_code"] == situation.short_warehouse_code
    ]
    transfers = [row for row in demo.tables["shipments"] if row["sku"] == situation.sku and row["kind"] == "transfer"]

    assert inbound_po == []
    assert transfers == []


def test_quality_hold_blocks_stock_that_open_lines_need(demo):
    situation = demo.summary.quality_hold
    row = demo.inventory[(situation.sku, situation.warehouse_code)]
    on_hand, hold = Decimal(row["on_hand_qty"]), Decimal(row["quality_hold_qty"])
    demand = demo.open_eaches(situation.sku, situation.warehouse_code)
    item = next(item for item in demo.tables["items"] if item["sku"] == situation.sku)

    assert len(demo.open_lines(situation.sku, situation.warehouse_code)) >= 5
    assert hold > 0
    assert on_hand >= demand
    assert on_hand - hold < demand
    assert item["regulated"] == "true"


def test_never_confirmed_lines_have_no_promise(demo):
    listed = {(key.order_number, str(key.line_number)) for key in demo.summary.never_confirmed_lines}
    unconfirmed = {
        key for key, row in demo.order_lines.items()
        if row["status"] == "open" and row["first_promised_date"] == "" and row["current_promised_date"] == ""
    }

    assert len(listed) == len(demo.summary.never_confirmed_lines) > 0
    assert listed == unconfirmed
    assert all(demo.order_lines[key]["first_promised_date"] != "" for key in demo.order_lines if key not in listed and demo.order_lines[key]["status"] == "open")


def test_cancelled_lines_are_fully_cancelled(demo):
    listed = {(key.order_number, str(key.line_number)) for key in demo.summary.cancelled_lines}
    cancelled = {key for key, row in demo.order_lines.items() if row["status"] == "cancelled"}

    assert len(listed) > 0
    assert listed == cancelled
    for key in listed:
        row = demo.order_lines[key]
        assert row["cancelled_qty"] == row["ordered_qty"]
        assert row["shipped_qty"] == "0"


def test_partially_cancelled_lines_keep_part_of_the_order(demo):
    listed = {(key.order_number, str(key.line_number)) for key in demo.summary.partially_cancelled_lines}
    partial = {key for key, row in demo.order_lines.items() if 0 < int(row["cancelled_qty"]) < int(row["ordered_qty"])}

    assert listed == partial
    statuses = {demo.order_lines[key]["status"] for key in listed}
    assert statuses == {"open", "closed"}


def test_partially_shipped_lines_are_open_with_part_shipped(demo):
    listed = {(key.order_number, str(key.line_number)) for key in demo.summary.partially_shipped_lines}
    partial = {
        key for key, row in demo.order_lines.items()
        if row["status"] == "open" and 0 < int(row["shipped_qty"]) < int(row["ordered_qty"])
    }

    assert len(listed) > 0
    assert listed == partial


# --- Supplier behaviour in receipt history -----------------------------------------


def _lateness_by_behaviour(demo, holiday_window: bool | None = None) -> dict[str, list[int]]:
    first_receipt = {}
    for row in demo.tables["receipts"]:
        key = (row["po_number"], row["po_line_number"])
        first_receipt[key] = min(first_receipt.get(key, row["receipt_date"]), row["receipt_date"])
    lateness = defaultdict(list)
    for key, received in first_receipt.items():
        line = demo.po_lines[key]
        if line["status"] == "open":
            continue
        promised = date.fromisoformat(line["promised_date"])
        if holiday_window is not None and _before_holiday(promised) != holiday_window:
            continue
        behaviour = demo.summary.supplier_behaviours[line["supplier_code"]]
        lateness[behaviour].append((date.fromisoformat(received) - promised).days)
    return lateness


def _before_holiday(day: date) -> bool:
    first = date(day.year, 11, 1)
    thanksgiving = first + timedelta(days=(3 - first.weekday()) % 7 + 21)
    holidays = (date(day.year, 7, 4), thanksgiving, date(day.year, 12, 25))
    return any(timedelta(0) <= holiday - day <= timedelta(days=14) for holiday in holidays)


def test_receipts_show_each_supplier_behaviour(demo):
    lateness = _lateness_by_behaviour(demo, holiday_window=False)

    assert mean(lateness["reliable"]) < 1.5
    assert mean(lateness["chronically_late"]) > 5
    assert mean(lateness["slips_before_holidays"]) < 1.5
    assert pstdev(lateness["erratic"]) > 5


def test_holiday_slippers_are_late_before_holidays(demo):
    lateness = _lateness_by_behaviour(demo, holiday_window=True)

    assert len(lateness["slips_before_holidays"]) >= 5
    assert mean(lateness["slips_before_holidays"]) > 5


def test_every_behaviour_has_suppliers(demo):
    behaviours = demo.summary.supplier_behaviours

    assert set(behaviours) == {row["supplier_code"] for row in demo.tables["suppliers"]}
    assert set(behaviours.values()) == {"reliable", "chronically_late", "slips_before_holidays", "erratic"}


# --- The default size ---------------------------------------------------------------


def test_default_size_has_national_distributor_shape(tmp_path):
    summary = generate_demo(tmp_path, as_of=AS_OF)
    tables = {name: read_table(tmp_path, name) for name in ("warehouses", "items", "customers", "suppliers", "units")}

    warehouses = tables["warehouses"]
    assert len(warehouses) == 5
    assert {row["time_zone"] for row in warehouses} == {"America/New_York", "America/Chicago", "America/Los_Angeles"}
    assert len(tables["items"]) == 2_000
    assert len({row["family"] for row in tables["items"]}) == 22
    assert any(row["regulated"] == "true" for row in tables["items"])
    customers = tables["customers"]
    assert len(customers) == 400
    assert sum(row["tier"] == "strategic" for row in customers) == 20
    assert sum(row["tier"] == "key" for row in customers) == 80
    assert {row["fill_rate_target"] for row in customers} == {"0.98", "0.95", "0.90"}
    assert len({row["segment"] for row in customers}) == 9
    assert len(tables["suppliers"]) == 40
    cased = {row["sku"] for row in tables["units"] if row["unit_code"] == "CASE"}
    assert 0.2 * 2_000 < len(cased) < 0.6 * 2_000
    assert summary.row_counts["sales_order_lines.csv"] == 50_000


# --- Loading into PostgreSQL ----------------------------------------------------------


def test_demo_loads_without_rejections(engine, tmp_path):
    from sqlalchemy import text

    from services.sync.canonical import load_canonical_folder

    summary = generate_demo(tmp_path, lines=1_000, as_of=AS_OF)

    results = load_canonical_folder(engine, tmp_path, source="demo")

    by_file = {result.file_name: result for result in results}
    assert set(by_file) == set(summary.row_counts)
    for entity in ENTITIES:
        written = summary.row_counts[entity.file_name]
        result = by_file[entity.file_name]
        assert (result.read, result.inserted, result.rejected, result.duplicates) == (written, written, 0, 0), entity.name
        with engine.connect() as connection:
            stored = connection.execute(text(f"select count(*) from {entity.table}")).scalar_one()
        assert stored == written, entity.name
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from quarantine")).scalar_one() == 0
