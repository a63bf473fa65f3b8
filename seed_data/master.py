"""Master data of the demo distributor: warehouses, items, customers, suppliers and sourcing.

Everything here is drawn from the random generators it is given, so the
same seed gives the same master data. Arrays are indexed by item, customer,
supplier or warehouse position; codes are looked up by position when files
are written.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from seed_data.catalog import FAMILIES, SEGMENT_SHARES, SEGMENTS, Product, family_index
from seed_data.names import CITIES, CUSTOMER_PATTERNS, SITES, STATES, STEMS, SURNAMES, unique_name
from seed_data.suppliers import Sourcing, Suppliers, build_sourcing, build_suppliers

TIERS = ("strategic", "key", "standard")
STRATEGIC, KEY, STANDARD = 0, 1, 2
FILL_RATE_TARGETS = ("0.98", "0.95", "0.90")
TIER_ORDER_WEIGHTS = np.array([10.0, 3.0, 1.0])
# Every demo has at least this many strategic customers in healthcare and in manufacturing.
MIN_STRATEGIC_PER_SEGMENT = 3

UNIT_CODES = np.array(["EA", "BOX", "CASE"], dtype=object)
UNIT_FACTORS = np.array([1, 12, 24], dtype=np.int64)
EA, BOX, CASE = 0, 1, 2

HALF_PACK_SHARE = 0.03  # share of SKUs that are a half-size pack of another SKU
HEALTHCARE = SEGMENTS.index("healthcare")
MANUFACTURING = SEGMENTS.index("manufacturing")


@dataclass
class Warehouses:
    codes: np.ndarray
    names: list[str]
    time_zones: list[str]
    regions: list[str]
    shares: np.ndarray
    lane_days: np.ndarray  # [from, to] transfer lead time in days
    lane_cost_cents: np.ndarray  # [from, to] transfer cost per each in cents

    def __len__(self) -> int:
        return len(self.codes)


@dataclass
class Items:
    skus: np.ndarray
    descriptions: list[str]
    family: np.ndarray
    product: np.ndarray  # global product position, for equivalent substitutes
    cost_cents: np.ndarray  # per each
    price_cents: np.ndarray  # list price per each
    regulated: np.ndarray
    has_box: np.ndarray
    has_case: np.ndarray
    popularity: np.ndarray  # within its family, summing to 1 per family
    typical_qty: np.ndarray  # eaches on a usual order line
    half_pack_of: np.ndarray  # item this one is the half-size pack of, or -1

    def __len__(self) -> int:
        return len(self.skus)


@dataclass
class Customers:
    codes: np.ndarray
    names: list[str]
    tier: np.ndarray
    segment: np.ndarray
    home: np.ndarray  # warehouse that usually ships to the customer
    sla_days: np.ndarray
    penalty_cents: np.ndarray  # late penalty per day
    order_weight: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)


@dataclass
class Master:
    warehouses: Warehouses
    items: Items
    customers: Customers
    suppliers: Suppliers
    sourcing: Sourcing


def build_master(seed: int, skus: int, customers: int, suppliers: int, warehouses: int) -> Master:
    """Draw the master data of a demo of the given size."""
    rng = np.random.default_rng([seed, 1])
    names = random.Random(f"{seed}/names")
    built_warehouses = build_warehouses(warehouses)
    items = build_items(rng, names, skus)
    built_customers = build_customers(rng, names, customers, built_warehouses.shares)
    built_suppliers = build_suppliers(rng, names, suppliers)
    sourcing = build_sourcing(rng, items, built_suppliers)
    return Master(built_warehouses, items, built_customers, built_suppliers, sourcing)


def _miles(a, b) -> float:
    """Great-circle distance between two sites in miles."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 3959 * math.asin(math.sqrt(h))


def build_warehouses(count: int) -> Warehouses:
    sites = SITES[:count]
    lane_days = np.zeros((count, count), dtype=np.int64)
    lane_cost = np.zeros((count, count), dtype=np.int64)
    for i, origin in enumerate(sites):
        for j, destination in enumerate(sites):
            if i != j:
                miles = _miles(origin, destination)
                lane_days[i, j] = 1 + round(miles / 500)
                lane_cost[i, j] = 8 + round(miles * 0.035)
    shares = np.array([site.share for site in sites])
    return Warehouses(
        codes=np.array([site.code for site in sites], dtype=object),
        names=[f"{site.city}, {site.state} Distribution Center" for site in sites],
        time_zones=[site.time_zone for site in sites],
        regions=[site.region for site in sites],
        shares=shares / shares.sum(),
        lane_days=lane_days,
        lane_cost_cents=lane_cost,
    )


