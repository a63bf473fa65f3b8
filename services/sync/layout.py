"""The canonical file layout: one CSV per entity, its columns, types and references.

docs/data-formats.md describes the same layout for people who write exports.
A column marked ``qty`` is converted from the row's ``unit`` to the item's
base unit. A column marked ``price`` is a price per row unit, so it is
divided by the same factor.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # text, int, decimal, date, timestamp, bool, list
    required: bool = False
    non_negative: bool = False
    qty: bool = False
    price: bool = False
    choices: tuple[str, ...] = ()
    default: object = None


@dataclass(frozen=True)
class Reference:
    """Columns of a row that name a row of another table, resolved to its id."""

    columns: tuple[str, ...]
    table: str
    key_columns: tuple[str, ...]
    target: str
    required: bool = True


@dataclass(frozen=True)
class Entity:
    name: str
    table: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    references: tuple[Reference, ...] = ()
    natural_key: tuple[str, ...] = ()
    has_unit: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for candidate in self.columns:
            if candidate.name == name:
                return candidate
        raise KeyError(name)


def _text(name, **kw):
    return Column(name, "text", **kw)


def _qty(name, **kw):
    return Column(name, "decimal", non_negative=True, qty=True, **kw)


def _money(name, **kw):
    return Column(name, "decimal", non_negative=True, **kw)


def _date(name, **kw):
    return Column(name, "date", **kw)


SKU = Reference(("sku",), "items", ("sku",), "item_id")
WAREHOUSE = Reference(("warehouse_code",), "warehouses", ("warehouse_code",), "warehouse_id")
CUSTOMER = Reference(("customer_code",), "customers", ("customer_code",), "customer_id")
SUPPLIER = Reference(("supplier_code",), "suppliers", ("supplier_code",), "supplier_id")
PO_LINE = Reference(
    ("po_number", "po_line_number"),
    "purchase_order_lines",
    ("po_number", "line_number"),
    "po_line_id",
)

CURRENCY = _text("currency", default="USD")
UNIT = _text("unit")

ENTITIES: tuple[Entity, ...] = (
    Entity(
        "warehouses",
        "warehouses",
        key=("warehouse_code",),
        natural_key=("warehouse_code",),
        columns=(
            _text("warehouse_code", required=True),
            _text("name", required=True),
            _text("time_zone", required=True),
            _text("region"),
        ),
    ),
    Entity(
        "customers",
        "customers",
        key=("customer_code",),
        natural_key=("customer_code",),
        columns=(
            _text("customer_code", required=True),
            _text("name", required=True),
            _text("tier", default="standard", choices=("strategic", "key", "standard")),
            _text("segment"),
            Column("sla_days", "int", non_negative=True, default=0),
            Column("fill_rate_target", "decimal", non_negative=True, default="0.95"),
            _money("late_penalty_per_day", default="0"),
            CURRENCY,
        ),
    ),
    Entity(
        "suppliers",
        "suppliers",
        key=("supplier_code",),
        natural_key=("supplier_code",),
        columns=(
            _text("supplier_code", required=True),
            _text("name", required=True),
            _text("country"),
            Column("default_lead_days", "int", non_negative=True, default=14),
            CURRENCY,
        ),
    ),
    Entity(
        "items",
        "items",
        key=("sku",),
        natural_key=("sku",),
        columns=(
            _text("sku", required=True),
            _text("description", required=True),
            _text("family", required=True),
            _text("base_unit", default="EA"),
            _money("unit_cost", required=True),
            _money("list_price", required=True),
            CURRENCY,
            Column("regulated", "bool", default=False),
        ),
    ),
    Entity(
        "units",
        "units",
        key=("sku", "unit_code"),
        natural_key=("item_id", "unit_code"),
        references=(SKU,),
        columns=(
            _text("sku", required=True),
            _text("unit_code", required=True),
            Column("base_qty_per_unit", "decimal", required=True, non_negative=True),
        ),
    ),
    Entity(
        "supplier_items",
        "supplier_items",
        key=("supplier_code", "sku", "warehouse_code"),
        references=(
            SUPPLIER,
            SKU,
            Reference(("warehouse_code",), "warehouses", ("warehouse_code",), "warehouse_id", required=False),
        ),
        columns=(
            _text("supplier_code", required=True),
            _text("sku", required=True),
            _text("warehouse_code"),
            Column("lead_days", "int", required=True, non_negative=True),
            Column("min_order_qty", "decimal", non_negative=True, default="0"),
            Column("order_multiple", "decimal", non_negative=True, default="1"),
            _money("unit_cost"),
            Column("priority", "int", non_negative=True, default=1),
        ),
    ),
    Entity(
        "substitutes",
        "substitutes",
        key=("sku", "substitute_sku"),
        natural_key=("item_id", "substitute_item_id"),
        references=(
            SKU,
            Reference(("substitute_sku",), "items", ("sku",), "substitute_item_id"),
        ),
        columns=(
            _text("sku", required=True),
            _text("substitute_sku", required=True),
            Column("ratio", "decimal", non_negative=True, default="1"),
            Column("needs_approval", "bool", default=True),
            Column("excluded_customer_codes", "list", default=()),
            Column("allowed_tiers", "list", default=("strategic", "key", "standard")),
        ),
    ),
    Entity(
        "transfer_lanes",
        "transfer_lanes",
        key=("from_warehouse_code", "to_warehouse_code"),
        natural_key=("from_warehouse_id", "to_warehouse_id"),
        references=(
            Reference(("from_warehouse_code",), "warehouses", ("warehouse_code",), "from_warehouse_id"),
            Reference(("to_warehouse_code",), "warehouses", ("warehouse_code",), "to_warehouse_id"),
        ),
        columns=(
            _text("from_warehouse_code", required=True),
            _text("to_warehouse_code", required=True),
            Column("lead_days", "int", required=True, non_negative=True),
            _money("cost_per_unit", default="0"),
            CURRENCY,
        ),
    ),
    Entity(
        "inventory",
        "inventory",
        key=("sku", "warehouse_code"),
        natural_key=("item_id", "warehouse_id"),
        references=(SKU, WAREHOUSE),
        has_unit=True,
        columns=(
            _text("sku", required=True),
            _text("warehouse_code", required=True),
            UNIT,
            _qty("on_hand_qty", required=True),
            _qty("quality_hold_qty", default="0"),
            _qty("allocated_qty", default="0"),
            Column("as_of", "timestamp", required=True),
        ),
    ),
    Entity(
        "sales_order_lines",
        "sales_order_lines",
        key=("order_number", "line_number"),
        natural_key=("order_number", "line_number"),
        references=(CUSTOMER, SKU, WAREHOUSE),
        has_unit=True,
        columns=(
            _text("order_number", required=True),
            Column("line_number", "int", required=True, non_negative=True),
            _text("customer_code", required=True),
            _text("sku", required=True),
            _text("warehouse_code", required=True),
            _date("order_date", required=True),
            _date("requested_date", required=True),
            _date("first_promised_date"),
            _date("current_promised_date"),
            UNIT,
            _qty("ordered_qty", required=True),
            _qty("shipped_qty", default="0"),
            _qty("cancelled_qty", default="0"),
            _qty("allocated_qty", default="0"),
            _money("unit_price", required=True, price=True),
            _money("unit_cost", price=True),
            CURRENCY,
            _text("status", default="open", choices=("open", "shipped", "cancelled", "closed")),
        ),
    ),
    Entity(
        "purchase_order_lines",
        "purchase_order_lines",
        key=("po_number", "line_number"),
        natural_key=("po_number", "line_number"),
        references=(SUPPLIER, SKU, WAREHOUSE),
        has_unit=True,
        columns=(
            _text("po_number", required=True),
            Column("line_number", "int", required=True, non_negative=True),
            _text("supplier_code", required=True),
            _text("sku", required=True),
            _text("warehouse_code", required=True),
            _date("order_date", required=True),
            _date("promised_date"),
            _date("acknowledged_date"),
            UNIT,
            _qty("acknowledged_qty"),
            _qty("ordered_qty", required=True),
            _qty("received_qty", default="0"),
            _qty("cancelled_qty", default="0"),
            _money("unit_cost", price=True),
            CURRENCY,
            _text("shipment_mode"),
            _text("status", default="open", choices=("open", "received", "cancelled", "closed")),
        ),
    ),
    Entity(
        "receipts",
        "receipts",
        key=("receipt_number",),
        references=(PO_LINE, WAREHOUSE),
        has_unit=True,
        extra={"item_from": "po_line"},
        columns=(
            _text("receipt_number", required=True),
            _text("po_number", required=True),
            Column("po_line_number", "int", required=True, non_negative=True),
            _text("warehouse_code", required=True),
            _date("receipt_date", required=True),
            UNIT,
            _qty("received_qty", required=True),
            _text("asn_number"),
        ),
    ),
    Entity(
        "supplier_events",
        "supplier_events",
        key=("event_key",),
        references=(PO_LINE,),
        has_unit=True,
        extra={"item_from": "po_line", "supplier_from": "po_line"},
        columns=(
            _text("event_key", required=True),
            _text("po_number", required=True),
            Column("po_line_number", "int", required=True, non_negative=True),
            _text(
                "event_type",
                required=True,
                choices=("acknowledgement", "date_change", "quantity_change", "backorder", "rejection", "asn"),
            ),
            Column("event_at", "timestamp", required=True),
            _date("old_date"),
            _date("new_date"),
            UNIT,
            _qty("old_qty"),
            _qty("new_qty"),
            _text("message_ref"),
        ),
    ),
    Entity(
        "shipments",
        "shipments",
        key=("shipment_number", "sku"),
        references=(
            SKU,
            Reference(
                ("order_number", "order_line_number"),
                "sales_order_lines",
                ("order_number", "line_number"),
                "so_line_id",
                required=False,
            ),
            Reference(
                ("po_number", "po_line_number"),
                "purchase_order_lines",
                ("po_number", "line_number"),
                "po_line_id",
                required=False,
            ),
            Reference(("from_warehouse_code",), "warehouses", ("warehouse_code",), "from_warehouse_id", required=False),
            Reference(("to_warehouse_code",), "warehouses", ("warehouse_code",), "to_warehouse_id", required=False),
        ),
        has_unit=True,
        columns=(
            _text("shipment_number", required=True),
            _text("kind", required=True, choices=("customer", "asn", "transfer")),
            _text("sku", required=True),
            _text("order_number"),
            Column("order_line_number", "int", non_negative=True),
            _text("po_number"),
            Column("po_line_number", "int", non_negative=True),
            _text("from_warehouse_code"),
            _text("to_warehouse_code"),
            UNIT,
            _qty("qty", required=True),
            _date("ship_date", required=True),
            _date("expected_date"),
            _date("delivered_date"),
            _text("status", default="in_transit", choices=("in_transit", "delivered", "cancelled")),
        ),
    ),
)

ENTITIES_BY_NAME = {entity.name: entity for entity in ENTITIES}

# Optional on every file: the record's own key in the source system and when
# the source last changed it. Without them the key is built from the entity's
# key columns and the timestamp is the start of the sync run.
LINEAGE_COLUMNS = ("source_key", "source_updated_at")
