"""Cross-column rules a record must meet before it is loaded, as SQL reason expressions.

They mirror the check constraints of the schema, so a bad record is
quarantined with a readable reason instead of failing the whole file. Each
expression reads the converted record as `c` and yields a reason or NULL.
"""

from __future__ import annotations

from psycopg import sql


def _column(name: str) -> sql.Composable:
    return sql.SQL("c.{}").format(sql.Identifier(name))


def _labelled(name: str) -> sql.Composable:
    """Text such as `shipped_qty 8`: the column's name and its value."""
    return sql.SQL("{} || {}::text").format(sql.Literal(f"{name} "), _column(name))


def not_before(later: str, earlier: str) -> sql.Composable:
    return sql.SQL("case when {later} < {earlier} then {a} || ' is before ' || {b} end").format(
        later=_column(later), earlier=_column(earlier), a=_labelled(later), b=_labelled(earlier)
    )


def not_above(parts: tuple[str, ...], total: str) -> sql.Composable:
    summed = sql.SQL(" + ").join(_column(name) for name in parts)
    named = sql.SQL(" || ' + ' || ").join(_labelled(name) for name in parts)
    return sql.SQL("case when {summed} > {total} then {named} || ' exceeds ' || {shown} end").format(
        summed=summed, total=_column(total), named=named, shown=_labelled(total)
    )


def above_zero(name: str) -> sql.Composable:
    return sql.SQL("case when {value} <= 0 then {shown} || ' must be above 0' end").format(
        value=_column(name), shown=_labelled(name)
    )


def when(condition: str, reason: str) -> sql.Composable:
    return sql.SQL("case when {} then {} end").format(sql.SQL(condition), sql.Literal(reason))


KNOWN_TIME_ZONE = sql.SQL(
    "case when not exists (select 1 from pg_timezone_names z where z.name = c.time_zone)"
    " then 'time_zone ' || ct_repr(c.time_zone) || ' is not an IANA time zone such as America/Chicago' end"
)

FILL_RATE_SHARE = sql.SQL(
    "case when c.fill_rate_target > 1 then 'fill_rate_target ' || c.fill_rate_target::text"
    " || ' is above 1; write 0.95 for 95%' end"
)

RULES: dict[str, tuple[sql.Composable, ...]] = {
    "warehouses": (KNOWN_TIME_ZONE,),
    "customers": (FILL_RATE_SHARE,),
    "units": (above_zero("base_qty_per_unit"),),
    "supplier_items": (above_zero("order_multiple"),),
    "substitutes": (
        when("c.item_id = c.substitute_item_id", "substitute_sku is the item itself"),
        above_zero("ratio"),
    ),
    "transfer_lanes": (
        when(
            "c.from_warehouse_id = c.to_warehouse_id",
            "from_warehouse_code and to_warehouse_code are the same warehouse",
        ),
    ),
    "inventory": (not_above(("quality_hold_qty",), "on_hand_qty"),),
    "sales_order_lines": (
        not_above(("shipped_qty", "cancelled_qty"), "ordered_qty"),
        not_above(("allocated_qty",), "ordered_qty"),
        not_before("requested_date", "order_date"),
        not_before("first_promised_date", "order_date"),
    ),
    "purchase_order_lines": (
        not_above(("cancelled_qty",), "ordered_qty"),
        not_before("promised_date", "order_date"),
    ),
    "receipts": (above_zero("received_qty"),),
    "shipments": (
        above_zero("qty"),
        not_before("delivered_date", "ship_date"),
        not_before("expected_date", "ship_date"),
    ),
}