def _describe(product: Product, combination: int) -> tuple[str, int]:
    """Return the description and pack size of one option combination of a product."""
    parts = [product.name]
    for options in product.options:
        combination, choice = divmod(combination, len(options))
        parts.append(options[choice])
    pack = 0
    if product.packs:
        pack = product.packs[combination % len(product.packs)]
        parts.append(f"Pk {pack}")
    return ", ".join(parts), pack


def _combinations(product: Product) -> int:
    return math.prod(len(options) for options in product.options) * max(1, len(product.packs))


def build_items(rng: np.random.Generator, names: random.Random, count: int) -> Items:
    """Draw the catalog: SKUs per family, descriptions, costs, list prices and units."""
    shares = np.array([family.share for family in FAMILIES])
    spare = count - 2 * len(FAMILIES)
    per_family = 2 + rng.multinomial(spare, shares / shares.sum())
    product_ids: dict[tuple[int, int], int] = {}
    for f, family in enumerate(FAMILIES):
        for p in range(len(family.products)):
            product_ids[(f, p)] = len(product_ids)

    rows = []  # (family, product id, product, description, pack)
    for f, family in enumerate(FAMILIES):
        chosen = rng.integers(0, len(family.products), size=per_family[f])
        for p in range(len(family.products)):
            product = family.products[p]
            wanted = int((chosen == p).sum())
            space = _combinations(product)
            if wanted <= space:
                combinations = names.sample(range(space), wanted)
            else:
                combinations = [names.randrange(space) for _ in range(wanted)]
            for combination in combinations:
                description, pack = _describe(product, combination)
                rows.append((f, product_ids[(f, p)], product, description, pack))

    n = len(rows)
    family = np.array([row[0] for row in rows], dtype=np.int16)
    low = np.array([row[2].cost_low for row in rows])
    high = np.array([row[2].cost_high for row in rows])
    cost = low * (high / low) ** rng.random(n)
    cost_cents = np.maximum(100, np.round(cost * 100)).astype(np.int64)
    margin = rng.uniform(0.16, 0.44, n)
    typical = np.array([row[2].typical_qty for row in rows]) * rng.lognormal(0, 0.4, n)
    cased = (typical >= 6) & (cost_cents < 15_000)
    unit_draw = rng.random(n)
    rank = np.empty(n)
    for f in range(len(FAMILIES)):
        members = np.flatnonzero(family == f)
        rank[members] = rng.permutation(len(members))
    items = Items(
        skus=np.empty(n, dtype=object),
        descriptions=[row[3] for row in rows],
        family=family,
        product=np.array([row[1] for row in rows], dtype=np.int32),
        cost_cents=cost_cents,
        price_cents=np.round(cost_cents / (1 - margin)).astype(np.int64),
        regulated=np.array([row[2].regulated for row in rows]),
        has_box=cased & (unit_draw < 0.45),
        has_case=cased & (unit_draw < 0.6),
        popularity=1.0 / (rank + 3.0),
        typical_qty=typical,
        half_pack_of=np.full(n, -1, dtype=np.int32),
    )
    _make_half_packs(rng, items, np.array([row[4] for row in rows]), margin)
    for f in range(len(FAMILIES)):
        members = family == f
        items.popularity[members] /= items.popularity[members].sum()
    numbers = names.sample(range(100_000, 1_000_000), n)
    items.skus[:] = [f"{FAMILIES[f].prefix}-{number}" for f, number in zip(family.tolist(), numbers)]
    return _sorted_by_sku(items)


def _sorted_by_sku(items: Items) -> Items:
    order = np.argsort(items.skus, kind="stable")
    position = np.empty(len(items), dtype=np.int32)
    position[order] = np.arange(len(items), dtype=np.int32)
    half_pack_of = np.where(items.half_pack_of >= 0, position[np.maximum(items.half_pack_of, 0)], -1)
    return Items(
        skus=items.skus[order],
        descriptions=[items.descriptions[i] for i in order],
        family=items.family[order],
        product=items.product[order],
        cost_cents=items.cost_cents[order],
        price_cents=items.price_cents[order],
        regulated=items.regulated[order],
        has_box=items.has_box[order],
        has_case=items.has_case[order],
        popularity=items.popularity[order],
        typical_qty=items.typical_qty[order],
        half_pack_of=half_pack_of[order].astype(np.int32),
    )


