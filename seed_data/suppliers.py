"""Suppliers of the demo distributor and the sourcing of each item.

Each supplier has an origin, which sets its lead times and shipment modes,
and a delivery behaviour, which purchasing.py turns into receipt dates.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from seed_data.catalog import FAMILIES
from seed_data.names import STEMS, SUPPLIER_GOODS, SUPPLIER_ORIGINS, SURNAMES, unique_name

if TYPE_CHECKING:
    from seed_data.master import Items

BEHAVIOURS = ("reliable", "chronically_late", "slips_before_holidays", "erratic")
RELIABLE, CHRONICALLY_LATE, SLIPS_BEFORE_HOLIDAYS, ERRATIC = 0, 1, 2, 3
BEHAVIOUR_SHARES = (0.45, 0.20, 0.20, 0.15)


@dataclass
class Suppliers:
    codes: np.ndarray
    names: list[str]
    countries: list[str]
    behaviour: np.ndarray
    default_lead: np.ndarray
    modes: list[tuple[str, ...]]
    edi: np.ndarray  # sends ASNs
    families: list[list[int]]

    def __len__(self) -> int:
        return len(self.codes)


@dataclass
class Sourcing:
    """Per item: its primary supplier and terms, and an optional second supplier (-1 if none)."""

    supplier: np.ndarray
    lead_days: np.ndarray
    min_order_qty: np.ndarray
    order_multiple: np.ndarray
    cost_cents: np.ndarray
    second_supplier: np.ndarray
    second_lead_days: np.ndarray
    second_cost_cents: np.ndarray


def _behaviour_counts(count: int) -> list[int]:
    counts = [max(2, round(share * count)) for share in BEHAVIOUR_SHARES]
    counts[RELIABLE] = count - sum(counts[1:])
    return counts


def build_suppliers(rng: np.random.Generator, names: random.Random, count: int) -> Suppliers:
    """Draw suppliers with an origin, a delivery behaviour and the families they supply.

    Every family gets two suppliers, so items can have a second source, and
    every supplier supplies at least one family.
    """
    behaviour = rng.permutation(np.repeat(np.arange(len(BEHAVIOURS)), _behaviour_counts(count)))
    origin_shares = np.array([origin.share for origin in SUPPLIER_ORIGINS])
    origins = [SUPPLIER_ORIGINS[i] for i in rng.choice(len(SUPPLIER_ORIGINS), size=count, p=origin_shares / origin_shares.sum())]
    families: list[list[int]] = [[] for _ in range(count)]
    rotation = rng.permutation(count).tolist()
    slot = 0
    for f in range(len(FAMILIES)):
        for _ in range(2):
            while f in families[rotation[slot % count]] and count > 1:
                slot += 1
            families[rotation[slot % count]].append(f)
            slot += 1
    for supplier_families in families:
        if not supplier_families or rng.random() < 0.3:
            extra = int(rng.integers(0, len(FAMILIES)))
            if extra not in supplier_families:
                supplier_families.append(extra)

    used: set[str] = set()
    supplier_names = []
    for origin, supplier_families in zip(origins, families):
        goods = SUPPLIER_GOODS[FAMILIES[supplier_families[0]].name]
        supplier_names.append(
            unique_name(names, used, lambda: origin.pattern.format(stem=names.choice(STEMS + SURNAMES), goods=goods))
        )
    codes = sorted(names.sample(range(10_000, 100_000), count))
    return Suppliers(
        codes=np.array([f"V{code}" for code in codes], dtype=object),
        names=supplier_names,
        countries=[origin.country for origin in origins],
        behaviour=behaviour.astype(np.int8),
        default_lead=np.array([int(rng.integers(o.lead_low, o.lead_high + 1)) for o in origins]),
        modes=[origin.modes for origin in origins],
        edi=rng.random(count) < np.array([0.85 if o.country in ("US", "CA", "MX") else 0.6 for o in origins]),
        families=families,
    )


def build_sourcing(rng: np.random.Generator, items: Items, suppliers: Suppliers) -> Sourcing:
    """Give each item a primary supplier with lead time, minimum, multiple and cost, and maybe a second one."""
    n = len(items)
    by_family: list[list[int]] = [[] for _ in FAMILIES]
    for s, supplier_families in enumerate(suppliers.families):
        for f in supplier_families:
            by_family[f].append(s)
    size = rng.lognormal(0, 0.8, len(suppliers))
    primary = np.empty(n, dtype=np.int32)
    for f, candidates in enumerate(by_family):
        members = np.flatnonzero(items.family == f)
        weights = size[candidates] / size[candidates].sum()
        primary[members] = np.asarray(candidates)[rng.choice(len(candidates), size=len(members), p=weights)]
    _give_every_supplier_an_item(rng, items, suppliers, primary)

    lead = np.maximum(2, suppliers.default_lead[primary] + rng.integers(-2, 7, size=n))
    multiple = np.where(items.has_case, np.where(rng.random(n) < 0.5, 24, 12), 1)
    bulk = ~items.has_case & (items.typical_qty >= 10)
    multiple = np.where(bulk, rng.choice([1, 5, 10], size=n), multiple)
    min_order = np.where(rng.random(n) < 0.5, 0, multiple * rng.integers(1, 6, size=n))
    cost = np.maximum(1, np.round(items.cost_cents * rng.uniform(0.96, 1.02, n))).astype(np.int64)

    second = np.full(n, -1, dtype=np.int32)
    wants_second = rng.random(n) < 0.2
    for i in np.flatnonzero(wants_second).tolist():
        others = [s for s in by_family[items.family[i]] if s != primary[i]]
        if others:
            second[i] = others[int(rng.integers(0, len(others)))]
    second_lead = np.where(second >= 0, suppliers.default_lead[np.maximum(second, 0)] + rng.integers(0, 9, size=n), 0)
    second_cost = np.round(items.cost_cents * rng.uniform(1.02, 1.10, n)).astype(np.int64)
    return Sourcing(primary, lead, min_order, multiple, cost, second, np.maximum(2, second_lead), second_cost)


def _give_every_supplier_an_item(rng, items: Items, suppliers: Suppliers, primary: np.ndarray) -> None:
    """Move one item to each supplier that got none, taken from a supplier that keeps at least one."""
    counts = np.bincount(primary, minlength=len(suppliers))
    for s in np.flatnonzero(counts == 0).tolist():
        candidates = np.flatnonzero(np.isin(items.family, suppliers.families[s]) & (counts[primary] >= 2))
        if len(candidates) == 0:
            candidates = np.flatnonzero(counts[primary] >= 2)
        chosen = int(candidates[rng.integers(0, len(candidates))])
        counts[primary[chosen]] -= 1
        primary[chosen] = s
        counts[s] += 1
        if items.family[chosen] not in suppliers.families[s]:
            suppliers.families[s].append(int(items.family[chosen]))
