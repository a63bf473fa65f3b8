"""Cross-column rules a record must meet before it is loaded.

They mirror the check constraints of the schema, so a bad record is
quarantined with a readable reason instead of failing the whole file.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def _not_before(record: dict, later: str, earlier: str) -> str | None:
    if record.get(later) is not None and record.get(earlier) is not None:
        if record[later] < record[earlier]:
            return f"{later} {record[later]} is before {earlier} {record[earlier]}"
    return None


def _not_above(record: dict, parts: tuple[str, ...], total: str) -> str | None:
    values = [record.get(name) for name in parts]
    if record.get(total) is None or any(value is None for value in values):
        return None
    if sum(values) > record[total]:
        named = " + ".join(f"{name} {record[name]}" for name in parts)
        return f"{named} exceeds {total} {record[total]}"
    return None


def check_warehouses(record: dict) -> list[str]:
    try:
        ZoneInfo(record["time_zone"])
    except (ZoneInfoNotFoundError, ValueError):
        return [f"time_zone {record['time_zone']!r} is not an IANA time zone such as America/Chicago"]
    return []


def check_customers(record: dict) -> list[str]:
    if record["fill_rate_target"] > 1:
        return [f"fill_rate_target {record['fill_rate_target']} is above 1; write 0.95 for 95%"]
    return []


def check_units(record: dict) -> list[str]:
    if record["base_qty_per_unit"] <= 0:
        return [f"base_qty_per_unit {record['base_qty_per_unit']} must be above 0"]
    return []


def check_supplier_items(record: dict) -> list[str]:
    if record["order_multiple"] <= 0:
        return [f"order_multiple {record['order_multiple']} must be above 0"]
    return []


def check_substitutes(record: dict) -> list[str]:
    problems = []
    if record["item_id"] == record["substitute_item_id"]:
        problems.append("substitute_sku is the item itself")
    if record["ratio"] <= 0:
        problems.append(f"ratio {record['ratio']} must be above 0")
    return problems


def check_transfer_lanes(record: dict) -> list[str]:
    if record["from_warehouse_id"] == record["to_warehouse_id"]:
        return ["from_warehouse_code and to_warehouse_code are the same warehouse"]
    return []


def check_inventory(record: dict) -> list[str]:
    if record["quality_hold_qty"] > record["on_hand_qty"]:
        return [
            f"quality_hold_qty {record['quality_hold_qty']} exceeds on_hand_qty {record['on_hand_qty']}"
        ]
    return []


def check_sales_order_lines(record: dict) -> list[str]:
    problems = [
        _not_above(record, ("shipped_qty", "cancelled_qty"), "ordered_qty"),
        _not_above(record, ("allocated_qty",), "ordered_qty"),
        _not_before(record, "requested_date", "order_date"),
        _not_before(record, "first_promised_date", "order_date"),
    ]
    return [problem for problem in problems if problem]


def check_purchase_order_lines(record: dict) -> list[str]:
    problems = [
        _not_above(record, ("cancelled_qty",), "ordered_qty"),
        _not_before(record, "promised_date", "order_date"),
    ]
    return [problem for problem in problems if problem]


def check_receipts(record: dict) -> list[str]:
    if record["received_qty"] <= 0:
        return [f"received_qty {record['received_qty']} must be above 0"]
    return []


def check_shipments(record: dict) -> list[str]:
    problems = [
        None if record["qty"] > 0 else f"qty {record['qty']} must be above 0",
        _not_before(record, "delivered_date", "ship_date"),
        _not_before(record, "expected_date", "ship_date"),
    ]
    return [problem for problem in problems if problem]


RULES = {
    "warehouses": check_warehouses,
    "customers": check_customers,
    "units": check_units,
    "supplier_items": check_supplier_items,
    "substitutes": check_substitutes,
    "transfer_lanes": check_transfer_lanes,
    "inventory": check_inventory,
    "sales_order_lines": check_sales_order_lines,
    "purchase_order_lines": check_purchase_order_lines,
    "receipts": check_receipts,
    "shipments": check_shipments,
}


def check_record(entity_name: str, record: dict) -> list[str]:
    """Return the reasons the record breaks its entity's rules; empty when it is valid."""
    rule = RULES.get(entity_name)
    return rule(record) if rule else []