def _make_half_packs(rng: np.random.Generator, items: Items, packs: np.ndarray, margin: np.ndarray) -> None:
    """Turn some items into the half-size pack of another item of the same family, in place.

    A half pack is the origin's product and options with half its pack size.
    It costs a little more than half the origin and sells at the origin's margin.
    """
    wanted = round(HALF_PACK_SHARE * len(items))
    sources = rng.permutation(np.flatnonzero((packs >= 2) & (packs % 2 == 0)))[:wanted]
    taken = set(sources.tolist())
    for source in sources.tolist():
        candidates = [c for c in np.flatnonzero(items.family == items.family[source]).tolist() if c not in taken]
        if not candidates:
            continue
        target = candidates[int(rng.integers(0, len(candidates)))]
        taken.add(target)
        half = packs[source] // 2
        items.descriptions[target] = items.descriptions[source].rsplit(", Pk ", 1)[0] + f", Pk {half}"
        packs[target] = half
        items.half_pack_of[target] = source
        items.product[target] = items.product[source]
        items.regulated[target] = items.regulated[source]
        items.has_box[target] = items.has_box[source]
        items.has_case[target] = items.has_case[source]
        items.cost_cents[target] = max(100, round(items.cost_cents[source] * 0.52))
        items.price_cents[target] = round(items.cost_cents[target] / (1 - margin[source]))
        items.typical_qty[target] = items.typical_qty[source]
        items.popularity[target] = items.popularity[source] * 0.25


def _customer_name(names: random.Random, segment: str) -> str:
    pattern = names.choice(CUSTOMER_PATTERNS[segment])
    return pattern.format(
        city=names.choice(CITIES),
        surname=names.choice(SURNAMES),
        stem=names.choice(STEMS),
        state=names.choice(STATES),
        number=names.randint(1, 12),
    )


def build_customers(rng: np.random.Generator, names: random.Random, count: int, warehouse_shares) -> Customers:
    """Draw customers in tiers and segments, with their contract terms and home warehouse."""
    strategic = max(2 * MIN_STRATEGIC_PER_SEGMENT, round(0.05 * count))
    key = round(0.20 * count)
    tier = rng.permutation(np.array([STRATEGIC] * strategic + [KEY] * key + [STANDARD] * (count - strategic - key)))
    segment = rng.choice(len(SEGMENTS), size=count, p=np.array(SEGMENT_SHARES) / sum(SEGMENT_SHARES))
    strategic_positions = np.flatnonzero(tier == STRATEGIC)
    segment[strategic_positions[:MIN_STRATEGIC_PER_SEGMENT]] = HEALTHCARE
    segment[strategic_positions[MIN_STRATEGIC_PER_SEGMENT : 2 * MIN_STRATEGIC_PER_SEGMENT]] = MANUFACTURING

    sla_low = np.array([1, 2, 3])[tier]
    sla_days = sla_low + rng.integers(0, 2 + (tier == STANDARD), size=count)
    penalty_cents = np.select(
        [tier == STRATEGIC, tier == KEY],
        [rng.integers(5, 21, size=count) * 5_000, rng.integers(2, 9, size=count) * 2_500],
        default=np.where(rng.random(count) < 0.15, 2_500, 0),
    )
    used: set[str] = set()
    customer_names = [
        unique_name(names, used, lambda s=SEGMENTS[s]: _customer_name(names, s)) for s in segment.tolist()
    ]
    codes = sorted(names.sample(range(100_000, 1_000_000), count))
    return Customers(
        codes=np.array([f"C{code}" for code in codes], dtype=object),
        names=customer_names,
        tier=tier.astype(np.int8),
        segment=segment.astype(np.int8),
        home=rng.choice(len(warehouse_shares), size=count, p=warehouse_shares).astype(np.int16),
        sla_days=sla_days,
        penalty_cents=penalty_cents.astype(np.int64),
        order_weight=TIER_ORDER_WEIGHTS[tier] * rng.lognormal(0, 0.5, count),
    )


def segment_item_cdfs(master: Master) -> np.ndarray:
    """Return per segment the cumulative probability over items that a line of that segment orders each item."""
    affinity = np.array(
        [[FAMILIES[f].affinity.get(segment, 1.0) for f in range(len(FAMILIES))] for segment in SEGMENTS]
    )
    weights = affinity[:, master.items.family] * master.items.popularity[None, :]
    cdfs = np.cumsum(weights, axis=1)
    return cdfs / cdfs[:, -1:]


def top_item(items: Items, family_name: str, *, regulated: bool | None = None, exclude=()) -> int:
    """Return the most popular full-size item of a family, optionally only regulated or unregulated ones."""
    candidates = (items.family == family_index(family_name)) & (items.half_pack_of < 0)
    if regulated is not None:
        candidates &= items.regulated == regulated
    candidates[list(exclude)] = False
    if not candidates.any():
        raise LookupError(f"family {family_name!r} has no item to seed a situation with")
    return int(np.flatnonzero(candidates)[np.argmax(items.popularity[candidates])])
