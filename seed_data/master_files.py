"""Writing the master files of the demo: warehouses, customers, suppliers, items, units, sourcing, substitutes, lanes."""

from __future__ import annotations

import numpy as np

from seed_data.catalog import FAMILY_NAMES, SEGMENTS
from seed_data.csvfiles import CanonicalFiles, bool_text, money_text, number_text
from seed_data.master import FILL_RATE_TARGETS, KEY, STRATEGIC, TIERS, Master

ALL_TIERS = "strategic|key|standard"


def write_master_files(rng: np.random.Generator, files: CanonicalFiles, master: Master) -> None:
    write_warehouses(files, master)
    write_customers(files, master)
    write_suppliers(files, master)
    write_items(files, master)
    write_units(files, master)
    write_supplier_items(files, master)
    write_substitutes(rng, files, master)
    write_transfer_lanes(files, master)


def write_warehouses(files: CanonicalFiles, master: Master) -> None:
    warehouses = master.warehouses
    files.write(
        "warehouses",
        {
            "warehouse_code": warehouses.codes,
            "name": warehouses.names,
            "time_zone": warehouses.time_zones,
            "region": warehouses.regions,
        },
    )


def write_customers(files: CanonicalFiles, master: Master) -> None:
    customers = master.customers
    count = len(customers)
    files.write(
        "customers",
        {
            "customer_code": customers.codes,
            "name": customers.names,
            "tier": [TIERS[t] for t in customers.tier.tolist()],
            "segment": [SEGMENTS[s] for s in customers.segment.tolist()],
            "sla_days": number_text(customers.sla_days),
            "fill_rate_target": [FILL_RATE_TARGETS[t] for t in customers.tier.tolist()],
            "late_penalty_per_day": money_text(customers.penalty_cents),
            "currency": ["USD"] * count,
        },
    )


def write_suppliers(files: CanonicalFiles, master: Master) -> None:
    suppliers = master.suppliers
    files.write(
        "suppliers",
        {
            "supplier_code": suppliers.codes,
            "name": suppliers.names,
            "country": suppliers.countries,
            "default_lead_days": number_text(suppliers.default_lead),
            "currency": ["USD"] * len(suppliers),
        },
    )


def write_items(files: CanonicalFiles, master: Master) -> None:
    items = master.items
    count = len(items)
    files.write(
        "items",
        {
            "sku": items.skus,
            "description": items.descriptions,
            "family": [FAMILY_NAMES[f] for f in items.family.tolist()],
            "base_unit": ["EA"] * count,
            "unit_cost": money_text(items.cost_cents),
            "list_price": money_text(items.price_cents),
            "currency": ["USD"] * count,
            "regulated": bool_text(items.regulated),
        },
    )


def write_units(files: CanonicalFiles, master: Master) -> None:
    """Write EA for every item and BOX of 12 and CASE of 24 for the items packed that way."""
    items = master.items
    sku, code, factor = [], [], []
    for i in range(len(items)):
        sku.append(items.skus[i])
        code.append("EA")
        factor.append("1")
        if items.has_box[i]:
            sku.append(items.skus[i])
            code.append("BOX")
            factor.append("12")
        if items.has_case[i]:
            sku.append(items.skus[i])
            code.append("CASE")
            factor.append("24")
    files.write("units", {"sku": sku, "unit_code": code, "base_qty_per_unit": factor})


def write_supplier_items(files: CanonicalFiles, master: Master) -> None:
    """Write the primary source of every item and the second source where there is one, for all warehouses."""
    sourcing, items, suppliers = master.sourcing, master.items, master.suppliers
    second = np.flatnonzero(sourcing.second_supplier >= 0)
    item = np.concatenate([np.arange(len(items)), second])
    supplier = np.concatenate([sourcing.supplier, sourcing.second_supplier[second]])
    lead = np.concatenate([sourcing.lead_days, sourcing.second_lead_days[second]])
    cost = np.concatenate([sourcing.cost_cents, sourcing.second_cost_cents[second]])
    priority = np.concatenate([np.ones(len(items), dtype=np.int64), np.full(len(second), 2)])
    order = np.lexsort((priority, item))
    item, supplier, lead, cost, priority = item[order], supplier[order], lead[order], cost[order], priority[order]
    files.write(
        "supplier_items",
        {
            "supplier_code": suppliers.codes[supplier],
            "sku": items.skus[item],
            "lead_days": number_text(lead),
            "min_order_qty": number_text(sourcing.min_order_qty[item]),
            "order_multiple": number_text(sourcing.order_multiple[item]),
            "unit_cost": money_text(cost),
            "priority": number_text(priority),
        },
    )


def write_substitutes(rng: np.random.Generator, files: CanonicalFiles, master: Master) -> None:
    """Write substitutes: half-size packs both ways, and equivalent items of the same product for about 4% of items.

    Two half packs replace one full pack (ratio 2) and a full pack replaces
    two half packs (ratio 0.5). About one substitute in five excludes one or
    two named strategic or key customers, and about one in three is limited
    to some tiers.
    """
    items, customers = master.items, master.customers
    pairs: dict[tuple[int, int], str] = {}
    for half, full in enumerate(items.half_pack_of.tolist()):
        if full >= 0:
            pairs[(full, half)] = "2"
            pairs[(half, full)] = "0.5"
    chosen = np.flatnonzero((rng.random(len(items)) < 0.04) & (items.half_pack_of < 0))
    for item in chosen.tolist():
        same_product = np.flatnonzero((items.product == items.product[item]) & (np.arange(len(items)) != item))
        if len(same_product):
            other = int(same_product[rng.integers(0, len(same_product))])
            pairs.setdefault((item, other), "1")

    keyed = customers.codes[np.isin(customers.tier, [STRATEGIC, KEY])]
    rows = sorted(pairs.items())
    count = len(rows)
    excluded = []
    for draw in rng.random(count).tolist():
        if draw < 0.2 and len(keyed):
            picked = rng.choice(keyed, size=min(len(keyed), int(rng.integers(1, 3))), replace=False)
            excluded.append("|".join(sorted(picked.tolist())))
        else:
            excluded.append("")
    tier_draw = rng.random(count)
    allowed = np.select([tier_draw < 0.15, tier_draw < 0.3], ["strategic|key", "key|standard"], default=ALL_TIERS)
    item = np.array([pair[0] for pair, _ in rows], dtype=np.int64)
    substitute = np.array([pair[1] for pair, _ in rows], dtype=np.int64)
    needs_approval = items.regulated[item] | items.regulated[substitute] | (rng.random(count) < 0.5)
    files.write(
        "substitutes",
        {
            "sku": items.skus[item],
            "substitute_sku": items.skus[substitute],
            "ratio": [ratio for _, ratio in rows],
            "needs_approval": bool_text(needs_approval),
            "excluded_customer_codes": excluded,
            "allowed_tiers": allowed.astype(object),
        },
    )


def write_transfer_lanes(files: CanonicalFiles, master: Master) -> None:
    warehouses = master.warehouses
    source, destination = np.nonzero(warehouses.lane_days > 0)
    files.write(
        "transfer_lanes",
        {
            "from_warehouse_code": warehouses.codes[source],
            "to_warehouse_code": warehouses.codes[destination],
            "lead_days": number_text(warehouses.lane_days[source, destination]),
            "cost_per_unit": money_text(warehouses.lane_cost_cents[source, destination]),
            "currency": ["USD"] * len(source),
        },
    )
