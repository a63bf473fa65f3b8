"""Mapping files: the rule language, the readers, and how an export is loaded through them."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from sqlalchemy import select, text

from services.db import schema
from services.sync.canonical import FileRejected
from services.sync.mapping import MappingError, load_mapping, reciprocal, sync_export
from services.sync.mapping.convert import Row, RowContext, RuleFailure, apply_rule, shorten
from services.sync.mapping.formula import Formula, FormulaError
from services.sync.mapping.spec import ExportFormat
from tests.builders import make_customer, make_item, make_supplier, make_warehouse

UTC_ZONE = ZoneInfo("UTC")

ITEMS_MAPPING = """
[export]
source = "erp-x"
no_value = ["N/A"]

[target.items.columns]
sku = "Item"
description = "Description"
family = { template = "{Group}/{Class}" }
unit_cost = "Cost"
list_price = "Price"
"""

SUPPLIERS_MAPPING = """
[export]
source = "erp-x"

[target.suppliers.columns]
supplier_code = { column = "Vendor", shorten = true }
name = "Vendor"
"""


def write_text(folder: Path, name: str, content: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(content.encode(encoding))
    return path


def sync_runs(engine) -> list:
    with engine.connect() as connection:
        return connection.execute(select(schema.sync_runs).order_by(schema.sync_runs.c.id)).all()


def quarantine(engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(schema.quarantine.c.position, schema.quarantine.c.reason).order_by(schema.quarantine.c.id)
        )
        return [tuple(row) for row in rows]


def items(engine) -> list:
    with engine.connect() as connection:
        return connection.execute(select(schema.items).order_by(schema.items.c.sku)).all()


# --- Rules without a database ---------------------------------------------


@pytest.mark.parametrize(
    ("factor", "expected"),
    [
        ("0.0833333", "12"),
        ("0.083333", "12"),
        ("0.0416667", "24"),
        ("0.3333333", "3"),
        ("0.1428571", "7"),
        ("0.1666666", "6"),
        ("0.4", "2.5"),
        ("0.25", "4"),
    ],
)
def test_reciprocal_rounds_to_simplest_value(factor, expected):
    assert reciprocal(Decimal(factor)) == Decimal(expected)


def test_reciprocal_keeps_decimals_when_no_simpler_value_fits():
    assert reciprocal(Decimal("0.0833334")) == Decimal("11.99999")


def test_shortened_code_keeps_its_start_and_a_hash():
    description = "Lamivudine/Nevirapine/Zidovudine 30/50/60mg, dispersible tablets, 60 Tabs"

    code = shorten(description, 64)

    assert code == "Lamivudine/Nevirapine/Zidovudine 30/50/60mg, dispersibl~0748b6ab"
    assert len(code) == 64


def test_shortened_codes_with_one_start_stay_distinct():
    first = "Artemether/Lumefantrine 20/120mg [Coartem], scored tablets, Blister 30 x 18 Tabs"
    second = "Artemether/Lumefantrine 20/120mg [Coartem], scored tablets, Blister 30 x 24 Tabs"

    assert shorten(first, 64) != shorten(second, 64)
    assert shorten(first, 64)[:55] == shorten(second, 64)[:55]


def test_short_code_is_kept_as_it_is():
    assert shorten("Short name", 64) == "Short name"


def test_formula_computes_in_decimal():
    formula = Formula("({Total} - {Profit}) / {Quantity}")

    value = formula.evaluate({"Total": Decimal("317.92"), "Profit": Decimal("152.60"), "Quantity": Decimal("2")}.get)

    assert value == Decimal("82.66")
    assert formula.columns == ["Total", "Profit", "Quantity"]


@pytest.mark.parametrize("text_", ["__import__('os')", "{A} ** 2", "{A}.real", "max({A}, 1)", "{A} <"])
def test_formula_rejects_anything_but_arithmetic(text_):
    with pytest.raises(FormulaError):
        Formula(text_)


def rule_for(entity: str, column: str, spec: str, export: str = "[export]\nsource = \"x\"\n", tmp_path=None):
    """Load a one-rule mapping for the entity and return that rule; other required columns get constants."""
    from services.sync.layout import ENTITIES_BY_NAME

    others = [name for name in ENTITIES_BY_NAME[entity].required_columns if name != column]
    lines = [f"{name} = {{ constant = \"x\" }}" for name in others]
    document = f"{export}\n[target.{entity}.columns]\n{column} = {spec}\n" + "\n".join(lines) + "\n"
    path = tmp_path / "rule.toml"
    path.write_text(document, encoding="utf-8")
    return load_mapping(path).target(entity).rule(column)


def convert(rule, cells: dict, export: ExportFormat | None = None) -> str | None:
    context = RowContext(export or ExportFormat(source="x", no_value=frozenset({"N/A"})), "rule.toml")
    return apply_rule(rule, Row("line 2", cells), context, UTC_ZONE)


def test_value_map_uses_default_for_unmapped_codes(tmp_path):
    rule = rule_for("sales_order_lines", "status", '{ column = "St", map = { C = "shipped" }, default = "open" }', tmp_path=tmp_path)

    assert convert(rule, {"St": "C"}) == "shipped"
    assert convert(rule, {"St": "Q"}) == "open"


def test_value_map_without_default_rejects_unmapped_code(tmp_path):
    rule = rule_for("sales_order_lines", "status", '{ column = "St", map = { C = "shipped" } }', tmp_path=tmp_path)

    with pytest.raises(RuleFailure) as failure:
        convert(rule, {"St": "BACKORDER"})

    assert str(failure.value) == (
        "status: 'BACKORDER' in column 'St' is not in the value map; add it to the map in rule.toml, "
        "or give the rule a default"
    )


def test_condition_chooses_value_or_otherwise(tmp_path):
    rule = rule_for(
        "sales_order_lines",
        "shipped_qty",
        '{ column = "Qty", when = { column = "St", in = ["COMPLETE"] }, otherwise = "0" }',
        tmp_path=tmp_path,
    )

    assert convert(rule, {"Qty": "4", "St": "COMPLETE"}) == "4"
    assert convert(rule, {"Qty": "4", "St": "PENDING"}) == "0"


def test_fallback_column_fills_a_missing_date(tmp_path):
    rule = rule_for("purchase_order_lines", "order_date", '{ column = "Sent", fallback = ["Quoted"] }', tmp_path=tmp_path)

    assert convert(rule, {"Sent": "N/A", "Quoted": "2026-03-01"}) == "2026-03-01"
    assert convert(rule, {"Sent": "2026-03-04", "Quoted": "2026-03-01"}) == "2026-03-04"


def test_required_column_without_value_names_the_token(tmp_path):
    rule = rule_for("purchase_order_lines", "order_date", '"Sent"', tmp_path=tmp_path)

    with pytest.raises(RuleFailure) as failure:
        convert(rule, {"Sent": "N/A"})

    assert str(failure.value) == (
        "order_date: column 'Sent' has 'N/A', which rule.toml lists as no value, and order_date is required; "
        "fill it in the export, or name a fallback column for the rule in rule.toml"
    )


def test_optional_column_without_value_is_empty(tmp_path):
    rule = rule_for("purchase_order_lines", "promised_date", '"Due"', tmp_path=tmp_path)

    assert convert(rule, {"Due": "N/A"}) is None
    assert convert(rule, {"Due": ""}) is None


def test_requested_date_adds_days_to_the_order_date(tmp_path):
    export = '[export]\nsource = "x"\ndate_formats = ["%m/%d/%Y %H:%M"]\n'
    rule = rule_for("sales_order_lines", "requested_date", '{ column = "Ordered", add_days = "Days" }', export, tmp_path)
    context_export = load_mapping(tmp_path / "rule.toml").export

    assert convert(rule, {"Ordered": "1/31/2018 22:56", "Days": "4"}, context_export) == "2018-02-04"


def test_formula_division_by_zero_names_the_column(tmp_path):
    rule = rule_for("purchase_order_lines", "unit_cost", '{ formula = "{Value} / {Qty}" }', tmp_path=tmp_path)

    with pytest.raises(RuleFailure) as failure:
        convert(rule, {"Value": "10", "Qty": "0"})

    assert str(failure.value) == (
        "unit_cost: the formula '{Value} / {Qty}' divides by zero because column 'Qty' is 0 in this row; "
        "correct the value"
    )


def test_thousands_and_decimal_separators_follow_the_export(tmp_path):
    rule = rule_for("purchase_order_lines", "ordered_qty", '"Qty"', tmp_path=tmp_path)
    european = ExportFormat(source="x", thousands_separator=".", decimal_separator=",")

    assert convert(rule, {"Qty": "1.234,5"}, european) == "1234.5"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            '[target.items.columns]\nsku = "Item"\n',
            'bad.toml has no [export] section; add one with at least source = "<system name>"',
        ),
        (
            '[export]\nsource = "x"\n[target.orders.columns]\nsku = "Item"\n',
            "bad.toml: [target.orders] is not a canonical entity; use one of warehouses, customers, suppliers, "
            "items, units, supplier_items, substitutes, transfer_lanes, inventory, sales_order_lines, "
            "purchase_order_lines, receipts, supplier_events, shipments",
        ),
        (
            '[export]\nsource = "x"\n[target.suppliers.columns]\nsupplier_code = "Vendor"\n',
            "bad.toml: [target.suppliers] gives no rule for the required column name; add one under its columns table",
        ),
        (
            '[export]\nsource = "x"\n[target.suppliers.columns]\nsupplier_code = { column = "V", constant = "S" }\n'
            'name = "Vendor"\n',
            "bad.toml: [target.suppliers.columns] supplier_code needs exactly one of column, constant, template, "
            "formula, but has column, constant",
        ),
        (
            '[export]\nsource = "x"\n[target.suppliers.columns]\nsupplier_code = { column = "V", map = "codes" }\n'
            'name = "Vendor"\n',
            "bad.toml: [target.suppliers.columns] supplier_code names the map 'codes', but there is no "
            "[maps.codes] table; add it",
        ),
        (
            '[export]\nsource = "x"\nencoding = "klingon"\n[target.suppliers.columns]\nsupplier_code = "V"\n'
            'name = "V"\n',
            "bad.toml: [export] encoding 'klingon' is not a known text encoding; write one such as \"utf-8-sig\", "
            "\"latin-1\" or \"cp1252\"",
        ),
        (
            '[export]\nsource = "x"\n[target.suppliers.columns]\nsupplier_code = "V"\nname = "V"\nrating = "R"\n',
            "bad.toml: suppliers has no column 'rating'; its columns are supplier_code, name, country, "
            "default_lead_days, currency, source_key, source_updated_at",
        ),
        (
            '[export]\nsource = "x"\n[target.suppliers.columns]\nsupplier_code = { column = "V", reciprocal = true }\n'
            'name = "V"\n',
            "bad.toml: [target.suppliers.columns] supplier_code is a text column, and reciprocal applies only "
            "to decimal or int columns",
        ),
    ],
)
def test_invalid_mapping_is_rejected_with_its_place(tmp_path, document, message):
    path = write_text(tmp_path, "bad.toml", document)

    with pytest.raises(MappingError) as error:
        load_mapping(path)

    assert str(error.value) == message


def test_targets_load_masters_first(tmp_path):
    document = (
        '[export]\nsource = "x"\n'
        '[target.purchase_order_lines.columns]\npo_number = "PO"\nline_number = "L"\nsupplier_code = "V"\n'
        'sku = "I"\nwarehouse_code = "W"\norder_date = "D"\nordered_qty = "Q"\n'
        '[target.suppliers.columns]\nsupplier_code = "V"\nname = "V"\n'
    )

    mapping = load_mapping(write_text(tmp_path, "po.toml", document))

    assert [target.entity.name for target in mapping.targets] == ["suppliers", "purchase_order_lines"]


# --- Loading exports ------------------------------------------------------


def test_missing_column_rejects_whole_file(engine, tmp_path):
    mapping = write_text(tmp_path, "items.toml", ITEMS_MAPPING)
    export = write_text(tmp_path, "items.csv", "Item,Description,Group,Cost,Price\nGLV,Glove,PPE,0.1,0.25\n")

    with pytest.raises(FileRejected) as error:
        sync_export(engine, export, mapping)

    assert str(error.value) == (
        "items.csv has no column 'Class', which items.toml maps; correct the column name in the mapping or "
        "export the column (the file's columns are 'Item', 'Description', 'Group', 'Cost', 'Price')"
    )
    assert sync_runs(engine) == []
    assert items(engine) == []


def test_items_load_through_template_and_columns(engine, tmp_path):
    mapping = write_text(tmp_path, "items.toml", ITEMS_MAPPING)
    export = write_text(
        tmp_path, "items.csv", "Item,Description,Group,Class,Cost,Price\nGLV,Nitrile glove,PPE,Hand,0.10,0.25\n"
    )

    [result] = sync_export(engine, export, mapping)

    [item] = items(engine)
    assert (result.read, result.inserted, result.rejected) == (1, 1, 0)
    assert (item.sku, item.description, item.family) == ("GLV", "Nitrile glove", "PPE/Hand")
    assert (item.unit_cost, item.list_price) == (Decimal("0.1000"), Decimal("0.2500"))
    assert (item.source, item.source_key) == ("erp-x", "GLV")


def test_identical_master_repeats_count_as_unchanged(engine, tmp_path, caplog):
    mapping = write_text(tmp_path, "suppliers.toml", SUPPLIERS_MAPPING)
    export = write_text(tmp_path, "lines.csv", "Vendor\n" + "Acme\n" * 500 + "Brill\n" + "Acme\n" * 499)

    with caplog.at_level(logging.WARNING, logger="services.sync.canonical"):
        [result] = sync_export(engine, export, mapping)

    [run] = sync_runs(engine)
    assert (result.read, result.inserted, result.unchanged, result.rejected, result.duplicates) == (1000, 2, 998, 0, 0)
    assert (run.read_count, run.inserted_count, run.unchanged_count, run.rejected_count) == (1000, 2, 998, 0)
    assert "duplicate" not in caplog.text


def test_long_code_is_shortened(engine, tmp_path):
    vendor = "MERCK SHARP & DOHME IDEA GMBH (FORMALLY MERCK SHARP & DOHME B.V.)"
    mapping = write_text(tmp_path, "suppliers.toml", SUPPLIERS_MAPPING)
    export = write_text(tmp_path, "lines.csv", f'Vendor\n"{vendor}"\n')

    sync_export(engine, export, mapping)

    with engine.connect() as connection:
        supplier = connection.execute(select(schema.suppliers)).one()
    assert supplier.supplier_code == "MERCK SHARP & DOHME IDEA GMBH (FORMALLY MERCK SHARP & D~8ab4c450"
    assert supplier.name == vendor


def test_too_long_code_is_quarantined_without_shorten(engine, tmp_path):
    vendor = "V" * 70
    mapping = write_text(tmp_path, "suppliers.toml", SUPPLIERS_MAPPING.replace(", shorten = true", ""))
    export = write_text(tmp_path, "lines.csv", f"Vendor\n{vendor}\nAcme\n")

    [result] = sync_export(engine, export, mapping)

    assert (result.read, result.inserted, result.rejected) == (2, 1, 1)
    assert quarantine(engine) == [
        (
            "line 2",
            f"supplier_code: '{vendor}' from column 'Vendor' is 70 characters, longer than the 64 the column holds; "
            "shorten it in the export, or set shorten = true on the rule in suppliers.toml",
        )
    ]


def test_row_filter_leaves_rows_out_as_unchanged(engine, tmp_path):
    document = SUPPLIERS_MAPPING.replace(
        "[target.suppliers.columns]", '[target.suppliers]\nwhen = { column = "Active", in = ["Y"] }\n\n[target.suppliers.columns]'
    )
    mapping = write_text(tmp_path, "suppliers.toml", document)
    export = write_text(tmp_path, "vendors.csv", "Vendor,Active\nAcme,Y\nBrill,N\nCorto,Y\n")

    [result] = sync_export(engine, export, mapping)

    with engine.connect() as connection:
        codes = connection.execute(text("select supplier_code from suppliers order by 1")).scalars().all()
    assert codes == ["Acme", "Corto"]
    assert (result.read, result.inserted, result.unchanged, result.rejected) == (3, 2, 1, 0)


def test_unmapped_status_code_is_quarantined(engine, tmp_path):
    with engine.begin() as connection:
        make_customer(connection, customer_code="C1")
        make_item(connection, sku="GLV")
        make_warehouse(connection, warehouse_code="DAL")
    mapping = write_text(
        tmp_path,
        "orders.toml",
        '[export]\nsource = "erp-x"\n[target.sales_order_lines.columns]\norder_number = "Order"\nline_number = "Line"\n'
        'customer_code = { constant = "C1" }\nsku = { constant = "GLV" }\nwarehouse_code = { constant = "DAL" }\n'
        'order_date = "Date"\nrequested_date = "Date"\nordered_qty = "Qty"\nunit_price = "Price"\n'
        'status = { column = "Status", map = { OPEN = "open", DONE = "shipped" } }\n',
    )
    export = write_text(
        tmp_path, "orders.csv", "Order,Line,Date,Qty,Price,Status\nSO-1,1,2026-03-01,5,2.00,OPEN\nSO-1,2,2026-03-01,5,2.00,HELD\n"
    )

    [result] = sync_export(engine, export, mapping)

    assert (result.read, result.inserted, result.rejected) == (2, 1, 1)
    assert quarantine(engine) == [
        (
            "line 3",
            "status: 'HELD' in column 'Status' is not in the value map; add it to the map in orders.toml, "
            "or give the rule a default",
        )
    ]


def excel_export(path: Path, sheets: dict[str, list[list]]) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def test_excel_first_sheet_loads_with_typed_cells(engine, tmp_path):
    mapping = write_text(tmp_path, "items.toml", ITEMS_MAPPING)
    export = excel_export(
        tmp_path / "items.xlsx",
        {
            "Items": [
                ["Item", "Description", "Group", "Class", "Cost", "Price"],
                [1001, "Nitrile glove", "PPE", "Hand", 0.1, 0.25],
                [None, None, None, None, None, None],
                ["GWN-1", "Gown", "PPE", "Body", 2, 3.5],
            ],
            "Notes": [["ignored"]],
        },
    )

    [result] = sync_export(engine, export, mapping)

    assert (result.read, result.inserted, result.rejected) == (2, 2, 0)
    assert [(item.sku, item.unit_cost, item.list_price) for item in items(engine)] == [
        ("1001", Decimal("0.1000"), Decimal("0.2500")),
        ("GWN-1", Decimal("2.0000"), Decimal("3.5000")),
    ]


def test_excel_named_sheet_is_read(engine, tmp_path):
    mapping = write_text(tmp_path, "items.toml", ITEMS_MAPPING.replace('no_value = ["N/A"]', 'sheet = "Export"'))
    export = excel_export(
        tmp_path / "items.xlsx",
        {
            "Cover": [["Exported by the ERP"]],
            "Export": [["Item", "Description", "Group", "Class", "Cost", "Price"], ["GLV", "Glove", "PPE", "Hand", 0.1, 0.25]],
        },
    )

    [result] = sync_export(engine, export, mapping)

    assert (result.read, result.inserted) == (1, 1)


def test_excel_missing_sheet_rejects_the_file(engine, tmp_path):
    mapping = write_text(tmp_path, "items.toml", ITEMS_MAPPING.replace('no_value = ["N/A"]', 'sheet = "Export"'))
    export = excel_export(tmp_path / "items.xlsx", {"Sheet1": [["Item"]]})

    with pytest.raises(FileRejected) as error:
        sync_export(engine, export, mapping)

    assert str(error.value) == "items.xlsx has no sheet 'Export' that items.toml names; its sheets are 'Sheet1'"


def test_excel_dates_are_read_as_dates(engine, tmp_path):
    with engine.begin() as connection:
        make_supplier(connection, supplier_code="V1")
        make_item(connection, sku="GLV")
        make_warehouse(connection, warehouse_code="DAL")
    mapping = write_text(
        tmp_path,
        "po.toml",
        '[export]\nsource = "erp-x"\n[target.purchase_order_lines.columns]\npo_number = "PO"\nline_number = "Line"\n'
        'supplier_code = { constant = "V1" }\nsku = { constant = "GLV" }\nwarehouse_code = { constant = "DAL" }\n'
        'order_date = "Ordered"\npromised_date = "Due"\nordered_qty = "Qty"\n',
    )
    export = excel_export(
        tmp_path / "po.xlsx",
        {"PO": [["PO", "Line", "Ordered", "Due", "Qty"], ["PO-1", 1, datetime(2026, 3, 1), datetime(2026, 3, 15, 0, 0), 100]]},
    )

    sync_export(engine, export, mapping)

    with engine.connect() as connection:
        line = connection.execute(select(schema.purchase_order_lines)).one()
    assert (line.order_date.isoformat(), line.promised_date.isoformat(), line.ordered_qty) == (
        "2026-03-01",
        "2026-03-15",
        Decimal("100"),
    )
